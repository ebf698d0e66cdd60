{#- The Galera health responder HAProxy checks: HTTP 200 when this node is
    Synced (wsrep_local_state 4), 503 otherwise. Socket-activated on the
    node's management address; no password (unix socket as root). #}
{%- set me = salt['inventory.node']() %}
{%- import_yaml 'haproxy/defaults.yaml' as haproxy %}

galera-clustercheck-script-managed:
  file.managed:
    - name: /usr/local/sbin/galera-clustercheck
    - source: salt://galera/files/galera-clustercheck.sh
    - mode: '0755'

galera-clustercheck-units-managed:
  file.managed:
    - names:
      - /etc/systemd/system/galera-clustercheck.socket:
        - contents: |
            # Managed by Salt (galera.clustercheck)
            [Unit]
            Description=Galera health for HAProxy (socket)
            [Socket]
            ListenStream={{ me.address }}:{{ haproxy.galera.check_port }}
            FreeBind=true
            Accept=yes
            [Install]
            WantedBy=sockets.target
      - /etc/systemd/system/galera-clustercheck@.service:
        - contents: |
            # Managed by Salt (galera.clustercheck)
            [Unit]
            Description=Galera health for HAProxy (one check)
            [Service]
            ExecStart=/usr/local/sbin/galera-clustercheck
            StandardInput=socket
            StandardOutput=socket
            StandardError=journal
            TimeoutStopSec=5
            RuntimeMaxSec=10

galera-clustercheck-socket-running:
  service.running:
    - name: galera-clustercheck.socket
    - enable: True
    - watch:
      - file: galera-clustercheck-units-managed
