{#- First contact: the pinned Salt minion on a node, applied by salt-ssh from
    the admin box (bin/node-bootstrap): a venv with the node's python3, salt
    from the admin box's wheelhouse (or the site's index), a systemd unit,
    and a config that trusts one master only (master_finger). #}
include:
  - minion.install
  - minion.config
  - minion.service
