"""lmlab BERT <-> Hugging Face BERT: same hidden states and logits both ways, exact round trips, refusals.

Tolerance: fp32 outputs agree to TOL = 1e-5 (max abs difference) on random ids with segments and
right padding. Hidden states are compared at real tokens only (padding's own states are meaningless);
the pooled output is read at [CLS]. HF runs its eager attention, lmlab its default (sdpa).
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from lmlab.errors import LmlabError
from lmlab.io.hf_bert import bert_config_from_hf, hf_config_from_bert, load_hf_bert, save_hf_bert
from lmlab.models.bert import (
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from lmlab.runs.hf import load_hf, save_hf

transformers = pytest.importorskip("transformers")
from transformers import BertConfig as HFBertConfig  # noqa: E402
from transformers import BertForMaskedLM as HFBertForMaskedLM  # noqa: E402
from transformers import BertForPreTraining as HFBertForPreTraining  # noqa: E402
from transformers import BertForSequenceClassification as HFBertForSequenceClassification  # noqa: E402
from transformers import BertForTokenClassification as HFBertForTokenClassification  # noqa: E402
from transformers import BertModel as HFBertModel  # noqa: E402

TOL = 1e-5
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256, vocab_size=500,
             max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
OURS = BertConfig(vocab_size=500, max_seq_len=128, d_model=64, n_heads=4, n_layers=3, dropout=0.0)  # d_ff 256
B, T = 3, 20


def _jitter_(model: torch.nn.Module, seed: int = 1, scale: float = 0.05) -> None:
    """Add noise to every parameter so zero biases and unit LayerNorm gains are tested too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def _hf(cls, **overrides):
    torch.manual_seed(0)
    model = cls(HFBertConfig(**{**SMALL, **overrides}, attn_implementation="eager"))
    _jitter_(model)
    return model.eval()


def _inputs(vocab_size: int = 500):
    """ids (B, T), segments 0…0 1…1, right padding: lengths T, 13, 7."""
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(1, vocab_size, (B, T), generator=g)
    lengths = torch.tensor([T, 13, 7])
    mask = torch.arange(T)[None] < lengths[:, None]                      # (B, T) True = real
    ids = ids.masked_fill(~mask, 0)
    seg = (torch.arange(T)[None] >= (lengths // 2)[:, None]).long() * mask
    return ids, seg, mask


def _diff_real(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    return (a[mask] - b[mask]).abs().max().item()


def _compare(hf, ours) -> dict[str, float]:
    """Max differences of every output the two models share, on the padded batch."""
    ids, seg, mask = _inputs()
    with torch.no_grad():
        h = hf(input_ids=ids, token_type_ids=seg, attention_mask=mask.long())
        o = ours(ids, seg, mask)
    if isinstance(ours, BertModel):
        return {"hidden": _diff_real(h.last_hidden_state, o.hidden, mask),
                "pooled": (h.pooler_output - o.pooled).abs().max().item()}
    if isinstance(ours, BertForPreTraining):
        return {"mlm": _diff_real(h.prediction_logits, o.mlm_logits, mask),
                "nsp": (h.seq_relationship_logits - o.nsp_logits).abs().max().item()}
    return {"logits": (h.logits - o).abs().max().item()}


# ------------------------------------------------------------------------------- HF -> lmlab ---

PAIRS = [(HFBertModel, BertModel), (HFBertForPreTraining, BertForPreTraining), (HFBertForMaskedLM, BertForMaskedLM),
         (HFBertForSequenceClassification, BertForSequenceClassification),
         (HFBertForTokenClassification, BertForTokenClassification)]
CLASSIFIERS = (BertForSequenceClassification, BertForTokenClassification)


@pytest.mark.parametrize("hf_cls,ours_cls", PAIRS)
def test_import_matches_hf(tmp_path, hf_cls, ours_cls):
    hf = _hf(hf_cls, num_labels=3)
    hf.save_pretrained(tmp_path)
    ours = load_hf_bert(tmp_path).eval()                                  # head from architectures
    assert type(ours) is ours_cls
    assert type(load_hf(tmp_path)) is ours_cls                            # the model_type dispatcher
    diffs = _compare(hf, ours)
    assert max(diffs.values()) <= TOL, diffs
    if hasattr(ours, "mlm"):
        assert ours.mlm.decoder.weight is ours.bert.emb.tok_emb.weight
    if isinstance(ours, CLASSIFIERS):
        assert ours.classifier.out_features == 3


def test_import_four_layers_tanh_gelu_and_segments(tmp_path):
    hf = _hf(HFBertForPreTraining, num_hidden_layers=4, hidden_act="gelu_new", type_vocab_size=3)
    hf.save_pretrained(tmp_path)
    ours = load_hf_bert(tmp_path, head="pretraining").eval()
    assert ours.cfg.activation == "gelu" and ours.cfg.type_vocab_size == 3 and ours.cfg.n_layers == 4
    assert max(_compare(hf, ours).values()) <= TOL


def test_encoder_of_a_pretraining_checkpoint_and_a_fresh_classifier(tmp_path):
    hf = _hf(HFBertForPreTraining)
    hf.save_pretrained(tmp_path)
    base = load_hf_bert(tmp_path, head="base").eval()                     # heads dropped
    assert max(_compare(hf.bert, base).values()) <= TOL
    with pytest.warns(UserWarning, match="classifier.weight"):
        clf = load_hf_bert(tmp_path, head="sequence")                     # classifier newly initialised
    torch.testing.assert_close(clf.bert.pooler.dense.weight, hf.bert.pooler.dense.weight, rtol=0, atol=0)
    mlm = load_hf_bert(tmp_path, head="mlm").eval()                       # pooler and NSP dropped
    assert mlm.bert.pooler is None
    ids, seg, mask = _inputs()
    with torch.no_grad():
        assert _diff_real(hf(ids, mask.long(), seg).prediction_logits, mlm(ids, seg, mask), mask) <= TOL


# ------------------------------------------------------------------------------- lmlab -> HF ---

@pytest.mark.parametrize("hf_cls,ours_cls", PAIRS)
def test_export_loads_in_hf_and_matches(tmp_path, hf_cls, ours_cls):
    torch.manual_seed(0)
    ours = ours_cls(OURS, 4) if ours_cls in CLASSIFIERS else ours_cls(OURS)
    _jitter_(ours)
    ours.eval()
    assert save_hf(ours, tmp_path / "hf") == "bert"                      # the dispatcher
    hf_cfg = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert hf_cfg["model_type"] == "bert" and hf_cfg["architectures"] == [hf_cls.__name__]
    hf, info = hf_cls.from_pretrained(tmp_path / "hf", output_loading_info=True, attn_implementation="eager")
    hf.eval()
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    diffs = _compare(hf, ours)
    assert max(diffs.values()) <= TOL, diffs


def test_round_trip_is_bit_exact(tmp_path):
    torch.manual_seed(0)
    ours = BertForPreTraining(OURS)
    _jitter_(ours)
    save_hf_bert(ours, tmp_path / "a")
    back = load_hf_bert(tmp_path / "a")
    assert back.cfg == ours.cfg
    sd, sd_back = ours.state_dict(), back.state_dict()
    assert sd.keys() == sd_back.keys()
    assert all(torch.equal(sd[k], sd_back[k]) for k in sd)
    save_hf_bert(back, tmp_path / "b")
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "cls.predictions.decoder.weight" not in a                     # tied: saved once, as HF does


def test_token_classification_and_mlm_round_trip(tmp_path):
    for model in (BertForTokenClassification(OURS, 5), BertForMaskedLM(OURS)):
        save_hf_bert(model, tmp_path / type(model).__name__)
        back = load_hf_bert(tmp_path / type(model).__name__)
        assert type(back) is type(model)
        ids, seg, mask = _inputs()
        with torch.no_grad():
            assert torch.equal(model.eval()(ids, seg, mask), back.eval()(ids, seg, mask))


def test_config_round_trip():
    hf = hf_config_from_bert(OURS)
    assert hf["intermediate_size"] == 256 and hf["hidden_act"] == "gelu"
    assert bert_config_from_hf(hf) == OURS
    default = BertConfig()
    assert bert_config_from_hf(hf_config_from_bert(default)) == default   # d_ff 0 <-> 4 * hidden_size


# --------------------------------------------------------------------------------- refusals ---

@pytest.mark.parametrize("field,value", [("position_embedding_type", "relative_key"), ("is_decoder", True),
                                         ("add_cross_attention", True), ("hidden_act", "silu"),
                                         ("model_type", "roberta")])
def test_refuses_what_lmlab_cannot_compute(field, value):
    with pytest.raises(LmlabError, match=field if field != "model_type" else "roberta"):
        bert_config_from_hf({**hf_config_from_bert(OURS), field: value})


def test_mean_pooling_classifier_matches_hf_encoder_states(tmp_path):
    """pooling="mean": logits = classifier(mean of HF BertModel's last_hidden_state over real tokens),
    as sentence-transformers pools; a mean classifier has no HF twin, so export refuses it."""
    hf = _hf(HFBertModel)
    hf.save_pretrained(tmp_path / "hf")
    clf = BertForSequenceClassification(load_hf_bert(tmp_path / "hf", head="base"), 4, pooling="mean").eval()
    ids, seg, mask = _inputs()
    with torch.no_grad():
        states = hf(input_ids=ids, token_type_ids=seg, attention_mask=mask.long()).last_hidden_state  # (B, T, C)
        m = mask.unsqueeze(-1).float()
        expected = clf.classifier((states * m).sum(1) / m.sum(1))
        assert (clf(ids, seg, mask) - expected).abs().max().item() <= TOL
    with pytest.raises(LmlabError, match="mean pooling"):
        save_hf_bert(clf, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_refuses_pre_ln_export_and_untied_mlm(tmp_path):
    with pytest.raises(LmlabError, match="norm_first"):
        save_hf_bert(BertModel(BertConfig(**{**OURS.__dict__, "norm_first": True})), tmp_path / "x")
    assert not (tmp_path / "x").exists()
    _hf(HFBertForPreTraining, tie_word_embeddings=False).save_pretrained(tmp_path / "untied")
    with pytest.raises(LmlabError, match="tie_word_embeddings"):
        load_hf_bert(tmp_path / "untied")


def test_refuses_unknown_tensors_and_heads(tmp_path):
    save_hf_bert(BertModel(OURS), tmp_path / "m")
    sd = load_file(tmp_path / "m" / "model.safetensors")
    sd["encoder.layer.0.attention.self.distance_embedding.weight"] = torch.zeros(3, 64)
    from safetensors.torch import save_file
    save_file(sd, str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(LmlabError, match="distance_embedding"):
        load_hf_bert(tmp_path / "m")
    with pytest.raises(LmlabError, match="unknown head"):
        load_hf_bert(tmp_path / "m", head="multiple-choice")


# ------------------------------------------------------------------------------------ Pre-LN ---

def test_pre_ln_runs_and_differs():
    torch.manual_seed(0)
    post = BertModel(OURS).eval()
    _jitter_(post, scale=0.3)                                            # sub-layers that matter
    pre = BertModel(BertConfig(**{**OURS.__dict__, "norm_first": True})).eval()
    own = pre.state_dict()
    pre.load_state_dict({**own, **{k: v for k, v in post.state_dict().items() if k in own}})  # same shared weights
    ids, seg, mask = _inputs()
    with torch.no_grad():
        a, b = post(ids, seg, mask), pre(ids, seg, mask)
    assert torch.isfinite(b.hidden).all() and b.pooled.shape == (B, 64)
    assert (a.hidden - b.hidden)[mask].abs().max() > 1e-2
