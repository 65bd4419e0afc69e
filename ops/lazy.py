"""Modules imported on first use, for heavy dependencies that most processes never touch."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """Return module `name`, executed on its first attribute access instead of now.

    Used where importing a module would pull in PyTorch (~300 MB of resident memory) into
    processes that never call it: the ingestion worker imports the URL configuration (Celery's
    Django fixup runs the system checks, which load every view) but never generates text.
    An already imported module is returned as is.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
