# Secrets of a site: targeted by minion id (pillar/top.sls), never by grains.
# Generate a fresh one with `python -m lab secrets > secrets.sls` and keep it
# readable by root only on the admin box.
secrets:
  idrac_r430_a: CHANGE-ME
  idrac_r430_b: CHANGE-ME
