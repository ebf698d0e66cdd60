{#- garbd on the witness: Galera's third vote, holding no data. It can only
    join a data cluster that exists, so the deploy applies this after
    galera.converged (salt/orch/deploy.yaml). Debian's garb.service has no
    Restart=: the drop-in makes systemd restart it for ever, so the witness
    rejoins by itself whenever the data nodes come back. #}
{%- from 'galera/map.jinja' import galera with context %}
{%- set site = pillar['site'] %}
{%- set me = salt['inventory.node']() %}
{%- set data_nodes = salt['inventory.controllers']() %}
{%- set options = {'gmcast.listen_addr': 'tcp://' ~ me.address ~ ':' ~ galera.port} %}
{%- do options.update(galera.arbitrator.options) %}

galera-arbitrator-pkgs-installed:
  pkg.installed:
    - pkgs: {{ galera.pkgs.arbitrator | json }}

galera-arbitrator-defaults-managed:
  file.managed:
    - name: {{ galera.arbitrator.defaults }}
    - mode: '0644'
    - contents: |
        # Managed by Salt (galera.arbitrator): local changes are overwritten.
        # Read by garb-systemd (garb.service).
        # The data nodes (gcomm), the cluster name, garbd's own options.
        GALERA_NODES="{% for node in data_nodes %}{{ site.nodes[node].address }}:{{ galera.port }}{{ '' if loop.last else ',' }}{% endfor %}"
        GALERA_GROUP="{{ site.name }}"
        GALERA_OPTIONS="{% for key, value in options | dictsort %}{{ key }}={{ value }}{{ '' if loop.last else '; ' }}{% endfor %}"
        # empty: syslog, i.e. the journal (journalctl -u garb)
        LOG_FILE="{{ galera.arbitrator.log_file }}"
        WORK_DIR="{{ galera.arbitrator.work_dir }}"
    - require:
      - pkg: galera-arbitrator-pkgs-installed

galera-arbitrator-restart-dropin-managed:
  file.managed:
    - name: /etc/systemd/system/{{ galera.arbitrator.service }}.service.d/restart.conf
    - makedirs: True
    - contents: |
        # Managed by Salt (galera.arbitrator): Debian's garb.service has no Restart=.
        [Unit]
        # never give up: garbd exits while no data node is reachable
        StartLimitIntervalSec=0
        [Service]
        Restart=on-failure
        RestartSec={{ galera.arbitrator.restart_sec }}
        # WORK_DIR (gvwstate.dat), owned by the service's user (nobody)
        StateDirectory={{ galera.arbitrator.work_dir | replace('/var/lib/', '') }}

{#- systemd does not flag a new drop-in directory as needing a reload
    (NeedDaemonReload stays "no"), so service.running would not reload. #}
galera-arbitrator-systemd-reloaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: galera-arbitrator-restart-dropin-managed

galera-arbitrator-boot-start-enabled:
  service.enabled:
    - name: {{ galera.arbitrator.service }}
    - require:
      - cmd: galera-arbitrator-systemd-reloaded

{#- Running, or in systemd's restart loop: before the data cluster exists
    (a highstate of a fresh site, the witness booting first) garbd cannot
    join and exits, and systemd starts it again every RestartSec until it
    joins. service.running would call that loop "not running" and start it
    at every run; this starts it only when it is inactive or failed. #}
galera-arbitrator-started:
  cmd.run:
    - name: systemctl start {{ galera.arbitrator.service }}
    - unless: systemctl is-active {{ galera.arbitrator.service }} | grep -qxE 'active|activating|reloading'
    - require:
      - service: galera-arbitrator-boot-start-enabled
      - file: galera-arbitrator-defaults-managed

{#- New settings: restart garbd if it runs (try-restart leaves a stopped
    unit alone); it holds no data and rejoins in seconds. #}
galera-arbitrator-restarted:
  cmd.run:
    - name: systemctl try-restart {{ galera.arbitrator.service }}
    - onchanges:
      - file: galera-arbitrator-defaults-managed
      - cmd: galera-arbitrator-systemd-reloaded
    - require:
      - cmd: galera-arbitrator-started
