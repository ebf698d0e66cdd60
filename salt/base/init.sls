{%- from 'base/map.jinja' import base with context %}
{%- set me = salt['inventory.node']() %}

include:
  - tls

base-pkgs-installed:
  pkg.installed:
    - pkgs: {{ base.pkgs | json }}

base-hosts-file-managed:
  file.managed:
    - name: /etc/hosts
    - source: salt://base/files/hosts.jinja
    - template: jinja

base-motd-managed:
  file.managed:
    - name: {{ base.motd }}
    - contents: |
        {{ grains['id'] }}: {{ me.roles | join(', ') }} of site {{ pillar['site']['name'] }}
        Managed by Salt: local changes are overwritten.
