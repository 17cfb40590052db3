"""lmlab.tools.token_vectors: ELMo's word vectors are the equal-weight ScalarMix of its layers (or one layer),
BERT's the mean of each word's WordPiece vectors; batching changes nothing; the same word gets different
vectors in different sentences; random_weights gives a seeded fresh model of the same shape."""

from __future__ import annotations

import pytest
import torch

from lmlab.data.word_chars import char_tensor, split_words
from lmlab.errors import LmlabError
from lmlab.runs.hf import load_bert_encoder
from lmlab.runs.run import Run
from lmlab.tools.token_vectors import bert_vectors, bert_word_vectors, elmo_vectors, elmo_word_vectors

TEXTS = ["The king is dead .", "Long live the king !", "O Romeo , Romeo , wherefore art thou Romeo ?"]


@pytest.fixture(scope="module")
def bert_run(tmp_path_factory, pretrain_fortunes_bert):
    return pretrain_fortunes_bert(tmp_path_factory.mktemp("bert"), steps=2, vocab=400, max_len=64, batch=8, lr=1e-3)


def test_elmo_vectors_are_the_mean_of_its_layers(elmo_run):
    run, _ = elmo_run
    model = Run.open(run).model().eval()
    rows = elmo_vectors(model, TEXTS, batch_size=2)
    assert [r.words for r in rows] == [split_words(t) for t in TEXTS]
    words = split_words(TEXTS[2])
    with torch.no_grad():
        layers = model.layer_outputs(char_tensor([words], model.cfg.max_chars)[0])[:, 0]   # (L+1, T, 2C)
    torch.testing.assert_close(rows[2].vectors, layers.mean(0), rtol=0, atol=1e-6)
    top = elmo_vectors(model, TEXTS[2:], layer=2)[0]
    torch.testing.assert_close(top.vectors, layers[2], rtol=0, atol=1e-6)
    alone = torch.cat([elmo_vectors(model, [t])[0].vectors for t in TEXTS])
    torch.testing.assert_close(torch.cat([r.vectors for r in rows]), alone, rtol=0, atol=1e-6)
    # "Romeo" three times in one sentence: three different vectors; layer 0 (the char CNN) gives one
    romeo = [i for i, w in enumerate(words) if w == "Romeo"]
    assert not torch.allclose(rows[2].vectors[romeo[0]], rows[2].vectors[romeo[1]])
    base = elmo_vectors(model, TEXTS[2:], layer=0)[0].vectors
    # same word, same char-CNN vector; not bit-equal with several threads: a multi-threaded GEMM may round
    # each row differently (seen: 9.5e-7 with 2 threads), so the tolerance is float32 rounding, not 0
    torch.testing.assert_close(base[romeo[0]], base[romeo[2]], rtol=0, atol=1e-6)
    assert not torch.allclose(base[romeo[0]], base[romeo[1] - 1], rtol=0, atol=1e-3)   # another word differs
    with pytest.raises(LmlabError, match="layer"):
        elmo_vectors(model, TEXTS, layer=3)
    with pytest.raises(LmlabError, match="text 2 has no words"):
        elmo_vectors(model, ["a", "  "])


def test_random_weights_are_a_seeded_fresh_model(elmo_run):
    run, _ = elmo_run
    trained = elmo_word_vectors(run, TEXTS[:1])[0].vectors
    r1 = elmo_word_vectors(run, TEXTS[:1], random_weights=True)[0].vectors
    r2 = elmo_word_vectors(run, TEXTS[:1], random_weights=True)[0].vectors
    assert torch.equal(r1, r2) and not torch.allclose(r1, trained)


def test_bert_word_vectors_are_the_mean_of_their_pieces(bert_run):
    encoder, tok = load_bert_encoder(bert_run)
    encoder.eval()
    text = "Unbelievably, the tortoise outran everybody."
    row = bert_vectors(encoder, tok, [text])[0]
    ids = tok.encode_pair(text)["input_ids"]
    word_of = tok.word_ids(ids)
    with torch.no_grad():
        hidden = encoder(torch.tensor([ids])).hidden[0]
    assert row.words == ["unbelievably", ",", "the", "tortoise", "outran", "everybody", "."]
    assert len(ids) > len(row.words) + 2                        # some word is split into pieces
    for w in range(len(row.words)):
        pieces = [i for i, x in enumerate(word_of) if x == w]
        torch.testing.assert_close(row.vectors[w], hidden[pieces].mean(0), rtol=0, atol=1e-5)
    together = bert_vectors(encoder, tok, [text, *TEXTS], batch_size=4)
    torch.testing.assert_close(together[0].vectors, row.vectors, rtol=0, atol=1e-5)   # padding changes nothing
    fresh = bert_word_vectors(bert_run, [text], random_weights=True)[0]
    assert fresh.words == row.words and not torch.allclose(fresh.vectors, row.vectors)
    assert torch.equal(bert_word_vectors(bert_run, [text], layer=-1)[0].vectors, row.vectors)   # -1: the top
    with pytest.raises(LmlabError, match="is for ELMo"):
        bert_word_vectors(bert_run, [text], layer=1)
