"""docs/architecture.md stays true about where things are: every repository path it quotes
(in backticks, starting with a top-level folder of the project) exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUOTED = re.compile(r"`([A-Za-z_][\w./-]*)`")


def quoted_paths(text: str) -> set[str]:
    tops = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    found = set()
    for token in QUOTED.findall(text):
        first = token.split("/")[0]
        if "/" in token and first in tops and not token.startswith(("var/", "static/vendor")):
            found.add(token.split(":")[0])
    return found


def test_every_path_in_the_architecture_document_exists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    paths = quoted_paths(text)
    assert len(paths) > 20  # the document does name its modules
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists())
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"
