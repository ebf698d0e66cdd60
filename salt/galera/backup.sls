{#- Galera backups on a controller: the settings of _modules/galera_backup.py
    and a systemd timer running it (galera:backup, salt/galera/defaults.yaml).
    Every controller gets the timer; at each run the module decides which
    one takes the backup (the first Synced controller, the one HAProxy's
    Galera frontend writes to last), so a controller that is down or not
    Synced is replaced by the other without anyone choosing. The unit runs
    `salt-call --local`: backups go on while the salt-master is away.
    Restore: salt/orch/galera_restore.sls, docs/runbooks/galera-restore.md. #}
{%- from 'galera/map.jinja' import galera with context %}
{%- from 'nfs/map.jinja' import exports with context %}
{%- import_yaml 'haproxy/defaults.yaml' as haproxy %}
{%- set backup = galera.backup %}
{%- set export = exports | selectattr('name', 'equalto', backup.export) | first | default({}, true) %}
{%- if not export.get('mount') %}
{{- raise('galera:backup:export: ' ~ backup.export ~ ' is no export of site:nas:exports with a mount point on the controllers (nfs:exports:' ~ backup.export ~ ':mount); add it to the site, or name the export that holds the backups') }}
{%- endif %}
{%- set site = pillar['site'] %}
{%- set settings = {
      'root': export.mount,
      'directory': backup.directory,
      'keep': backup.keep,
      'stale_hours': backup.stale_hours,
      'require_mount': backup.require_mount,
      'parallel': backup.parallel,
      'use_memory': backup.use_memory,
      'check_port': haproxy.galera.check_port,
      'check_timeout': backup.check_timeout,
      'controllers': [],
    } %}
{%- for node in salt['inventory.controllers']() %}
{%-   do settings.controllers.append({'id': node, 'address': site.nodes[node].address}) %}
{%- endfor %}

galera-backup-settings-managed:
  file.serialize:
    - name: {{ backup.config }}
    - dataset: {{ settings | json }}
    - serializer: json
    - serializer_opts:
      - indent: 2
      - sort_keys: True
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True

galera-backup-units-managed:
  file.managed:
    - names:
      - /etc/systemd/system/{{ backup.unit }}.service:
        - contents: |
            # Managed by Salt (galera.backup): local changes are overwritten.
            [Unit]
            Description=Galera backup onto the NAS (mariabackup; one controller takes it)
            After=network-online.target {{ galera.service }}.service
            [Service]
            Type=oneshot
            ExecStart={{ backup.salt_call }} --local --retcode-passthrough --out=json galera_backup.take config={{ backup.config }}
            Nice=10
            IOSchedulingClass=best-effort
            IOSchedulingPriority=7
            TimeoutStartSec={{ backup.timeout }}
      - /etc/systemd/system/{{ backup.unit }}.timer:
        - contents: |
            # Managed by Salt (galera.backup): local changes are overwritten.
            [Unit]
            Description=Galera backup onto the NAS ({{ backup.on_calendar }})
            [Timer]
            OnCalendar={{ backup.on_calendar }}
            AccuracySec=1min
            [Install]
            WantedBy=timers.target
    - user: root
    - group: root
    - mode: '0644'

galera-backup-systemd-reloaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: galera-backup-units-managed

galera-backup-timer-running:
  service.running:
    - name: {{ backup.unit }}.timer
    - enable: True
    - require:
      - file: galera-backup-settings-managed
      - cmd: galera-backup-systemd-reloaded
    - watch:
      - file: galera-backup-units-managed
