# A real site: two Dell PowerEdge R430 (controller + compute + network),
# one NAS (NFS exports + quorum witness), one admin box (salt-master).
# Copy to the site pillar directory (see README, "A real site") and edit.
site:
  name: prod
  domain: cloud.example.org
  quorum:
    mode: witness          # or two_node (then fencing.enabled must be true)
    witness: nas
  fencing:
    enabled: true          # fence_ipmilan against each server's iDRAC
    delay_node: r430-a
    delay_seconds: 15
  networks:
    management:            # switch: management, storage and cluster traffic
      cidr: 192.0.2.0/24
      gateway: 192.0.2.1
    provider:              # router: instances' external network
      cidr: 198.51.100.0/24
      physnet: provider
    bmc:                   # iDRAC ports
      cidr: 192.0.2.0/24
  vips:
    api:
      address: 192.0.2.10
      fqdn: cloud.example.org
  admin:                   # the admin box: the salt-master listens on this
    address: 192.0.2.5     # management address (bin/admin-setup binds it), and
                           # every minion connects to it
  nodes:
    r430-a:
      roles: [controller, compute, network, object]
      address: 192.0.2.11
      cluster_id: 1
      interfaces:
        management: eno1
        provider: eno2
      bmc:
        address: 192.0.2.111
        port: 623
        username: root
        password_secret: idrac_r430_a
      disks:
        swift:
          - {device: /dev/sdb}
    r430-b:
      roles: [controller, compute, network, object]
      address: 192.0.2.12
      cluster_id: 2
      interfaces:
        management: eno1
        provider: eno2
      bmc:
        address: 192.0.2.112
        port: 623
        username: root
        password_secret: idrac_r430_b
      disks:
        swift:
          - {device: /dev/sdb}
    nas:
      roles: [storage, witness]
      address: 192.0.2.13
      interfaces:
        management: eth0
  nas:
    node: nas
    exports:
      images: {path: /srv/nfs/images}
      volumes: {path: /srv/nfs/volumes}
      backups: {path: /srv/nfs/backups}
      metrics: {path: /srv/nfs/metrics}
