{#- Every highstate starts by validating the site pillar (failhard); the
    rest comes from the node's roles in the site inventory (pillar, keyed by
    minion id), never from grains. salt/roles.yaml maps roles to SLS. #}
{%- import_yaml 'roles.yaml' as role_sls %}
{%- set wanted = [] %}
{%- for role in salt['inventory.roles']() %}
{%-   for sls in role_sls.get(role) or [] %}
{%-     if sls not in wanted %}
{%-       do wanted.append(sls) %}
{%-     endif %}
{%-   endfor %}
{%- endfor %}
base:
  '*':
    - preflight
    - base
{%- for sls in wanted %}
    - {{ sls }}
{%- endfor %}
    - beacons
