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

openstack-packages-{{ user.name }}-group:
  group.present:
    - name: {{ user.name }}
    - gid: {{ user.gid }}
    - system: True
    - unless: getent group {{ user.name }}
    - require_in:
      - pkg: openstack-packages-installed

openstack-packages-{{ user.name }}-user:
  user.present:
    - name: {{ user.name }}
    - uid: {{ user.uid }}
    - gid: {{ user.gid }}
    - home: {{ user.home }}
    - createhome: False
    - shell: /bin/false
    - system: True
    - unless: getent passwd {{ user.name }}
    - require:
      - group: openstack-packages-{{ user.name }}-group
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

openstack-packages-start-allowed:
  file.absent:
    - name: /usr/sbin/policy-rc.d
    - onchanges:
      - pkg: openstack-packages-installed
{%- endif %}
