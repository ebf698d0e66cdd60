{#- Rotate Keystone's fernet keys from the master, identically on every
    controller:   salt-run state.orchestrate orch.keystone_rotate
    The runner rotates the repository kept in the master's key pillar (the
    staged key becomes primary, a new staged key is made, the oldest go past
    max_active); then the controllers write the new set. A token made with
    any key still in the set stays valid; the new primary was already on every
    controller as the staged key. Schedule it (e.g. daily) on the master. #}
{%- set controllers = salt['inventory.controllers']() %}

keystone-keys-rotated:
  salt.runner:
    - name: keystone_keys.rotate

keystone-keys-applied:
  salt.state:
    - tgt: {{ controllers | join(',') }}
    - tgt_type: list
    - sls: openstack.keystone
    - queue: True
    - require:
      - salt: keystone-keys-rotated
