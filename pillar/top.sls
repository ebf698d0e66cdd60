{#- The site inventory goes to every minion; secrets only to the minion ids it
    names (never matched on grains, which a minion writes itself), Keystone's
    keys only to the controllers. A site may add `settings.sls` (overrides of
    the components' defaults). #}
{%- import_yaml 'site.sls' as doc %}
{%- set ids = (doc.get('site') or {}).get('nodes') or {} %}
{%- set controllers = [] %}
{%- for id, node in ids | dictsort if 'controller' in (node.roles or []) %}
{%-   do controllers.append(id) %}
{%- endfor %}
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
{%- if controllers %}
  {#- Keystone's keys, written by the master (runner keystone_keys) #}
  '{{ controllers | join(",") }}':
    - match: list
    - keystone_keys
    - ignore_missing: True
{%- endif %}
