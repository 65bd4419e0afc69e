"""The evaluation library imports no Django, and checking a bundle loads no PyTorch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_evaluation_imports_no_django_and_bundle_checks_stay_light() -> None:
    code = (
        "import sys\n"
        "import evaluation.harness.bundle, evaluation.harness.task_config, evaluation.stats\n"
        "import evaluation.judge\n"
        "assert 'torch' not in sys.modules, 'bundle checks loaded torch'\n"
        "import evaluation.harness.lm, evaluation.harness.run, evaluation.harness.tasks\n"
        "import serving.scoring\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=180, env=env)
