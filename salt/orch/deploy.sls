{#- The whole site from bare nodes, in order (salt/orch/deploy.yaml).
    From the admin box:   salt-run state.orchestrate orch.deploy
    Nothing changes on any node before every node's pillar validates. #}
{%- if 'inventory.nodes_with_any_role' not in salt %}
{{-   raise('the master lacks the project modules: run `salt-run saltutil.sync_all` once, then the orchestration again') }}
{%- endif %}
{%- import_yaml 'orch/deploy.yaml' as plan %}
{%- from 'orch/steps.jinja' import render_steps with context %}

deploy-sync-extensions:
  salt.function:
    - name: saltutil.sync_all
    - tgt: '*'

deploy-site-pillar-valid:
  salt.function:
    - name: inventory.validate
    - tgt: '*'
    - failhard: True
    - require:
      - salt: deploy-sync-extensions
{{ render_steps(plan.steps, 'deploy', 'salt: deploy-site-pillar-valid') }}
