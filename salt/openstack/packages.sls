{#- Every OpenStack package this node needs, in one apt transaction (the
    service states find them installed). Package scripts may not start
    anything: Salt starts each unit once it is configured. #}
{%- set pkgs = salt['openstack.all_packages']() %}
{%- if pkgs %}
{#- system users whose id must be the same on every node (shared storage),
    created before their package would pick one; an existing user is left
    as it is (its service's state checks the shared store is writable) #}
{%-   for name in salt['openstack.services']() %}
{%-     set user = (salt['openstack.service'](name).get('settings') or {}).get('system_user') %}
{%-     if user %}

openstack-packages-{{ user.name }}-system-user:
  cmd.run:
    - name: >-
        getent group {{ user.name }} >/dev/null || groupadd --system --gid {{ user.gid }} {{ user.name }};
        useradd --system --uid {{ user.uid }} --gid {{ user.name }} --home-dir {{ user.home }}
        --no-create-home --shell /bin/false {{ user.name }}
    - unless: getent passwd {{ user.name }}
    - require_in:
      - pkg: openstack-packages-installed
{%-     endif %}
{%-   endfor %}

openstack-packages-start-deferred:
  file.managed:
    - name: /usr/sbin/policy-rc.d
    - contents: "#!/bin/sh\n# Salt (openstack): a package installing does not start services; Salt starts them configured\nexit 101\n"
    - mode: '0755'
    - prereq:
      - pkg: openstack-packages-installed

openstack-packages-installed:
  pkg.installed:
    - pkgs: {{ pkgs | json }}
    - install_recommends: {{ salt['openstack.catalog']().install_recommends | json }}
    {#- Debian's openstack-dashboard postinst (manage.py compress) now and
        then fails on a stylesheet it parses fine the next time (pyScss
        "Syntax error: Found 'inline-blo'", one controller of two in the
        lab): the package is left half-configured and the next apt-get
        install configures it again #}
    - retry:
        attempts: 3
        interval: 5

{#- used by units started only once Keystone issues them a token (pattern
    key start_after_identity) #}
openstack-packages-keystone-token-wait:
  file.managed:
    - name: {{ salt['openstack.catalog']().token_wait }}
    - source: salt://openstack/files/keystone-token-wait
    - makedirs: True
    - user: root
    - group: root
    - mode: '0755'

{#- used by the units of every service with a database: they start once
    a database server greets through the VIP #}
openstack-packages-database-wait:
  file.managed:
    - name: {{ salt['openstack.catalog']().database_wait }}
    - source: salt://openstack/files/database-wait
    - makedirs: True
    - user: root
    - group: root
    - mode: '0755'

{#- after the install, whatever its result (a failed install must not
    leave package scripts unable to start anything for good) #}
openstack-packages-start-allowed:
  file.absent:
    - name: /usr/sbin/policy-rc.d
{%- endif %}
