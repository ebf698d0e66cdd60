"""`python -m lab COMMAND`: turn this machine into the site, and break it.

    up [--no-minion]   build (or reuse) the image and apt repository, start the
                       networks, the BMCs, the salt-master and the nodes
                       (--no-minion: nodes with sshd and no Salt, for salt-ssh)
    bare up|down       one extra node outside the inventory, with sshd and no
                       Salt: first contact (bin/node-bootstrap bare) on a running lab
    down               remove every machine, mount, bridge, rule and process
    status [--json]    nodes, addresses, power (from the BMCs), minions
    kill NODE          pull the plug (SIGKILL the whole machine)
    poweroff NODE      power off through the node's BMC (IPMI)
    poweron NODE       power on through the node's BMC (IPMI)
    partition A B      drop all traffic between two nodes, both ways
    heal               remove every partition
    exec NODE CMD...   run a command inside a node
    repo               top up the local apt repository (also while the lab runs)
    bench deploy       deploy time from bare nodes and idempotent re-run (medians)
    bench heal         fault (or power-on) to all green, per healing scenario (medians)
    bench failover     API gap through the VIP when its holder is killed (medians)
    secrets            print a new encrypted secrets pillar for a site
    guest-image        build (or reuse) the tiny guest disk image; print its path
"""

import argparse
import json
import os

import pathlib

import yaml

from adminbox.errors import run_command

from . import (aptrepo, bmc, config, guest_image, image, master, network, nodes, processes,
               secrets)
from .util import LabError, Phases, run, say, session, wait_for


def require_root():
    if os.geteuid() != 0:
        raise LabError("the lab needs root (mounts, namespaces, bridges)")


def validate_pillar():
    """Refuse a broken lab pillar before anything is changed."""
    from .inventory_bridge import validate_site_file  # noqa: PLC0415

    validate_site_file(config.SITE_PILLAR)


def cmd_up(args):
    require_root()
    lab = config.load()
    validate_pillar()
    phases = Phases()
    with phases.phase("image"):
        base, built = image.ensure_image()
    phases.times[-1] = ("image (cold build)" if built else "image (cached)", phases.times[-1][1])
    with phases.phase("apt repository"):
        repo, built = aptrepo.ensure_repo(base)
    phases.times[-1] = ("apt repo (built)" if built else "apt repo (cached)", phases.times[-1][1])
    with phases.phase("network, BMCs, master"):
        network.up(lab)
        secrets.ensure_file(lab.site)
        if not processes.running("bmcd"):
            processes.spawn("bmcd", ["bmcd"], config.STATE / "bmcd.log")
        finger = master.start(lab)
        admin_key = master.ssh_key()
        processes.remember("master", master.pid())
    with phases.phase("boot nodes"):
        for node in lab.nodes:
            nodes.prepare(node, base, repo, lab.host_address, finger,
                          minion=not args.no_minion, admin_key=admin_key)
            nodes.power_on(node)
        for node in lab.nodes:
            wait_for(f"{node.name} to boot", lambda n=node: _booted(n), 60)
        master.write_ssh_files(lab)
    if args.no_minion:
        print(phases.report())
        print("nodes up with sshd and without Salt; first contact: bin/node-bootstrap "
              + " ".join(n.name for n in lab.nodes))
        return 0
    with phases.phase("salt ready"):
        for node in lab.nodes:
            master.accept_by_fingerprint(node)
        names = [n.name for n in lab.nodes]
        wait_for("every minion to answer test.ping",
                 lambda: master.ping(names) == set(names), 120, interval=1)
        master.sync_extensions(names)
    print(phases.report())
    return 0


def _booted(node):
    result = nodes.exec_in(node, ["systemctl", "is-system-running"], check=False)
    return result.stdout.strip() in ("running", "degraded")


def _sshd_active(node):
    return nodes.exec_in(node, ["systemctl", "is-active", "ssh"], check=False).stdout.strip() == \
        "active"


def cmd_bare(args):
    """The bare node: up (sshd, the admin box's key, no Salt) on the running
    lab, or down (gone, its minion key deleted from the master)."""
    require_root()
    lab = config.load()
    node = config.bare_node(lab)
    if args.action == "down":
        nodes.destroy(node)
        if master.pid():
            run(master.salt_cmd("salt-key", "-y", "-d", node.name), check=False, quiet=True)
        master.write_ssh_files(lab)
        print(f"{node.name}: removed")
        return 0
    if not master.pid():
        raise LabError("the lab is not up: `python -m lab up` first (the bare node needs its "
                       "bridge and master)")
    base, _ = image.ensure_image()
    repo, _ = aptrepo.ensure_repo(base)
    image.wheels_dir()  # what salt/minion installs from (salt://salt-wheels)
    master.write_config(lab)
    nodes.prepare(node, base, repo, lab.host_address, None, minion=False,
                  admin_key=master.ssh_key())
    nodes.power_on(node)
    wait_for(f"{node.name} to boot", lambda: _booted(node), 60)
    wait_for(f"{node.name}'s sshd", lambda: _sshd_active(node), 30)
    master.write_ssh_files(lab)
    print(f"{node.name}: up at {node.address} with sshd and without Salt; "
          f"first contact: bin/node-bootstrap {node.name}")
    return 0


def cmd_down(args):
    require_root()
    lab = config.load()
    master.stop() if master.pid() else None
    processes.end_all()
    for node in (*lab.nodes, config.bare_node(lab)):
        nodes.destroy(node)
    for pid in processes.stray_nspawns():
        os.kill(pid, 9)
    unmount_under(config.STATE, config.CACHE / "apt" / "work")
    network.down()
    secrets.stop_agent()
    run(["rm", "-rf", "--one-file-system", config.STATE], check=False)
    master.LOCAL_CONF.unlink(missing_ok=True)
    say("lab is down")
    return 0


def unmount_under(*roots):
    prefixes = tuple(str(r) for r in roots)
    with open("/proc/self/mounts") as f:
        targets = [line.split()[1] for line in f]
    for target in reversed(targets):
        if target.startswith(prefixes):
            run(["umount", "-l", target], check=False)


def bmc_power(node, state=None):
    """Ask the node's BMC for (or set) its power state, with ipmitool over
    lanplus as an operator would; the password goes through the environment."""
    base = ["ipmitool", "-I", "lanplus", "-H", node.bmc_address, "-p", str(node.bmc_port),
            "-U", node.bmc_username, "-E", "chassis", "power"]
    env = {"IPMI_PASSWORD": secrets.load()[node.bmc_secret]}
    if state:
        run(base + [state], env=env, quiet=True)
    out = run(base + ["status"], env=env, capture=True).stdout
    return out.strip().rsplit(" ", 1)[-1]


def cmd_status(args):
    lab = config.load()
    rows = []
    names = [n.name for n in lab.nodes]
    answering = master.ping(names, timeout=3) if master.pid() else set()
    for node in lab.nodes:
        try:
            power = bmc_power(node) if processes.running("bmcd") else "no-bmc"
        except Exception as exc:  # the BMC itself may be what is broken
            power = f"bmc-error: {exc}"
        rows.append({
            "node": node.name, "address": node.address, "roles": list(node.roles),
            "bmc": f"{node.bmc_address}:{node.bmc_port}", "power": power,
            "minion": "up" if node.name in answering else "down",
        })
    report = {"master": "up" if master.pid() else "down", "nodes": rows,
              "partitions": network.cuts()}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"salt-master: {report['master']}   bridge: {config.BRIDGE} {lab.host_address}")
        print(f"{'node':<6} {'address':<13} {'power':<6} {'minion':<7} {'bmc':<17} roles")
        for r in rows:
            print(f"{r['node']:<6} {r['address']:<13} {r['power']:<6} {r['minion']:<7} "
                  f"{r['bmc']:<17} {','.join(r['roles'])}")
        for cut in report["partitions"]:
            print(f"partition: {cut}")
    degraded = report["master"] != "up" or any(
        r["power"] != "on" or r["minion"] != "up" for r in rows)
    return 1 if degraded else 0


def cmd_kill(args):
    require_root()
    node = config.load().node(args.node)
    print(f"{node.name}: {'plug pulled' if nodes.power_off(node) else 'already off'}")
    return 0


def cmd_power(args):
    node = config.load().node(args.node)
    state = "off" if args.command == "poweroff" else "on"
    print(f"{node.name}: power {bmc_power(node, state)}")
    return 0


def cmd_partition(args):
    require_root()
    lab = config.load()
    a, b = lab.node(args.a), lab.node(args.b)
    if a == b:
        raise LabError("partition needs two different nodes")
    network.partition(a.name, b.name)
    print(f"cut {a.name} <-> {b.name}")
    return 0


def cmd_heal(args):
    require_root()
    network.heal()
    print("every partition removed")
    return 0


def cmd_exec(args):
    node = config.load().node(args.node)
    if not args.cmd:
        raise LabError("exec needs a command: python -m lab exec NODE CMD...")
    return run(nodes.enter(node) + args.cmd, check=False).returncode


def cmd_bmcd(args):
    # a server's BMC is hardware of its own: the lab's answer at once even
    # while the nodes load this host (at nice 0, under a deploy, a fence
    # device's start timed out after 20 s and fence_ipmilan's status failed)
    os.nice(-10)
    lab = config.load()
    bmc.serve(lab, secrets.load())
    return 0


def cmd_repo(args):
    """Top up the local apt repository from the state tree's package lists,
    live: nodes see it at once (then `salt '*' pkg.refresh_db`)."""
    require_root()
    base, _ = image.ensure_image()
    repo, built = aptrepo.ensure_repo(base)
    print(f"apt repository {'updated' if built else 'already up to date'}: {repo}")
    return 0


def cmd_bench(args):
    require_root()
    from . import bench  # noqa: PLC0415

    with session(f"lab bench {args.what}"):
        return {"deploy": bench.deploy, "heal": bench.heal,
                "failover": bench.failover}[args.what](args.runs)


def cmd_secrets(args):
    """A new secrets file for a site, every value encrypted to the key of
    ``--keydir`` (default: the lab master's; a site's own master makes its
    file with `salt-run secrets.init`)."""
    site = yaml.safe_load(open(args.site or config.SITE_PILLAR))["site"]
    keydir = pathlib.Path(args.keydir) if args.keydir else secrets.KEYDIR
    print(secrets.encrypted_text(site, keydir), end="")
    return 0


def cmd_guest_image(args):
    print(guest_image.build())
    return 0


def parser():
    p = argparse.ArgumentParser(prog="python -m lab", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("up", help="build and start the lab")
    s.add_argument("--no-minion", action="store_true",
                   help="boot the nodes with sshd and the admin box's key, without Salt")
    s.set_defaults(func=cmd_up)
    s = sub.add_parser("bare", help="an extra node without Salt, for a first contact")
    s.add_argument("action", choices=["up", "down"])
    s.set_defaults(func=cmd_bare)
    sub.add_parser("down", help="remove everything the lab made").set_defaults(func=cmd_down)
    s = sub.add_parser("status", help="nodes, power, minions")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)
    for name, func, helptext in (("kill", cmd_kill, "pull the plug"),
                                 ("poweroff", cmd_power, "power off through the BMC"),
                                 ("poweron", cmd_power, "power on through the BMC")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("node")
        s.set_defaults(func=func)
    s = sub.add_parser("partition", help="cut two nodes apart")
    s.add_argument("a")
    s.add_argument("b")
    s.set_defaults(func=cmd_partition)
    sub.add_parser("heal", help="remove every partition").set_defaults(func=cmd_heal)
    s = sub.add_parser("exec", help="run a command inside a node")
    s.add_argument("node")
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_exec)
    sub.add_parser("bmcd", help=argparse.SUPPRESS).set_defaults(func=cmd_bmcd)
    sub.add_parser("repo", help="top up the local apt repository").set_defaults(func=cmd_repo)
    s = sub.add_parser("bench", help="print benchmark figures (medians of several runs)")
    s.add_argument("what", choices=["deploy", "heal", "failover"])
    s.add_argument("--runs", type=int, default=3)
    s.set_defaults(func=cmd_bench)
    s = sub.add_parser("secrets", help="print a new encrypted secrets pillar")
    s.add_argument("--site", help="site pillar file (default: the lab's)")
    s.add_argument("--keydir", help="GPG keyring to encrypt to, made if absent "
                   f"(default: the lab master's, {secrets.KEYDIR})")
    s.set_defaults(func=cmd_secrets)
    sub.add_parser("guest-image", help="build the tiny guest disk image, print its path"
                   ).set_defaults(func=cmd_guest_image)
    return p


def main(argv=None):
    return run_command(parser(), argv)
