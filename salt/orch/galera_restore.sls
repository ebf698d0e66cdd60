{#- Restore the Galera cluster from a backup on the NAS (_modules/galera_backup.py),
    from the admin box (runbook: docs/runbooks/galera-restore.md):
      salt-run state.orchestrate orch.galera_restore
      salt-run state.orchestrate orch.galera_restore pillar='{"backup": "20260122T023000Z-ctl2"}'
    Without `backup`: the newest complete backup finished when this starts.
    A missing or incomplete backup is refused before anything changes.

    The steps, each requiring the one before (a failure stops the rest and
    leaves healing paused, so that nothing acts on a half-restored cluster;
    fix, then run this again or `salt-run heal.resume`):
    1. the backup is checked on the first controller (galera_backup.show);
    2. healing is paused (heal.pause). What else would start mariadb again:
       nothing. Pacemaker does not manage it (it owns the VIP, HAProxy,
       fencing and cinder-volume only); systemd's Restart=on-abnormal
       ignores a clean stop; the boot highstate leaves it stopped (the
       galera state disables it); only the heal runner (reactor events,
       the scheduler's heal.retry) runs orch.galera, and it is paused;
    3. mariadb is stopped on every controller, then garbd on the witness:
       left running it would keep a component of the old history, ahead of
       the backup, beside the restored one;
    4. every controller's datadir is moved aside, never deleted
       (/var/lib/mysql.before-restore-<UTC time>), and an empty one made;
    5. the prepared backup is copied back on the first controller, with a
       grastate.dat saying its Galera position and safe_to_bootstrap: 1;
    6. galera.converged forms the cluster by the bootstrap rule (DESIGN.md
       section 3): it bootstraps that controller (safe_to_bootstrap: 1, rule
       1), then starts the others, which join by SST (their datadirs are
       empty);
    7. garbd is started and verified a member (galera.converged again);
    8. the accounts are kept (galera.accounts_managed: a backup older than
       a password change in pillar gets the current one);
    9. healing resumes. #}
{%- if 'inventory.controllers' not in salt %}
{{-   raise('the master lacks the project modules: run `salt-run saltutil.sync_all` once, then the orchestration again') }}
{%- endif %}
{%- from 'galera/map.jinja' import galera with context %}
{%- set controllers = salt['inventory.controllers']() %}
{%- set witness = salt['inventory.witness']() %}
{%- if not controllers %}
{{-   raise('site:nodes: no controller in the inventory: nothing to restore Galera on') }}
{%- endif %}
{%- set first = controllers[0] %}
{#- the newest complete backup finished before now: one that completes
    meanwhile is not taken instead #}
{%- set wanted = {'before': None | strftime('%s') | int} %}
{%- if pillar.get('backup') %}
{%-   do wanted.update({'name': pillar['backup'] | string}) %}
{%- endif %}

galera-restore-backup-checked:
  salt.function:
    - name: galera_backup.show
    - tgt: {{ first }}
    - kwarg: {{ wanted | json }}
    - failhard: True

galera-restore-healing-paused:
  salt.runner:
    - name: heal.pause
    - reason: 'orch.galera_restore: Galera is being restored from a backup'
    - require:
      - salt: galera-restore-backup-checked

galera-restore-mariadb-stopped:
  salt.function:
    - name: service.stop
    - tgt: {{ controllers | join(',') }}
    - tgt_type: list
    - arg: [{{ galera.service }}]
    - timeout: 900
    - require:
      - salt: galera-restore-healing-paused
{%- if witness %}

galera-restore-witness-stopped:
  salt.function:
    - name: service.stop
    - tgt: {{ witness }}
    - arg: [{{ galera.arbitrator.service }}]
    - require:
      - salt: galera-restore-mariadb-stopped
{%- endif %}

galera-restore-datadirs-set-aside:
  salt.function:
    - name: galera_backup.set_aside
    - tgt: {{ controllers | join(',') }}
    - tgt_type: list
    - require:
      - salt: galera-restore-mariadb-stopped
{%- if witness %}
      - salt: galera-restore-witness-stopped
{%- endif %}

galera-restore-copied-back:
  salt.function:
    - name: galera_backup.restore
    - tgt: {{ first }}
    - kwarg: {{ wanted | json }}
    - timeout: 7200
    - require:
      - salt: galera-restore-datadirs-set-aside

galera-restore-cluster-formed:
  galera.converged:
    - require:
      - salt: galera-restore-copied-back
{%- if witness %}

galera-restore-witness-started:
  salt.function:
    - name: service.start
    - tgt: {{ witness }}
    - arg: [{{ galera.arbitrator.service }}]
    - require:
      - galera: galera-restore-cluster-formed

galera-restore-witness-joined:
  galera.converged:
    - witness_grace: 60
    - require:
      - salt: galera-restore-witness-started
{%- endif %}

galera-restore-accounts-managed:
  galera.accounts_managed:
    - require:
      - galera: {{ 'galera-restore-witness-joined' if witness else 'galera-restore-cluster-formed' }}

galera-restore-healing-resumed:
  salt.runner:
    - name: heal.resume
    - require:
      - galera: galera-restore-accounts-managed
