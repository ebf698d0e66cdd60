{#- The in-kernel NFS server (nfs-kernel-server): /etc/exports applied with
    exportfs, nfsd bound to the management address. Refuses, before
    installing anything, on a kernel without nfsd (use ganesha there). #}
{%- from 'nfs/map.jinja' import nfs, exports, nas, clients with context %}
{%- set kernel = nfs.server.kernel %}

include:
  - nfs.exports

nfs-kernel-nfsd-available:
  test.configurable_test_state:
    - changes: False
    - result: False
    - allow_test_mode_failure: True
    - comment: >-
        this kernel has no NFS server (no nfsd in /proc/filesystems and
        `modprobe nfsd` failed): set pillar nfs:server:implementation: ganesha
        to serve NFS from userspace
    - unless: grep -qw nfsd /proc/filesystems || { modprobe -q nfsd && grep -qw nfsd /proc/filesystems; }

# one NFS server per host
nfs-kernel-ganesha-removed:
  pkg.removed:
    - pkgs: {{ nfs.pkgs.ganesha | json }}
    - require:
      - test: nfs-kernel-nfsd-available

nfs-kernel-pkgs-installed:
  pkg.installed:
    - pkgs: {{ nfs.pkgs.server | json }}
    - require:
      - pkg: nfs-kernel-ganesha-removed

nfs-kernel-nfs-conf-managed:
  file.managed:
    - name: {{ kernel.nfs_conf }}
    - source: salt://nfs/files/nfs.conf.jinja
    - template: jinja
    - makedirs: True
    - mode: '0644'
    - context:
        nfs: {{ nfs | json }}
        address: {{ nas.address }}
    - require:
      - pkg: nfs-kernel-pkgs-installed

nfs-kernel-exports-managed:
  file.managed:
    - name: {{ kernel.exports_file }}
    - source: salt://nfs/files/exports.jinja
    - template: jinja
    - mode: '0644'
    - context:
        exports: {{ exports | json }}
        clients: {{ clients }}
    - require:
      - pkg: nfs-kernel-pkgs-installed
      - sls: nfs.exports

nfs-kernel-service-running:
  service.running:
    - name: {{ kernel.service }}
    - enable: True
    - watch:
      - file: nfs-kernel-nfs-conf-managed
    - require:
      - file: nfs-kernel-exports-managed

nfs-kernel-exports-applied:
  cmd.run:
    - name: exportfs -ra
    - onchanges:
      - file: nfs-kernel-exports-managed
    - require:
      - service: nfs-kernel-service-running
