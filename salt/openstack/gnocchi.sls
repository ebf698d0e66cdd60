{#- Gnocchi (openstack/services/gnocchi.yaml) on every controller: the
    service pattern (gnocchi-api under uWSGI on the management address,
    gnocchi-metricd; database `gnocchi` as indexer, Keystone service
    `metric`; db sync: the indexer), then the file store.
    The store (storage:file_basepath) is the mount point of the NAS's export
    `metrics`, shared by the controllers; that mount (or, in the lab, the
    export directory bound there) and its owner (the export's uid, the
    gnocchi user's) belong to nfs. Only where the site mounts nothing
    (pillar nfs:client:mount false) and nothing is mounted there yet does
    this state make it a directory gnocchi writes to: node-local, each
    controller then sees only the measures it took.
    The store is initialised (gnocchi-upgrade's storage steps) by whichever
    controller finds it new: once, on a shared store. Both units start only
    on a writable, initialised store. #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{%- set svc = salt['openstack.service']('gnocchi') %}
{%- set conf = '/etc/gnocchi/gnocchi.conf' %}
{%- set store = svc.config[conf].storage.file_basepath %}
{%- set sacks = (svc.get('settings') or {}).get('sacks', 32) %}
{{ openstack_service('gnocchi') }}
{%- if not salt['pillar.get']('nfs:client:mount', True) %}

openstack-gnocchi-store-directory:
  file.directory:
    - name: {{ store }}
    - user: gnocchi
    - group: gnocchi
    - mode: '0750'
    - unless: mountpoint -q {{ store }}
    - require:
      - pkg: openstack-gnocchi-pkgs-installed
    - require_in:
      - cmd: openstack-gnocchi-store-writable
{%- endif %}

openstack-gnocchi-store-writable:
  cmd.run:
    - name: >-
        echo "{{ store }} is not writable by gnocchi: the NFS export metrics is
        not mounted there (nfs.client) or not owned by the gnocchi uid" >&2; exit 1
    - unless: su -s /bin/sh -c 'test -d {{ store }} && test -w {{ store }} && test -x {{ store }}' gnocchi
    - require:
      - pkg: openstack-gnocchi-pkgs-installed

{#- gnocchi-upgrade's storage steps: <store>/tmp with the store's settings
    (gnocchi-config: the number of incoming sacks) and the sacks'
    directories; it leaves a store that has them as it is #}
openstack-gnocchi-store-initialised:
  cmd.run:
    - name: gnocchi-upgrade --skip-index --skip-archive-policies-creation --sacks-number {{ sacks }}
    - runas: gnocchi
    - cwd: /tmp
    - unless: test -f {{ store }}/tmp/gnocchi-config
    - require:
      - file: openstack-gnocchi-config-{{ conf }}
      - cmd: openstack-gnocchi-store-writable
    - require_in:
{%- for unit in salt['openstack.units']('gnocchi') %}
      - service: openstack-gnocchi-unit-{{ unit }}-running
{%- endfor %}
