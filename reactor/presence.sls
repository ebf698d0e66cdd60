{#- salt/presence/change (master option presence_events): minions lost
    ({lost: [ids]}) or (re)connected ({new: [ids]}). A powered-off node
    sends nothing, so only the master sees it go. The heal runner checks
    every id against the site inventory and decides. #}
heal-presence-changed:
  runner.heal.event:
    - args:
      - tag: {{ tag | json }}
      - id: null
      - data: {{ data | json }}
