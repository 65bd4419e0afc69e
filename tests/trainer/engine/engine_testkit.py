"""Helpers shared by the engine tests (imported by name: the test directory is on sys.path)."""

from __future__ import annotations

TEXTS = [
    f"Invoice {i}: the customer in Valencia paid {i * 7} euros for the quick brown fox service."
    * (1 + i % 3)
    for i in range(40)
]
QA = [{"prompt": f"What is {i} plus {i}?", "completion": f"It is {2 * i}."} for i in range(40)]


class RecordingReporter:
    """Reporter that records everything; stops after `stop_after` should_stop() calls, or raises
    `crash` on the given call (simulates a worker dying mid-run)."""

    def __init__(self, stop_after: int | None = None, crash_at: int | None = None) -> None:
        self.logs: list[tuple[int, dict[str, float]]] = []
        self.events: list[tuple[str, str]] = []
        self.calls = 0
        self.stop_after, self.crash_at = stop_after, crash_at

    def log(self, step: int, metrics: dict[str, float]) -> None:
        self.logs.append((step, dict(metrics)))

    def event(self, kind: str, message: str) -> None:
        self.events.append((kind, message))

    def should_stop(self) -> bool:
        self.calls += 1
        if self.crash_at is not None and self.calls == self.crash_at:
            raise RuntimeError("simulated worker crash")
        return self.stop_after is not None and self.calls > self.stop_after
