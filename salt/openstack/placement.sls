{#- placement (openstack/services/placement.yaml): the service pattern, and
    systemd reloaded when the pattern wrote the uWSGI unit drop-in, before
    the unit starts: systemd 252 does not notice a drop-in directory created
    for a unit it has already loaded (the package enabled it), and Salt's
    service.running reloads only when systemd reports a change, so the
    packaged ExecStart would run (uWSGI on :8778, every address, clashing
    with HAProxy on the VIP). #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{{ openstack_service('placement') }}

openstack-placement-unit-dropins-reloaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: openstack-placement-uwsgi-placement-api-unit-dropin
    - require_in:
      - service: openstack-placement-unit-placement-api-running
