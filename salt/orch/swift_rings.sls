{#- Swift's rings, from the master:
      salt-run state.orchestrate orch.swift_rings
    The runner swift_rings.ensure builds the rings once (or adds the
    inventory's new object nodes or disks to them) and keeps builders and
    rings in the pillar file swift_rings.sls; every Swift node (the
    controllers run the proxies, the object nodes store) then gets the same
    ring files from that pillar through openstack.swift. Nothing new in the
    inventory: no change anywhere. #}
{%- set nodes = salt['inventory.nodes_with_any_role'](['controller', 'object']) %}

swift-rings-built:
  salt.runner:
    - name: swift_rings.ensure
    - failhard: True
{%- if nodes %}

swift-rings-pillar-refreshed:
  salt.function:
    - name: saltutil.refresh_pillar
    - tgt: {{ nodes | join(',') }}
    - tgt_type: list
    - kwarg:
        wait: True
    - require:
      - salt: swift-rings-built

swift-rings-applied:
  salt.state:
    - tgt: {{ nodes | join(',') }}
    - tgt_type: list
    - sls: openstack.swift
    - queue: True
    - require:
      - salt: swift-rings-pillar-refreshed
{%- endif %}
