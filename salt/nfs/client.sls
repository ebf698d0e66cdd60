{#- A controller: mount every export that has a mount point (nfs:exports:
    <name>:mount; the volumes share is mounted by cinder's NFS driver
    itself), NFS 4.1, hard, from the NAS's management address.
    With pillar nfs:client:mount: false (a kernel without an NFS client,
    such as the lab's nspawn nodes) nothing is mounted and nothing pretends
    to be: every export is instead checked from this controller in
    userspace (nfs-ls), which proves the server, its export list and that
    this host is let in. #}
{%- from 'nfs/map.jinja' import nfs, exports, nas with context %}
{%- set client = nfs.client %}

{%- if client.check or not client.mount %}

nfs-client-probe-pkgs-installed:
  pkg.installed:
    - pkgs: {{ nfs.pkgs.probe | json }}

nfs-client-exports-reachable:
  cmd.script:
    - name: nfs-check-exports
    - source: salt://nfs/files/nfs-check-exports.sh
    - args: {{ ((['--test'] if opts.test else []) + [nas.address, nfs.server.check_timeout] + (exports | map(attribute='path') | list)) | join(' ') }}
    - shell: /bin/sh
    - stateful:
      - test_name: nfs-check-exports
    - require:
      - pkg: nfs-client-probe-pkgs-installed
{%- endif %}
{%- if client.mount %}

nfs-client-pkgs-installed:
  pkg.installed:
    - pkgs: {{ nfs.pkgs.client | json }}

nfs-client-kernel-nfs-available:
  test.configurable_test_state:
    - changes: False
    - result: False
    - allow_test_mode_failure: True
    - comment: >-
        this kernel has no NFS client (no nfs4 in /proc/filesystems and
        `modprobe nfsv4` failed): nothing can be mounted here; set pillar
        nfs:client:mount: false to check the exports from userspace instead
    - unless: grep -qw nfs4 /proc/filesystems || { modprobe -q nfsv4 && grep -qw nfs4 /proc/filesystems; }
{%-   for export in exports if export.mount %}

{#- the directory under the mount: created only while nothing is mounted
    on it, mode 0000 so no service writes to local disk while the NAS is
    away (the mount is nofail) #}
nfs-client-{{ export.name }}-mountpoint:
  file.directory:
    - name: {{ export.mount }}
    - user: root
    - group: root
    - mode: '{{ client.mountpoint_mode }}'
    - makedirs: True
    - unless: mountpoint -q {{ export.mount }}

nfs-client-{{ export.name }}-mounted:
  mount.mounted:
    - name: {{ export.mount }}
    - device: {{ nas.address }}:{{ export.path }}
    - fstype: {{ client.fstype }}
    - opts: {{ client.opts | json }}
    - mkmnt: False
    - persist: True
    - require:
      - pkg: nfs-client-pkgs-installed
      - test: nfs-client-kernel-nfs-available
      - file: nfs-client-{{ export.name }}-mountpoint
{%-     if client.check %}
      - cmd: nfs-client-exports-reachable
{%-     endif %}
{%-   endfor %}
{%- endif %}
