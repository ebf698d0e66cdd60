{#- salt/minion/<id>/start: a node booted (its minion started). Thin on
    purpose: the heal runner checks <id> against the site inventory (an
    unknown id is logged and ignored), then highstates the node and brings
    it back into its clusters. The data came from a minion: the runner
    validates it. #}
heal-node-started:
  runner.heal.event:
    - args:
      - tag: {{ tag | json }}
      - id: {{ tag.split('/')[2] | json }}
      - data: {{ data | json }}
