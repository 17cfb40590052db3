"""lmlab BertForQuestionAnswering <-> Hugging Face BertForQuestionAnswering: start/end logits and the loss.

Tolerance: fp32 start and end logits agree to TOL = 1e-5 (max abs difference) at the real tokens of a
padded batch with two segments, both ways (an HF folder imported, an lmlab model exported); the span loss
(lmlab.train.objectives.span_extraction) equals HF's `loss` to 1e-6. HF runs eager attention, lmlab sdpa.
"""

from __future__ import annotations

import json

import pytest
import torch

from lmlab.io.hf_bert import load_hf_bert
from lmlab.models.bert import BertConfig, BertForQuestionAnswering, BertModel
from lmlab.runs.hf import save_hf
from lmlab.train.objectives import span_extraction

transformers = pytest.importorskip("transformers")

TOL = 1e-5
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256, vocab_size=500,
             max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
B, T = 3, 24


def _jitter_(model: torch.nn.Module, seed: int = 1, scale: float = 0.05) -> None:
    """Noise on every parameter, so zero biases and unit LayerNorm gains are tested too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def _inputs():
    """ids (B, T), question segment 0 then context segment 1, right padding: lengths T, 15, 9."""
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(1, 500, (B, T), generator=g)
    lengths = torch.tensor([T, 15, 9])
    mask = torch.arange(T)[None] < lengths[:, None]
    seg = (torch.arange(T)[None] >= 5).long() * mask
    return ids.masked_fill(~mask, 0), seg, mask


def _max_diff(hf, ours) -> float:
    ids, seg, mask = _inputs()
    with torch.no_grad():
        h = hf(input_ids=ids, token_type_ids=seg, attention_mask=mask.long())
        start, end = ours(ids, seg, mask)
    return max((h.start_logits - start)[mask].abs().max().item(), (h.end_logits - end)[mask].abs().max().item())


def test_import_matches_hf(tmp_path):
    torch.manual_seed(0)
    hf = transformers.BertForQuestionAnswering(transformers.BertConfig(**SMALL, attn_implementation="eager"))
    _jitter_(hf)
    hf.eval().save_pretrained(tmp_path)
    ours = load_hf_bert(tmp_path).eval()                                  # "auto": from architectures
    assert type(ours) is BertForQuestionAnswering and ours.bert.pooler is None
    assert _max_diff(hf, ours) <= TOL


def test_export_loads_in_hf_and_matches(tmp_path):
    torch.manual_seed(0)
    ours = BertForQuestionAnswering(BertConfig(vocab_size=500, max_seq_len=128, d_model=64, n_heads=4, n_layers=3,
                                               dropout=0.0))
    _jitter_(ours)
    ours.eval()
    assert save_hf(ours, tmp_path / "hf") == "bert"
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == ["BertForQuestionAnswering"]
    hf, info = transformers.BertForQuestionAnswering.from_pretrained(tmp_path / "hf", output_loading_info=True,
                                                                     attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert _max_diff(hf.eval(), ours) <= TOL


def test_span_loss_equals_hf_loss(tmp_path):
    torch.manual_seed(0)
    hf = transformers.BertForQuestionAnswering(transformers.BertConfig(**SMALL, attn_implementation="eager"))
    _jitter_(hf)
    hf.eval().save_pretrained(tmp_path)
    ours = load_hf_bert(tmp_path).eval()
    ids, seg, mask = _inputs()
    starts, ends = torch.tensor([7, 0, 5]), torch.tensor([9, 0, 8])      # the second window: "not here" ([CLS])
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=seg, attention_mask=mask.long(), start_positions=starts,
                 end_positions=ends).loss
        got = span_extraction(ours, {"input_ids": ids, "token_type_ids": seg, "attention_mask": mask,
                                     "start_positions": starts, "end_positions": ends})["loss"]
    assert abs(ref.item() - got.item()) <= 1e-6


def test_a_given_encoder_loses_its_pooler():
    encoder = BertModel(BertConfig(vocab_size=50, max_seq_len=16, d_model=32, n_heads=2, n_layers=1))
    qa = BertForQuestionAnswering(encoder)
    assert qa.bert is encoder and encoder.pooler is None
    start, end = qa(torch.randint(0, 50, (2, 7)))
    assert start.shape == end.shape == (2, 7)
    from lmlab.models.bert.presets import count_qa_parameters
    assert qa.num_parameters() == count_qa_parameters(qa.cfg)              # what `lmlab info` shows


def test_span_selection_equals_the_pipelines():
    """lmlab.tools.qa.window_spans against transformers' select_starts_ends (the softmax over [CLS] + context,
    [CLS] then zeroed, spans s ≤ e < s + max_answer_len, best first): same spans, scores to 1e-6."""
    np = pytest.importorskip("numpy")
    from transformers.pipelines.document_question_answering import select_starts_ends

    from lmlab.tools.qa import window_spans

    g = torch.Generator().manual_seed(5)
    T, offset, n = 20, 5, 12                                            # context tokens at positions 5 … 16
    for _ in range(5):
        start, end = torch.randn(T, generator=g) * 3, torch.randn(T, generator=g) * 3
        p_mask = np.ones(T, dtype=np.int64)
        p_mask[offset:offset + n] = 0
        p_mask[0] = 0                                                    # [CLS] may answer (and is zeroed)
        hs, he, hscores, _ = select_starts_ends(start.numpy()[None], end.numpy()[None], p_mask[None],
                                                np.ones((1, T), dtype=np.int64), top_k=6, max_answer_len=4)
        ours, _ = window_spans(start, end, {"offset": offset, "first": 0, "n": n}, max_answer_len=4, top_k=6)
        assert [(s + offset, e + offset) for _, s, e in ours] == list(zip(hs.tolist(), he.tolist()))
        assert np.allclose([v for v, _, _ in ours], hscores, rtol=1e-6, atol=1e-9)
