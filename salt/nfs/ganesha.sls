{#- NFS-Ganesha, the userspace NFS server (VFS backend): real NFSv4.1/v3
    for hosts whose kernel has no nfsd (the lab's nspawn nodes), selected
    by pillar nfs:server:implementation: ganesha. Its VFS backend needs the
    exported directories on a filesystem with file handles (not overlayfs)
    and the open_by_handle_at system call (which systemd-nspawn's default
    seccomp filter denies): an export it cannot open is refused to every
    client, and nfs-server-exports-served says so. #}
{%- from 'nfs/map.jinja' import nfs, exports, nas, clients with context %}
{%- set ganesha = nfs.server.ganesha %}

include:
  - nfs.exports

# one NFS server per host
nfs-ganesha-kernel-server-removed:
  pkg.removed:
    - pkgs: {{ nfs.pkgs.server | json }}

nfs-ganesha-pkgs-installed:
  pkg.installed:
    - pkgs: {{ nfs.pkgs.ganesha | json }}
    - require:
      - pkg: nfs-ganesha-kernel-server-removed

{%- for export in exports %}

{#- VFS serves a directory through file handles (name_to_handle_at), which
    overlayfs gives only when mounted with nfs_export=on: refuse early with
    the reason instead of a server that silently lacks the export. Other
    filesystems without handles are caught by nfs-server-exports-served. #}
nfs-ganesha-{{ export.name }}-filesystem-has-handles:
  test.configurable_test_state:
    - changes: False
    - result: False
    - allow_test_mode_failure: True
    - comment: >-
        {{ export.path }} is on overlayfs, which gives NFS-Ganesha's VFS
        backend no file handles (name_to_handle_at: Operation not supported):
        put the exports on a real filesystem (ext4, xfs, btrfs), e.g. a data
        disk or a bind mount at {{ export.path }}
    - unless: p={{ export.path }}; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; test "$(stat -f -c %T "$p")" != overlayfs
    - require:
      - sls: nfs.exports
    - require_in:
      - file: nfs-ganesha-config-managed
{%- endfor %}

nfs-ganesha-config-managed:
  file.managed:
    - name: {{ ganesha.config }}
    - source: salt://nfs/files/ganesha.conf.jinja
    - template: jinja
    - mode: '0644'
    - context:
        nfs: {{ nfs | json }}
        exports: {{ exports | json }}
        address: {{ nas.address }}
        clients: {{ clients }}
    - require:
      - pkg: nfs-ganesha-pkgs-installed
      - sls: nfs.exports

nfs-ganesha-service-running:
  service.running:
    - name: {{ ganesha.service }}
    - enable: True
    - watch:
      - file: nfs-ganesha-config-managed
