# Secrets of a site: targeted by minion id (pillar/top.sls), never by grains.
# Generate a fresh one with `python -m lab secrets > secrets.sls` and keep it
# readable by root only on the admin box.
secrets:
  idrac_r430_a: CHANGE-ME
  idrac_r430_b: CHANGE-ME
  corosync_authkey: CHANGE-ME
  galera_sst_password: CHANGE-ME
  hacluster_password: CHANGE-ME
  haproxy_stats_password: CHANGE-ME
  rabbitmq_erlang_cookie: CHANGE-ME
  rabbitmq_admin_password: CHANGE-ME
