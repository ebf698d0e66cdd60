{#- The site inventory goes to every minion; secrets only to the minion ids it
    names (never matched on grains, which a minion writes itself). A site may
    add `settings.sls` (overrides of the components' defaults). #}
{%- import_yaml 'site.sls' as doc %}
{%- set ids = (doc.get('site') or {}).get('nodes') or {} %}
base:
  '*':
    - site
    - settings
    - ignore_missing: True
{%- if ids %}
  '{{ ids | list | join(",") }}':
    - match: list
    - secrets
{%- endif %}
