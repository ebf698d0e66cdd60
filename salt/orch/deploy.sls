{#- The whole site from bare nodes, in order (salt/orch/deploy.yaml).
    From the admin box:   salt-run state.orchestrate orch.deploy
    Nothing changes on any node before every node's pillar validates. #}
{%- if 'inventory.nodes_with_any_role' not in salt %}
{{-   raise('the master lacks the project modules: run `salt-run saltutil.sync_all` once, then the orchestration again') }}
{%- endif %}
{%- import_yaml 'orch/deploy.yaml' as plan %}
{%- set ns = namespace(previous='salt: deploy-site-pillar-valid') %}

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
{%- for step in plan.steps %}
{%-   if step.get('master_state') %}

deploy-{{ step.id }}:
  {{ step.master_state }}:
    - failhard: True
    - require:
      - {{ ns.previous }}
{%-     set ns.previous = step.master_state.split('.')[0] ~ ': deploy-' ~ step.id %}
{%-   elif step.get('runner') %}

deploy-{{ step.id }}:
  salt.runner:
    - name: {{ step.runner }}
    - failhard: True
    - require:
      - {{ ns.previous }}
{%-     set ns.previous = 'salt: deploy-' ~ step.id %}
{%-   else %}
{%-     set targets = salt['inventory.nodes_with_any_role'](step.roles) %}
{%-     set targets = targets[:1] if step.get('first') else targets %}
{%-     if targets %}

deploy-{{ step.id }}:
  salt.state:
    - tgt: {{ targets | join(',') }}
    - tgt_type: list
    - sls: {{ step.sls }}
    {#- wait for a state run already going on a node (a heal) instead of failing #}
    - queue: True
    - failhard: True
    - require:
      - {{ ns.previous }}
{%-       set ns.previous = 'salt: deploy-' ~ step.id %}
{%-     endif %}
{%-   endif %}
{%- endfor %}
