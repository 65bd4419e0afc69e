"""Screenshots of pages for docs/screenshots/: taken only when SOBERANA_SCREENSHOTS_DIR is set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def save_screenshot(page: Any, name: str) -> Path | None:
    """Save ``<SOBERANA_SCREENSHOTS_DIR>/<name>.png`` of the whole page; None when unset."""
    folder = os.environ.get("SOBERANA_SCREENSHOTS_DIR")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1100, "height": 800})
    page.screenshot(path=str(path), full_page=True)
    return path
