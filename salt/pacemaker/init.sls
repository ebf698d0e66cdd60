{#- Corosync and Pacemaker on a controller: the cluster from the site
    inventory (_modules/ha_objects.py builds the data). Salt runs corosync,
    corosync-qdevice and pacemaker themselves; what runs INSIDE the cluster
    (VIP, HAProxy, fencing) is Pacemaker's (pacemaker.resources). #}
{%- from 'pacemaker/map.jinja' import pacemaker with context %}
{%- set corosync = pacemaker.corosync %}
{%- set config = salt['ha_objects.corosync_config'](pacemaker) %}

pacemaker-pkgs-installed:
  pkg.installed:
    - pkgs: {{ pacemaker.pkgs.cluster | json }}

{#- Debian starts corosync and pacemaker at install with its sample
    corosync.conf: a one-node cluster "debian" of node1 on 127.0.0.1, whose
    CIB would outlive it (node1 shown offline for ever). While that sample
    is in place, untouched (its md5 is the one dpkg recorded), stop both and
    drop that CIB before the real corosync.conf is written. #}
pacemaker-package-sample-cluster-cleared:
  cmd.run:
    - name: systemctl stop pacemaker corosync && rm -f /var/lib/pacemaker/cib/cib*
    - onlyif: >-
        test "$(md5sum < {{ corosync.config }} | cut -d' ' -f1)" =
        "$(dpkg-query -W -f='${Conffiles}' corosync | awk '$1 == "{{ corosync.config }}" {print $2}')"
    - require:
      - pkg: pacemaker-pkgs-installed

pacemaker-corosync-authkey-file-managed:
  file.managed:
    - name: {{ corosync.authkey }}
    - user: root
    - group: root
    - mode: '0400'
    - replace: False
    - show_changes: False
    - require:
      - cmd: pacemaker-package-sample-cluster-cleared

{#- The key is binary: written by file.decode into the 0400 file above (it
    keeps the mode); its report shows sha256 digests, never the key. #}
pacemaker-corosync-authkey-decoded:
  file.decode:
    - name: {{ corosync.authkey }}
    - encoded_data: {{ salt['ha_objects.corosync_authkey'](corosync.authkey_bytes) }}
    - checksum: sha256
    - require:
      - file: pacemaker-corosync-authkey-file-managed

pacemaker-corosync-config-managed:
  file.managed:
    - name: {{ corosync.config }}
    - source: salt://pacemaker/files/corosync.conf.jinja
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - context:
        c: {{ config | json }}
    - require:
      - cmd: pacemaker-package-sample-cluster-cleared

{#- A running cluster takes a new corosync.conf by a reload, on every node
    at once (a restart of corosync would restart pacemaker and move every
    resource). Not for a new authkey: a node reloading before its peer has
    the new key would split the cluster. Rotating secrets:corosync_authkey is
    a planned operation: apply pacemaker on every controller, then run
    `corosync-cfgtool -R` once, on one of them. #}
pacemaker-corosync-reloaded:
  cmd.run:
    - name: corosync-cfgtool -R
    - onlyif: systemctl is-active --quiet corosync
    - onchanges:
      - file: pacemaker-corosync-config-managed

pacemaker-corosync-service-running:
  service.running:
    - name: corosync
    - enable: True
    {#- a first start right after the package's own stop can race it #}
    - retry:
        attempts: 3
        interval: 5
    - require:
      - file: pacemaker-corosync-config-managed
      - file: pacemaker-corosync-authkey-decoded
      - cmd: pacemaker-corosync-reloaded

pacemaker-service-running:
  service.running:
    - name: pacemaker
    - enable: True
    - retry:
        attempts: 3
        interval: 5
    - require:
      - service: pacemaker-corosync-service-running

{#- pcsd (pcs's web daemon) listens on port 2224 on every address. Salt
    writes corosync.conf and the CIB, so pcsd is not needed, and it would be
    a second writer of corosync.conf. The pcs command line works without it. #}
pacemaker-pcsd-service-dead:
  service.dead:
    - name: pcsd
    - enable: False
    - require:
      - pkg: pacemaker-pkgs-installed

{#- corosync-qdevice (quorum mode witness): the cluster's link to
    corosync-qnetd on the witness, over mutual TLS. Each controller's client
    certificate comes from the master-side state qdevice.certified
    (salt/orch/qdevice.sls, a deploy step after this SLS), which starts the
    daemon once the certificate is in: until then it could not connect, so
    here it is enabled, and kept running only where a certificate exists.
    Quorum mode two_node has no quorum device. #}
{%- if config.quorum.device %}

pacemaker-qdevice-service-enabled:
  service.enabled:
    - name: corosync-qdevice
    - require:
      - pkg: pacemaker-pkgs-installed

pacemaker-qdevice-service-running:
  service.running:
    - name: corosync-qdevice
    - onlyif: certutil -L -d /etc/corosync/qdevice/net/nssdb -n 'Cluster Cert'
    - require:
      - service: pacemaker-corosync-service-running
      - service: pacemaker-qdevice-service-enabled
{%- else %}

pacemaker-qdevice-service-dead:
  service.dead:
    - name: corosync-qdevice
    - enable: False
    - require:
      - pkg: pacemaker-pkgs-installed
{%- endif %}
