"""Configuration fails loudly on bad values, secrets come from *_FILE, offline switches hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from platform_site.env import ConfigurationError, env_bool, env_int, env_str

ROOT = Path(__file__).resolve().parents[1]


def test_bad_integer_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOBERANA_X", "ten")
    with pytest.raises(ConfigurationError, match="SOBERANA_X"):
        env_int("SOBERANA_X", 1)


def test_bad_boolean_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOBERANA_FLAG", "maybe")
    with pytest.raises(ConfigurationError, match="SOBERANA_FLAG"):
        env_bool("SOBERANA_FLAG", False)


def test_secret_is_read_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("SOBERANA_THING_FILE", str(secret))
    assert env_str("SOBERANA_THING") == "s3cr3t"
    monkeypatch.setenv("SOBERANA_THING", "also")
    with pytest.raises(ConfigurationError, match="not both"):
        env_str("SOBERANA_THING")


def _django_check(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SOBERANA_", "DATABASE_"))}
    base.update({"SOBERANA_DATA_DIR": str(tmp_path)}, **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = _django_check(
        {"SOBERANA_ENV": "production", "SOBERANA_ALLOWED_HOSTS": "x.org"}, tmp_path
    )
    assert result.returncode != 0
    assert "SOBERANA_SECRET_KEY" in result.stderr


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    result = _django_check(
        {
            "SOBERANA_ENV": "production",
            "SOBERANA_ALLOWED_HOSTS": "x.org",
            "SOBERANA_SECRET_KEY": "Zq8#vP2!mW7@xL4$nR9%tY3^bH6&-aK1" * 2,
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_offline_switches_are_forced() -> None:
    from platform_site.offline import OFFLINE_ENVIRONMENT

    for name, value in OFFLINE_ENVIRONMENT.items():
        assert os.environ[name] == value, name


def test_the_engine_entry_point_forces_offline_before_torch_loads() -> None:
    """``python -m trainer.engine`` runs alone under torchrun, without Django: its first import
    sets the switches, even over an operator's ``HF_HUB_OFFLINE=0``, before torch or
    transformers are imported."""
    probe = (
        "import os, sys\n"
        "import trainer.engine.offline\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "import trainer.engine.__main__\n"
        "print(os.environ['HF_HUB_OFFLINE'], os.environ['HF_DATASETS_OFFLINE'])\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]
    main = (Path(__file__).parents[1] / "trainer" / "engine" / "__main__.py").read_text()
    imports = [line for line in main.splitlines() if line.startswith(("from ", "import "))]
    first_engine_import = next(line for line in imports if line.startswith("from ."))
    assert first_engine_import.startswith("from . import offline")
