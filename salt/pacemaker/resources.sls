{#- What Pacemaker runs, declared in the CIB: properties, resource
    defaults, fencing (fence_ipmilan per controller against its BMC), the API
    VIP and the HAProxy clone with their constraints. The objects come from
    ha_objects.cib_objects (the site inventory); pacemaker.cib_present
    pushes only the difference. Applied on ONE controller (the first): the
    CIB is replicated by Pacemaker itself. Passwords never reach the output
    (the module masks them).
    First the cluster must be up with every controller in it: on a cluster
    that has just started, a node not yet joined when the fence devices
    appear could be shot as unseen. With a controller down for good, apply
    with pillar='{"pacemaker": {"online_nodes": []}}' (DC and quorum only). #}
{%- from 'pacemaker/map.jinja' import pacemaker with context %}
{%- set nodes = pacemaker.get('online_nodes', salt['inventory.controllers']()) %}

pacemaker-cluster-online:
  pacemaker.online:
    - name: {{ pillar['site']['name'] }}
    - nodes: {{ nodes | json }}
    - timeout: {{ pacemaker.online_timeout }}

pacemaker-cib-present:
  pacemaker.cib_present:
    - name: {{ pillar['site']['name'] }}
    - objects: {{ salt['ha_objects.cib_objects'](pacemaker) | json }}
    - require:
      - pacemaker: pacemaker-cluster-online
