{#- The salt-minion unit, running and enabled; restarted when its config,
    its unit or the installed Salt changes. #}
{%- from 'minion/map.jinja' import minion with context %}

include:
  - minion.install
  - minion.config

salt-minion-unit-managed:
  file.managed:
    - name: {{ minion.unit }}
    - source: salt://minion/files/salt-minion.service.jinja
    - template: jinja
    - context:
        minion: {{ minion | json }}
    - user: root
    - group: root
    - mode: '0644'

salt-minion-unit-reloaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: salt-minion-unit-managed

salt-minion-service-running:
  service.running:
    - name: {{ minion.service }}
    - enable: True
    - require:
      - cmd: salt-minion-unit-reloaded
      - sls: minion.install
    - watch:
      - file: salt-minion-unit-managed
      - file: salt-minion-config-managed
      - cmd: salt-minion-pip-installed
