{#- The quorum device's TLS certificates: each controller gets a key of its
    own and a client certificate signed by the witness's qnetd CA; its
    corosync-qdevice is (re)started. Idempotent; test=True lists who would
    get one. Needs the extensions synced to the master and the minions:
        salt-run saltutil.sync_all && salt '*' saltutil.sync_all
        salt-run state.orchestrate orch.qdevice
    The deploy runs the same state as a master-side step after the
    pacemaker step (salt/orch/deploy.yaml). #}
qdevice-certified:
  qdevice.certified: []
