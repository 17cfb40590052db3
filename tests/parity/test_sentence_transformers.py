"""`lmlab embed` <-> sentence-transformers: the same sentence embeddings for a Hugging Face BERT folder.

A small random BERT (initializer_range 0.2, so that different sentences get clearly different vectors)
and a WordPiece tokenizer trained on Tiny Shakespeare are saved as a Hugging Face folder; a
SentenceTransformer is built from it offline (Transformer + Pooling [+ Normalize]) and lmlab loads the
same folder; an lmlab BERT run, exported with `save_hf_bert`, gives sentence-transformers' vectors too.
Sentences of very different lengths share a batch (right padding) and one is longer than
max_seq_length (truncated, [SEP] kept). Tolerance: fp32, max abs difference TOL = 1e-5.
"""

from __future__ import annotations

import json

import pytest
import torch

from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import train_tokenizer
from lmlab.recipes.embed import embed_texts
from lmlab.runs.hf import load_bert_encoder

transformers = pytest.importorskip("transformers")
st = pytest.importorskip("sentence_transformers")

TOL = 1e-5
MAX_LEN = 32
D_MODEL = 64
SENTENCES = [
    "To be, or not to be: that is the question.",
    "Hi.",
    "Now is the winter of our discontent made glorious summer by this sun of York; and all the clouds "
    "that lour'd upon our house in the deep bosom of the ocean buried.",  # longer than MAX_LEN tokens
    "What's in a name? That which we call a rose by any other name would smell as sweet.",
    "Friends, Romans, countrymen, lend me your ears;",
    "All the world's a stage.",
]
SPECIALS = dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


@pytest.fixture(scope="module", params=["tokenizer.json", "vocab.txt"])
def folder(request, tmp_path_factory):
    """A Hugging Face BERT folder that both AutoTokenizer and lmlab read, with one tokenizer file."""
    path = tmp_path_factory.mktemp("hf_bert")
    tok = train_tokenizer("wordpiece", load_text("tinyshakespeare")[:50_000], 600)
    torch.manual_seed(0)
    cfg = transformers.BertConfig(hidden_size=D_MODEL, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                  vocab_size=tok.vocab_size, max_position_embeddings=64, initializer_range=0.2)
    transformers.BertModel(cfg).save_pretrained(path)
    if request.param == "tokenizer.json":
        tok.save(path / "tokenizer.json")
    else:
        tok.save_vocab_txt(path / "vocab.txt")
    (path / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 64, **SPECIALS}))
    return path


@pytest.fixture(scope="module")
def lmlab_encoder(folder):
    return load_bert_encoder(folder)


def sentence_transformer(folder, pooling: str, normalize: bool):
    from sentence_transformers import SentenceTransformer, models  # `models`: the names all versions know
    modules = [models.Transformer(str(folder), max_seq_length=MAX_LEN), models.Pooling(D_MODEL, pooling_mode=pooling)]
    return SentenceTransformer(modules=modules + ([models.Normalize()] if normalize else []), device="cpu")


def test_same_token_ids(folder, lmlab_encoder):
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    _, tok = lmlab_encoder
    for s in SENTENCES:
        theirs = hf_tok(s, truncation=True, max_length=MAX_LEN)["input_ids"]
        assert tok.encode_pair(s, max_len=MAX_LEN)["input_ids"] == theirs


@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalized"])
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_same_embeddings_as_sentence_transformers(folder, lmlab_encoder, pooling, normalize):
    model = sentence_transformer(folder, pooling, normalize)
    theirs = model.encode(SENTENCES, batch_size=4, convert_to_tensor=True)
    encoder, tok = lmlab_encoder
    ours = embed_texts(encoder, tok, SENTENCES, pooling, normalize, max_len=MAX_LEN, batch_size=4)
    assert ours.shape == theirs.shape == (len(SENTENCES), D_MODEL) and ours.dtype == torch.float32
    torch.testing.assert_close(ours, theirs.cpu(), rtol=0, atol=TOL)
    # a real comparison: the sentences' vectors differ from each other by far more than TOL
    assert torch.cdist(ours, ours).fill_diagonal_(1.0).min() > 100 * TOL
    if normalize:
        torch.testing.assert_close(ours.norm(dim=1), torch.ones(len(SENTENCES)))


def test_an_lmlab_run_gives_the_vectors_of_its_hugging_face_export(tmp_path):
    from lmlab.data.bert_pretraining import BertDataConfig
    from lmlab.io.hf_bert import save_hf_bert
    from lmlab.models.bert import preset
    from lmlab.recipes.embed import embed
    from lmlab.recipes.pretrain_bert import pretrain_bert
    from lmlab.train.config import TrainConfig
    (tmp_path / "corpus.txt").write_text(load_text("tinyshakespeare")[:20_000], encoding="utf-8")
    train = TrainConfig(max_steps=2, batch_size=8, eval_every=2, eval_batches=1, log_every=1, warmup_steps=1)
    pretrain_bert(str(tmp_path / "corpus.txt"), preset("bert-tiny"), train, BertDataConfig(tokenizer_vocab_size=300),
                  tmp_path / "run", quiet=True)
    encoder, tok = load_bert_encoder(tmp_path / "run")
    save_hf_bert(encoder, tmp_path / "hf")
    tok.save(tmp_path / "hf" / "tokenizer.json")
    (tmp_path / "hf" / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 128, **SPECIALS}))
    from sentence_transformers import SentenceTransformer, models
    word = models.Transformer(str(tmp_path / "hf"), max_seq_length=MAX_LEN)
    model = SentenceTransformer(modules=[word, models.Pooling(encoder.cfg.d_model, pooling_mode="mean")], device="cpu")
    theirs = model.encode(SENTENCES, batch_size=4, convert_to_tensor=True)
    ours = embed(tmp_path / "run", SENTENCES, "mean", max_len=MAX_LEN, batch_size=4)
    torch.testing.assert_close(ours, theirs.cpu(), rtol=0, atol=TOL)
