{#- salt/beacon/<id>/{service,galera,pacemaker}/<what>: a beacon saw a
    confirmed change on node <id> (a service stopped, a Galera state, a
    Pacemaker node/resource/quorum change). The heal runner checks <id>
    against the site inventory, validates the data (it comes from the
    minion) and decides; recoveries need nothing. #}
heal-beacon-fired:
  runner.heal.event:
    - args:
      - tag: {{ tag | json }}
      - id: {{ tag.split('/')[2] | json }}
      - data: {{ data | json }}
