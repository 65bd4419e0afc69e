"""Runs the engine CLI over several processes with torchrun and relays what rank 0 reports.

No Django here: the runner prepares the job file and the encrypted dataset, and passes a
reporter (``log`` / ``event`` / ``should_stop``). This module starts
``python -m torch.distributed.run --standalone --nproc-per-node N -m trainer.engine --config
job.json`` with the interpreter running this code (so the worker's virtual environment is used),
writes the data key to its standard input, forwards rank 0's JSON-lines progress to the
reporter, and stops it:

* ``should_stop()`` true (cancel, worker shutdown): SIGTERM to each engine process, once. The
  engine checkpoints, every rank agrees to stop at the same step, rank 0 prints its result.
* ``must_kill()`` true (the lease was lost) or an exception from the reporter: SIGKILL to every
  process of the run at once; another worker owns the job and its checkpoints now.
* The worker itself dies: the kernel sends torchrun SIGTERM (``PR_SET_PDEATHSIG``), which
  forwards it to the engine processes: they checkpoint and exit instead of training on unowned.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import psutil

logger = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.25
STDERR_LINES = 200
# torchrun waits this long for its processes after forwarding a signal before it SIGKILLs
# them: writing the checkpoint of a large model can take minutes on a slow disk.
SHUTDOWN_GRACE_S = 300
PR_SET_PDEATHSIG = 1
# Resolved here, not in the forked child: between fork and exec the child should do as little
# as possible (other threads of the worker may hold locks at the time of the fork).
try:
    _PRCTL = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
except (OSError, TypeError):  # not Linux: no parent-death signal, the lease sweeper still acts
    _PRCTL = None
# The last line of a Python traceback ("ValueError: ..."), which torch prefixes with
# "[rank0]: " in the engine processes.
_EXCEPTION_LINE = re.compile(
    r"^(?:\[rank\d+\]:\s*)?((?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit)\b.*)"
)


class EngineReporter(Protocol):
    """What the launcher forwards rank 0's lines to (the runner's JobReporter)."""

    def log(self, step: int, metrics: dict[str, float]) -> None: ...

    def event(self, kind: str, message: str) -> None: ...

    def should_stop(self) -> bool: ...


@dataclass
class EngineRun:
    """How a torchrun launch ended.

    ``summary`` is rank 0's final ``{"type": "result", ...}`` line (None when it never came);
    ``error`` the engine's last error event, else the last exception line on stderr;
    ``stop_requested`` whether this launcher asked the processes to stop; ``killed`` whether
    it killed them (lease lost).
    """

    returncode: int
    summary: dict[str, Any] | None = None
    error: str = ""
    stderr_tail: str = ""
    stop_requested: bool = False
    killed: bool = False
    last_step: int = 0

    @property
    def stopped(self) -> bool:
        """The run stopped early at our request (its checkpoint is kept)."""
        if self.summary is not None:
            return bool(self.summary.get("stopped"))
        # A process signalled just as it finished may die before printing its result.
        return self.stop_requested

    @property
    def succeeded(self) -> bool:
        """Rank 0 reported a finished run. A stop request that lands after its result line
        (the ranks have put their default handlers back and die of the signal while tearing
        down) does not undo the training that already finished."""
        finished = self.summary is not None and not self.stopped
        return finished and (self.returncode == 0 or self.stop_requested)


def torchrun_command(job_file: Path, processes: int) -> list[str]:
    """The command line: torchrun from this interpreter, one process per device."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # rendezvous on a free local port: jobs on one host never collide
        f"--nproc-per-node={processes}",
        "-m",
        "trainer.engine",
        "--config",
        str(job_file),
    ]


def run_engine(
    job_file: Path,
    key: bytes,
    processes: int,
    reporter: EngineReporter,
    *,
    must_kill: Callable[[], bool] = lambda: False,
) -> EngineRun:
    """Run the job described by ``job_file`` (see ``trainer.engine.cli``) over ``processes``
    processes and wait for it; see the module docstring for stopping. Raises whatever the
    reporter raises, after killing the processes."""
    process = _start(job_file, processes)
    watcher = _Watcher(process)
    try:
        _send_key(process, key)
        run = watcher.follow(reporter, must_kill)
    finally:
        if process.poll() is None:
            _kill_tree(process)
        watcher.join()
    run.stderr_tail = "\n".join(watcher.stderr)
    if not run.error:
        run.error = last_exception_line(watcher.stderr)
    return run


def _start(job_file: Path, processes: int) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        TORCH_ELASTIC_SHUTDOWN_TIMEOUT=str(SHUTDOWN_GRACE_S),
    )
    return subprocess.Popen(
        torchrun_command(job_file, processes),
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        start_new_session=True,  # our signals reach it on purpose, not by a terminal's Ctrl-C
        preexec_fn=_die_with_parent,
    )


def _die_with_parent() -> None:
    """In the child before exec: ask the kernel for SIGTERM when the worker dies (Linux only).
    torchrun forwards it to the engine processes, which checkpoint and exit."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGTERM))


def _send_key(process: subprocess.Popen[str], key: bytes) -> None:
    """The key travels through a pipe only: never argv, the environment or a file."""
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # it died at once: its stderr says why
        process.stdin.write(key.hex() + "\n")
        process.stdin.flush()
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()


@dataclass
class _Watcher:
    """Reader threads for the child's stdout (JSON lines, to a queue) and stderr (kept tail)."""

    process: subprocess.Popen[str]
    lines: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_LINES))
    threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        for target, stream in (
            (self._read_stdout, self.process.stdout),
            (self._read_stderr, self.process.stderr),
        ):
            thread = threading.Thread(target=target, args=(stream,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            parsed = _parse_line(line)
            if parsed is not None:
                self.lines.put(parsed)
        self.lines.put(None)  # end of output

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self.stderr.append(line.rstrip("\n"))
            logger.debug("engine: %s", line.rstrip("\n"))  # the tail is kept for the job

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=10)

    def follow(self, reporter: EngineReporter, must_kill: Callable[[], bool]) -> EngineRun:
        """Relay lines until the output ends, stopping or killing the run when asked."""
        run = EngineRun(returncode=0)
        signalled: set[int] = set()
        while True:
            self._steer(run, reporter, must_kill, signalled)
            try:
                line = self.lines.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if line is None:
                break
            if not run.killed:
                _relay(line, run, reporter)
        run.returncode = self.process.wait()
        return run

    def _steer(
        self,
        run: EngineRun,
        reporter: EngineReporter,
        must_kill: Callable[[], bool],
        signalled: set[int],
    ) -> None:
        """Kill the run when it must die; otherwise ask it to stop when the reporter says so
        (every poll: a rank that starts late is signalled too)."""
        if run.killed:
            return
        if must_kill():
            _kill_tree(self.process)
            run.killed = True
        elif run.stop_requested or reporter.should_stop():
            run.stop_requested = True
            _terminate_engines(self.process, signalled)


def _parse_line(line: str) -> dict[str, Any] | None:
    """A JSON object line of the engine, or None for anything else on stdout."""
    if not line.startswith("{"):
        return None
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _relay(line: dict[str, Any], run: EngineRun, reporter: EngineReporter) -> None:
    kind = line.get("type")
    if kind == "log":
        metrics = {k: v for k, v in line.items() if k not in ("type", "step")}
        run.last_step = int(line.get("step", run.last_step))
        reporter.log(run.last_step, metrics)
    elif kind == "event" and line.get("kind") == "error":
        run.error = str(line.get("message", ""))
    elif kind == "event":
        reporter.event(str(line.get("kind", "")), str(line.get("message", "")))
    elif kind == "result":
        run.summary = line


def _engine_processes(process: subprocess.Popen[str]) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return psutil.Process(process.pid).children(recursive=True)
    return []


def _terminate_engines(process: subprocess.Popen[str], signalled: set[int]) -> None:
    """SIGTERM each engine process once (a second one, after the engine put its handlers back
    on its way out, would kill it before it prints its result)."""
    for child in _engine_processes(process):
        if child.pid not in signalled:
            signalled.add(child.pid)
            with contextlib.suppress(psutil.Error):
                child.send_signal(signal.SIGTERM)


def _kill_tree(process: subprocess.Popen[str]) -> None:
    """SIGKILL the engine processes (each in a session of its own) and torchrun."""
    for child in _engine_processes(process):
        with contextlib.suppress(psutil.Error):
            child.kill()
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


def last_exception_line(stderr: deque[str] | list[str]) -> str:
    """The last ``SomeError: message`` line of the engine's stderr (torchrun's own summary of
    the failure says only which rank failed, so it is skipped)."""
    for line in reversed(stderr):
        found = _EXCEPTION_LINE.match(line.strip())
        if found and "ChildFailedError" not in found.group(1):
            return found.group(1)[:500]
    return ""
