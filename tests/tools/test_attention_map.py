"""plot_attention: CJK fonts are mentioned only when the tokens have CJK characters (an en→fr map never
asks for Chinese fonts), and no glyph warnings either way."""

from __future__ import annotations

import warnings

import torch

from lmlab.tools.attention_map import plot_attention
from lmlab.train.fonts import cjk_fonts


def draw(tmp_path, src, tgt, title="cross-attention"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ok = plot_attention(torch.rand(len(tgt), len(src)).softmax(-1), src, tgt, tmp_path / "a.png", title)
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert not [w for w in caught if "Glyph" in str(w.message)]
    return ok


def test_latin_tokens_never_ask_for_a_cjk_font(tmp_path):
    assert draw(tmp_path, ["File", " not", " found", "EOS"], ["Fichier", " introuvable", "EOS"]) is True


def test_cjk_tokens_report_whether_a_font_was_found(tmp_path):
    assert draw(tmp_path, ["File", "EOS"], ["文件", "EOS"], title="en → zh 文件") is bool(cjk_fonts())
