{#- The site inventory goes to every minion; secrets only to the minion ids it
    names (never matched on grains, which a minion writes itself). #}
{%- import_yaml 'site.sls' as doc %}
{%- set ids = (doc.get('site') or {}).get('nodes') or {} %}
base:
  '*':
    - site
{%- if ids %}
  '{{ ids | list | join(",") }}':
    - match: list
    - secrets
{%- endif %}
