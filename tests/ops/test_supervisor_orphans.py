"""Issue 18 item 10: the supervisor's children die with it, even when it is SIGKILLed, and an
idle set of services stops on Ctrl-C (SIGINT) promptly. A real port-holding child is used
(``python -m http.server``), so a leftover process shows as a port still taken."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
from ops.supervisor import Service, Supervisor
port = sys.argv[1]
web = Service("web", [sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1"])
sys.exit(Supervisor([web]).run())
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition: object, limit: float = 30.0) -> bool:
    """Poll ``condition`` (bounded, never a timing assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def _start_supervisor(port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(port)], cwd=ROOT, env=env)
    assert _wait(lambda: _listening(port)), "the supervised server never listened"
    return process


def test_children_die_when_the_supervisor_is_killed() -> None:
    port = _free_port()
    supervisor = _start_supervisor(port)
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait()
    assert _wait(lambda: not _listening(port)), "the web server outlived its supervisor"
    with socket.socket() as sock:  # the next ``make run`` can bind the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_ctrl_c_stops_idle_services_and_frees_the_port() -> None:
    port = _free_port()
    supervisor = _start_supervisor(port)
    supervisor.send_signal(signal.SIGINT)
    assert supervisor.wait(timeout=60) == 0
    assert not _listening(port)
