"""lmlab.tools.fill_mask: the softmax of the MLM logits at each [MASK], top k, for runs and HF folders; refusals.

The model is a small random-weight Hugging Face BertForPreTraining imported with `lmlab hf import` (an imported
run is an ordinary "bert" run); the parity with transformers' pipeline is tests/parity/test_fill_mask_pipeline.py.
"""

from __future__ import annotations

import pytest
import torch

from lmlab.cli import main
from lmlab.errors import LmlabError
from lmlab.models.bert.config import BertConfig
from lmlab.models.gpt.config import GPTConfig
from lmlab.runs.run import write_run_config
from lmlab.tools.fill_mask import fill_mask, load_masked_lm

transformers = pytest.importorskip("transformers")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", ".", "a", "dog"]


def hf_bert_folder(path, arch: str = "BertForPreTraining"):
    """A tiny random-weight Hugging Face BERT folder of class `arch`, with VOCAB as vocab.txt."""
    cfg = transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=16)
    torch.manual_seed(0)
    getattr(transformers, arch)(cfg).save_pretrained(path)
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fill_mask")
    hf_bert_folder(folder / "hf")
    assert main(["hf", "import", str(folder / "hf"), "--out", str(folder / "run")]) == 0
    return folder / "run"


def test_guesses_are_the_softmax_of_the_mlm_logits_at_each_mask(imported):
    model, tok = load_masked_lm(imported)
    assert not model.training
    (masks,) = fill_mask(model, tok, ["the [MASK] sat on the [MASK] ."], top_k=3)
    ids = tok.encode_pair("the [MASK] sat on the [MASK] .")["input_ids"]
    with torch.no_grad():
        probs = model(torch.tensor([ids])).mlm_logits[0].softmax(-1)        # (T, V), the whole forward
    for guesses, t in zip(masks, [i for i, x in enumerate(ids) if x == tok.special_ids["mask"]]):
        best = probs[t].topk(3)
        assert [g.token for g in guesses] == best.indices.tolist()
        assert [g.score for g in guesses] == pytest.approx(best.values.tolist(), abs=1e-6)
        assert [g.token_str for g in guesses] == [VOCAB[g.token] for g in guesses]
    assert masks[0][0].sequence.startswith("[CLS] the ")                   # several masks: specials are kept


def test_one_mask_fills_the_text_and_a_padded_batch_changes_nothing(imported):
    model, tok = load_masked_lm(imported)
    texts = ["a dog sat on the [MASK] .", "[MASK] cats", "the cat sat on a mat and the [MASK] sat on the dog ."]
    batch = fill_mask(model, tok, texts, top_k=4, batch_size=3)
    for text, masks in zip(texts, batch):
        (alone,) = fill_mask(model, tok, [text], top_k=4)
        assert [g.token for g in masks[0]] == [g.token for g in alone[0]]
        assert [g.score for g in masks[0]] == pytest.approx([g.score for g in alone[0]], abs=1e-6)
    g = batch[0][0][0]
    assert g.sequence == tok.decode(tok.encode("a dog sat on the") + [g.token] + tok.encode("."))  # no [CLS], [SEP]
    scores = [g.score for g in batch[2][0]]
    assert scores == sorted(scores, reverse=True)


def test_top_k_is_capped_at_the_vocabulary_and_must_be_positive(imported):
    model, tok = load_masked_lm(imported)
    (masks,) = fill_mask(model, tok, ["the [MASK]"], top_k=1000)
    assert len(masks[0]) == len(VOCAB) and sum(g.score for g in masks[0]) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(LmlabError, match="--top-k must be at least 1"):
        fill_mask(model, tok, ["the [MASK]"], top_k=0)


def test_texts_without_a_mask_or_too_long_are_refused_by_number(imported):
    model, tok = load_masked_lm(imported)
    with pytest.raises(LmlabError, match=r"text 2 has no \[MASK\]: 'the \[mask\] sat'"):
        fill_mask(model, tok, ["the [MASK]", "the [mask] sat"])           # [MASK] is written in capitals
    with pytest.raises(LmlabError, match="text 1 is 17 tokens long .* at most 16"):
        fill_mask(model, tok, ["the cat " * 7 + "[MASK]"])
    with pytest.raises(LmlabError, match="no texts"):
        fill_mask(model, tok, [])


def test_an_hf_folder_with_an_mlm_head_is_read_directly(imported, tmp_path):
    model, tok = load_masked_lm(hf_bert_folder(tmp_path / "mlm", "BertForMaskedLM"))
    assert type(model).__name__ == "BertForMaskedLM"
    ours = fill_mask(model, tok, ["the cat [MASK] on the mat ."], top_k=2)[0][0]
    assert len(ours) == 2 and 0 < ours[1].score <= ours[0].score < 1


def test_models_without_an_mlm_head_are_refused(tmp_path):
    with pytest.raises(LmlabError, match="BertModel, which has no masked-LM head"):
        load_masked_lm(hf_bert_folder(tmp_path / "bare", "BertModel"))
    small = BertConfig(vocab_size=len(VOCAB), max_seq_len=16, d_model=32, n_heads=4, n_layers=1, d_ff=64)
    for family, cfg in (("gpt", GPTConfig()), ("bert-classifier", small)):
        (tmp_path / family).mkdir()
        write_run_config(tmp_path / family, family, {"model": cfg})
        with pytest.raises(LmlabError, match=f"holds a '{family}' run, which has no masked-LM head"):
            load_masked_lm(tmp_path / family)
    with pytest.raises(LmlabError, match="neither an lmlab BERT run"):
        load_masked_lm(tmp_path)
