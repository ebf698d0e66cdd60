{#- cinder (openstack/services/cinder.yaml): the service pattern #}
{%- from 'openstack/service.jinja' import openstack_service with context %}
{{ openstack_service('cinder') }}
