"""The engine is pure Python + torch: importing it must not pull in Django."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=180)


def test_engine_imports_no_django_and_config_validation_stays_light():
    # One interpreter for both checks (each fresh interpreter pays the torch import).
    _run(
        "import sys\n"
        "from trainer.engine import TrainConfig\n"
        "TrainConfig.from_dict({'base_model_dir': '/m', 'max_steps': 5})\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "import trainer.engine\n"
        "for name in trainer.engine.__all__: getattr(trainer.engine, name)\n"
        "import trainer.engine.cli, trainer.engine.evaluation\n"
        "assert not any(m.startswith('django') for m in sys.modules)"
    )
