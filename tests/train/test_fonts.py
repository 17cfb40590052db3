"""lmlab.train.fonts: a CJK font when a text needs one and one is installed; else no glyph warnings."""

from __future__ import annotations

import warnings

from lmlab.train.fonts import font_families, missing_glyphs, needs_cjk
from lmlab.train.metrics import plot_loss


def test_a_cjk_font_is_chosen_only_when_the_text_needs_one():
    installed = ["DejaVu Sans", "Noto Sans CJK SC"]
    assert needs_cjk(["唐诗"]) and needs_cjk(["ひらがな"]) and not needs_cjk(["runs/shakespeare", "café"])
    assert font_families(["runs/唐诗"], installed) == ["Noto Sans CJK SC", "DejaVu Sans"]
    assert font_families(["runs/shakespeare"], installed) == ["DejaVu Sans"]
    assert not missing_glyphs(["唐诗"], installed) and missing_glyphs(["唐诗"], ["DejaVu Sans"])
    assert not missing_glyphs(["le chat"], ["DejaVu Sans"])


def test_plot_loss_with_a_cjk_title_makes_no_warnings(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"step": 1, "loss": 4.0}\n{"step": 2, "loss": 3.5, "val_loss": 3.6}\n', encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_loss(metrics, tmp_path / "loss.png", title="唐诗三百首")
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert not [w for w in caught if "Glyph" in str(w.message)]
