{#- Neutron (openstack/services/neutron.yaml): the service pattern, then the
    files needing site/node data the pattern's placeholders lack
    (`settings:config`: ML2's flat physnet from site:networks:provider, the
    Linux bridge agent's interface mapping from the node's
    interfaces:provider), written the same way (root:neutron 0640, whole
    files); a change restarts this node's neutron units, and the first
    controller's db sync reads them. neutron-api (uWSGI) gets its config
    files as arguments (`settings:api_config_files`, uWSGI's pyargv): its
    own file last. #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{%- set svc = salt['openstack.service']('neutron') %}
{%- set me = salt['inventory.node']() %}
{%- set physnet = salt['pillar.get']('site:networks:provider:physnet', 'provider') %}
{%- set interface = (me.get('interfaces') or {}).get('provider') %}
{%- set ctx = salt['openstack.context']('neutron') %}
{%- do ctx.update({'physnet': physnet,
                   'interface_mappings': physnet ~ ':' ~ interface if interface else ''}) %}
{%- set first = salt['inventory.controllers']()[:1] == [grains['id']] %}
{%- set units = salt['openstack.units']('neutron') %}
{%- set uwsgi = svc.get('uwsgi') or {} %}
{%- set pyargv = [] %}
{%- for path in (svc.get('settings') or {}).get('api_config_files') or [] %}
{%-   do pyargv.append('--config-file=' ~ path) %}
{%- endfor %}
{{ openstack_service('neutron') }}
{%- for unit, spec in uwsgi | dictsort if pyargv and unit in units %}

openstack-neutron-uwsgi-{{ unit }}-config-files:
  ini.options_present:
    - name: {{ spec.ini }}
    - sections:
        uwsgi:
          pyargv: {{ pyargv | join(' ') | json }}
    - require:
      - pkg: openstack-neutron-pkgs-installed
    - watch_in:
      - service: openstack-neutron-unit-{{ unit }}-running
{%- endfor %}
{%- for path, sections in ((svc.get('settings') or {}).get('config') or {}) | dictsort %}

openstack-neutron-node-config-{{ path }}:
  file.managed:
    - name: {{ path }}
    - contents: {{ salt['openstack.render_ini'](salt['openstack.fill'](sections, ctx)) | json }}
    - user: root
    - group: {{ svc.group }}
    - mode: '0640'
    - makedirs: True
    - show_changes: False
    - require:
      - pkg: openstack-neutron-pkgs-installed
{%-   if first %}
    - require_in:
      - openstack: openstack-neutron-db-synced
{%-   endif %}
{%-   if units %}
    - watch_in:
{%-     for unit in units %}
      - service: openstack-neutron-unit-{{ unit }}-running
{%-     endfor %}
{%-   endif %}
{%- endfor %}
