"""`lmlab fill-mask` = transformers' `pipeline("fill-mask")` on the same model exported with `lmlab hf export`.

A bert-tiny pretrained for 3 steps (MLM, no dropout: near its random start, which is all parity needs) on the
test fortunes goes out to a Hugging Face folder; for one [MASK], several [MASK]s in one text, and texts of
different lengths in one batch (lmlab pads, the pipeline runs each text alone), the pipeline's top-k guesses equal lmlab's: the same token ids in the same order, the same
token_str and sequence, and probabilities within TOL = 1e-5 (absolute; fp32, HF's eager attention against
lmlab's default sdpa). The HF folder read directly by `load_masked_lm` gives the same guesses too.
"""

from __future__ import annotations

import pytest

from lmlab.cli import main
from lmlab.tools.fill_mask import fill_mask, load_masked_lm

transformers = pytest.importorskip("transformers")

TOL = 1e-5
TOP_K = 8


@pytest.fixture(scope="module")
def exported(pretrain_fortunes_bert, tmp_path_factory):
    """(the lmlab run, its Hugging Face export, the pipeline on the export)."""
    folder = tmp_path_factory.mktemp("fill_mask_parity")
    run = pretrain_fortunes_bert(folder, steps=3, vocab=400, max_len=64, batch=8, lr=2e-3)
    assert main(["hf", "export", str(run), "--out", str(folder / "hf")]) == 0
    pipe = transformers.pipeline("fill-mask", model=str(folder / "hf"), device="cpu")
    return run, folder / "hf", pipe


def _same(ours, theirs) -> None:
    assert len(ours) == len(theirs) == TOP_K
    for g, t in zip(ours, theirs):
        assert (g.token, g.token_str, g.sequence) == (t["token"], t["token_str"], t["sequence"])
        assert abs(g.score - t["score"]) <= TOL, (g, t)


@pytest.mark.parametrize("source", ["run", "hf"])
def test_one_mask_equals_the_pipeline(exported, source):
    run, hf, pipe = exported
    model, tok = load_masked_lm(run if source == "run" else hf)
    text = "A judge ruled that a citizen may [MASK] in his own home."
    (masks,) = fill_mask(model, tok, [text], top_k=TOP_K)
    assert len(masks) == 1
    _same(masks[0], pipe(text, top_k=TOP_K))


def test_several_masks_equal_the_pipeline(exported):
    run, _, pipe = exported
    model, tok = load_masked_lm(run)
    text = "The [MASK] of the court said that [MASK] must own two [MASK]."
    (masks,) = fill_mask(model, tok, [text], top_k=TOP_K)
    theirs = pipe(text, top_k=TOP_K)        # a list of guesses per [MASK] when there are several
    assert len(masks) == len(theirs) == 3
    for ours_one, theirs_one in zip(masks, theirs):
        _same(ours_one, theirs_one)
    assert "[MASK]" in masks[0][0].sequence and "[CLS]" in masks[0][0].sequence   # the pipeline keeps them


def test_a_padded_batch_equals_the_pipeline_text_by_text(exported):
    run, _, pipe = exported
    model, tok = load_masked_lm(run)
    texts = ["[MASK] terminals active.", "In a city a person must own at least two cows before he can wear [MASK] "
             "boots in public, the [MASK] declares."]
    ours = fill_mask(model, tok, texts, top_k=TOP_K, batch_size=2)
    theirs = pipe(texts, top_k=TOP_K)
    _same(ours[0][0], theirs[0])
    for ours_one, theirs_one in zip(ours[1], theirs[1]):
        _same(ours_one, theirs_one)
