{#- Undoes minion: the service stopped and disabled, the unit, config,
    links, wheels and venv removed (the minion's keys stay: delete its key on
    the master with salt-key -d <id>). Meant for salt-ssh, like minion. #}
{%- import_yaml 'minion/defaults.yaml' as defaults %}
{%- set minion = salt['pillar.get']('minion', defaults, merge=True) %}

salt-minion-service-dead:
  service.dead:
    - name: {{ minion.service }}
    - enable: False

salt-minion-clean-files-absent:
  file.absent:
    - names:
      - {{ minion.unit }}
      - {{ minion.config }}
      - {{ minion.wheel_dir }}
      - {{ minion.venv }}
{%- for name in minion.links %}
      - /usr/bin/{{ name }}
{%- endfor %}
    - require:
      - service: salt-minion-service-dead

salt-minion-clean-reloaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: salt-minion-clean-files-absent
