{#- Every OpenStack service this node runs (openstack/catalog.yaml, by the
    node's roles), in catalog order: Keystone first, since every other
    service registers itself there. #}
{%- set services = salt['openstack.services']() %}
{%- if services %}
include:
  - openstack.packages
{%-   for name in services %}
  - openstack.{{ name }}
{%-   endfor %}
{%- endif %}
