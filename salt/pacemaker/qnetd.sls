{#- corosync-qnetd on the witness: the third vote of the Pacemaker cluster
    (the quorum device's server), listening on the management address only.
    Its CA signs each controller's client certificate (qdevice.certified,
    salt/orch/qdevice.sls). #}
{%- from 'pacemaker/map.jinja' import pacemaker with context %}
{%- set me = salt['inventory.node']() %}
{%- set db = '/etc/corosync/qnetd/nssdb' %}

pacemaker-qnetd-pkgs-installed:
  pkg.installed:
    - pkgs: {{ pacemaker.pkgs.qnetd | json }}

{#- Debian's package creates the CA at install; this redoes it the way its
    postinst does if the database is gone (qnetd runs as coroqnetd). #}
pacemaker-qnetd-ca-created:
  cmd.run:
    - name: >-
        corosync-qnetd-certutil -i -G &&
        chgrp coroqnetd {{ db }} {{ db }}/cert9.db {{ db }}/key4.db
    - creates: {{ db }}/cert9.db
    - require:
      - pkg: pacemaker-qnetd-pkgs-installed

pacemaker-qnetd-options-managed:
  file.managed:
    - name: {{ pacemaker.qdevice.qnetd_defaults }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by Salt (pacemaker.qnetd): read by corosync-qnetd.service.
        # Listen on the management address only.
        COROSYNC_QNETD_OPTIONS="-l {{ me.address }} -p {{ pacemaker.qdevice.port }}"
    - require:
      - pkg: pacemaker-qnetd-pkgs-installed

pacemaker-qnetd-service-running:
  service.running:
    - name: corosync-qnetd
    - enable: True
    - require:
      - cmd: pacemaker-qnetd-ca-created
    - watch:
      - file: pacemaker-qnetd-options-managed
