{#- memcached on a controller, on its management address only. The
    configuration goes in before the package, whose postinst starts the
    service (and keeps an existing /etc/memcached.conf), so it never listens
    anywhere else. #}
{%- from 'memcached/map.jinja' import memcached with context %}

memcached-config-managed:
  file.managed:
    - name: {{ memcached.config }}
    - source: salt://memcached/files/memcached.conf.jinja
    - template: jinja
    - context:
        memcached: {{ memcached | json }}
    - user: root
    - group: root
    - mode: '0644'

memcached-unit-dropin-managed:
  file.managed:
    - name: /etc/systemd/system/{{ memcached.service }}.service.d/twin-cloud.conf
    - source: salt://memcached/files/memcached.service.conf
    - makedirs: True

memcached-pkgs-installed:
  pkg.installed:
    - pkgs: {{ memcached.pkgs | json }}
    - require:
      - file: memcached-config-managed
      - file: memcached-unit-dropin-managed

memcached-service-running:
  service.running:
    - name: {{ memcached.service }}
    - enable: True
    - require:
      - pkg: memcached-pkgs-installed
    - watch:
      - file: memcached-config-managed
      - file: memcached-unit-dropin-managed
