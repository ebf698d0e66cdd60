#!/bin/sh
# Managed by Salt (salt/nfs). Check from this host, in userspace (libnfs's
# nfs-ls over NFSv3 + MOUNT: no kernel NFS client needed), that an NFS
# server lets this host list each export, and lists every one of them
# (what showmount -e shows):
#   nfs-check-exports.sh [--test] SERVER TIMEOUT PATH...
# Waits up to TIMEOUT seconds for the server (it may be starting). Prints
# Salt's "stateful" answer as one JSON line ({"changed": false, "comment":
# "..."}) and exits 0 when every export answers, 1 otherwise. It never
# changes anything.
# --test (a test=True run): look once, and report what is not there yet as
# a pending change (changed: true, exit 0: Salt shows result None), since the
# rest of the run may be what brings it.
test_mode=
if [ "$1" = --test ]; then
    test_mode=1
    shift
fi
server=$1 timeout=$2
shift 2
[ -z "$test_mode" ] || timeout=0

say() {  # the stateful answer, as JSON: say yes|no COMMENT...
    changed=false
    [ "$1" = yes ] && changed=true
    shift
    comment=$(printf '%s' "$*" | tr '\n\t\r' '   ' | sed 's/\\/\\\\/g; s/"/\\"/g')
    printf '{"changed": %s, "comment": "%s"}\n' "$changed" "$comment"
}

fail() {  # a problem: a failure, or in test mode what the run would check
    if [ -n "$test_mode" ]; then
        say yes "would check that $server serves $paths to this host; now: $*"
        exit 0
    fi
    say no "$*"
    exit 1
}

paths=$*
if ! command -v nfs-ls >/dev/null 2>&1; then
    fail "nfs-ls not found: install libnfs-utils (nfs:pkgs:probe)"
fi

deadline=$(( $(date +%s) + timeout ))
while :; do
    problem=
    for path in "$@"; do
        if ! out=$(nfs-ls "nfs://$server$path" 2>&1); then
            problem="nfs-ls nfs://$server$path failed from this host: $out"
            break
        fi
    done
    if [ -z "$problem" ]; then
        if ! listed=$(nfs-ls -D "nfs://$server" 2>&1); then
            problem="nfs-ls -D nfs://$server (its export list) failed: $listed"
        else
            for path in "$@"; do
                if ! printf '%s\n' "$listed" | grep -qxF "nfs://$server$path"; then
                    problem="$server does not list $path (its export list: $(printf '%s' "$listed" | tr '\n' ' '))"
                    break
                fi
            done
        fi
    fi
    if [ -z "$problem" ]; then
        say no "$server serves $paths to this host (checked with nfs-ls)"
        exit 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        case $problem in *NFS3ERR_PERM*)
            problem="$problem; NFS3ERR_PERM on an export that mounted: the server could not open the exported directory (NFS-Ganesha in a systemd-nspawn container: the default seccomp filter denies open_by_handle_at; start the container with --system-call-filter=open_by_handle_at)" ;;
        esac
        fail "after ${timeout}s: $problem (on the server: is the export in its configuration, its directory on a filesystem that can be exported; see its log: journalctl -u nfs-server, /var/log/ganesha/ganesha.log)"
    fi
    sleep 2
done
