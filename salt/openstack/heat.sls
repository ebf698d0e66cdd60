{#- Heat (openstack/services/heat.yaml) on every controller: the service
    pattern (heat-api, heat-api-cfn under uWSGI on the management address,
    heat-engine; database, RabbitMQ user, Keystone services `heat` and
    `heat-cfn`), then, from the first controller, the stack domain: the
    domain and its administrator named in heat.conf, the administrator's
    role on the domain and the roles stacks use (a script through
    openstacksdk, credentials in its environment only). #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{{ openstack_service('heat') }}
{%- if salt['inventory.controllers']()[:1] == [grains['id']] %}
{%-   set svc = salt['openstack.service']('heat') %}
{%-   set ctx = salt['openstack.context']('heat') %}
{%-   set conf = salt['openstack.config']('heat', '/etc/heat/heat.conf')['DEFAULT'] %}
{%-   set script = '/usr/local/lib/twin-cloud/heat-domain' %}
{%-   set env = {
        'OS_AUTH_URL': ctx.auth_url ~ '/v3',
        'OS_IDENTITY_API_VERSION': '3',
        'OS_USERNAME': 'admin',
        'OS_PASSWORD': pillar['secrets']['keystone_admin_password'],
        'OS_PROJECT_NAME': 'admin',
        'OS_USER_DOMAIN_NAME': 'Default',
        'OS_PROJECT_DOMAIN_NAME': 'Default',
        'OS_REGION_NAME': ctx.region,
        'OS_INTERFACE': 'internal',
        'HEAT_DOMAIN': conf.stack_user_domain_name,
        'HEAT_DOMAIN_ADMIN': conf.stack_domain_admin,
        'HEAT_DOMAIN_ADMIN_PASSWORD': conf.stack_domain_admin_password,
        'HEAT_ROLES': (svc.get('settings') or {}).get('roles', []) | join(','),
    } %}

openstack-heat-domain-script:
  file.managed:
    - name: {{ script }}
    - source: salt://openstack/files/heat-domain.py
    - user: root
    - group: root
    - mode: '0750'
    - makedirs: True

openstack-heat-domain-present:
  cmd.run:
    - name: /usr/bin/python3 {{ script }} apply
    - unless: /usr/bin/python3 {{ script }} check
    - env: {{ env | json }}
    - cwd: /tmp
    - output_loglevel: quiet
    - require:
      - file: openstack-heat-domain-script
      - openstack: openstack-heat-identity-registered
{%- endif %}
