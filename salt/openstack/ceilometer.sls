{#- Ceilometer (openstack/services/ceilometer.yaml): the service pattern
    (agent-notification and agent-central on the controllers,
    agent-compute on the compute nodes; RabbitMQ user, Keystone user), then:
    - its YAML files (settings:files: polling, pipeline, event pipeline),
      which every agent of the node reads at start;
    - the central agents' coordination (tooz, a memcached on the first
      controller: the agents split the polled resources between them), in a
      file only the central agent reads (/etc/default/<unit> adds it to
      its command line): the compute agents poll only their own libvirt and
      must not depend on it;
    - on the first controller, ceilometer-upgrade (the pattern's db sync:
      Gnocchi's resource types and archive policies for Ceilometer) only
      once the ceilometer Keystone user exists (it authenticates as that
      user to reach Gnocchi). #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{%- set svc = salt['openstack.service']('ceilometer') %}
{%- set settings = svc.get('settings') or {} %}
{%- set units = salt['openstack.units']('ceilometer') %}
{%- set controllers = salt['inventory.controllers']() %}
{{ openstack_service('ceilometer') }}
{%- for name in settings.get('files') or [] %}

openstack-ceilometer-file-{{ name }}:
  file.managed:
    - name: /etc/ceilometer/{{ name }}
    - source: salt://openstack/files/ceilometer-{{ name }}
    - user: root
    - group: ceilometer
    - mode: '0640'
    - require:
      - pkg: openstack-ceilometer-pkgs-installed
{%-   if units %}
    - watch_in:
{%-     for unit in units %}
      - service: openstack-ceilometer-unit-{{ unit }}-running
{%-     endfor %}
{%-   endif %}
{%- endfor %}
{%- if 'ceilometer-agent-central' in units and controllers %}
{#-   the first controller's memcached: the first of the service's
      memcached servers (openstack.context: every controller's, in order) #}
{%-   set coordinator = salt['openstack.context']('ceilometer').memcached.split(',')[0] %}

openstack-ceilometer-central-coordination:
  file.managed:
    - name: /etc/ceilometer/ceilometer-central.conf
    - contents: |
        # Managed by Salt (openstack/ceilometer.sls): read by
        # ceilometer-agent-central only (/etc/default/ceilometer-agent-central)
        [coordination]
        backend_url = memcached://{{ coordinator }}
    - user: root
    - group: ceilometer
    - mode: '0640'
    - require:
      - pkg: openstack-ceilometer-pkgs-installed
    - watch_in:
      - service: openstack-ceilometer-unit-ceilometer-agent-central-running

openstack-ceilometer-central-arguments:
  file.managed:
    - name: /etc/default/ceilometer-agent-central
    - contents: |
        # Managed by Salt (openstack/ceilometer.sls): sourced by
        # /etc/init.d/ceilometer-agent-central after it builds DAEMON_ARGS
        DAEMON_ARGS="${DAEMON_ARGS} --config-file=/etc/ceilometer/ceilometer-central.conf"
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: openstack-ceilometer-pkgs-installed
    - watch_in:
      - service: openstack-ceilometer-unit-ceilometer-agent-central-running
{%- endif %}
{%- if controllers[:1] == [grains['id']] %}

openstack-ceilometer-upgrade-after-identity:
  test.nop:
    - require:
      - openstack: openstack-ceilometer-identity-registered
    - require_in:
      - openstack: openstack-ceilometer-db-synced
{%- endif %}
