"""`lmlab hf import/export` (lmlab.runs.hf): a trained GPT-2, Llama or BERT run goes out to transformers and
comes back with the same logits (fp32, ≤ 1e-5); an HF BERT folder becomes a "bert" run that fine-tuning and
embedding take; `load_bert_encoder` reads an encoder from either kind of folder."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.data.bert_pretraining import BertDataConfig
from lmlab.recipes.pretrain_bert import pretrain_bert
from lmlab.runs.hf import load_bert_encoder, load_hf
from lmlab.runs.run import Run
from lmlab.train.config import TrainConfig

transformers = pytest.importorskip("transformers")


# ---- GPT-2 ---------------------------------------------------------------------------------------------
def _train_gpt(data, out, *flags: str, steps: int = 2):
    """`lmlab train gpt` for a few steps at batch 2 (--quiet): a run to export."""
    assert main(["train", "gpt", "--data", str(data), *flags, "--max_steps", str(steps), "--eval_every", str(steps),
                 "--eval_batches", "1", "--batch_size", "2", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def char_run(shakespeare_small, tmp_path_factory):
    """A char-level GPT (tiny preset) trained 2 steps: sharp enough logits for greedy decoding to be decided."""
    return _train_gpt(shakespeare_small, tmp_path_factory.mktemp("char") / "run", "--preset", "tiny")


@pytest.fixture(scope="module")
def bpe_run(shakespeare_small, tmp_path_factory):
    """A GPT (tiny preset) with a byte-level BPE tokenizer of 300 tokens, trained 2 steps."""
    return _train_gpt(shakespeare_small, tmp_path_factory.mktemp("bpe") / "run", "--preset", "tiny",
                      "--tokenizer", "bpe", "--bpe_vocab_size", "300")


LLAMA_NANO_SMALL = ["--preset", "llama-nano", "--d_model", "32", "--n_heads", "2", "--n_kv_heads", "1",
                    "--n_layers", "1", "--d_ff", "64", "--max_seq_len", "64"]


@pytest.fixture(scope="module", params=["char", "bpe"])
def llama_run(request, shakespeare_small, tmp_path_factory):
    """An lmlab-trained llama-nano (RMSNorm, rotary, SwiGLU, grouped KV heads; shrunk to one 32-wide layer) with a
    char or a byte-level BPE tokenizer, trained 10 steps."""
    tokenizer = ["--tokenizer", "bpe", "--bpe_vocab_size", "300"] if request.param == "bpe" else []
    return _train_gpt(shakespeare_small, tmp_path_factory.mktemp(f"llama-{request.param}") / "run",
                      *LLAMA_NANO_SMALL, *tokenizer, "--warmup_steps", "1", steps=10)


def test_gpt2_export_then_import_round_trip(char_run, tmp_path, capsys):
    from transformers import GPT2LMHeadModel
    run = char_run
    assert main(["hf", "export", str(run), "--out", str(tmp_path / "hf")]) == 0
    assert (tmp_path / "hf" / "tokenizer.json").is_file()
    hf = GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    ours = Run.open(run).model()
    x = torch.randint(0, ours.cfg.vocab_size, (2, 16))
    torch.testing.assert_close(hf(x).logits, ours.eval()(x), atol=1e-5, rtol=0)  # fp32 ≤ 1e-5

    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "back")]) == 0
    back_run = Run.open(tmp_path / "back")
    back, _ = back_run.model(), back_run.tokenizer()
    assert torch.equal(back.eval()(x), ours(x))
    assert main(["generate", str(tmp_path / "back"), "--prompt", "First", "--max-new-tokens", "5"]) == 0
    # never overwrite silently
    assert main(["hf", "export", str(run), "--out", str(tmp_path / "hf")]) == 2
    assert "--overwrite" in capsys.readouterr().err


# ---- Llama ---------------------------------------------------------------------------------------------
def test_import_llama_then_info_then_export(tmp_path, capsys):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=172, vocab_size=300, max_position_embeddings=128,
                      rope_parameters={"rope_type": "default", "rope_theta": 500000.0})
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "hf")

    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert main(["info", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    for line in ("pos_embedding   rotary", "norm            rmsnorm", "activation      swiglu",
                 "n_kv_heads      2", "rope_theta      500000.0", "tie_embeddings  False"):
        assert line in out
    n = sum(p.numel() for p in LlamaForCausalLM(cfg).parameters())
    assert f"parameters      {n:,}" in out  # lmlab's count from the shapes = HF's count

    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "back")]) == 0
    assert "LlamaForCausalLM" in capsys.readouterr().out
    a, b = load_file(tmp_path / "hf" / "model.safetensors"), load_file(tmp_path / "back" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert load_hf(tmp_path / "back").cfg.rope_theta == 500000.0


# ---- BERT ----------------------------------------------------------------------------------------------
def _hf_folder(path, vocab: list[str], with_heads: bool = True):
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    model = (transformers.BertForPreTraining if with_heads else transformers.BertModel)(cfg).eval()
    model.save_pretrained(path)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return model


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", ".", "a", "dog"]


def test_import_an_hf_bert_folder_with_vocab_txt(tmp_path, capsys):
    hf = _hf_folder(tmp_path / "hf", VOCAB)
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert "lmlab embed" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["family"] == "bert"
    ours = Run.open(tmp_path / "run").model().eval()
    ids = torch.tensor([[2, 5, 6, 10, 7, 8, 5, 9, 11, 3]])
    with torch.no_grad():
        ref, out = hf(ids), ours(ids)
    torch.testing.assert_close(out.mlm_logits, ref.prediction_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.nsp_logits, ref.seq_relationship_logits, atol=1e-5, rtol=0)
    encoder, tok = load_bert_encoder(tmp_path / "run")                    # what finetune/embed load
    assert tok.encode_pair("The cats sat.")["input_ids"] == [2, 5, 6, 10, 7, 11, 3]
    assert main(["embed", str(tmp_path / "run"), "the cat", "--out", str(tmp_path / "e.json")]) == 0


def test_import_a_bare_encoder_notes_the_fresh_heads(tmp_path, capsys):
    _hf_folder(tmp_path / "hf", VOCAB, with_heads=False)
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert "newly initialised" in capsys.readouterr().out


def test_export_a_trained_bert_run_and_back(tmp_path, capsys):
    from lmlab.data.corpora import load_text
    from lmlab.models.bert import preset
    corpus = tmp_path / "text.txt"
    corpus.write_text(load_text("tinyshakespeare")[:20_000], encoding="utf-8")
    pretrain_bert(str(corpus), preset("bert-tiny", dropout=0.0), TrainConfig(max_steps=2, eval_every=2, eval_batches=1,
                  batch_size=4), BertDataConfig(tokenizer_vocab_size=300), tmp_path / "run", quiet=True)
    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "hf")]) == 0
    assert "BertForPreTraining" in capsys.readouterr().out
    hf = transformers.BertForPreTraining.from_pretrained(tmp_path / "hf").eval()
    hf_tok = transformers.BertTokenizerFast.from_pretrained(tmp_path / "hf")   # reads vocab.txt/tokenizer.json
    ours = Run.open(tmp_path / "run").model().eval()
    _, tok = load_bert_encoder(tmp_path / "run")
    text = "To be, or not to be"
    ids = torch.tensor([tok.encode_pair(text)["input_ids"]])
    assert hf_tok(text)["input_ids"] == ids[0].tolist()
    auto = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")   # what pipelines load
    for a, b in [(text, None), ("the [MASK] is", "a question"), ("Café 床 IS", None)]:
        enc = tok.encode_pair(a, b)
        assert {k: auto(a, b)[k] for k in enc} == enc
        assert auto.decode(enc["input_ids"]) == tok.decode(enc["input_ids"])
    best = transformers.pipeline("fill-mask", model=str(tmp_path / "hf"), device="cpu")("to be or [MASK] to be", top_k=1)
    masked = tok.encode_pair("to be or [MASK] to be")["input_ids"]
    with torch.no_grad():
        logits = ours(torch.tensor([masked])).mlm_logits[0, masked.index(tok.special_ids["mask"])]
    assert best[0]["token"] == logits.argmax().item()
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).mlm_logits, hf(ids).prediction_logits, atol=1e-5, rtol=0)
    assert (tmp_path / "hf" / "vocab.txt").read_text().splitlines()[:5] == VOCAB[:5]
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "back")]) == 0
    back = Run.open(tmp_path / "back").model().eval()
    with torch.no_grad():
        assert torch.equal(back(ids).mlm_logits, ours(ids).mlm_logits)
    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "hf")]) == 2  # never overwrite


def test_load_bert_encoder_from_a_run_and_from_an_hf_folder(shakespeare_small, tmp_path):
    from lmlab.errors import LmlabError
    from lmlab.models.bert import preset
    model = preset("bert-tiny", dropout=0.0)
    pretrain_bert(str(shakespeare_small), model, TrainConfig(max_steps=2, batch_size=16, eval_every=2, eval_batches=1,
                  warmup_steps=1), BertDataConfig(tokenizer_vocab_size=300), tmp_path / "run", quiet=True)
    enc, tok = load_bert_encoder(tmp_path / "run")
    assert tok.kind == "wordpiece" and enc.pooler is not None
    enc.eval()
    ids = torch.tensor([tok.encode_pair("to be or not")["input_ids"]])
    assert enc(ids).hidden.shape == (1, ids.size(1), model.d_model)
    hf = transformers.BertModel(transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                        intermediate_size=64, vocab_size=tok.vocab_size))
    hf.save_pretrained(tmp_path / "hf")
    tok.save(tmp_path / "hf" / "tokenizer.json")
    enc2, _ = load_bert_encoder(tmp_path / "hf")
    assert enc2.cfg.d_model == 32
    with pytest.raises(LmlabError, match="neither an lmlab BERT run"):
        load_bert_encoder(shakespeare_small.parent)


# ---- exported tokenizers read back by AutoTokenizer and pipeline as lmlab has them -------------------------
TEXTS = ["ROMEO: hi\nJULIET: yes", "  two  spaces,\n\nand a blank line.", "First Citizen:\nSpeak, speak."]


def _same_in_transformers(folder, tok, texts, with_specials: bool = False) -> None:
    """AutoTokenizer on the exported folder: lmlab's ids for each text, and lmlab's text back from them."""
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    for text in texts:
        ids = tok.encode(text)
        assert hf_tok(text, add_special_tokens=with_specials)["input_ids"] == ids, text
        assert hf_tok.decode(ids) == tok.decode(ids)
        assert with_specials or tok.decode(ids) == text


def _same_generation(run, folder, capsys, prompt: str = "ROMEO: hi\nJULIET:", n: int = 40) -> None:
    """`pipeline("text-generation")` on the exported folder, greedy, continues `prompt` by the same n tokens as
    `lmlab generate --temperature 0`: the same prompt ids, n new ids, and the same text."""
    tok = Run.open(run).tokenizer()
    capsys.readouterr()
    assert main(["generate", str(run), "--prompt", prompt, "--temperature", "0", "--max-new-tokens", str(n)]) == 0
    ours = capsys.readouterr().out
    generator = transformers.pipeline("text-generation", model=str(folder), device="cpu")
    theirs = generator(prompt, max_new_tokens=n, do_sample=False)[0]["generated_text"]
    ids = generator(prompt, max_new_tokens=n, do_sample=False, return_tensors=True)[0]["generated_token_ids"]
    ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    prompt_ids = tok.encode(prompt)
    assert ids[:len(prompt_ids)] == prompt_ids and len(ids) == len(prompt_ids) + n   # no early stop either side
    assert ours == theirs + "\n" == tok.decode(ids) + "\n"


def test_exported_char_gpt_keeps_spaces_in_autotokenizer_and_pipeline(char_run, tmp_path, capsys):
    """Without tokenizer_config.json transformers took GPT2Tokenizer, which dropped every space and newline."""
    assert main(["hf", "export", str(char_run), "--out", str(tmp_path / "hf")]) == 0
    _same_in_transformers(tmp_path / "hf", Run.open(char_run).tokenizer(), TEXTS)
    _same_generation(char_run, tmp_path / "hf", capsys)


def test_exported_bpe_gpt_round_trips_and_names_its_eos(bpe_run, tmp_path, capsys):
    """A GPT run with a byte-level BPE tokenizer (its <|endoftext|> is the eos of config.json): AutoTokenizer
    and pipeline("text-generation") as lmlab."""
    assert main(["hf", "export", str(bpe_run), "--out", str(tmp_path / "hf")]) == 0
    tok = Run.open(bpe_run).tokenizer()
    _same_in_transformers(tmp_path / "hf", tok, TEXTS + ["an end<|endoftext|>and café 床"])
    hf_cfg = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert hf_cfg["eos_token_id"] == tok.eos_id == transformers.AutoTokenizer.from_pretrained(tmp_path / "hf").eos_token_id
    _same_generation(bpe_run, tmp_path / "hf", capsys)


def test_exported_llama_nano_run_in_autotokenizer_and_pipeline(llama_run, tmp_path, capsys):
    """An lmlab-trained llama-nano goes out as LlamaForCausalLM: AutoTokenizer and pipeline("text-generation")
    as lmlab, for a char and a byte-level BPE tokenizer."""
    assert main(["hf", "export", str(llama_run), "--out", str(tmp_path / "hf")]) == 0
    assert "LlamaForCausalLM" in capsys.readouterr().out
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    tok = Run.open(llama_run).tokenizer()
    _same_in_transformers(tmp_path / "hf", tok, TEXTS + (["naïve café 床"] if tok.kind == "bpe" else []))
    _same_generation(llama_run, tmp_path / "hf", capsys)


def _llama_tokenizer():
    """A Llama-2-style tokenizer.json: BPE over "▁"-marked words with byte fallback, "<s>" before every text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers

    from lmlab.data.corpora import load_text
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.train_from_iterator([load_text("tinyshakespeare")[:20_000]], trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                       special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok


def test_llama_style_tokenizer_in_and_out(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM
    tok = _llama_tokenizer()
    cfg = LlamaConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                      vocab_size=tok.get_vocab_size(), max_position_embeddings=64)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "hf")
    tok.save(str(tmp_path / "hf" / "tokenizer.json"))
    (tmp_path / "hf" / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}))
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "back")]) == 0
    ours = Run.open(tmp_path / "run").tokenizer()
    texts = TEXTS + ["naïve 🙂 床"]   # unseen characters: byte fallback
    for folder in (tmp_path / "hf", tmp_path / "back"):
        _same_in_transformers(folder, ours, texts, with_specials=True)
    assert ours.encode("hi")[0] == tok.token_to_id("<s>")


# ---- classifiers, other families, permissions ------------------------------------------------------------
def test_export_a_bert_classifier_as_bert_for_sequence_classification(pretrain_fortunes_bert, tmp_path, capsys):
    from lmlab.data.classification import ClassificationDataConfig
    from lmlab.recipes.finetune_classify import finetune_classify
    from lmlab.train.config import FinetuneConfig
    bert = pretrain_fortunes_bert(tmp_path, steps=2, vocab=400, max_len=32, batch=8, lr=1e-3)
    finetune_classify(bert, Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl", ClassificationDataConfig(max_len=32),
                      TrainConfig(max_steps=2, batch_size=8, eval_every=2, eval_batches=1, warmup_steps=1),
                      FinetuneConfig(), tmp_path / "cls", quiet=True)
    capsys.readouterr()
    assert main(["hf", "export", str(tmp_path / "cls"), "--out", str(tmp_path / "hf")]) == 0
    assert "BertForSequenceClassification" in capsys.readouterr().out
    hf = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "hf").eval()
    assert type(hf).__name__ == "BertForSequenceClassification"
    assert hf.config.id2label == {0: "computers", 1: "food", 2: "law"}
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    ours, tok = Run.open(tmp_path / "cls").model().eval(), Run.open(tmp_path / "cls").tokenizer()
    enc = tok.encode_pair("a program crashed", "in the kitchen")
    assert {k: hf_tok("a program crashed", "in the kitchen")[k] for k in enc} == enc
    batch = {k: torch.tensor([v]) for k, v in enc.items()}
    with torch.no_grad():
        theirs = hf(**batch).logits
        mine = ours(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)


def test_export_names_the_real_family_and_uses_the_umask(char_run, tmp_path, cli_fails):
    import os

    from lmlab.models.seq2seq.config import Seq2SeqConfig
    from lmlab.runs.run import write_run_config
    (tmp_path / "s2s").mkdir()
    write_run_config(tmp_path / "s2s", "seq2seq", {"model": Seq2SeqConfig()})
    cli_fails(["hf", "export", str(tmp_path / "s2s"), "--out", str(tmp_path / "x")], "'seq2seq'")
    assert main(["hf", "export", str(char_run), "--out", str(tmp_path / "hf")]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "hf").stat().st_mode & 0o777 == 0o777 & ~umask
    for f in (tmp_path / "hf").iterdir():
        assert f.stat().st_mode & 0o777 == 0o666 & ~umask, f.name
# ---- ViT -----------------------------------------------------------------------------------------------
def test_vit_import_info_export_and_a_refused_stride(tmp_path, capsys, cli_fails):
    """An HF ViTForImageClassification folder becomes a 'vit' run and goes back out with the same logits;
    a run whose stride is not its patch size is refused by export in one line, and nothing is written."""
    from transformers import ViTConfig as HFViTConfig
    from transformers import ViTForImageClassification as HFViT

    from lmlab.models.vit import ViTForImageClassification, preset
    from lmlab.runs.run import write_run_config
    torch.manual_seed(0)
    hf = HFViT(HFViTConfig(image_size=16, patch_size=4, num_channels=1, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64, num_labels=10)).eval()
    hf.save_pretrained(tmp_path / "hf")
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    run = Run.open(tmp_path / "run", family="vit")
    x = torch.randn(2, 1, 16, 16)
    torch.testing.assert_close(run.model().eval()(x), hf(x).logits, atol=1e-5, rtol=0)
    assert main(["info", str(tmp_path / "run")]) == 0
    assert "n_patches 16" in capsys.readouterr().out
    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "back")]) == 0
    assert "ViTForImageClassification.from_pretrained" in capsys.readouterr().out
    back = HFViT.from_pretrained(tmp_path / "back").eval()   # a grey ViT goes out as its RGB twin (pipelines feed RGB)
    assert back.config.num_channels == 3
    torch.testing.assert_close(back(x.expand(-1, 3, -1, -1)).logits, hf(x).logits, atol=1e-5, rtol=0)

    overlapping = tmp_path / "overlapping"
    overlapping.mkdir()
    cfg = preset("vit-digits", stride=1)
    write_run_config(overlapping, "vit", {"model": cfg})
    from lmlab.io.checkpoint import save_weights
    save_weights(overlapping, ViTForImageClassification(cfg), step=0)
    capsys.readouterr()                                                   # transformers' loading bars
    cli_fails(["hf", "export", str(overlapping), "--out", str(tmp_path / "no")], "stride 1 ≠ patch_size 2")
    assert not (tmp_path / "no").exists()
def test_hf_resnet_imports_as_a_cnn_run_with_its_labels(tmp_path, capsys, cli_fails):
    from transformers import ResNetConfig, ResNetForImageClassification
    cfg = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic",
                       id2label={0: "cat", 1: "dog", 2: "owl"}, label2id={"cat": 0, "dog": 1, "owl": 2})
    ResNetForImageClassification(cfg).save_pretrained(tmp_path / "hf")
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert "lmlab classify" in capsys.readouterr().out
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (meta["family"], meta["labels"], meta["model"]["channels"]) == ("cnn", ["cat", "dog", "owl"], [8, 16])
    cli_fails(["classify", str(tmp_path / "run"), str(tmp_path / "x.png")], "no preprocessing settings", "--init")
