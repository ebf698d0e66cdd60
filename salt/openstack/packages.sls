{#- Every OpenStack package this node needs, in one apt transaction (the
    service states find them installed). Package scripts may not start
    anything: Salt starts each unit once it is configured. #}
{%- set pkgs = salt['openstack.all_packages']() %}
{%- if pkgs %}

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
