"""Fine-tuning a BERT for NER end to end on real text (tests/data/ner_debian_300.conll: Debian package
descriptions, package names tagged by benchmarks/ner_data.py's rule): the loss falls, results.json holds
seqeval's figures (checked against seqeval on test_predictions.conll), the run reloads for `lmlab tag`, the
CLI refuses bad input in one line, and the exported folder gives what transformers' token-classification
pipeline gives (entities, spans and scores, to 1e-5)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from lmlab.cli import main
from lmlab.data.bert_pretraining import BertDataConfig
from lmlab.data.conll import NerDataConfig, read_conll, split_words
from lmlab.io.checkpoint import save_weights
from lmlab.models.bert import preset
from lmlab.recipes.finetune_ner import finetune_ner
from lmlab.recipes.pretrain_bert import pretrain_bert
from lmlab.runs.hf import export_hf
from lmlab.runs.run import Run
from lmlab.tools.token_tagging import tag_texts
from lmlab.train.config import FINETUNE_TRAIN, TaggerConfig, TrainConfig

DATA = Path(__file__).parents[1] / "data" / "ner_debian_300.conll"
TEXTS = ["Perl bindings for the OCaml compiler and python3", "plugin for gnome emacs vim with ssh support",
         "(see /etc/hosts). use '%s': g++, libc6.1"]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    """bert-tiny, MLM on the sample's own text for 6 steps: seconds."""
    folder = tmp_path_factory.mktemp("bert")
    (folder / "corpus.txt").write_text("\n\n".join(" ".join(s.words) for s in read_conll(DATA)), encoding="utf-8")
    train = TrainConfig(max_steps=6, batch_size=8, eval_every=10, eval_batches=1, warmup_steps=2, lr=1e-3,
                        device="cpu")
    pretrain_bert(str(folder / "corpus.txt"), preset("bert-tiny", dropout=0.0), train,
                  BertDataConfig(tokenizer_vocab_size=600, max_len=48, sentence_task="none"), folder / "run",
                  quiet=True)
    return folder / "run"


@pytest.fixture(scope="module")
def tagger(encoder, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ner") / "run"
    train = dataclasses.replace(FINETUNE_TRAIN, lr=2e-3, max_steps=30, warmup_steps=3, batch_size=8, eval_every=15,
                                log_every=5, device="cpu")
    res = finetune_ner(encoder, DATA, NerDataConfig(max_len=32), train, TaggerConfig(), out, quiet=True)
    return out, res


def test_loss_falls_and_results_hold_seqeval_figures(tagger):
    out, res = tagger
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert losses[-1] < losses[0] / 2, losses
    assert res["labels"] == ["O", "B-PKG", "I-PKG"] and (res["n_train"], res["n_val"], res["n_test"]) == (240, 30, 30)
    for key in ("test", "test_unseen", "gazetteer", "gazetteer_unseen", "val"):
        assert {"precision", "recall", "f1", "support", "per_type"} <= res[key].keys(), key
    assert res["test"]["support"] == res["test"]["per_type"]["PKG"]["support"] > 0
    assert res["gazetteer_unseen"]["recall"] == 0.0              # a list of training names finds no new name
    assert json.loads((out / "results.json").read_text()) == res
    for name in ("config.json", "model.safetensors", "tokenizer.json", "loss.png", "test_predictions.conll"):
        assert (out / name).is_file(), name
    # results.json's test figures are seqeval's on the written predictions
    from seqeval.metrics import f1_score
    rows = [block.splitlines() for block in (out / "test_predictions.conll").read_text().strip().split("\n\n")]
    gold = [[r.split("\t")[1] for r in b] for b in rows]
    pred = [[r.split("\t")[2] for r in b] for b in rows]
    assert len(gold) == 30 and f1_score(gold, pred) == pytest.approx(res["test"]["f1"])


def test_run_reloads_and_tags_text(tagger):
    out, _ = tagger
    run = Run.open(out, family="bert-ner")
    found = tag_texts(run.model().eval(), run.tokenizer(), run.meta["labels"], TEXTS, max_len=32)
    assert len(found) == 3
    for text, ents in zip(TEXTS, found):
        starts = {a for _, a, _ in split_words(text)}
        assert all(e["type"] == "PKG" and e["start"] in starts and text[e["start"]:e["end"]] == e["text"]
                   and 0 < e["score"] <= 1 for e in ents)


def test_export_agrees_with_the_transformers_pipeline(tagger, tmp_path):
    """Words that are one BERT word each (no inner punctuation): the pipeline's words are lmlab's. The run's
    classifier is replaced by random weights (seeded) first, with O pushed down, so that many words get a label
    other than O (a briefly trained model labels few)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline
    run_dir = tmp_path / "run"
    shutil.copytree(tagger[0], run_dir)
    model = Run.open(run_dir).model()
    with torch.no_grad():
        model.classifier.weight.copy_(torch.randn(model.classifier.weight.shape, generator=torch.Generator().manual_seed(0)))
        model.classifier.bias[tagger[1]["labels"].index("O")] = -30.0  # O never wins, whatever the trained encoder
    save_weights(run_dir, model, step=0)
    folder, model_type = export_hf(run_dir, tmp_path / "hf")
    assert model_type == "bert"
    labels = tagger[1]["labels"]
    hf_cfg = json.loads((folder / "config.json").read_text())
    assert hf_cfg["architectures"] == ["BertForTokenClassification"]
    assert hf_cfg["id2label"] == {str(i): lb for i, lb in enumerate(labels)}
    pipe = pipeline("token-classification", model=AutoModelForTokenClassification.from_pretrained(folder),
                    tokenizer=AutoTokenizer.from_pretrained(folder), aggregation_strategy="first", device="cpu")
    texts = TEXTS[:2] + [" ".join(w for w in s.words if w.isalnum()) for s in read_conll(DATA)[:30]]
    run = Run.open(run_dir)
    ours = tag_texts(run.model().eval(), run.tokenizer(), labels, texts, max_len=128)  # no chunks: as the pipeline
    n = 0
    for text, mine in zip(texts, ours):
        theirs = pipe(text)
        assert [(e["entity_group"], e["start"], e["end"]) for e in theirs] == \
               [(e["type"], e["start"], e["end"]) for e in mine], text
        assert all(abs(float(a["score"]) - b["score"]) <= 1e-5 for a, b in zip(theirs, mine))
        n += len(mine)
    assert n >= len(texts), n  # entities were compared: O never wins, so every text has at least one


def test_cli_end_to_end_and_refusals(encoder, tmp_path, capsys):
    bad = tmp_path / "bad.conll"
    bad.write_text("a O\nb I-PKG\n", encoding="utf-8")
    assert main(["finetune", "ner", "--model", str(encoder), "--data", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err and "Traceback" not in err and not (tmp_path / "x").exists()
    assert main(["finetune", "ner", "--model", str(tmp_path), "--data", str(DATA), "--out", str(tmp_path / "x")]) == 2
    assert "neither an lmlab BERT run" in capsys.readouterr().err
    out = tmp_path / "ner"
    assert main(["finetune", "ner", "--model", str(encoder), "--data", str(DATA), "--max-len", "32", "--quiet",
                 "--out", str(out), "--max_steps", "4", "--batch_size", "8", "--eval_every", "4", "--lr", "1e-3"]) == 0
    assert "test entity F1" in capsys.readouterr().out
    assert main(["finetune", "ner", "--model", str(encoder), "--data", str(DATA), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err                    # never overwritten silently
    assert main(["tag", str(out), TEXTS[0], "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["text"] == TEXTS[0] and isinstance(row["entities"], list)
    assert main(["tag", str(out)]) == 2 and "no texts" in capsys.readouterr().err
    lora = tmp_path / "lora"                                      # LoRA: adapters + the classifier train
    assert main(["finetune", "ner", "--model", str(encoder), "--data", str(DATA), "--max-len", "32", "--quiet",
                 "--out", str(lora), "--max_steps", "2", "--batch_size", "4", "--eval_every", "2",
                 "--lora", "r=2,targets=qkv"]) == 0
    res = json.loads((lora / "results.json").read_text())
    assert res["lora"]["modules_to_save"] == ["classifier"] and (lora / "adapter" / "adapter_config.json").is_file()
    assert main(["tag", str(lora), TEXTS[0]]) == 0 and TEXTS[0] in capsys.readouterr().out
    assert main(["tag", str(encoder), "x"]) == 2 and "bert-ner" in capsys.readouterr().err
