#!/usr/bin/python3
"""Build or change Swift's rings with swift-ring-builder, in a scratch
directory, for the master (runner swift_rings): nothing under /etc/swift is
read or written.

stdin: {"rings": {"<kind>": {"builder": <base64 or null>,
                             "commands": [["create", "8", "2", "1"], ["add", ...],
                                          ["rebalance"]]}}}
stdout: {"<kind>": {"builder": <base64>, "ring": <base64>, "log": <text>}}
Exit 1 with the failing command's output on stderr.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile

BUILDER = "/usr/bin/swift-ring-builder"
# swift-ring-builder's exit codes: 0 success, 1 warning (e.g. a balance
# above 1%, or nothing to move yet), 2 error
OK = {"rebalance": (0, 1)}


def run(workdir, kind, argv):
    command = [BUILDER, f"{kind}.builder", *argv]
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode not in OK.get(argv[0], (0,)):
        sys.stderr.write(f"{' '.join(command)}: exit {proc.returncode}\n{output}\n")
        sys.exit(1)
    return f"$ swift-ring-builder {kind}.builder {' '.join(argv)}\n{output}\n"


def main():
    request = json.load(sys.stdin)
    if not os.access(BUILDER, os.X_OK):
        sys.stderr.write(f"{BUILDER} is missing: install the swift package here\n")
        return 1
    result = {}
    with tempfile.TemporaryDirectory(prefix="swift-rings-") as workdir:
        for kind, spec in sorted(request["rings"].items()):
            builder = os.path.join(workdir, f"{kind}.builder")
            if spec.get("builder"):
                with open(builder, "wb") as handle:
                    handle.write(base64.b64decode(spec["builder"]))
            log = "".join(run(workdir, kind, argv) for argv in spec["commands"])
            ring = os.path.join(workdir, f"{kind}.ring.gz")
            if not os.path.exists(ring):
                # rebalance writes no ring when it moved nothing (within
                # min_part_hours of the last one): the builder's ring as is
                log += run(workdir, kind, ["write_ring"])
            if not os.path.exists(ring):
                sys.stderr.write(f"no {kind}.ring.gz after the commands:\n{log}")
                return 1
            with open(builder, "rb") as handle:
                builder_data = base64.b64encode(handle.read()).decode()
            with open(ring, "rb") as handle:
                ring_data = base64.b64encode(handle.read()).decode()
            result[kind] = {"builder": builder_data, "ring": ring_data, "log": log}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
