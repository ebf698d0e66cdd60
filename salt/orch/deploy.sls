{#- The whole site from bare nodes, in order. Run from the admin box:
      salt-run state.orchestrate orch.deploy
    Nothing is changed on any node before every node's pillar validates. #}
deploy-site-pillar-valid:
  salt.function:
    - name: inventory.validate
    - tgt: '*'
    - failhard: True

deploy-highstate:
  salt.state:
    - tgt: '*'
    - highstate: True
    - require:
      - salt: deploy-site-pillar-valid
