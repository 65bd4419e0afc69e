"""Slow and idle clients against the embedded web server (issue 18 item 1). Loopback only.

Starts the ``make run`` web server (waitress, ``platform_site.webserver``) on a free
127.0.0.1 port over a throw-away data directory, signs a user in, and measures the latency of
``/healthz`` and of the signed-in dashboard (``/``): first with no other client (the baseline),
then with ``--idle`` connections open that each sent half a request and nothing more, and
``--trickle`` connections sending a POST body a byte at a time. Every request has a timeout
(``--timeout``, 5 s): a server that gives each connection a thread shows as timeouts.
With ``--compare-gunicorn`` the old server (gunicorn, 2 workers x 4 threads) is measured the
same way in the same run.

    .venv/bin/python bench/slow_clients.py [--idle 250] [--trickle 250] [--compare-gunicorn]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only, never another host
PASSWORD = "Bench-pw-Long-123!"
SAMPLES = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def prepare(env: dict[str, str]) -> None:
    """Migrate the throw-away database and create the bench user."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    code = (
        "from django.contrib.auth import get_user_model as g;"
        f"g().objects.filter(username='bench').exists() or "
        f"g().objects.create_user('bench', '', '{PASSWORD}')"
    )
    subprocess.run([*manage, "shell", "-c", code], env=env, check=True, cwd=ROOT)


def start_server(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    if kind == "waitress":
        argv = [
            sys.executable,
            "-m",
            "platform_site.webserver",
            "--port",
            str(port),
            "--threads",
            "8",
        ]
    else:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "platform_site.wsgi:application",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "300",
        ]
    server = subprocess.Popen(argv, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(port, "/healthz", timeout=2)[0] == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"{kind} did not start")


def get(port: int, path: str, cookie: str = "", timeout: float = 5.0) -> tuple[int, bytes, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def sign_in(port: int) -> str:
    """A session cookie for the bench user (the login form, with its CSRF token)."""
    status, body, response = get(port, "/login/")
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1].decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    form = f"username=bench&password={PASSWORD}&csrfmiddlewaretoken={csrf}"
    conn.request(
        "POST",
        "/login/",
        body=form,
        headers={
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://{HOST}:{port}/login/",
        },
    )
    answer = conn.getresponse()
    answer.read()
    cookies = [c.split(";")[0] for c in answer.msg.get_all("Set-Cookie") or []]
    session = next(c for c in cookies if c.startswith("sessionid="))
    csrf_cookie = next((c for c in cookies if c.startswith("csrftoken=")), cookie)
    return f"{session}; {csrf_cookie}"


def measure(port: int, path: str, cookie: str, timeout: float) -> dict[str, float]:
    """Median and worst latency of SAMPLES sequential GETs; failures count as the timeout."""
    times, failures = [], 0
    for _ in range(SAMPLES):
        start = time.perf_counter()
        try:
            status = get(port, path, cookie, timeout)[0]
            ok = status == 200
        except OSError:
            ok = False
        times.append(time.perf_counter() - start if ok else timeout)
        failures += not ok
    return {"median": statistics.median(times), "max": max(times), "failed": failures}


class SlowClients:
    """``idle`` sockets that sent half a request, ``trickle`` sockets sending a POST body a
    byte every half second (a thread feeds them all, bounded by ``stop``)."""

    def __init__(self, port: int, idle: int, trickle: int) -> None:
        self.sockets: list[socket.socket] = []
        self.tricklers: list[socket.socket] = []
        self.stop = threading.Event()
        for _ in range(idle):
            sock = socket.create_connection((HOST, port), timeout=5)
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\nX-a: b\r\n".encode())
            self.sockets.append(sock)
        for _ in range(trickle):
            sock = socket.create_connection((HOST, port), timeout=5)
            sock.sendall(
                f"POST /api/v1/projects/ HTTP/1.1\r\nHost: {HOST}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{".encode()
            )
            self.tricklers.append(sock)
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stop.wait(0.5):
            for sock in self.tricklers:
                try:
                    sock.send(b" ")
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets + self.tricklers:
            sock.close()


def run(kind: str, args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    port = free_port()
    server = start_server(kind, port, env)
    try:
        cookie = sign_in(port)
        assert get(port, "/", cookie)[0] == 200, "signed-in page did not answer 200"
        rows = []
        base = {p: measure(port, p, cookie, args.timeout) for p in ("/healthz", "/")}
        slow = SlowClients(port, args.idle, args.trickle)
        try:
            time.sleep(1.0)  # let the server take every connection in
            loaded = {p: measure(port, p, cookie, args.timeout) for p in ("/healthz", "/")}
        finally:
            slow.close()
        for path in ("/healthz", "/"):
            b, w = base[path], loaded[path]
            rows.append(
                f"| {kind} | `{path}` | {b['median'] * 1000:.1f} / {b['max'] * 1000:.1f} | "
                f"{w['median'] * 1000:.1f} / {w['max'] * 1000:.1f} | {w['failed']}/{SAMPLES} |"
            )
        return rows
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description="Slow clients vs the embedded web server.")
    parser.add_argument("--idle", type=int, default=250)
    parser.add_argument("--trickle", type=int, default=250)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--compare-gunicorn", action="store_true")
    args = parser.parse_args()
    if args.idle + args.trickle > 2000:
        raise SystemExit("at most 2000 slow connections (bounded)")
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "SOBERANA_DATA_DIR": data_dir,
            "SOBERANA_ENV": "development",
            "DJANGO_SETTINGS_MODULE": "platform_site.settings",
        }
        env.pop("DATABASE_URL", None)
        prepare(env)
        print(
            f"{args.idle} idle + {args.trickle} trickling connections; {SAMPLES} GETs each;"
            f" times in ms (median / max); a failure counts as the {args.timeout:.0f} s timeout"
        )
        print("| server | path | no slow clients | with slow clients | failed |")
        print("|---|---|---|---|---|")
        kinds = ["waitress"] + (["gunicorn"] if args.compare_gunicorn else [])
        for kind in kinds:
            for row in run(kind, args, env):
                print(row, flush=True)


if __name__ == "__main__":
    main()
