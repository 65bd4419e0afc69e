"""Issue 18 item 1: idle and half-sent requests cost the embedded web server no thread.

Starts the web service exactly as ``make run``'s supervisor does (its argv), opens more
half-sent requests than the server has threads, and checks ``/healthz`` still answers (with a
generous bound: gunicorn's threaded workers answered nothing until the sockets closed)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time
from pathlib import Path

from ops.supervisor import platform_services

ROOT = Path(__file__).resolve().parents[2]
HALF_REQUESTS = 40  # well above the web server's 8 threads


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthz(port: int, timeout: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    finally:
        conn.close()


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _healthz(port, 2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the web server never answered")


def test_half_sent_requests_do_not_starve_healthz(tmp_path: Path) -> None:
    port = _free_port()
    web = next(s for s in platform_services(port, tmp_path) if s.name == "web")
    env = {**os.environ, "SOBERANA_DATA_DIR": str(tmp_path), "SOBERANA_ENV": "development"}
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(web.argv, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    sockets: list[socket.socket] = []
    try:
        _wait_up(port)
        for _ in range(HALF_REQUESTS // 2):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: b\r\n")
            sockets.append(sock)
        for _ in range(HALF_REQUESTS // 2):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                b"POST /api/v1/projects/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            )
            sockets.append(sock)
        time.sleep(0.5)
        assert _healthz(port, timeout=15) in (200, 503)
    finally:
        for sock in sockets:
            sock.close()
        server.terminate()
        server.wait(timeout=30)
