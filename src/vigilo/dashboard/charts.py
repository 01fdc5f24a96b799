"""Bar charts as inline SVG, drawn on the server (no chart library, no script)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 36, 8, 12, 34


def _ticks(top: int) -> list[int]:
    step = max(1, -(-top // 4))
    return list(range(0, top + 1, step))


def bar_chart(bars: Sequence[tuple[str, int]], title: str, label_every: int = 1) -> Markup:
    """One bar per `(label, count)`; every `label_every`-th label is written under its bar."""
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    top = max([count for _, count in bars] + [1])
    ticks = _ticks(top)
    top = max(top, ticks[-1])
    slot = inner_w / max(1, len(bars))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in ticks:
        y = PAD_TOP + inner_h - inner_h * tick / top
        parts.append(f'<line class="grid" x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    for index, (label, count) in enumerate(bars):
        height = inner_h * count / top
        x = PAD_LEFT + index * slot + slot * 0.15
        y = PAD_TOP + inner_h - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
        if index % label_every == 0:
            cx = PAD_LEFT + index * slot + slot / 2
            parts.append(
                f'<text class="label" x="{cx:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
