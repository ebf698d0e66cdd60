{#- Membership, users and policies. Users and policies are cluster-wide:
    every member converges them after its join (a join resets the joining
    node, so anything set on it before would be lost), and the members after
    the first find them already right. #}
{%- from 'rabbitmq/map.jinja' import rabbitmq with context %}

{%- set after_join = [{'service': 'rabbitmq-service-running'}] %}
{%- if not rabbitmq.is_seed %}
{%-   do after_join.append({'rabbitmq_cluster': 'rabbitmq-cluster-joined'}) %}
{%- endif %}

include:
  - rabbitmq.service

{%- if not rabbitmq.is_seed %}

{#- Join the seed (first controller in cluster order) unless this node's
    cluster already lists it: no stop_app/reset on a member. #}
rabbitmq-cluster-joined:
  rabbitmq_cluster.joined:
    - name: {{ rabbitmq.seed }}
    - user: {{ rabbitmq.node_prefix }}
    - host: {{ rabbitmq.seed_host }}
    - retry: {{ rabbitmq.join_retry | json }}
    - require:
      - service: rabbitmq-service-running
{%- endif %}

{%- for user in rabbitmq.absent_users %}

rabbitmq-cluster-user-{{ user }}-absent:
  rabbitmq_user.absent:
    - name: {{ user }}
    - require: {{ after_join | json }}
{%- endfor %}

rabbitmq-cluster-user-admin-present:
  rabbitmq_account.present:
    - name: {{ rabbitmq.admin.name }}
    - password_secret: {{ rabbitmq.secrets.admin_password }}
    - tags: {{ rabbitmq.admin.tags | json }}
    - vhost: {{ rabbitmq.admin.vhost | json }}
    - require: {{ after_join | json }}

{%- for name, policy in rabbitmq.policies | dictsort %}

{#- rabbitmq_policy.present alone reports a change on every run when
    apply_to is given (saltstack/salt#61925): guarded by an exact check. #}
rabbitmq-cluster-policy-{{ name }}-present:
  rabbitmq_policy.present:
    - name: {{ name }}
    - vhost: {{ policy.vhost | json }}
    - pattern: {{ policy.pattern | json }}
    - apply_to: {{ policy.apply_to }}
    - priority: {{ policy.priority }}
    - definition: {{ policy.definition | json | json }}
    - unless:
      - fun: rabbitmq_cluster.policy_matches
        name: {{ name }}
        vhost: {{ policy.vhost | json }}
        pattern: {{ policy.pattern | json }}
        apply_to: {{ policy.apply_to }}
        priority: {{ policy.priority }}
        definition: {{ policy.definition | json }}
    - require: {{ after_join | json }}
{%- endfor %}
