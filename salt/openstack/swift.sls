{#- Swift (openstack/services/swift.yaml): the service pattern (proxy
    config, swift.conf, Keystone registration, units), then what Swift needs
    besides:
    - the rings, on every Swift node, byte for byte from pillar
      `swift_rings` (built once by the master's runner swift_rings; no node
      ever builds its own);
    - on the object nodes: the disks under /srv/node (XFS, mounted; or, where
      the host cannot mount -- pillar swift:storage: directory, the lab --
      plain directories with mount_check off), the account/container/object
      servers' configs (bind_ip, ports, devices, mount_check from the
      settings), rsyncd for replication;
    - the units the packages enable but this node does not run: stopped and
      disabled. #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{%- set svc = salt['openstack.service']('swift') %}
{%- set settings = salt['pillar.get']('swift', svc.get('settings') or {}, merge=True) %}
{%- set roles = salt['inventory.roles']() %}
{%- set me = salt['inventory.node']() %}
{%- set running = salt['openstack.units']('swift') %}
{%- set rings = salt['pillar.get']('swift_rings:rings', {}) %}
{%- set kinds = ['account', 'container', 'object'] %}
{%- set storage = settings.get('storage', 'mount') %}
{%- if storage not in ['mount', 'directory'] %}
{{-  raise('swift:storage: ' ~ storage ~ ' is not mount (XFS disks, a real site) or directory (plain directories, mount_check off: a lab that cannot mount)') }}
{%- endif %}
{%- set devices_dir = settings.get('devices_dir', '/srv/node') %}
{{ openstack_service('swift') }}
{%- for kind in kinds %}
{%-   if rings.get(kind) %}

openstack-swift-ring-{{ kind }}:
  file.decode:
    - name: /etc/swift/{{ kind }}.ring.gz
    - contents_pillar: swift_rings:rings:{{ kind }}
    - require:
      - pkg: openstack-swift-pkgs-installed
    - require_in:
{%-     for unit in running %}
      - service: openstack-swift-unit-{{ unit }}-running
{%-     endfor %}
{%-   endif %}
{%- endfor %}
{%- if not rings or kinds | reject('in', rings) | list %}

openstack-swift-rings-missing:
  test.fail_without_changes:
    - comment: >-
        pillar swift_rings:rings lacks the {{ kinds | reject('in', rings) | join('/') }}
        ring: run `salt-run swift_rings.ensure` on the master (it builds the rings once
        and writes the pillar file swift_rings.sls, which pillar/top.sls gives to the
        Swift nodes), then refresh the Swift nodes' pillar and apply again; or run
        `salt-run state.orchestrate orch.swift_rings`, which does all three
    - require_in:
{%-   for unit in running %}
      - service: openstack-swift-unit-{{ unit }}-running
{%-   endfor %}
{%- endif %}
{%- if 'object' in roles %}
{%-   set disks = ((me.get('disks') or {}).get('swift') or []) | select | list %}
{%-   if not disks %}
{{-    raise('site:nodes:' ~ grains['id'] ~ ':disks:swift: this node has role object but no swift disk') }}
{%-   endif %}

openstack-swift-devices-dir:
  file.directory:
    - name: {{ devices_dir }}
    - user: swift
    - group: swift
    - mode: '0755'
    - require:
      - pkg: openstack-swift-pkgs-installed
{%-   for disk in disks %}
{%-     set path = disk.get('file') or disk.get('device') %}
{%-     set name = path.rstrip('/').split('/')[-1].split('.')[0] %}
{%-     set mountpoint = devices_dir ~ '/' ~ name %}
{%-     if storage == 'mount' %}
{%-       if disk.get('file') %}

openstack-swift-disk-{{ name }}-file:
  file.directory:
    - name: {{ salt['file.dirname'](disk.file) }}
    - user: root
    - group: root
    - mode: '0700'
    - makedirs: True
  cmd.run:
    - name: truncate -s {{ disk.size_gb }}G {{ disk.file }}
    - creates: {{ disk.file }}
    - require:
      - file: openstack-swift-disk-{{ name }}-file
    - require_in:
      - cmd: openstack-swift-disk-{{ name }}-xfs
{%-       endif %}

{#- XFS only on a disk (or file) that carries no signature at all: never a
    second mkfs over data #}
openstack-swift-disk-{{ name }}-xfs:
  cmd.run:
    - name: mkfs.xfs {{ settings.get('mkfs_options', '') }} {{ path }}
    - unless: blkid -p {{ path }}
    - require:
      - pkg: openstack-swift-pkgs-installed

openstack-swift-disk-{{ name }}-mounted:
  mount.mounted:
    - name: {{ mountpoint }}
    - device: {{ path }}
    - fstype: xfs
    - opts: {{ ((['loop'] if disk.get('file') else []) + settings.get('mount_options', [])) | json }}
    - mkmnt: True
    - persist: True
{%-       if disk.get('file') %}
    {#- a loop mount shows /dev/loopN, not the file: not a different device #}
    - device_name_regex:
      - '^/dev/loop[0-9]+$'
{%-       endif %}
    - require:
      - cmd: openstack-swift-disk-{{ name }}-xfs
      - file: openstack-swift-devices-dir
    - require_in:
      - file: openstack-swift-disk-{{ name }}
{%-     endif %}

openstack-swift-disk-{{ name }}:
  file.directory:
    - name: {{ mountpoint }}
    - user: swift
    - group: swift
    - mode: '0755'
    - require:
      - file: openstack-swift-devices-dir
    - require_in:
{%-     for unit in running if unit.startswith('swift-') %}
      - service: openstack-swift-unit-{{ unit }}-running
{%-     endfor %}
{%-   endfor %}
{%-   for kind in kinds %}
{%-     set sections = settings.servers[kind] %}
{%-     do sections.setdefault('DEFAULT', {}).update({
          'bind_ip': me.address,
          'bind_port': settings.ports[kind],
          'devices': devices_dir,
          'mount_check': storage == 'mount'}) %}

openstack-swift-config-/etc/swift/{{ kind }}-server.conf:
  file.managed:
    - name: /etc/swift/{{ kind }}-server.conf
    - contents: {{ salt['openstack.render_ini'](sections) | json }}
    - user: root
    - group: swift
    - mode: '0640'
    - require:
      - pkg: openstack-swift-pkgs-installed
    - watch_in:
{%-     for unit in running if unit.startswith('swift-' ~ kind) %}
      - service: openstack-swift-unit-{{ unit }}-running
{%-     endfor %}
{%-   endfor %}
{%-   set allow = [] %}
{%-   for node in salt['inventory.nodes']('object') %}
{%-     do allow.append(salt['inventory.node'](node).address) %}
{%-   endfor %}

openstack-swift-rsyncd-config:
  file.managed:
    - name: /etc/rsyncd.conf
    - source: salt://openstack/files/swift-rsyncd.conf.jinja
    - template: jinja
    - context:
        address: {{ me.address }}
        port: {{ settings.rsync.port }}
        max_connections: {{ settings.rsync.max_connections }}
        devices_dir: {{ devices_dir }}
        allow: {{ allow | json }}
        kinds: {{ kinds | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: openstack-swift-pkgs-installed
    - watch_in:
      - service: openstack-swift-unit-rsync-running
{%- endif %}
{#- what the packages enable and this node does not run #}
{%- set idle = [] + settings.get('idle_units', []) %}
{%- for role, units in (svc.get('units') or {}).items() if role not in roles %}
{%-   do idle.extend(units) %}
{%- endfor %}
{%- for unit in idle | unique if unit not in running and unit != 'rsync' %}

openstack-swift-unit-{{ unit }}-idle:
  service.dead:
    - name: {{ unit }}
    - enable: False
    - require:
      - pkg: openstack-swift-pkgs-installed
{%- endfor %}
