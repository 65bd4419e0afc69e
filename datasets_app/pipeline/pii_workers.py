"""Forked detection workers that talk JSON over pipes (no pickle anywhere).

The parent has already loaded the spaCy pipelines and compiled every expression; ``os.fork``
gives each child a copy-on-write view of them, so starting a worker costs milliseconds and no
model is re-read. Requests and answers are ``json`` bytes sent with
``Connection.send_bytes``/``recv_bytes`` (which never unpickle). The parent works on one share
of every batch itself while the children do theirs (``ForkedWorkers.map``).

Children are forked with ``os.fork`` rather than ``multiprocessing.Process`` because
``multiprocessing`` refuses children to a daemonic process, and a Celery prefork child (where
the ingestion task runs) is one. What ``multiprocessing`` would guarantee is kept by hand: a
child never returns into the parent's code (it leaves with ``os._exit``), leaves on EOF (the
parent closed the pipe or died), takes the default action on termination signals (not the
parent's handlers), and is reaped when the pool closes or is garbage-collected.

``ForkedWorkers.create`` returns None where ``os.fork`` does not exist (Windows); callers then
run in-process.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from typing import Any

logger = logging.getLogger(__name__)
# Below this many characters a batch is not worth a JSON round trip to a child.
MIN_CHARS_FOR_POOL = 4_000
MAX_PROCESSES = 4
CHUNKS_PER_PROCESS = 4
PROCESSES_ENV = "SOBERANA_PII_PROCESSES"
_RESET_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
Handler = Callable[[Any], Any]
# The pools of this process, so that a newly forked child closes its copies of their pipes
# (their children must see EOF when the parent dies) and never runs their finalizers.
_LIVE_POOLS: weakref.WeakSet[ForkedWorkers] = weakref.WeakSet()


class WorkerError(RuntimeError):
    """A detection worker process failed or died."""


def default_processes() -> int:
    """Processes detection should use here: ``SOBERANA_PII_PROCESSES`` when set (a positive
    integer, else ValueError), otherwise the CPUs this process may run on, at most 4."""
    configured = os.environ.get(PROCESSES_ENV, "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ValueError(f"{PROCESSES_ENV} must be a positive integer, not {configured!r}")
        return int(configured)
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(MAX_PROCESSES, available))


def _serve(conn: Connection, handler: Handler) -> None:
    """Answer JSON requests with ``handler`` until EOF or a JSON ``null``."""
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            answer = handler(request)
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            conn.send_bytes(json.dumps(answer).encode())
        except OSError:  # the parent is gone
            return


def _child_main(conn: Connection, others: list[Connection], handler: Handler) -> None:
    """The whole life of a forked child: it never returns (``os._exit``)."""
    status = 1
    try:
        for name in _RESET_SIGNALS:
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        for pool in list(_LIVE_POOLS):  # other pools of the parent: theirs to stop, not ours
            pool._finalizer.detach()
            others.extend(pool._connections)
        for other in others:
            other.close()
        _serve(conn, handler)
        status = 0
    except BaseException:  # nothing may escape into the parent's code
        logger.exception("detection worker failed")
    finally:
        os._exit(status)


def _split_by_chars(sizes: Sequence[int], parts: int) -> list[range]:
    """``parts`` contiguous index ranges of roughly equal total size (order preserved; the
    last ones may be empty)."""
    total = sum(sizes)
    bounds, running = [0], 0
    for index, size in enumerate(sizes):
        if len(bounds) < parts and 0 < running >= total * len(bounds) / parts:
            bounds.append(index)
        running += size
    bounds += [len(sizes)] * (parts + 1 - len(bounds))
    return [range(bounds[i], bounds[i + 1]) for i in range(parts)]


def _shutdown(connections: list[Connection], pids: list[int]) -> None:
    for conn in connections:
        try:
            conn.send_bytes(b"null")
            conn.close()
        except OSError:
            pass
    deadline = time.monotonic() + 2
    for pid in pids:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done or time.monotonic() > deadline:
                if not done:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                break
            time.sleep(0.01)


class ForkedWorkers:
    """``n_children`` forked processes plus the parent share batches of JSON requests.

    ``handler`` turns one JSON-decoded request into a JSON-serialisable answer; the same
    handler answers the parent's own share, so a request gets the same answer wherever it runs.
    """

    def __init__(self, handler: Handler, n_children: int) -> None:
        self.handler = handler
        self._connections: list[Connection] = []
        self._pids: list[int] = []
        for _ in range(n_children):
            parent_end, child_end = Pipe()
            pid = os.fork()
            if pid == 0:
                _child_main(child_end, [*self._connections, parent_end], handler)
            child_end.close()
            self._connections.append(parent_end)
            self._pids.append(pid)
        self._finalizer = weakref.finalize(self, _shutdown, self._connections, self._pids)
        _LIVE_POOLS.add(self)

    @classmethod
    def create(cls, handler: Handler, n_process: int) -> ForkedWorkers | None:
        """A pool with ``n_process - 1`` children, or None (one process, or no ``os.fork``)."""
        if n_process <= 1 or not hasattr(os, "fork"):
            return None
        return cls(handler, n_process - 1)

    @property
    def processes(self) -> int:
        """Processes sharing each batch, the parent included."""
        return len(self._connections) + 1

    def worth_it(self, sizes: Sequence[int]) -> bool:
        """Only batches of several items and enough characters repay the round trip."""
        return len(sizes) > 1 and sum(sizes) >= MIN_CHARS_FOR_POOL

    def shares(self, sizes: Sequence[int]) -> list[range]:
        """How to split items of these sizes for ``map``: contiguous, non-empty ranges of
        similar total size, ``CHUNKS_PER_PROCESS`` per process (small enough that a process
        slowed down by other work on the machine holds the others up for one chunk only)."""
        chunks = _split_by_chars(sizes, self.processes * CHUNKS_PER_PROCESS)
        return [chunk for chunk in chunks if chunk]

    def map(self, requests: Sequence[Any]) -> list[Any]:
        """Answers to ``requests``, in order. Each idle child gets the next request; the
        parent answers one itself whenever no answer is waiting. Raises WorkerError when a
        child failed (after every child sent its answer back)."""
        answers: list[Any] = [None] * len(requests)
        queue = deque(range(len(requests)))
        busy: dict[Connection, int] = {}
        failures: list[str] = []
        idle = list(self._connections)
        try:
            while queue or busy:
                while idle and queue:
                    conn, index = idle.pop(), queue.popleft()
                    conn.send_bytes(json.dumps(requests[index]).encode())
                    busy[conn] = index
                ready = self._ready(busy, block=not queue)
                if not ready and queue:
                    index = queue.pop()  # from the end: children keep taking from the front
                    answers[index] = self.handler(requests[index])
                for conn in ready:
                    answer = self._receive(conn)
                    answers[busy.pop(conn)] = answer
                    if isinstance(answer, str):
                        failures.append(answer)
                        queue.clear()
                    else:
                        idle.append(conn)
        finally:
            for conn in list(busy):  # the parent failed: drain the children before leaving
                self._receive(conn)
        if failures:
            raise WorkerError(failures[0])
        return answers

    @staticmethod
    def _ready(busy: dict[Connection, int], *, block: bool) -> list[Connection]:
        """The busy children whose answer is waiting (all of them may be none when not
        ``block``; with ``block``, at least one unless none is busy)."""
        if not busy:
            return []
        waiting = set(wait(list(busy), timeout=None if block else 0))
        return [conn for conn in busy if conn in waiting]

    @staticmethod
    def _receive(conn: Connection) -> Any:
        """One decoded answer, or an error description (a string) when the child failed."""
        try:
            answer = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return "detection worker died"
        if isinstance(answer, dict) and "error" in answer:
            return str(answer["error"])
        return answer

    def close(self) -> None:
        """Stop the children (also done automatically when the pool is garbage-collected)."""
        self._finalizer()
