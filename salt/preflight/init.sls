# Preflight: refuse to change anything when the site pillar is wrong.
# Runs first (order: 1) and stops the whole run on failure (failhard).
preflight-site-pillar-valid:
  inventory.validated:
    - failhard: True
    - order: 1
