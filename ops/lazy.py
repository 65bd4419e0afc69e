"""Modules imported on first use, for heavy dependencies that most processes never touch."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """A stand-in for module ``__name__`` that imports it on the first attribute it lacks.

    It is deliberately NOT placed in ``sys.modules``: code that walks ``sys.modules`` and
    reads each module's ``__file__`` (``inspect.getmodule``, which torch calls while it
    imports itself, or Hypothesis) would otherwise trigger the import in the middle of
    another import. With ``importlib.util.LazyLoader`` that started PyTorch's import inside
    PyTorch's own import and left a half-initialized ``torch`` that broke every later import
    in the process (seen as collection errors when pytest's output went to a file).

    Attributes are read from the real module on every access, never copied, so a test that
    patches ``serving.generation.generate`` is seen through the stand-in too.
    """

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attribute)


def lazy_module(name: str) -> ModuleType:
    """Return module ``name``, imported on its first attribute access instead of now.

    Used where importing a module would pull in PyTorch (~300 MB of resident memory) into
    processes that never call it: the ingestion worker imports the URL configuration (Celery's
    Django fixup runs the system checks, which load every view) but never generates text.
    An already imported module is returned as is. Raises ImportError at once when ``name``
    does not exist, so a typo fails at start-up rather than at the first request.
    """
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        raise ImportError(f"no module named {name!r}")
    return _LazyModule(name)
