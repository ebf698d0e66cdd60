# The lab's site inventory: the same schema as a real site
# (pillar/examples/site.sls), describing the nspawn nodes `python -m lab up`
# builds on this machine. Addresses live on the lab bridge only.
site:
  name: lab
  domain: lab.twin-cloud.test
  quorum:
    # witness: garbd, corosync-qnetd and the 3rd RabbitMQ member on one host
    mode: witness
    witness: nas
  fencing:
    enabled: true
    # the node whose fencing device waits: in a fence race, it survives
    delay_node: ctl1
    delay_seconds: 10
  networks:
    management:
      cidr: 10.77.0.0/24
      gateway: 10.77.0.1
    provider:
      cidr: 10.78.0.0/24
      physnet: provider
    bmc:
      cidr: 10.77.0.0/24
  vips:
    api:
      address: 10.77.0.10
      fqdn: cloud.lab.twin-cloud.test
  # the admin box: this host, on the lab bridge (the salt-master binds it)
  admin:
    address: 10.77.0.1
  nodes:
    ctl1:
      roles: [controller, compute, network, object]
      address: 10.77.0.11
      cluster_id: 1
      interfaces:
        management: host0
        provider: host1
      bmc:
        address: 10.77.0.21
        port: 623
        username: admin
        password_secret: bmc_ctl1
      disks:
        swift:
          - {file: /var/lib/swift-disks/d1.img, size_gb: 2}
    ctl2:
      roles: [controller, compute, network, object]
      address: 10.77.0.12
      cluster_id: 2
      interfaces:
        management: host0
        provider: host1
      bmc:
        address: 10.77.0.22
        port: 623
        username: admin
        password_secret: bmc_ctl2
      disks:
        swift:
          - {file: /var/lib/swift-disks/d1.img, size_gb: 2}
    nas:
      roles: [storage, witness]
      address: 10.77.0.13
      interfaces:
        management: host0
      bmc:
        address: 10.77.0.23
        port: 623
        username: admin
        password_secret: bmc_nas
  nas:
    node: nas
    exports:
      images: {path: /srv/nfs/images}
      volumes: {path: /srv/nfs/volumes}
      backups: {path: /srv/nfs/backups}
      metrics: {path: /srv/nfs/metrics}
