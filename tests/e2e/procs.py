"""Start real Celery worker and beat processes against the test database and broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def process_env(**overrides: str) -> dict[str, str]:
    """Environment for a child process that must see the test database."""
    env = dict(os.environ)
    env.update(
        {
            "SOBERANA_ENV": "test",
            "SOBERANA_DATA_DIR": str(settings.DATA_DIR),
            "SOBERANA_DATABASE_NAME_OVERRIDE": str(connection.settings_dict["NAME"]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


@contextmanager
def celery_process(kind: str, log_name: str, **env: str) -> Iterator[subprocess.Popen]:
    """A ``celery worker`` or ``celery beat`` child; stopped (or killed) on exit."""
    argv = [sys.executable, "-m", "celery", "-A", "platform_site", kind, "--loglevel", "INFO"]
    if kind == "worker":
        argv += ["-Q", "ingestion,training", "--concurrency", "1", "-n", f"{log_name}@%h"]
    else:
        argv += ["-s", str(Path(settings.DATA_DIR) / f"{log_name}-schedule")]
    log = open(Path(settings.DATA_DIR) / "logs" / f"{log_name}.log", "ab")
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=process_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def wait_for(
    predicate: Callable[[], object], *, timeout: float, what: str, logs: tuple[str, ...] = ()
) -> object:
    """Poll ``predicate`` until it returns something truthy; fail with the logs after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    tails = []
    for name in logs:
        path = Path(settings.DATA_DIR) / "logs" / f"{name}.log"
        if path.exists():
            tails.append(f"--- {name} ---\n" + path.read_text(errors="replace")[-4000:])
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n" + "\n".join(tails))
