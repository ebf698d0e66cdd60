# The lab's component settings (overrides of salt/*/defaults.yaml), for what
# this machine's kernel cannot do like a real site's: it has no NFS server
# and no NFS client filesystems (see /proc/filesystems), so the NAS serves
# with NFS-Ganesha (userspace, real NFS) and the controllers check the
# exports with a userspace NFS client instead of mounting them.
nfs:
  server:
    implementation: ganesha
  client:
    mount: false
# libvirt on the lab's compute nodes (openstack.nova: over the defaults in
# salt/openstack/services/nova.yaml settings:libvirt).
libvirt:
  # KVM guests stop here with "KVM internal error" (nested virtualization
  # of this host): plain emulation; a real site keeps kvm
  virt_type: qemu
  # the node's cgroup tree is read-only (systemd-nspawn): libvirt must not
  # create cgroups, or every domain fails with "Failed to create v1
  # controller cpu"
  qemu_conf:
    cgroup_controllers: []
# Swift's disks on the lab's nodes (openstack.swift, over the settings of
# salt/openstack/services/swift.yaml). A node here has no loop device
# (`losetup -f` inside ctl1: "cannot find an unused loop device: No such
# device"; nspawn gives it no /dev/loop-control), so a disk's file cannot be
# loop-mounted: each swift disk is a plain directory /srv/node/<device> on
# the node's own filesystem and the storage servers run with mount_check =
# false. A real site keeps `mount` (XFS, mounted, mount_check on).
swift:
  storage: directory
