# Secrets of a site: targeted by minion id (pillar/top.sls), never by grains.
# The names a site needs, in clear for reading. A site's real file is written
# on the admin box by `salt-run secrets.init` (secrets.sls in the master's
# twin_cloud_generated_pillar, mode 0600): first line `#!yaml|gpg`, every
# value GPG-encrypted to the master's key (gpg_keydir). A value that must be
# a given one (an iDRAC's password) goes in clear into that file, then
# `salt-run secrets.init` encrypts it; a CHANGE-ME left there is refused.
secrets:
  idrac_r430_a: CHANGE-ME
  idrac_r430_b: CHANGE-ME
  corosync_authkey: CHANGE-ME
  galera_sst_password: CHANGE-ME
  hacluster_password: CHANGE-ME
  haproxy_stats_password: CHANGE-ME
  rabbitmq_erlang_cookie: CHANGE-ME
  rabbitmq_admin_password: CHANGE-ME
  # the site CA's private key (PEM): leave it to secrets.init, which also
  # writes the CA's certificate (site_ca.sls, public) beside this file
  tls_ca_key: CHANGE-ME
  # OpenStack (salt/openstack/catalog.yaml: databases, RabbitMQ and Keystone
  # users, the Galera administrator creating the databases, shared secrets)
  aodh_db_password: CHANGE-ME
  aodh_keystone_password: CHANGE-ME
  aodh_rabbit_password: CHANGE-ME
  ceilometer_keystone_password: CHANGE-ME
  ceilometer_rabbit_password: CHANGE-ME
  cinder_db_password: CHANGE-ME
  cinder_keystone_password: CHANGE-ME
  cinder_rabbit_password: CHANGE-ME
  galera_admin_password: CHANGE-ME
  glance_db_password: CHANGE-ME
  glance_keystone_password: CHANGE-ME
  gnocchi_db_password: CHANGE-ME
  gnocchi_keystone_password: CHANGE-ME
  heat_db_password: CHANGE-ME
  heat_domain_admin_password: CHANGE-ME
  heat_keystone_password: CHANGE-ME
  heat_rabbit_password: CHANGE-ME
  horizon_secret_key: CHANGE-ME
  keystone_admin_password: CHANGE-ME
  keystone_db_password: CHANGE-ME
  metadata_secret: CHANGE-ME
  neutron_db_password: CHANGE-ME
  neutron_keystone_password: CHANGE-ME
  neutron_rabbit_password: CHANGE-ME
  nova_db_password: CHANGE-ME
  nova_keystone_password: CHANGE-ME
  nova_rabbit_password: CHANGE-ME
  placement_db_password: CHANGE-ME
  placement_keystone_password: CHANGE-ME
  swift_hash_path_prefix: CHANGE-ME
  swift_hash_path_suffix: CHANGE-ME
  swift_keystone_password: CHANGE-ME
  glance_rabbit_password: CHANGE-ME
