{%- from 'rabbitmq/map.jinja' import rabbitmq with context %}

include:
  - rabbitmq.config
  - rabbitmq.package

{#- Not Pacemaker-managed: systemd restarts it (Restart=on-failure). The unit
    is Type=notify: start/restart return once the node has booted. #}
rabbitmq-service-running:
  service.running:
    - name: {{ rabbitmq.service }}
    - enable: True
    - require:
      - pkg: rabbitmq-package-installed
    - watch:
      - file: rabbitmq-config-cookie-managed
      - file: rabbitmq-config-rabbitmq-conf-managed
      - file: rabbitmq-config-rabbitmq-env-conf-managed
      - file: rabbitmq-config-advanced-config-managed
      - file: rabbitmq-config-epmd-socket-managed

