{#- Everything the first start of rabbitmq-server needs, written before the
    package is installed: the rabbitmq user (as the package's postinst would
    create it), the Erlang cookie from the secrets pillar, the configuration
    binding every listener to the management address, and epmd's socket. #}
{%- from 'rabbitmq/map.jinja' import rabbitmq with context %}

include:
  - base

rabbitmq-config-group-present:
  group.present:
    - name: {{ rabbitmq.group }}
    - system: True

rabbitmq-config-user-present:
  user.present:
    - name: {{ rabbitmq.user }}
    - system: True
    - gid: {{ rabbitmq.group }}
    - home: {{ rabbitmq.home }}
    - createhome: False
    - shell: {{ rabbitmq.shell }}
    - fullname: RabbitMQ messaging server
    - require:
      - group: rabbitmq-config-group-present

rabbitmq-config-home-directory:
  file.directory:
    - name: {{ rabbitmq.home }}
    - user: {{ rabbitmq.user }}
    - group: {{ rabbitmq.group }}
    - mode: '0755'
    - require:
      - user: rabbitmq-config-user-present

{#- Same cookie on every member; the CLI tools read it too (they run as the
    rabbitmq user with HOME={{ rabbitmq.home }}). A change restarts the
    service (rabbitmq.service watches this state). #}
rabbitmq-config-cookie-managed:
  file.managed:
    - name: {{ rabbitmq.home }}/.erlang.cookie
    - contents_pillar: secrets:{{ rabbitmq.secrets.cookie }}
    - user: {{ rabbitmq.user }}
    - group: {{ rabbitmq.group }}
    - mode: '0400'
    - show_changes: False
    - require:
      - file: rabbitmq-config-home-directory

rabbitmq-config-directory:
  file.directory:
    - name: {{ rabbitmq.config_dir }}
    - user: {{ rabbitmq.user }}
    - group: {{ rabbitmq.group }}
    - mode: '0755'
    - require:
      - user: rabbitmq-config-user-present

{%- for name in ('rabbitmq.conf', 'rabbitmq-env.conf', 'advanced.config') %}

rabbitmq-config-{{ name | replace('.', '-') }}-managed:
  file.managed:
    - name: {{ rabbitmq.config_dir }}/{{ name }}
    - source: salt://rabbitmq/files/{{ name }}.jinja
    - template: jinja
    - context:
        rabbitmq: {{ rabbitmq | json }}
    - user: root
    - group: {{ rabbitmq.group }}
    - mode: '0640'
    - require:
      - file: rabbitmq-config-directory
      {#- node names resolve through /etc/hosts #}
      - sls: base
{%- endfor %}

rabbitmq-config-unit-dropin-managed:
  file.managed:
    - name: /etc/systemd/system/{{ rabbitmq.service }}.service.d/twin-cloud.conf
    - source: salt://rabbitmq/files/rabbitmq-server.service.conf
    - makedirs: True

{#- Debian starts epmd by socket activation (epmd.socket, every address):
    pin it to loopback and the management address. #}
rabbitmq-config-epmd-socket-managed:
  file.managed:
    - name: /etc/systemd/system/epmd.socket.d/twin-cloud.conf
    - source: salt://rabbitmq/files/epmd.socket.conf.jinja
    - template: jinja
    - context:
        rabbitmq: {{ rabbitmq | json }}
    - makedirs: True

rabbitmq-config-systemd-reloaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: rabbitmq-config-epmd-socket-managed
      - file: rabbitmq-config-unit-dropin-managed

{#- A new socket address only applies once epmd.service and its socket are
    stopped (systemd refuses to start a socket whose service still runs),
    after RabbitMQ (its ExecStop, rabbitmqctl, finds the node through epmd);
    rabbitmq.service then starts RabbitMQ again, which registers with the new
    epmd. Nothing to do before Erlang is installed: its postinst starts the
    socket with this drop-in already in place. #}
rabbitmq-config-epmd-rebound:
  cmd.run:
    - name: >-
        if systemctl is-active --quiet epmd.socket; then
        systemctl stop {{ rabbitmq.service }}.service &&
        systemctl stop epmd.service epmd.socket &&
        systemctl start epmd.socket; fi
    - onchanges:
      - file: rabbitmq-config-epmd-socket-managed
    - require:
      - cmd: rabbitmq-config-systemd-reloaded
