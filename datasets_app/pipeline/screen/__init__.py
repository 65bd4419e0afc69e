"""The poisoning and backdoor screen: pure, streaming detectors over plain record dicts.

Each detector keeps bounded state (sketches, samples, windows) however many records it
sees, and reports flags with a reason that never quotes the data, a score in [0, 1], its
name, and escaped evidence that does (store it encrypted). No Django, no PyTorch:
perplexities are computed on the training queue and scored with ``perplexity_outliers``.
See ``docs/data-sources.md`` for what each detector catches and misses.
"""

from datasets_app.pipeline.screen.model import Flag, RecordView
from datasets_app.pipeline.screen.outliers import (
    PerplexityScore,
    perplexity_outliers,
    records_to_score,
)
from datasets_app.pipeline.screen.screening import (
    DETECTORS,
    SCREEN_VERSION,
    Screen,
    ScreenConfig,
    ScreenReport,
    screen_records,
)
from datasets_app.pipeline.screen.text import hidden_characters, render_hidden

__all__ = [
    "DETECTORS",
    "SCREEN_VERSION",
    "Flag",
    "PerplexityScore",
    "RecordView",
    "Screen",
    "ScreenConfig",
    "ScreenReport",
    "hidden_characters",
    "perplexity_outliers",
    "records_to_score",
    "render_hidden",
    "screen_records",
]
