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


# ---- a published-style checkpoint: its tokenizer.json pads to a fixed length, modules.json pools ----------
@pytest.fixture(scope="module")
def st_folder(tmp_path_factory):
    """A SentenceTransformer (BERT + mean pooling + Normalize) saved by sentence-transformers itself, from a
    random-weight BERT folder whose tokenizer.json pads to 64 and truncates (as all-MiniLM-L6-v2's does)."""
    src = tmp_path_factory.mktemp("src")
    tok = train_tokenizer("wordpiece", load_text("tinyshakespeare")[:50_000], 600)
    tok.tok.enable_padding(pad_id=tok.special_ids["pad"], pad_token="[PAD]", length=64)
    tok.tok.enable_truncation(64)
    tok.tok.save(str(src / "tokenizer.json"))
    torch.manual_seed(0)
    cfg = transformers.BertConfig(hidden_size=D_MODEL, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                  vocab_size=tok.vocab_size, max_position_embeddings=64, initializer_range=0.2)
    transformers.BertModel(cfg).save_pretrained(src)
    (src / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": MAX_LEN, **SPECIALS}))
    from sentence_transformers import SentenceTransformer, models
    model = SentenceTransformer(modules=[models.Transformer(str(src)), models.Pooling(D_MODEL, pooling_mode="mean"),
                                         models.Normalize()], device="cpu")
    path = tmp_path_factory.mktemp("st") / "model"
    model.save(str(path))
    return path, SentenceTransformer(str(path), device="cpu")  # the reference: the saved folder, reloaded


def test_cli_import_and_embed_give_sentence_transformers_vectors(st_folder, tmp_path, capsys):
    """`lmlab hf import` + `lmlab embed` with no flags: the folder's own pooling, normalisation and length;
    cosine ≥ 0.9999 to model.encode (and within TOL), on the folder itself and on the imported run."""
    from lmlab.cli import main
    path, model = st_folder
    texts = SENTENCES + ["[MASK] and CAPITALS, café"]
    theirs = model.encode(texts, batch_size=4, convert_to_tensor=True).cpu()
    assert main(["hf", "import", str(path), "--out", str(tmp_path / "run")]) == 0
    assert f"mean pooling, normalised, at most {MAX_LEN} tokens" in capsys.readouterr().out
    for source in (path, tmp_path / "run"):
        out = tmp_path / f"{source.name}.json"
        assert main(["embed", str(source), *texts, "--batch-size", "4", "--out", str(out)]) == 0
        ours = torch.tensor([row["embedding"] for row in json.loads(out.read_text())])
        cos = torch.nn.functional.cosine_similarity(ours, theirs)
        assert cos.min() >= 0.9999, cos
        torch.testing.assert_close(ours, theirs, rtol=0, atol=TOL)
    assert tokenizer_ids(tmp_path / "run", texts) == [model.tokenize([t])["input_ids"][0].tolist() for t in texts]


def tokenizer_ids(run, texts):
    _, tok = load_bert_encoder(run)
    return [tok.encode_pair(t, max_len=MAX_LEN)["input_ids"] for t in texts]


def test_settings_lmlab_does_not_compute_are_refused(st_folder, tmp_path, cli_fails):
    import shutil
    path, _ = st_folder
    bad = tmp_path / "bad"
    shutil.copytree(path, bad)
    (bad / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    cli_fails(["embed", str(bad), "hi"], "1_Pooling", "max")
    modules = json.loads((path / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (bad / "modules.json").write_text(json.dumps(modules))
    cli_fails(["hf", "import", str(bad), "--out", str(tmp_path / "run")], "modules.json", "Dense")
    assert not (tmp_path / "run").exists()
