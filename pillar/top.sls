{#- The site inventory goes to every minion; secrets (and the site CA's
    certificate, written with them) only to the minion ids it names (never
    matched on grains, which a minion writes itself): `secrets` to the nodes
    that use them, `secrets_witness` (RabbitMQ's only) to the nodes with no
    role but witness and storage (inventory.holds_every_secret says the same);
    Keystone's keys only to the controllers. A site may add `settings.sls`
    (overrides of the components' defaults). #}
{%- import_yaml 'site.sls' as doc %}
{%- set ids = (doc.get('site') or {}).get('nodes') or {} %}
{%- set witness_roles = ['storage', 'witness'] %}
{%- set holders = [] %}
{%- set witnesses = [] %}
{%- for id, node in ids | dictsort %}
{%-   if (node.roles or []) | reject('in', witness_roles) | list %}{% do holders.append(id) %}
{%-   else %}{% do witnesses.append(id) %}{% endif %}
{%- endfor %}
{#- what the master writes for some nodes: Keystone's keys (controllers),
    Swift's rings (proxies on controllers, storage on object nodes) #}
{%- set generated = {} %}
{%- for id, node in ids | dictsort %}
{%-   set roles = node.roles or [] %}
{%-   set files = [] %}
{%-   if 'controller' in roles %}{% do files.append('keystone_keys') %}{% endif %}
{%-   if 'controller' in roles or 'object' in roles %}{% do files.append('swift_rings') %}{% endif %}
{%-   if files %}{% do generated.update({id: files}) %}{% endif %}
{%- endfor %}
base:
  '*':
    - site
    - settings
    - ignore_missing: True
{%- if holders %}
  '{{ holders | join(",") }}':
    - match: list
    - secrets
    - site_ca
{%- endif %}
{%- if witnesses %}
  '{{ witnesses | join(",") }}':
    - match: list
    - secrets_witness
    - site_ca
{%- endif %}
{%- for id, files in generated | dictsort %}
  '{{ id }}':
    - match: list
{%-   for file in files %}
    - {{ file }}
{%-   endfor %}
    - ignore_missing: True
{%- endfor %}
