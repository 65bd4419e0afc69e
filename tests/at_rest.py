"""Searching the data dir for plaintext, safely.

The search runs in a separate ``grep`` process on purpose: opening and closing the SQLite
database file from the test process would release the POSIX locks SQLite holds on it (locks are
per process), and another connection would then delete the WAL while it is still in use.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def files_containing(root: Path, needle: str) -> list[str]:
    """Paths of every file under ``root`` whose bytes contain ``needle`` (binary-safe)."""
    result = subprocess.run(
        ["grep", "-rlaF", "--", needle, str(root)], capture_output=True, text=True, check=False
    )
    if result.returncode not in (0, 1):  # 1 means "no match"
        raise RuntimeError(f"grep failed: {result.stderr}")
    return result.stdout.split()
