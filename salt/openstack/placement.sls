{#- placement (openstack/services/placement.yaml): the service pattern #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{{ openstack_service('placement') }}
