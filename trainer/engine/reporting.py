"""How the engine talks to its caller: the Reporter protocol, a throttle and simple reporters."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO, runtime_checkable


@runtime_checkable
class Reporter(Protocol):
    """Progress sink supplied by the caller (the Celery task, the CLI, tests).

    log() receives step-independent keys such as loss, lr, tokens_per_s, total_steps, eta_s,
    val_loss and gpu_mem_bytes; the engine calls it at most about once per `log_interval_s` and
    always at the last step. should_stop() is polled every step; True makes the engine
    checkpoint and return with `stopped=True`.
    """

    def log(self, step: int, metrics: dict[str, float]) -> None: ...

    def event(self, kind: str, message: str) -> None: ...

    def should_stop(self) -> bool: ...


class NullReporter:
    """Discards everything and never asks to stop."""

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Ignore metrics."""

    def event(self, kind: str, message: str) -> None:
        """Ignore events."""

    def should_stop(self) -> bool:
        """Never stop."""
        return False


class JsonLinesReporter:
    """Writes one JSON object per log() / event() line to a stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Print {"type": "log", "step": ..., **metrics}."""
        self._emit({"type": "log", "step": step, **metrics})

    def event(self, kind: str, message: str) -> None:
        """Print {"type": "event", "kind": ..., "message": ...}."""
        self._emit({"type": "event", "kind": kind, "message": message})

    def should_stop(self) -> bool:
        """The CLI is stopped with a signal, not through the reporter."""
        return False

    def _emit(self, payload: dict[str, object]) -> None:
        self.stream.write(json.dumps(payload) + "\n")
        self.stream.flush()


class Throttle:
    """Lets an action through at most once per `interval_s` of the given clock."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s, self.clock = interval_s, clock
        self._last: float | None = None

    def ready(self) -> bool:
        """True (and restart the interval) when the interval has passed since the last True."""
        now = self.clock()
        if self._last is not None and now - self._last < self.interval_s:
            return False
        self._last = now
        return True
