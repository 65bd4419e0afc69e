"""A tiny process supervisor for the embedded deployment (``make run``).

Starts the web server, one Celery worker and Celery beat; restarts any that exits unexpectedly
(with back-off), as a compose ``restart: unless-stopped`` policy would; on SIGINT or SIGTERM
stops them all (SIGTERM, then SIGKILL after a grace period) and returns.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("soberana.supervisor")
GRACE_SECONDS = 45.0  # a CPU training step must finish and checkpoint
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class Service:
    """One supervised command."""

    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)

    def start(self) -> None:
        logger.info("starting %s", self.name)
        # Its own process group, so stopping reaches the worker's pool processes too: a
        # training task then checkpoints and hands its job back instead of dying mid-step.
        self.process = subprocess.Popen(
            self.argv, start_new_session=True, preexec_fn=die_with_parent()
        )
        self.started_at = time.monotonic()

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to send the child ``signum`` when the supervisor
    dies, however it dies (SIGKILL, an OOM kill, a closed terminal): otherwise the web
    server, worker and beat live on, holding the port and the broker, and the next
    ``make run`` fails. SIGTERM lets each stop its own children (gunicorn's workers, Celery's
    pool). None where prctl is missing (not Linux); the parent watchdog below still helps."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signum)

    return preexec


def platform_services(port: int, data_dir: Path, workers: int = 2) -> list[Service]:
    """The web server, the worker (both queues) and beat for one embedded instance."""
    python = sys.executable
    bind = os.environ.get("SOBERANA_BIND", "127.0.0.1")
    return [
        Service(
            "web",
            # waitress (platform_site/webserver.py): idle or slow clients hold no thread.
            [
                python,
                "-m",
                "platform_site.webserver",
                "--bind",
                bind,
                "--port",
                str(port),
                "--threads",
                str(4 * workers),
            ],
        ),
        Service(
            "worker",
            [
                python,
                "-m",
                "celery",
                "-A",
                "platform_site",
                "worker",
                "-Q",
                "ingestion,training",
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "-n",
                f"worker-{port}@%h",
            ],
        ),
        Service(
            "beat",
            [
                python,
                "-m",
                "celery",
                "-A",
                "platform_site",
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                str(data_dir / "celerybeat-schedule"),
            ],
        ),
    ]


class Supervisor:
    """Runs services until asked to stop."""

    def __init__(self, services: list[Service]) -> None:
        self.services = services
        self.stopping = False

    def request_stop(self, signum: int, _frame: object) -> None:
        logger.info("received signal %s; stopping", signum)
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        for service in self.services:
            service.start()
        while not self.stopping:
            self._restart_crashed()
            time.sleep(0.5)
        self.stop_all()
        return 0

    def _restart_crashed(self) -> None:
        now = time.monotonic()
        for service in self.services:
            code = service.exited()
            if code is None:
                continue
            if service.next_start == 0.0:
                # Back off exponentially, but a service that ran a while starts afresh.
                if now - service.started_at > 60:
                    service.restarts = 0
                delay = min(MAX_BACKOFF_SECONDS, 2.0**service.restarts)
                logger.warning("%s exited with %s; restarting in %.0fs", service.name, code, delay)
                service.next_start = now + delay
            elif now >= service.next_start:
                service.restarts += 1
                service.next_start = 0.0
                service.start()

    def stop_all(self) -> None:
        running = [s for s in self.services if s.process and s.process.poll() is None]
        for service in running:
            _signal_group(service.process, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for service in running:
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time; killing it", service.name)
                _signal_group(service.process, signal.SIGKILL)
                service.process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
