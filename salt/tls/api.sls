{#- A controller's certificate for the API VIP (its fqdn and address),
    signed with the site CA's key: HAProxy presents it on every public
    endpoint. Each controller issues its own from the same CA; a run renews
    it in its last `days_remaining` days. #}
{%- from 'tls/map.jinja' import tls with context %}
{%- set vip = salt['inventory.vip']('api') %}

include:
  - tls

tls-ca-key-managed:
  file.managed:
    - name: {{ tls.ca.key_file }}
    - contents_pillar: secrets:tls_ca_key
    - makedirs: True
    - dir_mode: '0700'
    - user: root
    - group: root
    - mode: '0600'
    - show_changes: False

tls-api-dir-managed:
  file.directory:
    - name: {{ tls.api.dir }}
    - makedirs: True  {#- before the haproxy package makes /etc/haproxy #}
    - user: root
    - group: root
    - mode: '0755'

tls-api-key-managed:
  x509.private_key_managed:
    - name: {{ tls.api.key }}
    - algo: rsa
    - keysize: {{ tls.api.key_bits }}
    - user: root
    - group: root
    - mode: '0600'
    - require:
      - file: tls-api-dir-managed

tls-api-cert-managed:
  x509.certificate_managed:
    - name: {{ tls.api.cert }}
    - signing_private_key: {{ tls.ca.key_file }}
    - signing_cert: {{ tls.ca.trust_file }}
    - private_key: {{ tls.api.key }}
    - CN: {{ vip.fqdn }}
    - subjectAltName: 'DNS:{{ vip.fqdn }}, IP:{{ vip.address }}'
    - basicConstraints: 'critical, CA:false'
    - keyUsage: 'critical, digitalSignature, keyEncipherment'
    - extendedKeyUsage: serverAuth
    - subjectKeyIdentifier: hash
    - authorityKeyIdentifier: keyid:always
    - days_valid: {{ tls.api.days_valid }}
    - days_remaining: {{ tls.api.days_remaining }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: tls-ca-key-managed
      - file: tls-ca-trusted
      - x509: tls-api-key-managed
