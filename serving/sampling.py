"""Sampling settings of a generation request: plain data, importable without PyTorch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingParams:
    """What a request asks of the decoder. ``max_tokens`` None means "as much as allowed".
    ``seed`` makes sampling repeatable (the same seed, prompt and settings give the same
    tokens on the same machine); it changes nothing at temperature 0, which is greedy."""

    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
