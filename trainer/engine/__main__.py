"""Entry point: `python -m trainer.engine --config job.json` (see cli.py)."""

import sys

from . import offline  # noqa: F401  (first: the offline switches before torch or transformers load)
from .cli import main

if __name__ == "__main__":
    sys.exit(main())
