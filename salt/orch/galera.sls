{#- Galera by the bootstrap rule (DESIGN.md section 3), from the master:
      salt-run state.orchestrate orch.galera             # converge
      salt-run state.orchestrate orch.galera test=True   # show the plan only
    Run by the deploy once `galera` is applied on the data nodes, and by the
    reactor to heal. galera.converged probes every data node live, decides,
    acts serially and verifies (it creates the SST account on the Primary
    Component before any joiner starts); galera.accounts_managed then keeps
    the accounts (SST account from pillar secrets:galera_sst_password, no
    anonymous account, root by unix_socket only). Nothing to do: no change. #}

galera-converged:
  galera.converged: []

galera-accounts-managed:
  galera.accounts_managed:
    - require:
      - galera: galera-converged
