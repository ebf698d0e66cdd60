{#- Nova (openstack/services/nova.yaml): the service pattern, then what the
    pattern has no key for:
    - systemd reloaded after a new uWSGI unit drop-in;
    - the role `service` of nova's Keystone user (first controller);
    - the console proxy's choice (/etc/default/nova-consoleproxy: novnc, no
      serial proxy) and the other proxies off;
    - on a compute node: libvirt (qemu.conf, libvirtd running, its default
      NAT network off), nova-compute's own config (virt type), and the
      mapping of this compute host into cell1 once it has registered (the
      scheduler also discovers hosts periodically). #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{%- set svc = salt['openstack.service']('nova') %}
{%- set settings = svc.get('settings') or {} %}
{%- set libvirt = salt['openstack.merge'](settings.get('libvirt') or {}, pillar.get('libvirt') or {}) %}
{%- set units = salt['openstack.units']('nova') %}
{%- set host = grains['host'] %}
{%- set first = salt['inventory.controllers']()[:1] == [grains['id']] %}

{%- macro qemu_value(value) -%}
{%-   if value is sameas true or value is sameas false -%}
{{ 1 if value else 0 }}
{%-   elif value is number -%}
{{ value }}
{%-   elif value is string -%}
"{{ value }}"
{%-   else -%}
[ {% for item in value %}{{ qemu_value(item) }}{{ ', ' if not loop.last else '' }}{% endfor %}{{ ' ' if value else '' }}]
{%-   endif -%}
{%- endmacro %}
{{ openstack_service('nova') }}

openstack-nova-consoleproxy-defaults:
  file.managed:
    - name: /etc/default/nova-consoleproxy
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by Salt (openstack.nova): the console proxy this node runs
        NOVA_CONSOLE_PROXY_TYPE={{ settings.get('consoleproxy_type', 'novnc') }}
        NOVA_SERIAL_PROXY_START=false
    - require:
      - pkg: openstack-nova-pkgs-installed
{%- if 'nova-novncproxy' in units %}
    - watch_in:
      - service: openstack-nova-unit-nova-novncproxy-running
{%- endif %}
{%- for proxy in ['nova-spicehtml5proxy', 'nova-serialproxy'] %}

openstack-nova-{{ proxy }}-off:
  service.dead:
    - name: {{ proxy }}
    - enable: False
    - require:
      - pkg: openstack-nova-pkgs-installed
{%- endfor %}
{%- if 'nova-compute' in units %}

openstack-nova-libvirt-qemu-conf:
  file.managed:
    - name: /etc/libvirt/qemu.conf
    - user: root
    - group: root
    - mode: '0600'
    - contents: |
        # Managed by Salt (openstack.nova: settings.libvirt.qemu_conf, pillar
        # libvirt:qemu_conf): every other option keeps libvirt's default.
{%-   for option, value in (libvirt.get('qemu_conf') or {}) | dictsort %}
        {{ option }} = {{ qemu_value(value) }}
{%-   endfor %}
    - require:
      - pkg: openstack-nova-pkgs-installed

openstack-nova-libvirtd-running:
  service.running:
    - name: libvirtd
    - enable: True
    - watch:
      - file: openstack-nova-libvirt-qemu-conf
    - require_in:
      - service: openstack-nova-unit-nova-compute-running
{%-   if not libvirt.get('default_network', False) %}

openstack-nova-libvirt-default-network-off:
  cmd.run:
    - name: >-
        { ! virsh -q net-info default | grep -q '^Active: *yes' || virsh net-destroy default; } &&
        { ! virsh -q net-info default | grep -q '^Autostart: *yes' || virsh net-autostart --disable default; }
    - onlyif: "virsh -q net-info default | grep -Eq '^(Active|Autostart): *yes'"
    - require:
      - service: openstack-nova-libvirtd-running
{%-   endif %}

openstack-nova-compute-conf:
  file.managed:
    - name: /etc/nova/nova-compute.conf
    - user: root
    - group: nova
    - mode: '0640'
    - contents: {{ salt['openstack.render_ini']({
          'DEFAULT': {'compute_driver': 'libvirt.LibvirtDriver'},
          'libvirt': {'virt_type': libvirt.get('virt_type', 'kvm')},
        }) | json }}
    - require:
      - pkg: openstack-nova-pkgs-installed
    - watch_in:
      - service: openstack-nova-unit-nova-compute-running
{#- cell1 learns of this compute host once nova-compute has registered it
    (a few seconds after it starts): map it now rather than waiting for the
    scheduler's periodic discovery #}

openstack-nova-compute-host-mapped:
  cmd.run:
    - name: nova-manage cell_v2 discover_hosts --verbose && nova-manage cell_v2 list_hosts | grep -qw {{ host }}
    - unless: nova-manage cell_v2 list_hosts | grep -qw {{ host }}
    - runas: nova
    - cwd: /tmp
    - retry:
        attempts: {{ settings.get('discover_attempts', 30) }}
        interval: {{ settings.get('discover_interval', 5) }}
    - require:
      - service: openstack-nova-unit-nova-compute-running
{%- endif %}
