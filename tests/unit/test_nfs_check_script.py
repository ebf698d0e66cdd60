"""salt/nfs/files/nfs-check-exports.sh: the userspace export check the NAS
and the controllers run (Salt "stateful" JSON answer, never a change), driven
here against a fake nfs-ls that plays a server."""

import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "salt" / "nfs" / "files" / "nfs-check-exports.sh"
SERVER = "10.77.0.13"
PATHS = ["/srv/nfs/backups", "/srv/nfs/images", "/srv/nfs/volumes"]

# A stand-in for libnfs's nfs-ls: FAKE_EXPORTS is what the server exports,
# FAKE_REFUSED the exports it refuses to this host (MNT3ERR_ACCES),
# FAKE_PERM the ones it mounts but cannot read (NFS3ERR_PERM).
FAKE_NFS_LS = r"""#!/bin/sh
if [ "$1" = -D ]; then
    [ -n "$FAKE_DOWN" ] && { echo "Failed to get exports for server ${2#nfs://}." >&2; exit 255; }
    for p in $FAKE_EXPORTS; do echo "$2$p"; done
    exit 0
fi
path=/${1#nfs://*/}
case " $FAKE_REFUSED " in *" $path "*)
    echo "Failed to mount nfs share : mount_cb: RPC error:" \
         "Mount failed with error MNT3ERR_ACCES(13) Permission denied(13)" >&2; exit 243;;
esac
case " $FAKE_PERM " in *" $path "*)
    echo "Failed to opendir(\"\") opendir call failed with" \
         "\"NFS: GETATTR of  failed with NFS3ERR_PERM(-1)\"" >&2; exit 10;;
esac
case " $FAKE_EXPORTS " in *" $path "*) exit 0;; esac
echo "Failed to mount nfs share : mount_cb: RPC error: Mount failed with error MNT3ERR_NOENT(2)" >&2
exit 243
"""


@pytest.fixture
def run(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nfs-ls"
    fake.write_text(FAKE_NFS_LS)
    fake.chmod(0o755)

    def call(*args, exports=PATHS, refused=(), perm=(), down=False, with_nfs_ls=True):
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin" if with_nfs_ls else "/usr/bin:/bin",
            "FAKE_EXPORTS": " ".join(exports),
            "FAKE_REFUSED": " ".join(refused),
            "FAKE_PERM": " ".join(perm),
            **({"FAKE_DOWN": "1"} if down else {}),
        }
        if with_nfs_ls is False:
            assert not any(
                (pathlib.Path(d) / "nfs-ls").exists() for d in env["PATH"].split(":")
            ), "this machine has a real nfs-ls on /usr/bin or /bin"
        result = subprocess.run(["sh", str(SCRIPT), *args], env=env, capture_output=True,
                                text=True, timeout=30)
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 1, result.stdout  # exactly the stateful answer
        return result.returncode, json.loads(lines[0])

    return call


def test_every_export_served_is_a_success_without_change(run):
    code, answer = run(SERVER, "5", *PATHS)
    assert code == 0
    assert answer == {
        "changed": False,
        "comment": f"{SERVER} serves {' '.join(PATHS)} to this host (checked with nfs-ls)",
    }


def test_a_refused_export_fails_with_the_server_answer(run):
    code, answer = run(SERVER, "0", *PATHS, refused=["/srv/nfs/images"])
    assert code == 1 and answer["changed"] is False
    assert answer["comment"].startswith(
        f"after 0s: nfs-ls nfs://{SERVER}/srv/nfs/images failed from this host: "
        "Failed to mount nfs share : mount_cb: RPC error: Mount failed with error MNT3ERR_ACCES")


def test_an_export_missing_from_the_list_fails(run):
    code, answer = run(SERVER, "0", "/srv/nfs/scratch")
    assert code == 1
    assert "nfs-ls nfs://10.77.0.13/srv/nfs/scratch failed from this host" in answer["comment"]


def test_an_export_list_that_cannot_be_read_fails(run):
    # the MOUNT of the path works, but the server does not give its export list
    code, answer = run(SERVER, "0", "/srv/nfs/images", exports=["/srv/nfs/images"], down=True)
    assert code == 1
    assert "(its export list) failed: Failed to get exports" in answer["comment"]


def test_nfs3err_perm_names_the_container_seccomp_cause(run):
    code, answer = run(SERVER, "0", *PATHS, perm=PATHS)
    assert code == 1
    assert "NFS3ERR_PERM" in answer["comment"]
    assert "--system-call-filter=open_by_handle_at" in answer["comment"]


def test_test_mode_reports_a_pending_check_and_never_fails(run):
    code, answer = run("--test", SERVER, "60", *PATHS, refused=PATHS)
    assert code == 0 and answer["changed"] is True
    assert answer["comment"].startswith(
        f"would check that {SERVER} serves {' '.join(PATHS)} to this host; now: after 0s: ")


def test_test_mode_with_everything_served_is_quiet(run):
    code, answer = run("--test", SERVER, "60", *PATHS)
    assert (code, answer["changed"]) == (0, False)


def test_without_nfs_ls_it_says_what_to_install(run):
    code, answer = run(SERVER, "0", *PATHS, with_nfs_ls=False)
    assert code == 1
    assert answer["comment"] == "nfs-ls not found: install libnfs-utils (nfs:pkgs:probe)"
    code, answer = run("--test", SERVER, "0", *PATHS, with_nfs_ls=False)
    assert code == 0 and answer["changed"] is True


def test_quotes_backslashes_and_equal_signs_stay_valid_json(run):
    odd = '/srv/nfs/a"b\\c=d'
    code, answer = run(SERVER, "0", odd, exports=[])
    assert code == 1
    assert odd in answer["comment"]


def test_it_waits_for_a_server_that_is_starting(run, tmp_path):
    # an export list that appears after a while: the fake counts its calls
    counter = tmp_path / "calls"
    fake = tmp_path / "bin" / "nfs-ls"
    fake.write_text(FAKE_NFS_LS.replace(
        "#!/bin/sh\n",
        f"#!/bin/sh\nn=$(cat {counter} 2>/dev/null || echo 0); echo $((n + 1)) > {counter}\n"
        f'[ "$n" -lt 2 ] && {{ echo "RPC: Remote system error - Connection refused" >&2; '
        "exit 1; }\n",
        1))
    code, answer = run(SERVER, "120", *PATHS)  # returns as soon as it answers
    assert code == 0 and answer["changed"] is False
    assert int(counter.read_text()) >= 3


def test_the_script_is_executable_in_the_tree():
    assert os.access(SCRIPT, os.X_OK)
