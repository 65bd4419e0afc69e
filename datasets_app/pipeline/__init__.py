"""Ingestion pipeline: parsing, cleaning, personal-data detection, redaction.

Importing this package imports the NLP libraries (spaCy's numeric backend thinc, and Presidio)
with PyTorch and transformers hidden, when the process has not imported them yet. thinc imports
torch only to offer PyTorch-backed layers, and Presidio imports transformers' pipelines (hence
torch) only for its optional transformer NER engine; the small CNN pipelines used here need
neither. Without this, PyTorch adds about 400 MB to every ingestion worker process (measured
with both spaCy models loaded: 590 MB with it, 195 MB without). Processes that already imported
torch (training, serving) are unaffected, and importing torch or transformers works normally
afterwards: only thinc and Presidio believe they are absent.

Presidio is also told to run on the CPU (PRESIDIO_DEVICE), which keeps it from importing
PyTorch to look for a GPU: an ingestion worker that happens to run on a GPU machine must not
take GPU memory from training.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

os.environ.setdefault("PRESIDIO_DEVICE", "cpu")


@contextmanager
def _absent(names: list[str]) -> Iterator[None]:
    """Make `import name` raise ImportError for each of `names` (none of them imported yet)."""
    for name in names:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in names:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def _import_nlp_libraries() -> None:
    with _absent([name for name in ("torch", "transformers") if name not in sys.modules]):
        import presidio_analyzer.nlp_engine  # noqa: F401
        import thinc.compat  # noqa: F401


_import_nlp_libraries()
