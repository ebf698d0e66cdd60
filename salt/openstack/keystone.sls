{#- Keystone on every controller (the service pattern), with its fernet and
    credential keys from pillar `keystone_keys` (identical on both
    controllers; generated and rotated on the master by the keystone_keys
    runner), and the admin bootstrap once, from the first controller. #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{%- set keys = salt['pillar.get']('keystone_keys', {}) %}
{{ openstack_service('keystone') }}
{%- for repo in ['fernet', 'credential'] %}
{%-   set directory = '/etc/keystone/' ~ repo ~ '-keys' %}
{%-   if not keys.get(repo) %}

openstack-keystone-{{ repo }}-keys-missing:
  test.fail_without_changes:
    - comment: >-
        pillar keystone_keys:{{ repo }} is empty: run `salt-run keystone_keys.ensure`
        on the master (it writes the key pillar), then apply again
    - failhard: True
{%-   else %}

openstack-keystone-{{ repo }}-keys-directory:
  file.directory:
    - name: {{ directory }}
    - user: keystone
    - group: keystone
    - mode: '0700'
    - clean: True
    - require:
{%-     for index in keys[repo] %}
      - file: openstack-keystone-{{ repo }}-key-{{ index }}
{%-     endfor %}
    - require_in:
      - service: openstack-keystone-unit-keystone-running
{%-     for index, key in keys[repo] | dictsort %}

openstack-keystone-{{ repo }}-key-{{ index }}:
  file.managed:
    - name: {{ directory }}/{{ index }}
    - contents_pillar: keystone_keys:{{ repo }}:{{ index }}
    - user: keystone
    - group: keystone
    - mode: '0600'
    - makedirs: True
    - show_changes: False
    - require:
      - pkg: openstack-keystone-pkgs-installed
{%-     endfor %}
{%-   endif %}
{%- endfor %}
{%- if salt['inventory.controllers']()[:1] == [grains['id']] %}

openstack-keystone-admin-bootstrapped:
  openstack.keystone_bootstrapped:
    - name: admin
    - retry:
        attempts: 10
        interval: 3
    - require:
      - service: openstack-keystone-unit-keystone-running
{%- endif %}
