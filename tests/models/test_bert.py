"""lmlab BERT: shapes, masks, segments, composition of heads, init, presets and parameter counts."""

import pytest
import torch

from lmlab.errors import LmlabError
from lmlab.models.bert import (
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    count_parameters,
    preset,
)
from lmlab.models.bert.presets import PRESETS, PUBLISHED


def tiny(**kw):
    return BertConfig(**{**dict(vocab_size=60, max_seq_len=16, d_model=32, n_heads=4, n_layers=2, dropout=0.0), **kw})


def _ids(B=3, T=10, V=60):
    return torch.randint(1, V, (B, T), generator=torch.Generator().manual_seed(1))


def test_encoder_shapes_and_named_outputs():
    out = BertModel(tiny())(_ids())
    hidden, pooled = out                                              # unpacks as a tuple
    assert hidden.shape == (3, 10, 32) and pooled.shape == (3, 32)
    assert out.hidden is hidden and out.pooled is pooled
    assert pooled.abs().max() <= 1.0                                  # tanh
    assert BertModel(tiny(), pooler=False)(_ids()).pooled is None


def test_heads_shapes_and_tied_decoder():
    ids = _ids()
    pt = BertForPreTraining(tiny())
    mlm, nsp = pt(ids)
    assert mlm.shape == (3, 10, 60) and nsp.shape == (3, 2)
    assert pt.mlm.decoder.weight is pt.bert.emb.tok_emb.weight
    assert BertForMaskedLM(tiny())(ids).shape == (3, 10, 60)
    assert BertForSequenceClassification(tiny(), 5)(ids).shape == (3, 5)
    assert BertForTokenClassification(tiny(), 7)(ids).shape == (3, 10, 7)
    sel = torch.zeros(3, 10, dtype=torch.bool)
    sel[0, 2] = sel[2, 5] = True
    pt.eval()
    full = pt(ids).mlm_logits
    torch.testing.assert_close(pt(ids, mlm_mask=sel).mlm_logits, full[sel])   # (N, V) at the chosen positions


def test_heads_compose_with_a_given_encoder():
    torch.manual_seed(0)
    encoder = BertModel(tiny())
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    clf = BertForSequenceClassification(encoder, 3)
    assert clf.bert is encoder                                        # shared, not copied
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # head init left it alone
    mlm = BertForMaskedLM(encoder)
    assert mlm.mlm.decoder.weight is encoder.emb.tok_emb.weight
    with pytest.raises(ValueError, match="pooler"):
        BertForSequenceClassification(BertModel(tiny(), pooler=False))


def test_padding_does_not_change_real_tokens():
    model = BertModel(tiny()).eval()
    ids = _ids(1, 7)
    alone = model(ids)
    padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    mask = torch.tensor([[1] * 7 + [0] * 5])
    out = model(padded, attention_mask=mask)
    torch.testing.assert_close(out.hidden[:, :7], alone.hidden, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.pooled, alone.pooled, atol=1e-5, rtol=0)
    unmasked = model(padded)                                          # without the mask padding leaks in
    assert (unmasked.hidden[:, :7] - alone.hidden).abs().max() > 1e-3


def test_bidirectional_later_tokens_change_earlier_states():
    model = BertModel(tiny()).eval()
    x = _ids(2, 12)
    y = x.clone()
    y[:, -1] = (y[:, -1] + 1) % 60
    assert not torch.allclose(model(x).hidden[:, 0], model(y).hidden[:, 0])


def test_segments_default_to_sentence_a_and_matter():
    model = BertModel(tiny()).eval()
    ids = _ids()
    zeros, ones = torch.zeros_like(ids), torch.ones_like(ids)
    torch.testing.assert_close(model(ids).hidden, model(ids, zeros).hidden, atol=0, rtol=0)
    assert not torch.allclose(model(ids, zeros).hidden, model(ids, ones).hidden)


@pytest.mark.parametrize("backend", ["naive", "flash", "bmm"])
def test_attention_backends_agree_with_padding(backend):
    torch.manual_seed(0)
    a = BertModel(tiny()).eval()
    b = BertModel(tiny(attn_backend=backend)).eval()
    b.load_state_dict(a.state_dict())
    ids = _ids()
    mask = torch.arange(10)[None] < torch.tensor([10, 6, 3])[:, None]
    ha, hb = a(ids, attention_mask=mask), b(ids, attention_mask=mask)
    torch.testing.assert_close(ha.hidden[mask], hb.hidden[mask], atol=1e-5, rtol=0)  # fp32
    torch.testing.assert_close(ha.pooled, hb.pooled, atol=1e-5, rtol=0)


def test_dropout_only_in_training():
    model = BertModel(tiny(dropout=0.1))
    ids = _ids()
    assert not torch.equal(model(ids).hidden, model(ids).hidden)
    model.eval()
    assert torch.equal(model(ids).hidden, model(ids).hidden)


def test_bert_init():
    torch.manual_seed(0)
    model = BertForPreTraining(tiny(d_model=256, n_heads=4, vocab_size=2000))
    assert abs(model.bert.blocks[0].attn.q_proj.weight.std().item() - 0.02) < 0.001
    assert abs(model.bert.blocks[0].attn.out_proj.weight.std().item() - 0.02) < 0.001   # no GPT-2 scaling
    assert torch.all(model.bert.blocks[0].ff.up.bias == 0) and torch.all(model.mlm.decoder.bias == 0)
    assert torch.all(model.bert.emb.norm.weight == 1) and torch.all(model.bert.blocks[1].norm2.bias == 0)
    assert torch.all(model.bert.emb.tok_emb.weight[0] == 0)          # [PAD] row
    assert torch.all(model.nsp.bias == 0)


def test_pre_ln_has_a_final_norm():
    post, pre = BertModel(tiny()), BertModel(tiny(norm_first=True))
    assert isinstance(post.norm_f, torch.nn.Identity) and isinstance(pre.norm_f, torch.nn.LayerNorm)
    assert pre.num_parameters() == count_parameters(tiny(norm_first=True)) == post.num_parameters() + 2 * 32


def test_too_long_and_bad_configs():
    with pytest.raises(ValueError, match="longer"):
        BertModel(tiny())(_ids(1, 17))
    for kw, field in [(dict(d_model=30), "divisible"), (dict(dropout=1.0), "dropout"),
                      (dict(activation="swiglu"), "activation"), (dict(pad_id=60), "pad_id"),
                      (dict(type_vocab_size=0), "type_vocab_size"), (dict(attn_backend="x"), "attn_backend")]:
        with pytest.raises(ValueError, match=field):
            tiny(**kw)
    with pytest.raises(LmlabError, match="unknown preset"):
        preset("bert-huge")


def test_published_parameter_counts():
    assert count_parameters(preset("bert-base")) == 109_482_240
    assert count_parameters(preset("bert-large")) == 335_141_888
    for name in PRESETS:
        assert count_parameters(preset(name)) == PUBLISHED[name], name


@pytest.mark.parametrize("name", list(PRESETS))
def test_count_parameters_matches_built_model(name):
    with torch.device("meta"):                                        # shapes only: no memory, no init cost
        model = BertModel(preset(name))
        pt = BertForPreTraining(preset(name))
    assert model.num_parameters() == count_parameters(preset(name))
    C, V = model.cfg.d_model, model.cfg.vocab_size
    assert pt.num_parameters() == count_parameters(preset(name)) + (C * C + 3 * C) + V + (2 * C + 2)  # MLM + NSP


def test_mean_pooling_classifier_reads_real_tokens_only():
    torch.manual_seed(0)
    encoder = BertModel(tiny())
    clf = BertForSequenceClassification(encoder, 3, pooling="mean").eval()
    assert clf.bert.pooler is None and not any(k.startswith("bert.pooler") for k in clf.state_dict())
    ids = _ids(1, 7)
    padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    mask = torch.tensor([[1] * 7 + [0] * 5])
    with torch.no_grad():
        alone, batched = clf(ids), clf(padded, attention_mask=mask)
        by_hand = clf.classifier(encoder(ids).hidden.mean(1))           # (1, C) -> (1, 3)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)       # padding never counts
    torch.testing.assert_close(alone, by_hand, atol=1e-6, rtol=0)
    assert BertForSequenceClassification(BertModel(tiny(), pooler=False), 2, pooling="mean")(ids).shape == (1, 2)
    with pytest.raises(ValueError, match="pooling"):
        BertForSequenceClassification(tiny(), 2, pooling="max")
