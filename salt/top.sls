{#- Every highstate starts by validating the site pillar (failhard); the
    rest comes from the node's roles in the site inventory, never grains. #}
base:
  '*':
    - preflight
    - base
