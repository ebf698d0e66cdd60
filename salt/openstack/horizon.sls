{#- Horizon (openstack/services/horizon.yaml) on every controller: Debian's
    openstack-dashboard under Apache (the package's alias-only site,
    http://<host>/horizon on the management address :80); HAProxy's VIP:443
    frontend (TLS) and VIP:80 redirect come from the entry's `apis`. What the pattern's INI files cannot say is here:
    local_settings.py (Python) from files/horizon-local_settings.py.jinja,
    Debian's cache snippet emptied (it would put sessions back into one
    process's memory), Apache listening on the management address only,
    apache2 running, reloaded (graceful) on a change.
    The pattern's macro is not called: with no `config`, `database` or
    `uwsgi`, it emits an empty `require` (db-synced) and an empty `watch`
    (the unit), which Salt rejects; these states keep the pattern's ids. #}
{%- set svc = salt['openstack.service']('horizon') %}
{%- set settings = svc.get('settings') or {} %}
{%- set ctx = salt['openstack.context']('horizon') %}
{%- set me = salt['inventory.node']() %}
{%- set vip = salt['inventory.vip']('api') %}
{%- set port = svc.apis.horizon.get('backend_port', svc.apis.horizon.port) %}
{%- set hosts = [] %}
{%- for host in [vip.address, vip.fqdn, me.address, grains['fqdn'], grains['host'], 'localhost'] %}
{%-   if host and host not in hosts %}{% do hosts.append(host) %}{% endif %}
{%- endfor %}

include:
  - openstack.packages

openstack-horizon-pkgs-installed:
  pkg.installed:
    - pkgs: {{ salt['openstack.packages']('horizon') | json }}
    - require:
      - sls: openstack.packages

openstack-horizon-local-settings:
  file.managed:
    - name: /etc/openstack-dashboard/local_settings.py
    - source: salt://openstack/files/horizon-local_settings.py.jinja
    - template: jinja
    - user: root
    - group: {{ svc.group }}
    - mode: '0640'
    - show_changes: False
    - context:
        secret_key: {{ pillar['secrets']['horizon_secret_key'] | json }}
        allowed_hosts: {{ hosts | json }}
        memcached: {{ ctx.memcached.split(',') | json }}
        openstack_host: {{ ctx.endpoint_host | json }}
        keystone_url: {{ (ctx.auth_url ~ '/v3') | json }}
        behind_tls: {{ ctx.endpoint_scheme == 'https' }}
        default_role: {{ settings.get('keystone_default_role', 'member') | json }}
        time_zone: {{ settings.get('time_zone', 'UTC') | json }}
    - require:
      - pkg: openstack-horizon-pkgs-installed
    - watch_in:
      - service: openstack-horizon-unit-apache2-running

{#- copied once by the package (never again): its CACHES (LocMemCache)
    would override local_settings.py, the snippets running after it #}
openstack-horizon-debian-cache-snippet:
  file.managed:
    - name: /etc/openstack-dashboard/local_settings.d/_0006_debian_cache.py
    - contents: |
        # Managed by Salt (openstack.horizon): CACHES is in local_settings.py
        # (memcached on every controller); this snippet would override it.
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: openstack-horizon-pkgs-installed
    - watch_in:
      - service: openstack-horizon-unit-apache2-running

{#- the package's ports.conf listens on every address: HAProxy holds the
    VIP's port on this same node #}
openstack-horizon-apache-listen:
  file.managed:
    - name: /etc/apache2/ports.conf
    - contents: |
        # Managed by Salt (openstack.horizon): Apache listens on the management
        # address only; HAProxy holds the VIP's ports on this node.
        Listen {{ me.address }}:{{ port }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: openstack-horizon-pkgs-installed
    - watch_in:
      - service: openstack-horizon-unit-apache2-running

{#- enabled by openstack-dashboard-apache's postinst at each configure
    (a2ensite), but Debian 12's default-ssl.conf needs mod_ssl, which is
    off: Apache would not start. (a2dissite) #}
openstack-horizon-apache-default-ssl-disabled:
  file.absent:
    - name: /etc/apache2/sites-enabled/default-ssl.conf
    - require:
      - pkg: openstack-horizon-pkgs-installed
    - watch_in:
      - service: openstack-horizon-unit-apache2-running

{#- http://<vip>/ leads to the dashboard (instead of Apache's default page) #}
openstack-horizon-apache-redirect:
  file.managed:
    - name: /etc/apache2/conf-available/horizon-redirect.conf
    - contents: |
        # Managed by Salt (openstack.horizon)
        RedirectMatch ^/$ {{ settings.get('webroot', '/horizon') }}/
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: openstack-horizon-pkgs-installed
    - watch_in:
      - service: openstack-horizon-unit-apache2-running

openstack-horizon-apache-redirect-enabled:
  file.symlink:
    - name: /etc/apache2/conf-enabled/horizon-redirect.conf
    - target: ../conf-available/horizon-redirect.conf
    - require:
      - file: openstack-horizon-apache-redirect
    - watch_in:
      - service: openstack-horizon-unit-apache2-running

openstack-horizon-unit-apache2-running:
  service.running:
    - name: apache2
    - enable: True
    - reload: True
    - require:
      - pkg: openstack-horizon-pkgs-installed
