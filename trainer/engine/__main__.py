"""Entry point: `python -m trainer.engine --config job.json` (see cli.py)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
