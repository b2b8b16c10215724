"""WCAG 2 contrast of CSS colours, for tests that check pages people read."""

from __future__ import annotations

import re

AA_TEXT = 4.5


def luminance(css: str) -> float:
    """Relative luminance of "rgb(r, g, b)" or "#rrggbb"."""
    if css.startswith("#"):
        channels = [int(css[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    else:
        channels = [int(v) / 255 for v in re.findall(r"\d+", css)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def visible_texts_js(selector: str) -> str:
    """A page function: [text, its colour, the first opaque background behind it] for every
    visible element matching `selector` that has text."""
    return f"""() => [...document.querySelectorAll('{selector}')]
  .filter(e => e.offsetParent !== null && e.textContent.trim())
  .map(e => {{
    let b = e, bg = 'rgba(0, 0, 0, 0)';
    while (b && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {{
      bg = getComputedStyle(b).backgroundColor; b = b.parentElement;
    }}
    return [e.textContent.trim().slice(0, 30), getComputedStyle(e).color, bg];
  }})"""
