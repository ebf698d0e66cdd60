{#- The NAS: serve the exports of the site pillar to the management network
    only, with the implementation the data chooses
    (nfs:server:implementation: kernel on a real site, ganesha where the
    kernel has no nfsd), then check from this host that every export is
    served (nfs-ls, userspace: the same check for both implementations). #}
{%- from 'nfs/map.jinja' import nfs, exports, nas with context %}

include:
  - nfs.exports
  - nfs.{{ nfs.server.implementation }}

nfs-server-probe-pkgs-installed:
  pkg.installed:
    - pkgs: {{ nfs.pkgs.probe | json }}

nfs-server-exports-served:
  cmd.script:
    - name: nfs-check-exports
    - source: salt://nfs/files/nfs-check-exports.sh
    - args: {{ ((['--test'] if opts.test else []) + [nas.address, nfs.server.check_timeout] + (exports | map(attribute='path') | list)) | join(' ') }}
    - shell: /bin/sh
    - stateful:
      - test_name: nfs-check-exports
    - require:
      - sls: nfs.{{ nfs.server.implementation }}
      - pkg: nfs-server-probe-pkgs-installed
