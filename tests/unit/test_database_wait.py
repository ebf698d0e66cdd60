"""salt://openstack/files/database-wait, run for real against local sockets:
it returns once a MariaDB server greets (the handshake: protocol 10), and
gives up with exit 1 while the port only accepts and closes (HAProxy with no
synced Galera node behind it) or refuses."""

import socket
import subprocess
import sys
import threading

import pytest

from .sls import SALT

SCRIPT = SALT / "openstack" / "files" / "database-wait"
# a MariaDB handshake's first bytes: 3-byte length, sequence 0, protocol 10
GREETING = b"\x5b\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB\x00"


@pytest.fixture
def server():
    """A listening socket on 127.0.0.1 that answers each connection with
    ``reply`` (bytes, or None: close at once); yields (port, set_reply)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    state = {"reply": None, "stop": False}

    def serve():
        while not state["stop"]:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                if state["reply"]:
                    conn.sendall(state["reply"])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], lambda reply: state.update(reply=reply)
    state["stop"] = True
    sock.close()


def run(port, seconds):
    return subprocess.run([sys.executable, str(SCRIPT), "127.0.0.1", str(port), str(seconds)],
                          capture_output=True, text=True, timeout=60)


def test_a_greeting_database_lets_the_unit_start(server):
    port, reply = server
    reply(GREETING)
    result = run(port, 30)
    assert result.returncode == 0, result.stderr


def test_a_port_that_closes_without_greeting_is_not_a_database(server):
    port, reply = server
    reply(None)
    result = run(port, 1)
    assert result.returncode == 1
    assert f"no database server greeted on 127.0.0.1:{port} within 1s" in result.stderr


def test_a_refused_port_is_waited_for_then_given_up():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(port, 1)
    assert result.returncode == 1
    assert "no database server greeted" in result.stderr
