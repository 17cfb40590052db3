"""`lmlab hf import/export` for BERT: an HF BERT folder becomes a "bert" run that fine-tuning and
embedding take, and a BERT run goes out to transformers with the same logits (fp32, ≤ 1e-5)."""

import json

import pytest
import torch

from lmlab.cli import main
from lmlab.recipes.pretrain_bert import BertDataConfig, load_bert_encoder, load_bert_run, pretrain_bert
from lmlab.train.config import TrainConfig

transformers = pytest.importorskip("transformers")


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
    ours = load_bert_run(tmp_path / "run").eval()
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


def test_export_a_trained_run_and_back(tmp_path, capsys):
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
    ours = load_bert_run(tmp_path / "run").eval()
    _, tok = load_bert_encoder(tmp_path / "run")
    text = "To be, or not to be"
    ids = torch.tensor([tok.encode_pair(text)["input_ids"]])
    assert hf_tok(text)["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).mlm_logits, hf(ids).prediction_logits, atol=1e-5, rtol=0)
    assert (tmp_path / "hf" / "vocab.txt").read_text().splitlines()[:5] == VOCAB[:5]
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "back")]) == 0
    back = load_bert_run(tmp_path / "back").eval()
    with torch.no_grad():
        assert torch.equal(back(ids).mlm_logits, ours(ids).mlm_logits)
    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "hf")]) == 2  # never overwrite
