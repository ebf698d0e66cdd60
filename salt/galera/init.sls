{#- A Galera data node (controller): packages, configuration, the
    clustercheck responder. This state never starts mariadb and keeps it
    from starting at boot: which node bootstraps and which joins is decided
    from every data node's live evidence by galera.converged, run on the
    master (salt-run state.orchestrate orch.galera), by the bootstrap rule
    of DESIGN.md section 3. A node starting mariadb on its own after a power
    loss could neither form the cluster (no quorum) nor know whether it may
    bootstrap. #}
{%- from 'galera/map.jinja' import galera with context %}

include:
  - galera.clustercheck

galera-pkgs-installed:
  pkg.installed:
    - pkgs: {{ galera.pkgs.data | json }}

{#- Holds the SST password: readable by mariadbd and its SST scripts (group
    mysql) only. #}
galera-config-managed:
  file.managed:
    - name: {{ galera.config }}
    - source: salt://galera/files/60-galera.cnf.jinja
    - template: jinja
    - user: root
    - group: mysql
    - mode: '0640'
    - show_changes: False
    - context:
        galera: {{ galera | json }}
    - require:
      - pkg: galera-pkgs-installed

{#- Debian's postinst starts a standalone server (wsrep off, its own fresh
    datadir) at install. Stop it cleanly, so that galera.converged finds
    mariadb stopped everywhere and forms the cluster by the rule: the node it
    bootstraps keeps its datadir, the others are replaced by SST. Only a
    server running with wsrep off is stopped; a cluster member never is. #}
galera-standalone-server-dead:
  cmd.run:
    - name: systemctl stop {{ galera.service }}
    - onlyif:
      - test "$(mariadb --protocol=socket -N -B -e 'SELECT @@GLOBAL.wsrep_on' 2>/dev/null)" = 0
    - require:
      - file: galera-config-managed

galera-boot-start-disabled:
  service.disabled:
    - name: {{ galera.service }}
    - require:
      - pkg: galera-pkgs-installed
