"""Fonts for the text in lmlab's plots (loss.png titles, attention-map labels).

matplotlib draws with DejaVu Sans, which has no Chinese, Japanese or Korean glyphs: a run named 唐诗 gets
empty boxes and a "Glyph … missing from font(s)" warning at every save. So: when a text needs those
glyphs, draw it with an installed font that has them (matplotlib's font list, which it builds from the
system's fonts, as `fc-list` shows them); when none is installed, draw without the warnings and say so
once per process.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterable, Iterator

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "AR PL UMing CN", "Noto Sans CJK JP",
             "Noto Sans CJK KR")
DEFAULT = "DejaVu Sans"
_noted: set[str] = set()


def needs_cjk(texts: Iterable[str]) -> bool:
    """Whether any text has a character from the CJK blocks (U+2E80 on: radicals, kana, Hangul, ideographs)."""
    return any(ord(c) >= 0x2E80 for t in texts for c in t)


def cjk_fonts(installed: Iterable[str] | None = None) -> list[str]:
    """The fonts of CJK_FONTS that are installed (`installed`: font names; default: matplotlib's list)."""
    if installed is None:
        from matplotlib import font_manager
        installed = (f.name for f in font_manager.fontManager.ttflist)
    names = set(installed)
    return [f for f in CJK_FONTS if f in names]


def font_families(texts: Iterable[str], installed: Iterable[str] | None = None) -> list[str]:
    """The font family list to draw `texts` with: a CJK font first when they need one and one is installed."""
    texts = list(texts)
    return [*cjk_fonts(installed), DEFAULT] if needs_cjk(texts) else [DEFAULT]


def missing_glyphs(texts: Iterable[str], installed: Iterable[str] | None = None) -> bool:
    """True when `texts` need CJK glyphs that no installed font has."""
    texts = list(texts)
    return needs_cjk(texts) and not cjk_fonts(installed)


def note_once(key: str, message: str) -> None:
    """Print `message` on stderr the first time `key` is seen in this process."""
    if key not in _noted:
        _noted.add(key)
        print(message, file=sys.stderr)


@contextlib.contextmanager
def quiet_glyphs() -> Iterator[None]:
    """matplotlib's "Glyph … missing from font(s)" warnings silenced (the caller has said so once)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        yield
