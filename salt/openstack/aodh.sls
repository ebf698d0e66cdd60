{#- Aodh (openstack/services/aodh.yaml) on every controller: the service
    pattern (aodh-api under uWSGI on the management address, evaluator,
    notifier, listener; database `aodh`, RabbitMQ user, Keystone service
    `alarming`), then the evaluators' coordination (tooz, a memcached on
    the first controller: the evaluators of the controllers split the
    alarms between them instead of each evaluating, and notifying, every
    alarm), in a file only aodh-evaluator reads (/etc/default/aodh-evaluator
    adds it to its command line). #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{%- set units = salt['openstack.units']('aodh') %}
{%- set controllers = salt['inventory.controllers']() %}
{{ openstack_service('aodh') }}
{%- if 'aodh-evaluator' in units and controllers %}
{#-   the first controller's memcached: the first of the service's
      memcached servers (openstack.context: every controller's, in order) #}
{%-   set coordinator = salt['openstack.context']('aodh').memcached.split(',')[0] %}

openstack-aodh-evaluator-coordination:
  file.managed:
    - name: /etc/aodh/aodh-evaluator.conf
    - contents: |
        # Managed by Salt (openstack/aodh.sls): read by aodh-evaluator only
        # (/etc/default/aodh-evaluator)
        [coordination]
        backend_url = memcached://{{ coordinator }}
    - user: root
    - group: aodh
    - mode: '0640'
    - require:
      - pkg: openstack-aodh-pkgs-installed
    - watch_in:
      - service: openstack-aodh-unit-aodh-evaluator-running

openstack-aodh-evaluator-arguments:
  file.managed:
    - name: /etc/default/aodh-evaluator
    - contents: |
        # Managed by Salt (openstack/aodh.sls): sourced by
        # /etc/init.d/aodh-evaluator after it builds DAEMON_ARGS
        DAEMON_ARGS="${DAEMON_ARGS} --config-file=/etc/aodh/aodh-evaluator.conf"
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: openstack-aodh-pkgs-installed
    - watch_in:
      - service: openstack-aodh-unit-aodh-evaluator-running
{%- endif %}
