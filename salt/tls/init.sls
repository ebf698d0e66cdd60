{#- Every node trusts the site CA (pillar site_ca:cert, written by
    `salt-run secrets.init` with the CA key): Debian's ca-certificates puts it
    into the system bundle that OpenSSL, curl and Debian's python3-requests
    read, so every OpenStack client on the node verifies the VIP's TLS
    endpoints without a per-service CA option. #}
{%- from 'tls/map.jinja' import tls with context %}
{%- if not salt['pillar.get']('site_ca:cert') %}
{{-  raise('pillar site_ca:cert: missing: run `salt-run secrets.init` on the admin box (it writes site_ca.sls next to secrets.sls), then salt \'*\' saltutil.refresh_pillar') }}
{%- endif %}

tls-ca-pkgs-installed:
  pkg.installed:
    - pkgs: [ca-certificates]

tls-ca-trusted:
  file.managed:
    - name: {{ tls.ca.trust_file }}
    - contents_pillar: site_ca:cert
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: tls-ca-pkgs-installed

tls-ca-bundle-updated:
  cmd.run:
    - name: update-ca-certificates
    - onchanges:
      - file: tls-ca-trusted
