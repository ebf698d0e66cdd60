{#- The beacons of this node (DESIGN.md section 5), from its roles in the
    site inventory: Salt's `service` beacon on the HA services systemd runs
    here, and the project's `galera` and `pacemaker` beacons (_beacons/) on
    the controllers. beacon.present adds or modifies each beacon in the
    running minion (no restart) and, with save, writes every beacon to
    /etc/salt/minion.d/beacons.conf, so a minion restart keeps them. A
    beacon this node no longer needs is removed. #}
{%- from 'beacons/map.jinja' import beacons, services, own with context %}

beacons-modules-synced:
  saltutil.sync_beacons:
    - refresh: True
{%- if services %}

beacons-service-present:
  beacon.present:
    - name: service
    - save: True
    - services: {{ services | json }}
    - interval: {{ beacons.service.interval | json }}
    {#- the framework skips it while a state run (a heal, the highstate at
        boot) restarts services on purpose #}
    - disable_during_state_run: True
    - require:
      - saltutil: beacons-modules-synced
{%- else %}

beacons-service-absent:
  beacon.absent:
    - name: service
    - save: True
{%- endif %}
{%- for name in ['galera', 'pacemaker'] %}
{%-   if name in own %}

{#- the beacon checks for a running state itself (_beacons/{{ name }}.py) #}
beacons-{{ name }}-present:
  beacon.present:
    - name: {{ name }}
    - save: True
{%-     for key, value in own[name] | dictsort %}
    - {{ key }}: {{ value | json }}
{%-     endfor %}
    - require:
      - saltutil: beacons-modules-synced
{%-   else %}

beacons-{{ name }}-absent:
  beacon.absent:
    - name: {{ name }}
    - save: True
{%-   endif %}
{%- endfor %}
