{#- After a secret of the OpenStack services changed in the secrets pillar
    (`salt-run secrets.rotate name=<secret>` runs this after writing it):
    every node's pillar validates (the new file decrypts), then the deploy's
    OpenStack steps (orch/deploy.yaml): `openstack` on the first controller
    (the database user's password, the RabbitMQ user's, the Keystone user's:
    each updated, not only created), then on every other OpenStack node (config
    files re-rendered, the units using them restarted).
    Again by hand:   salt-run state.orchestrate orch.secret_rotate #}
{%- if 'inventory.nodes_with_any_role' not in salt %}
{{-   raise('the master lacks the project modules: run `salt-run saltutil.sync_all` once, then the orchestration again') }}
{%- endif %}
{%- import_yaml 'orch/deploy.yaml' as plan %}
{%- from 'orch/steps.jinja' import render_steps with context %}
{%- set openstack_steps = ['openstack-first', 'openstack'] %}

secret-rotate-site-pillar-valid:
  salt.function:
    - name: inventory.validate
    - tgt: '*'
    - failhard: True
{{ render_steps(plan.steps | selectattr('id', 'in', openstack_steps) | list, 'secret-rotate',
                'salt: secret-rotate-site-pillar-valid') }}
