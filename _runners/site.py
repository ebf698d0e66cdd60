"""
``salt-run site.status``: the health of the whole site, in one table, from
the admin box.

Everything is asked live (never mine or cached data): the minions through
the master's LocalClient, the BMCs and the APIs straight from the master.

=============  ==============================================================
``node``       each node: roles, address, power (its BMC over IPMI:
               ``ipmitool -I lanplus -E``, the password from the node's
               ``secrets`` pillar, in the environment only), minion answering
``pacemaker``  quorum (and the quorum device), cluster nodes online,
               fencing devices, where the VIP is, every other resource,
               failed actions (from the first controller that answers)
``galera``     each data node's cluster status, state, cluster size, seqno;
               garbd on the witness
``rabbitmq``   running members against the expected ones, partitions, alarms
``haproxy``    each controller's HAProxy: every backend server up or down
               (``show stat`` on its admin socket)
``memcached``  each controller's memcached answering ``version`` (from here)
``nfs``        the NAS's NFS server, and each controller's mounts (or, with
               ``nfs:client:mount: false``, each export listed by ``nfs-ls``)
``api``        each OpenStack API of ``salt/openstack/catalog.yaml`` answering
               through the VIP
``heal``       heals suppressed (budget, flapping) or running now
=============  ==============================================================

A row is ``ok``, ``DEGRADED`` or ``info``. The status is ``degraded`` when
any row is; ``salt-run site.status`` then exits 1 (``retcode`` in the
return, ``__context__["retcode"]``). The table is printed by the
``site_status`` outputter (``_output/site_status.py``); ``--out=json`` gives
the same data for scripts: ``status``, ``problems``, ``rows`` (each
``component``, ``item``, ``state``, ``detail``) and the facts of every
component. No secret is ever part of it.
"""

import concurrent.futures
import copy
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import salt.client
import salt.utils.dictupdate
import salt.utils.path
import yaml

__virtualname__ = "site"

OK, DEGRADED, INFO = "ok", "DEGRADED", "info"
SQL = "SHOW GLOBAL STATUS LIKE 'wsrep_%'"
HAPROXY_SOCKET = "/run/haproxy/admin.sock"
NO_BMC = "n/a (no BMC in the inventory)"
NFS_UNITS = {"kernel": "nfs-server", "ganesha": "nfs-ganesha"}
# One shell program per controller, its data as arguments (never interpolated).
NFS_CHECK = r"""
mode=$1 server=$2
shift 2
for item in "$@"; do
  if [ "$mode" = mount ]; then
    findmnt -n -t nfs,nfs4 "$item" >/dev/null 2>&1
  else
    timeout 5 nfs-ls "nfs://$server$item" >/dev/null 2>&1
  fi && echo "ok $item" || echo "missing $item"
done
"""


def __virtual__():
    return __virtualname__


# --- talking to the site (seams for the tests) ------------------------------------------


def _local(tgt, fun, arg=(), kwarg=None, timeout=10):
    """``{minion: (ok, ret)}`` of the minions in ``tgt`` that answered."""
    tgt = list(tgt)
    if not tgt:
        return {}
    with salt.client.get_local_client(mopts=__opts__) as client:
        out = client.cmd(
            tgt, fun, arg=list(arg), kwarg=kwarg, tgt_type="list", timeout=timeout,
            full_return=True,
        ) or {}
    return {
        node: (entry.get("retcode", 0) == 0, entry.get("ret"))
        for node, entry in out.items()
        if isinstance(entry, dict) and "ret" in entry
    }


def _ipmi_power(bmc, password, timeout):
    """``on``, ``off``, or ``unknown: why`` from the BMC (password in the env only)."""
    if not salt.utils.path.which("ipmitool"):
        return "unknown: ipmitool is not installed on the admin box"
    cmd = [
        "ipmitool", "-I", "lanplus", "-H", str(bmc["address"]), "-p", str(bmc.get("port", 623)),
        "-U", str(bmc["username"]), "-E", "-N", "1", "-R", "2", "chassis", "power", "status",
    ]
    env = {**os.environ, "IPMI_PASSWORD": password}
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                             check=False)
    except subprocess.TimeoutExpired:
        return f"unknown: no answer from the BMC at {bmc['address']} within {timeout}s"
    words = out.stdout.strip().split()
    if out.returncode == 0 and words and words[-1] in ("on", "off"):
        return words[-1]
    error = (out.stderr or out.stdout).strip().splitlines()
    return f"unknown: {error[-1] if error else 'exit ' + str(out.returncode)}"


def _memcached_version(address, port, timeout):
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.sendall(b"version\r\n")
            answer = conn.recv(128).decode("ascii", "replace").strip()
    except OSError as exc:
        return False, f"no answer on {address}:{port}: {exc}"
    if answer.startswith("VERSION"):
        return True, f"{answer.split()[-1]} on {address}:{port}"
    return False, f"unexpected answer on {address}:{port}: {answer[:60]}"


def _http(url, method, timeout, context=None):
    request = urllib.request.Request(url, method=method)
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout,  # noqa: S310
                                    context=context) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return None, f"no answer: {getattr(exc, 'reason', exc)}"
    return code, f"HTTP {code} in {time.monotonic() - start:.2f}s"


def _pillar(node):
    return __salt__["pillar.show_pillar"](node) or {}


def _defaults(component):
    """``<file root>/<component>/defaults.yaml`` (the fileserver's first match)."""
    for root in (__opts__.get("file_roots") or {}).get("base") or []:
        path = os.path.join(root, component, "defaults.yaml")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return yaml.safe_load(handle) or {}
    return {}


def _settings(component, pillar):
    """A component's defaults merged with its pillar, as its map.jinja does."""
    merged = copy.deepcopy(_defaults(component))
    override = (pillar or {}).get(component)
    if isinstance(override, dict):
        merged = salt.utils.dictupdate.merge(merged, override)
    return merged


def _catalog(pillar):
    """The scheme and every API frontend (what HAProxy serves on the VIP) of
    the catalog, as ``_utils/catalog.py`` reads it for the master."""
    data = __utils__["catalog.load"](__utils__["catalog.roots"](__opts__),
                                     (pillar or {}).get("openstack"))
    return data["endpoint_scheme"], data["frontends"]


# --- parsers (pure) -------------------------------------------------------------------------


def parse_wsrep(text):
    """``SHOW GLOBAL STATUS LIKE 'wsrep_%'`` batch output -> the fields shown."""
    values = {}
    for line in (text or "").splitlines():
        name, sep, value = line.partition("\t")
        if sep:
            values[name.strip().lower()] = value.strip()

    def number(key):
        try:
            return int(values[key])
        except (KeyError, ValueError):
            return None

    return {
        "cluster_status": values.get("wsrep_cluster_status"),
        "state": values.get("wsrep_local_state_comment"),
        "local_state": number("wsrep_local_state"),
        "size": number("wsrep_cluster_size"),
        "seqno": number("wsrep_last_committed"),
    }


def parse_haproxy_stat(text):
    """HAProxy ``show stat`` CSV -> ``{proxy: {server: {status, backup}}}`` (servers only)."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    proxies = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        server = row.get("svname")
        if not server or server in ("FRONTEND", "BACKEND"):
            continue
        proxies.setdefault(row.get("pxname"), {})[server] = {
            "status": row.get("status") or "",
            "backup": row.get("bck") == "1",
        }
    return proxies


# --- the checks --------------------------------------------------------------------------------


def _row(rows, component, item, state, detail):
    rows.append({"component": component, "item": item, "state": state, "detail": detail})


class _Site:
    def __init__(self, pillar):
        self.site = pillar.get("site") or {}
        self.nodes = {
            str(name): node for name, node in (self.site.get("nodes") or {}).items()
            if isinstance(node, dict)
        }
        quorum = self.site.get("quorum") or {}
        self.witness = quorum.get("witness") if quorum.get("mode") == "witness" else None

    def with_role(self, *roles):
        def order(name):
            cluster_id = self.nodes[name].get("cluster_id")
            numbered = isinstance(cluster_id, int) and not isinstance(cluster_id, bool)
            return (not numbered, cluster_id if numbered else 0, name)

        return sorted(
            (n for n in self.nodes if set(roles) & set(self.nodes[n].get("roles") or [])),
            key=order,
        )


def _check_nodes(site, pillars, up, timeout):
    def power(name):
        bmc = site.nodes[name].get("bmc")
        if not isinstance(bmc, dict):
            return NO_BMC
        # from any node's pillar: a witness's holds none of the BMC passwords
        secret = next((value for value in (
            ((pillar or {}).get("secrets") or {}).get(bmc.get("password_secret"))
            for pillar in pillars.values()) if value), None)
        if not secret:
            return f"unknown: no secret {bmc.get('password_secret')} in the nodes' pillars"
        return _ipmi_power(bmc, secret, timeout)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(site.nodes))) as pool:
        powers = dict(zip(site.nodes, pool.map(power, site.nodes)))
    facts, rows = {}, []
    for name, node in site.nodes.items():
        facts[name] = {
            "roles": node.get("roles") or [],
            "address": node.get("address"),
            "power": powers[name],
            "minion": name in up,
        }
        bad = powers[name] not in ("on", NO_BMC)
        _row(
            rows, "node", name, DEGRADED if bad or name not in up else OK,
            f"{','.join(facts[name]['roles'])}  {node.get('address')}  power {powers[name]}  "
            f"minion {'up' if name in up else 'DOWN'}",
        )
    return facts, rows


def _pacemaker_rows(status, quorum, qdevice, site, vip_id, fencing_enabled):
    rows = []
    votes = ""
    if quorum:
        votes = f", {quorum.get('total_votes')}/{quorum.get('expected_votes')} votes"
    qdev = ""
    if site.witness:
        qdev = ", quorum device " + (
            "connected" if (qdevice or {}).get("connected") else "NOT connected"
        )
    quorate = quorum.get("quorate") if quorum else status.get("quorate")
    qdevice_bad = bool(site.witness) and not (qdevice or {}).get("connected")
    _row(rows, "pacemaker", "quorum", OK if quorate and not qdevice_bad else DEGRADED,
         f"{'quorate' if quorate else 'NOT quorate'}{votes}{qdev}, DC {status.get('dc')}")
    nodes = status.get("nodes") or {}
    offline = sorted(n for n, node in nodes.items() if not node.get("online"))
    detail = f"online {', '.join(status.get('nodes_online') or []) or 'none'}"
    if offline:
        detail += f"; OFFLINE {', '.join(offline)}"
    _row(rows, "pacemaker", "nodes", DEGRADED if offline else OK, detail)
    resources = status.get("resources") or {}
    fences = {rid: r for rid, r in resources.items()
              if str(r.get("agent") or "").startswith("stonith:")}
    if fencing_enabled:
        stopped = sorted(rid for rid, r in fences.items() if not r.get("active"))
        detail = ", ".join(
            f"{rid} on {','.join(r.get('nodes') or []) or 'nothing'}"
            for rid, r in sorted(fences.items())
        ) or "no fencing device in the CIB"
        _row(rows, "pacemaker", "fencing", DEGRADED if stopped or not fences else OK,
             f"enabled: {detail}")
    else:
        _row(rows, "pacemaker", "fencing", INFO, "disabled (site:fencing:enabled false)")
    vip = resources.get(vip_id)
    if vip is None:
        _row(rows, "pacemaker", "vip", DEGRADED, f"no resource {vip_id} in the cluster")
    else:
        where = vip.get("nodes") or []
        address = ((site.site.get("vips") or {}).get("api") or {}).get("address")
        _row(rows, "pacemaker", "vip",
             OK if vip.get("active") and len(where) == 1 and not vip.get("failed") else DEGRADED,
             f"{address} on {', '.join(where) or 'NO NODE'}")
    for rid, rsc in sorted(resources.items()):
        if rid == vip_id or rid in fences:
            continue
        where = ", ".join(rsc.get("nodes") or []) or "nowhere"
        count = (f"{rsc.get('started')}/{rsc.get('instances')} " if "instances" in rsc else "")
        healthy = rsc.get("active") and not rsc.get("failed")
        if "instances" in rsc:
            healthy = healthy and rsc.get("started") == rsc.get("instances")
        _row(rows, "pacemaker", f"resource {rid}", OK if healthy else DEGRADED,
             f"{count}{'FAILED, ' if rsc.get('failed') else ''}started on {where}")
    for failure in status.get("failures") or []:
        why = failure.get("exitreason") or failure.get("exitstatus")
        _row(rows, "pacemaker", "failed action", INFO,
             f"{failure.get('op_key')} on {failure.get('node')}: {why} "
             f"(pcs resource cleanup to clear)")
    return rows


def _check_pacemaker(site, pillars, up, timeout):
    controllers = [n for n in site.with_role("controller") if n in up]
    if not controllers:
        rows = []
        _row(rows, "pacemaker", "cluster", DEGRADED, "no controller answers")
        return {"error": "no controller answers"}, rows
    statuses = _local(controllers, "pacemaker.status", timeout=timeout)
    seen_from = next((n for n in controllers if statuses.get(n, (False,))[0]), None)
    if seen_from is None:
        rows = []
        detail = "; ".join(f"{n}: {str(statuses.get(n, (0, 'no answer'))[1])[:120]}"
                           for n in controllers)
        _row(rows, "pacemaker", "cluster", DEGRADED,
             f"no controller's Pacemaker answers ({detail})")
        return {"error": detail}, rows
    status = statuses[seen_from][1]
    ok, quorum = _local([seen_from], "pacemaker.quorum_status", timeout=timeout).get(
        seen_from, (False, None))
    quorum = quorum if ok and isinstance(quorum, dict) else None
    qdevice = None
    if site.witness:
        ok, qdevice = _local([seen_from], "pacemaker.qdevice_status", timeout=timeout).get(
            seen_from, (False, None))
        qdevice = qdevice if ok and isinstance(qdevice, dict) else None
    settings = _settings("pacemaker", pillars.get(seen_from))
    vip_id = ((settings.get("cib") or {}).get("vip") or {}).get("id", "vip")
    fencing = bool((site.site.get("fencing") or {}).get("enabled"))
    rows = _pacemaker_rows(status, quorum, qdevice, site, vip_id, fencing)
    facts = {"seen_from": seen_from, "status": status, "quorum": quorum, "qdevice": qdevice}
    return facts, rows


def _check_galera(site, pillars, up, timeout):
    data_nodes = site.with_role("controller")
    cmd = ["mariadb", "--protocol=socket", "--user=root", "--batch", "--skip-column-names",
           "--connect-timeout=3", f"--execute={SQL}"]
    answers = _local([n for n in data_nodes if n in up], "cmd.run_all", [cmd],
                     kwarg={"python_shell": False, "timeout": timeout}, timeout=timeout + 5)
    down = [n for n in data_nodes if n in up and not (
        answers.get(n, (False, None))[0]
        and isinstance(answers[n][1], dict) and answers[n][1].get("retcode") == 0)]
    units = _local(down, "service.status", ["mariadb"], timeout=timeout)
    facts, rows = {}, []
    for node in data_nodes:
        if node not in up:
            facts[node] = {"error": "minion down"}
            _row(rows, "galera", node, DEGRADED, "minion down")
            continue
        if node in down:
            running = units.get(node, (False, None))[1] is True
            facts[node] = {"error": "mysqld does not answer", "unit_running": running}
            _row(rows, "galera", node, DEGRADED,
                 f"mysqld does not answer SQL (mariadb {'running' if running else 'NOT running'})")
            continue
        wsrep = parse_wsrep(answers[node][1].get("stdout"))
        facts[node] = wsrep
        healthy = wsrep["cluster_status"] == "Primary" and wsrep["local_state"] == 4
        _row(rows, "galera", node, OK if healthy else DEGRADED,
             f"{wsrep['cluster_status']}, {wsrep['state']}, size {wsrep['size']}, "
             f"seqno {wsrep['seqno']}")
    if site.witness:
        ok, running = _local([site.witness] if site.witness in up else [], "service.status",
                             ["garb"], timeout=timeout).get(site.witness, (False, None))
        facts["garbd"] = {"node": site.witness, "running": ok and running is True}
        _row(rows, "galera", f"garbd ({site.witness})", OK if ok and running is True else DEGRADED,
             "running" if ok and running is True else
             ("NOT running" if ok else "minion down"))
    return facts, rows


def _check_rabbitmq(site, pillars, up, timeout):
    members = site.with_role("controller", "witness")
    rows = []
    if not members:
        return {}, rows
    prefix = _settings("rabbitmq", pillars.get(members[0])).get("node_prefix", "rabbit")
    expected = sorted(f"{prefix}@{n}" for n in members)
    views = _local([n for n in members if n in up], "rabbitmq_cluster.status", timeout=timeout)
    answered = {n: ret for n, (ok, ret) in views.items() if ok and isinstance(ret, dict)}
    if not answered:
        _row(rows, "rabbitmq", "cluster", DEGRADED, "no member answers")
        return {"expected": expected, "error": "no member answers"}, rows
    seen_from = next(n for n in members if n in answered)
    view = answered[seen_from]
    running = sorted(view.get("running_nodes") or [])
    missing = [m for m in expected if m not in running]
    detail = f"running {', '.join(running) or 'none'}"
    if missing:
        detail += f"; MISSING {', '.join(missing)}"
    _row(rows, "rabbitmq", "members", DEGRADED if missing else OK, detail)
    partitions = {n: v.get("partitions") for n, v in answered.items() if v.get("partitions")}
    alarms = sorted({str(a) for v in answered.values() for a in (v.get("alarms") or [])})
    _row(rows, "rabbitmq", "partitions", DEGRADED if partitions else OK,
         f"{partitions}" if partitions else "none")
    _row(rows, "rabbitmq", "alarms", DEGRADED if alarms else OK, ", ".join(alarms) or "none")
    return {"expected": expected, "running": running, "partitions": partitions,
            "alarms": alarms, "seen_from": seen_from}, rows


def _check_haproxy(site, pillars, up, timeout):
    controllers = site.with_role("controller")
    cmd = ["socat", "-t", "2", "stdio", f"unix-connect:{HAPROXY_SOCKET}"]
    answers = _local([n for n in controllers if n in up], "cmd.run_all", [cmd],
                     kwarg={"python_shell": False, "stdin": "show stat\n", "timeout": timeout},
                     timeout=timeout + 5)
    facts, rows = {}, []
    for node in controllers:
        ok, ret = answers.get(node, (False, None))
        if node not in up or not ok or not isinstance(ret, dict) or ret.get("retcode") != 0:
            why = "minion down" if node not in up else "HAProxy does not answer on its socket"
            facts[node] = {"error": why}
            _row(rows, "haproxy", node, DEGRADED, why)
            continue
        proxies = parse_haproxy_stat(ret.get("stdout"))
        facts[node] = proxies
        down, parts = [], []
        for proxy, servers in sorted(proxies.items()):
            states = []
            for server, info in sorted(servers.items()):
                status = info["status"].split()[0] if info["status"] else "?"
                if status not in ("UP", "no"):  # "no check" servers are up as far as we know
                    down.append(f"{proxy}/{server}")
                states.append(f"{server} {status}{' (backup)' if info['backup'] else ''}")
            parts.append(f"{proxy}: {', '.join(states)}")
        _row(rows, "haproxy", node, DEGRADED if down else OK,
             "; ".join(parts) or "no backend servers")
    return facts, rows


def _check_memcached(site, pillars, up, timeout):
    facts, rows = {}, []
    for node in site.with_role("controller"):
        port = int(_settings("memcached", pillars.get(node)).get("port", 11211))
        ok, detail = _memcached_version(site.nodes[node].get("address"), port, min(timeout, 5))
        facts[node] = {"ok": ok, "detail": detail}
        _row(rows, "memcached", node, OK if ok else DEGRADED, detail)
    return facts, rows


def _check_nfs(site, pillars, up, timeout):
    nas = (site.site.get("nas") or {}).get("node")
    rows = []
    if not nas:
        _row(rows, "nfs", "-", INFO, "no NAS in the inventory (site:nas)")
        return {}, rows
    settings = _settings("nfs", pillars.get(nas))
    unit = NFS_UNITS.get((settings.get("server") or {}).get("implementation"), "nfs-server")
    ok, running = _local([nas] if nas in up else [], "service.status", [unit],
                         timeout=timeout).get(nas, (False, None))
    running = ok and running is True
    facts = {"server": {"node": nas, "unit": unit, "running": running}, "clients": {}}
    _row(rows, "nfs", f"server ({nas})", OK if running else DEGRADED,
         f"{unit} {'running' if running else ('NOT running' if ok else 'minion down')}")
    address = (site.nodes.get(nas) or {}).get("address")
    exports = (site.site.get("nas") or {}).get("exports") or {}
    for node in site.with_role("controller"):
        node_settings = _settings("nfs", pillars.get(node))
        mount = bool((node_settings.get("client") or {}).get("mount", True))
        per_export = node_settings.get("exports") or {}
        if mount:
            items = [per_export[n]["mount"] for n in sorted(exports)
                     if (per_export.get(n) or {}).get("mount")]
        else:
            items = [e["path"] for _, e in sorted(exports.items()) if isinstance(e, dict)]
        if node not in up:
            facts["clients"][node] = {"error": "minion down"}
            _row(rows, "nfs", node, DEGRADED, "minion down")
            continue
        if not items:
            _row(rows, "nfs", node, INFO, "nothing to mount")
            continue
        mode = "mount" if mount else "nfs-ls"
        ok, ret = _local([node], "cmd.run_all",
                         [["sh", "-c", NFS_CHECK, "nfs-check", mode, str(address), *items]],
                         kwarg={"python_shell": False, "timeout": timeout + 10},
                         timeout=timeout + 15).get(node, (False, None))
        lines = (ret.get("stdout") or "").splitlines() if ok and isinstance(ret, dict) else []
        good = [line[3:] for line in lines if line.startswith("ok ")]
        missing = [item for item in items if item not in good]
        facts["clients"][node] = {"mode": mode, "ok": good, "missing": missing}
        what = "mounted" if mount else "listed by nfs-ls"
        detail = f"{what}: {', '.join(good) or 'none'}"
        if missing:
            detail += f"; MISSING {', '.join(missing)}"
        _row(rows, "nfs", node, DEGRADED if missing else OK, detail)
    return facts, rows


def _check_apis(site, pillars, up, timeout):
    any_pillar = next(iter(pillars.values()), {}) if pillars else {}
    scheme, services = _catalog(any_pillar)
    context = None
    if scheme == "https":
        # the site CA only: what an operator's client trusts (clouds.yaml)
        ca_pem = (any_pillar.get("site_ca") or {}).get("cert")
        context = ssl.create_default_context(cadata=ca_pem) if ca_pem else None
    vip = ((site.site.get("vips") or {}).get("api") or {}).get("address")
    facts, rows = {}, []
    if not services:
        _row(rows, "api", "-", INFO, "no OpenStack API in salt/openstack/catalog.yaml yet")
        return facts, rows
    for name, service in sorted(services.items()):
        method, _, path = str(service.get("check", "GET /")).partition(" ")
        url = f"{scheme}://{vip}:{service.get('port')}{path or '/'}"
        code, detail = _http(url, method or "GET", min(timeout, 5), context)
        healthy = code is not None and code < 500
        facts[name] = {"url": url, "code": code}
        _row(rows, "api", name, OK if healthy else DEGRADED, f"{url}: {detail}")
    return facts, rows


def _check_heal():
    rows = []
    try:
        state = __salt__["heal.status"]()
    except Exception as exc:  # pylint: disable=broad-except
        _row(rows, "heal", "-", INFO, f"heal runner state unavailable: {exc}")
        return {"error": str(exc)}, rows
    paused = state.get("paused")
    if paused:
        until = paused.get("until")
        when = time.strftime("%H:%M:%S", time.localtime(until)) if until else "heal.resume"
        _row(rows, "heal", "paused", INFO,
             f"healing paused until {when}: {paused.get('reason') or 'no reason given'}")
    lock = state.get("lock")
    if lock:
        since = time.strftime("%H:%M:%S", time.localtime(lock.get("acquired", 0)))
        _row(rows, "heal", "running", INFO,
             f"a heal holds the lock since {since}: {lock.get('owner')}")
    suppressed = state.get("suppressed") or {}
    for kind, info in sorted(suppressed.items()):
        until = time.strftime("%H:%M:%S", time.localtime(info.get("until", 0)))
        _row(rows, "heal", kind, INFO if info.get("reason") == "cooldown" else DEGRADED,
             f"suppressed ({info.get('reason')}): {info.get('detail')}; until {until}")
    for kind, not_before in sorted((state.get("deferred") or {}).items()):
        if kind not in suppressed:
            when = time.strftime("%H:%M:%S", time.localtime(not_before or 0))
            _row(rows, "heal", kind, INFO, f"the last heal did not hold; retried after {when}")
    if not rows:
        dry = " (dry run)" if state.get("dry_run") else ""
        _row(rows, "heal", "-", OK, f"nothing suppressed{dry}")
    return state, rows


CHECKS = (
    ("pacemaker", _check_pacemaker),
    ("galera", _check_galera),
    ("rabbitmq", _check_rabbitmq),
    ("haproxy", _check_haproxy),
    ("memcached", _check_memcached),
    ("nfs", _check_nfs),
    ("api", _check_apis),
)


# --- the runner function -------------------------------------------------------------------------


def summary(rows):
    """``(status, problems)`` of the rows (pure)."""
    problems = [f"{r['component']} {r['item']}: {r['detail']}" for r in rows
                if r["state"] == DEGRADED]
    return ("degraded" if problems else "ok"), problems


def status(timeout=10):
    """
    Print the health of the whole site as a table; exit 1 when degraded.

    timeout
        Seconds to wait for each question to the nodes, the BMCs and the APIs.

    With ``--out=json`` (or any ``--out``), the data instead: ``site``,
    ``status`` (``ok`` | ``degraded``), ``problems``, ``rows`` (each
    ``component``, ``item``, ``state`` ok|DEGRADED|info, ``detail``),
    ``retcode``, and the facts of each component. No secret is in either.

    CLI Example:

    .. code-block:: bash

        salt-run site.status
        salt-run site.status --out=json
        salt-run site.status timeout=20
    """
    site = _Site(_pillar(__opts__["id"]))
    data = {"site": site.site.get("name"), "rows": []}
    if not site.nodes:
        _row(data["rows"], "site", "-", DEGRADED,
             "no site pillar (site:nodes) for the master: see pillar/top.sls")
    else:
        pillars = {node: _pillar(node) for node in site.nodes}
        up = {node for node, (ok, ret) in _local(sorted(site.nodes), "test.ping",
                                                 timeout=timeout).items() if ok and ret is True}
        data["nodes"], rows = _check_nodes(site, pillars, up, timeout)
        data["rows"].extend(rows)
        for name, check in CHECKS:
            try:
                data[name], rows = check(site, pillars, up, timeout)
            except Exception as exc:  # pylint: disable=broad-except
                data[name], rows = {"error": str(exc)}, []
                _row(rows, name, "-", DEGRADED, f"the check failed: {exc}")
            data["rows"].extend(rows)
        data["heal"], rows = _check_heal()
        data["rows"].extend(rows)
    data["status"], data["problems"] = summary(data["rows"])
    data["retcode"] = 0 if data["status"] == "ok" else 1
    __context__["retcode"] = data["retcode"]
    return {"outputter": "site_status", "data": data}
