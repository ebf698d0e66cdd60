{#- Glance (openstack/services/glance.yaml): the service pattern, then the
    image store's directory. It is the NFS mount point of the NAS's export
    `images` (nfs.client), shared by every controller; that mount (or, in
    the lab, the export directory bound there) and its owner (the export's
    glance uid, all_squash) belong to nfs. Only where the site mounts
    nothing (pillar nfs:client:mount false) and nothing is mounted there yet
    does this state make it a directory glance writes to. glance-api starts
    only once glance can write there. #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{%- set svc = salt['openstack.service']('glance') %}
{%- set images = (svc.get('settings') or {}).get('images_dir', '/var/lib/glance/images') %}
{{ openstack_service('glance') }}
{%- if not salt['pillar.get']('nfs:client:mount', True) %}

openstack-glance-images-directory:
  file.directory:
    - name: {{ images }}
    - user: glance
    - group: glance
    - mode: '0770'
    - unless: mountpoint -q {{ images }}
    - require:
      - pkg: openstack-glance-pkgs-installed
    - require_in:
      - cmd: openstack-glance-images-writable
{%- endif %}

openstack-glance-images-writable:
  cmd.run:
    - name: >-
        echo "{{ images }} is not writable by glance: the NFS export images is
        not mounted there (nfs.client) or not owned by the glance uid" >&2; exit 1
    - unless: su -s /bin/sh -c 'test -d {{ images }} && test -w {{ images }} && test -x {{ images }}' glance
    - require:
      - pkg: openstack-glance-pkgs-installed
    - require_in:
      - service: openstack-glance-unit-glance-api-running
