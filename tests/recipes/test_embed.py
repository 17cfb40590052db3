"""`lmlab embed` on an lmlab BERT run: shapes, determinism, batching that changes nothing, the `.npy` and
JSON outputs, and the CLI's refusals (one `error:` line, exit 2). Parity with sentence-transformers is
in tests/parity/test_sentence_transformers.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lmlab.cli import main
from lmlab.data.bert_pretraining import BertDataConfig
from lmlab.errors import LmlabError
from lmlab.models.bert import preset
from lmlab.recipes.embed import embed, embed_texts, read_texts
from lmlab.recipes.pretrain_bert import pretrain_bert
from lmlab.runs.hf import load_bert_encoder
from lmlab.train.config import TrainConfig

TEXTS = ["To be, or not to be.", "Hi.", "Now is the winter of our discontent made glorious summer by this sun.",
         "All the world's a stage, and all the men and women merely players."]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from lmlab.data.corpora import load_text
    root = tmp_path_factory.mktemp("embed")
    (root / "corpus.txt").write_text(load_text("tinyshakespeare")[:20_000], encoding="utf-8")
    train = TrainConfig(max_steps=2, batch_size=8, eval_every=2, eval_batches=1, log_every=1, warmup_steps=1)
    pretrain_bert(str(root / "corpus.txt"), preset("bert-tiny", dropout=0.1), train,
                  BertDataConfig(tokenizer_vocab_size=300), root / "run", quiet=True)
    return root / "run"




def test_shape_dtype_and_determinism(run):
    d_model = preset("bert-tiny").d_model
    a = embed(run, TEXTS)
    b = embed(run, TEXTS)  # dropout 0.1 in the config: eval mode must switch it off
    assert a.shape == (len(TEXTS), d_model) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert torch.isfinite(a).all() and not torch.allclose(a[0], a[1])


def test_batching_and_order_change_nothing(run):
    encoder, tok = load_bert_encoder(run)
    for pooling in ("mean", "cls"):
        together = embed_texts(encoder, tok, TEXTS, pooling, batch_size=3)  # padding inside a batch
        alone = torch.cat([embed_texts(encoder, tok, [t], pooling) for t in TEXTS])
        torch.testing.assert_close(together, alone, rtol=0, atol=1e-5)
        reversed_ = embed_texts(encoder, tok, TEXTS[::-1], pooling, batch_size=2)
        torch.testing.assert_close(reversed_.flip(0), together, rtol=0, atol=1e-5)


def test_mean_pooling_is_the_mean_over_cls_text_and_sep(run):
    encoder, tok = load_bert_encoder(run)
    encoder.eval()
    ids = torch.tensor([tok.encode_pair(TEXTS[0])["input_ids"]])
    with torch.no_grad():
        hidden = encoder(ids).hidden
    torch.testing.assert_close(embed_texts(encoder, tok, TEXTS[:1]), hidden.mean(dim=1))
    torch.testing.assert_close(embed_texts(encoder, tok, TEXTS[:1], "cls"), hidden[:, 0])


def test_normalize_and_max_len(run):
    unit = embed(run, TEXTS, normalize=True)
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(len(TEXTS)))
    _, tok = load_bert_encoder(run)
    n = len(tok.encode_pair(TEXTS[1])["input_ids"])  # "Hi." fits in n tokens; the long texts do not
    assert len(tok.encode_pair(TEXTS[2])["input_ids"]) > n
    short, full = embed(run, TEXTS, max_len=n), embed(run, TEXTS)
    torch.testing.assert_close(short[1], full[1], rtol=0, atol=1e-5)
    assert not torch.allclose(short[2], full[2])


def test_npy_and_json_outputs(run, tmp_path):
    vectors = embed(run, TEXTS, out=tmp_path / "e.npy")
    arr = np.load(tmp_path / "e.npy")
    assert arr.dtype == np.float32 and np.array_equal(arr, vectors.numpy())
    embed(run, TEXTS, out=tmp_path / "e.json")
    rows = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert [r["text"] for r in rows] == TEXTS
    assert np.array_equal(np.array([r["embedding"] for r in rows], dtype=np.float32), arr)  # exact round trip


def test_read_texts_skips_blank_lines(tmp_path):
    (tmp_path / "in.txt").write_text("first line\n\n  \nsecond, with ünïcode\n", encoding="utf-8")
    assert read_texts(tmp_path / "in.txt") == ["first line", "second, with ünïcode"]
    with pytest.raises(LmlabError, match="not found"):
        read_texts(tmp_path / "nope.txt")


def test_cli_prints_json_and_writes_npy(run, tmp_path, capsys):
    assert main(["embed", str(run), *TEXTS[:2], "--normalize"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["text"] for r in rows] == TEXTS[:2]
    torch.testing.assert_close(torch.tensor([r["embedding"] for r in rows]), embed(run, TEXTS[:2], normalize=True))
    (tmp_path / "in.txt").write_text("\n".join(TEXTS[2:]) + "\n", encoding="utf-8")
    argv = ["embed", str(run), TEXTS[0], "--input", str(tmp_path / "in.txt"), "--pooling", "cls",
            "--batch-size", "2", "--out", str(tmp_path / "e.npy")]
    assert main(argv) == 0
    assert "wrote 3 embeddings" in capsys.readouterr().out
    expected = embed(run, [TEXTS[0], *TEXTS[2:]], "cls").numpy()
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), expected, rtol=0, atol=1e-6)


def test_cli_refusals(cli_fails, run, tmp_path, capsys):
    cli_fails(["embed", str(tmp_path / "nope"), "hi"], "nope", "not found")
    cli_fails(["embed", str(tmp_path), "hi"], "neither an lmlab BERT run")
    cli_fails(["embed", str(run)], "no texts")
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    cli_fails(["embed", str(run), "--input", str(tmp_path / "empty.txt")], "no texts")
    cli_fails(["embed", str(run), "hi", "--input", str(tmp_path / "missing.txt")], "missing.txt")
    cli_fails(["embed", str(run), "hi", "--pooling", "max"], "--pooling", "max")
    cli_fails(["embed", str(run), "hi", "--out", str(tmp_path / "e.csv")], ".npy or .json")
    cli_fails(["embed", str(run), "hi", "--out", str(tmp_path / "no" / "e.npy")], "does not exist")
    cli_fails(["embed", str(run), "hi", "--max-len", "100000"], "--max-len", "max_seq_len")
    cli_fails(["embed", str(run), "hi", "--batch-size", "0"], "--batch-size")
    cli_fails(["embed", str(run), "hi", "--device", "gpu"], "unknown device")
    assert not list(tmp_path.glob("e.*"))


def test_cli_tokens_gives_a_vector_per_word_from_elmo_and_bert(elmo_run, run, tmp_path, capsys):
    from lmlab.tools.token_vectors import bert_word_vectors, elmo_word_vectors
    elmo, _ = elmo_run
    texts = ["The river bank was steep .", "He paid the bank ."]
    for folder, reference in ((elmo, elmo_word_vectors), (run, bert_word_vectors)):
        assert main(["embed", str(folder), *texts, "--tokens"]) == 0
        rows = json.loads(capsys.readouterr().out)
        expected = reference(folder, texts)
        assert [r["text"] for r in rows] == texts
        assert [r["words"] for r in rows] == [e.words for e in expected]
        for r, e in zip(rows, expected):
            torch.testing.assert_close(torch.tensor(r["vectors"]), e.vectors)
        bank = [r["words"].index("bank") for r in rows]
        assert rows[0]["vectors"][bank[0]] != rows[1]["vectors"][bank[1]]   # one word, two contexts, two vectors
    assert main(["embed", str(elmo), *texts, "--tokens", "--layer", "0", "--normalize",
                 "--out", str(tmp_path / "w.json")]) == 0
    assert "wrote the vectors of 11 words in 2 texts" in capsys.readouterr().out
    rows = json.loads((tmp_path / "w.json").read_text(encoding="utf-8"))
    vectors = [torch.tensor(v) for r in rows for v in r["vectors"]]
    torch.testing.assert_close(torch.stack(vectors).norm(dim=1), torch.ones(11))
    torch.testing.assert_close(torch.tensor(rows[0]["vectors"][2]), torch.tensor(rows[1]["vectors"][3]))  # layer 0


def test_cli_tokens_refusals(cli_fails, elmo_run, run, tmp_path):
    elmo, _ = elmo_run
    cli_fails(["embed", str(elmo), "hi"], "neither an lmlab BERT run")       # sentence vectors: BERT only
    cli_fails(["embed", str(elmo), "hi", "--tokens", "--out", str(tmp_path / "w.npy")], ".json")
    cli_fails(["embed", str(elmo), "hi", "--tokens", "--layer", "7"], "layer")
    cli_fails(["embed", str(run), "hi", "--tokens", "--layer", "1"], "is for ELMo runs")
    cli_fails(["embed", str(run), "hi", "--layer", "1"], "--tokens")
    cli_fails(["embed", str(elmo), "  ", "--tokens"], "no words")
    cli_fails(["embed", str(tmp_path), "hi", "--tokens"], "not found")
