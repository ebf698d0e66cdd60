"""The admin box: what a real site's admin box and the lab's host share.

One module per job: ``master_conf`` (the machine-specific master config),
``roster`` (salt-ssh's roster from the inventory), ``keys`` (fingerprints,
the admin box's ssh key, accepting a minion key by fingerprint),
``permissions`` (what the master serves or reads is not writable by others),
``pillar_dir`` (a site's pillar directory, validated), ``wheelhouse`` (the
pinned Salt's wheels), ``setup`` (``bin/admin-setup``) and ``bootstrap``
(``bin/node-bootstrap``: first contact with a node through salt-ssh).
"""
