"""Charts drawn on the server as inline SVG: no script, so the page's CSP stays as it is.

``daily_bars`` is a pure function of its points; every label is escaped and each bar carries a
``<title>`` that browsers show on hover (and screen readers read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36


@dataclass(frozen=True)
class DayValue:
    """One bar: a day and its value (requests, tokens...)."""

    day: date
    value: int


def fill_days(values: dict[date, int], last: date, days: int) -> list[DayValue]:
    """The ``days`` days ending at ``last`` in order, each with its value (0 when missing)."""
    first = last - timedelta(days=days - 1)
    return [
        DayValue(first + timedelta(days=i), values.get(first + timedelta(days=i), 0))
        for i in range(days)
    ]


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value`` (1 for 0)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def daily_bars(points: list[DayValue], *, label: str, unit: str) -> SafeString:
    """An SVG bar chart of ``points`` with a y axis (0, half, top), the first, middle and last
    days under the x axis, and a hover title per bar such as ``2026-12-05: 3 requests``."""
    top = nice_ceiling(max((p.value for p in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        _axes(top, plot_w, plot_h, unit),
    ]
    for i, point in enumerate(points):
        height = plot_h * point.value / top
        x, y = LEFT + i * slot + slot * 0.15, TOP + plot_h - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{max(height, 0):.1f}" fill="#2f6fab">'
            f"<title>{point.day.isoformat()}: {point.value} {escape(unit)}</title></rect>"
        )
    parts.extend(_day_labels(points, slot))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every label above went through escape()


def _axes(top: int, plot_w: float, plot_h: float, unit: str) -> str:
    bottom = TOP + plot_h
    lines = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#555"/>',
        f'<line x1="{LEFT}" y1="{bottom}" x2="{LEFT + plot_w}" y2="{bottom}" stroke="#555"/>',
    ]
    for value in (0, top / 2, top):
        y = bottom - plot_h * value / top
        text = f"{value:g}"
        lines.append(
            f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#333">{text}</text>'
        )
    lines.append(
        f'<text x="12" y="{TOP + plot_h / 2:.1f}" font-size="11" fill="#333" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})" text-anchor="middle">'
        f"{escape(unit)}</text>"
    )
    return "".join(lines)


def _day_labels(points: list[DayValue], slot: float) -> list[str]:
    if not points:
        return []
    last = len(points) - 1
    chosen = sorted({0, last // 2, last})
    anchor = {0: "start", last: "end"}
    return [
        f'<text x="{LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
        f'fill="#333" text-anchor="{anchor.get(i, "middle")}">{points[i].day.isoformat()}</text>'
        for i in chosen
    ]
