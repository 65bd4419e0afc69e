"""``ops.lazy.lazy_module``: the module is imported on first use only, and walking
``sys.modules`` (as ``inspect.getmodule`` does inside torch's own import) never imports it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ops.lazy import lazy_module


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_module_is_imported_on_first_attribute_access_only() -> None:
    out = _run(
        """
        import sys
        from ops.lazy import lazy_module
        m = lazy_module("json.tool")
        before = "json.tool" in sys.modules
        m.main
        print(before, "json.tool" in sys.modules)
        """
    )
    assert out == "False True"


def test_walking_sys_modules_reading_file_does_not_import_it() -> None:
    out = _run(
        """
        import sys
        from ops.lazy import lazy_module
        lazy_module("json.tool")
        for module in list(sys.modules.values()):
            getattr(module, "__file__", None)
        print("json.tool" in sys.modules)
        """
    )
    assert out == "False"


def test_torch_imports_whole_after_a_lazy_generation_module_exists() -> None:
    """The bug this guards: a lazily loaded ``serving.generation`` in ``sys.modules`` was
    executed by torch's own ``inspect.getmodule`` walk, re-entering torch's import."""
    out = _run(
        """
        import os, django
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
        django.setup()
        from ops.lazy import lazy_module
        generation = lazy_module("serving.generation")
        import inspect
        import torch
        inspect.getmodule(torch.nn.Linear)
        print(hasattr(torch, "library"), callable(generation.generate))
        """
    )
    assert out == "True True"


def test_an_unknown_module_fails_at_once() -> None:
    with pytest.raises(ImportError):
        lazy_module("serving.no_such_module")


def test_a_patched_attribute_of_the_real_module_is_seen_through_the_stand_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json.tool

    proxy = lazy_module("json.tool") if "json.tool" not in sys.modules else json.tool
    monkeypatch.setattr(json.tool, "main", lambda: "patched")
    assert proxy.main() == "patched"
