{#- Cinder (openstack/services/cinder.yaml): the service pattern (API and
    scheduler on every controller), then the NFS backend: the shares file
    naming the NAS's export `volumes` (site:nas), the NFS client tools the
    driver mounts it with (mount.nfs, nfs-common: in salt/nfs/defaults.yaml
    pkgs:client), the mount base. cinder-volume is Pacemaker's (one
    instance, active/passive: the NFS driver is not active/active): Salt
    keeps systemd from starting it at boot and never starts or stops it.
    cinder-backup is not run. #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{%- from 'nfs/map.jinja' import nfs, exports, nas with context %}
{%- set svc = salt['openstack.service']('cinder') %}
{%- set settings = salt['pillar.get']('cinder', svc.get('settings') or {}, merge=True) %}
{%- set export = (exports | selectattr('name', 'equalto', settings.export) | list | first) or none %}
{%- if export is none %}
{{-  raise('site:nas:exports:' ~ settings.export ~ ': no such export; cinder keeps its volumes there (openstack:services:cinder:settings:export names it)') }}
{%- endif %}
{{ openstack_service('cinder') }}

openstack-cinder-nfs-client-pkgs-installed:
  pkg.installed:
    - pkgs: {{ nfs.pkgs.client | json }}

openstack-cinder-nfs-shares:
  file.managed:
    - name: {{ settings.shares_file }}
    - contents: |
        # Managed by Salt (openstack.cinder): the NFS share of the volumes
        {{ nas.address }}:{{ export.path }}
    - user: root
    - group: cinder
    - mode: '0640'
    - require:
      - pkg: openstack-cinder-pkgs-installed

openstack-cinder-nfs-mount-base:
  file.directory:
    - name: /var/lib/cinder/mnt
    - user: cinder
    - group: cinder
    - mode: '0750'
    - require:
      - pkg: openstack-cinder-pkgs-installed
{%- for unit in settings.pacemaker_units %}

{#- Pacemaker starts and stops it; systemd must not start it at boot (two
    cinder-volume on one backend_host at once) #}
openstack-cinder-unit-{{ unit }}-not-at-boot:
  service.disabled:
    - name: {{ unit }}
    - require:
      - pkg: openstack-cinder-pkgs-installed
{%- endfor %}
{%- for unit in settings.idle_units %}

openstack-cinder-unit-{{ unit }}-idle:
  service.dead:
    - name: {{ unit }}
    - enable: False
    - require:
      - pkg: openstack-cinder-pkgs-installed
{%- endfor %}
