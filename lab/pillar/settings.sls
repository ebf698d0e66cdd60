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
