{#- HAProxy on a controller. Pacemaker runs it (a clone, with the VIP), so
    this state never starts it: it installs, configures, keeps systemd from
    starting it at boot outside Pacemaker, and reloads it when it runs. #}
{%- from 'haproxy/map.jinja' import haproxy, services with context %}
{%- from 'tls/map.jinja' import tls with context %}

include:
  - base
  - tls.api

haproxy-pkgs-installed:
  pkg.installed:
    - pkgs: {{ haproxy.pkgs | json }}

haproxy-nonlocal-bind-sysctl:
  sysctl.present:
    - name: net.ipv4.ip_nonlocal_bind
    - value: 1

haproxy-config-managed:
  file.managed:
    - name: {{ haproxy.config }}
    - source: salt://haproxy/files/haproxy.cfg.jinja
    - template: jinja
    - user: root
    - group: haproxy
    - mode: '0640'
    - show_changes: False
    - check_cmd: /usr/sbin/haproxy -c -q -f
    - context:
        haproxy: {{ haproxy | json }}
        services: {{ services | json }}
        tls: {{ tls | json }}
    - require:
      - pkg: haproxy-pkgs-installed
      - x509: tls-api-cert-managed

haproxy-boot-start-disabled:
  service.disabled:
    - name: haproxy
    - require:
      - pkg: haproxy-pkgs-installed

haproxy-reloaded-when-running:
  cmd.run:
    - name: systemctl try-reload-or-restart haproxy
    - onchanges:
      - file: haproxy-config-managed
      - sysctl: haproxy-nonlocal-bind-sysctl
      - x509: tls-api-cert-managed
      - x509: tls-api-key-managed
