"""Fine-tune a pretrained BERT for extractive question answering (Devlin et al. 2019, §4.2; SQuAD).

A start/end head (BertForQuestionAnswering) on a pretrained encoder (an lmlab BERT run or a Hugging Face
BERT folder), trained on SQuAD-format questions read as `[CLS] question [SEP] context window [SEP]`
(lmlab.data.qa: long contexts in sliding windows) with the mean of the start and end cross-entropies.
Whole articles of the training file are held out for the validation loss (or `--eval FILE` is used); after
training, every question of the evaluation set is answered (the best span over its windows, lmlab.tools.qa)
and scored with SQuAD's exact match and F1. The run directory gets config.json (family "bert-qa"),
model.safetensors, tokenizer.json, metrics.jsonl, loss.png, predictions.json ({id: answer}, as the SQuAD
script reads it) and results.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lmlab.data.qa import QABatches, QADataConfig, eval_batches, qa_features, read_squad, split_articles
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text
from lmlab.models.bert.model import BertForQuestionAnswering
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.hf import load_bert_encoder
from lmlab.runs.run import write_run_config
from lmlab.tools.qa import best_answers, span_logits
from lmlab.tools.qa_metrics import squad_scores
from lmlab.train.config import FINETUNE_TRAIN, TrainConfig
from lmlab.train.objectives import span_extraction
from lmlab.train.trainer import Trainer


def finetune_qa(model_path: str | Path, data: str | Path, data_cfg: QADataConfig, train_cfg: TrainConfig,
                out: str | Path, eval_data: str | Path | None = None, overwrite: bool = False, quiet: bool = False,
                skip_bad: bool = False) -> dict:
    """Fine-tune the encoder of `model_path` on the questions of `data` into run directory `out`; returns
    results.json's contents (exact match and F1 in percent on `eval_data`, else on the held-out articles)."""
    examples = read_squad(data, skip_bad, data_cfg.unanswerable)
    if eval_data is None:
        train_ex, eval_ex = split_articles(examples, data_cfg.val_fraction, data_cfg.split_seed)
    else:
        train_ex, eval_ex = examples, read_squad(eval_data, skip_bad, data_cfg.unanswerable)
    encoder, tok = load_bert_encoder(model_path)
    if data_cfg.max_len > encoder.cfg.max_seq_len:
        raise LmlabError(f"max_len {data_cfg.max_len} is longer than the encoder's {encoder.cfg.max_seq_len} "
                         "positions; lower --max-len")
    train_feats, _ = qa_features(train_ex, tok, data_cfg)
    eval_feats, contexts = qa_features(eval_ex, tok, data_cfg)
    pad = tok.special_ids["pad"]

    torch.manual_seed(train_cfg.seed)
    model = BertForQuestionAnswering(encoder)
    run_dir = prepare_run_dir(out, resume=False, overwrite=overwrite)
    tok.save(run_dir / "tokenizer.json")
    write_run_config(run_dir, "bert-qa", {"model": encoder.cfg, "train": train_cfg, "data": data_cfg},
                     source=str(data), encoder=str(model_path), eval=str(eval_data) if eval_data else None)
    if not quiet:
        held = sum(f["start"] > 0 for f in train_feats)
        print(f"fine-tuning {model.num_parameters() / 1e6:.2f}M parameters | {len(train_ex)} / {len(eval_ex)} "
              f"train / eval questions | {len(train_feats)} training windows of ≤ {data_cfg.max_len} tokens "
              f"({held} hold their answer whole)")
    trainer = Trainer(model, span_extraction, QABatches(train_feats, train_cfg.batch_size, pad, train_cfg.seed),
                      train_cfg, run_dir, eval_data=eval_batches(eval_feats, train_cfg.batch_size, pad)
                      [:train_cfg.eval_batches], quiet=quiet)
    trainer.fit()

    logits = span_logits(model, eval_feats, train_cfg.batch_size, pad, trainer.device)
    answers = best_answers(eval_ex, eval_feats, logits, contexts, data_cfg)
    predictions = {ex["id"]: a[0]["answer"] if a else "" for ex, a in zip(eval_ex, answers)}
    scores = squad_scores(predictions, {ex["id"]: [a["text"] for a in ex["answers"]] for ex in eval_ex})
    results = {**scores, "n_eval": len(eval_ex), "n_train": len(train_ex), "eval": str(eval_data or "held-out articles"),
               "windows_train": len(train_feats), "windows_eval": len(eval_feats), "max_len": data_cfg.max_len}
    atomic_write_text(run_dir / "predictions.json", json.dumps(predictions, indent=1, ensure_ascii=False) + "\n")
    atomic_write_text(run_dir / "results.json", json.dumps(results, indent=2) + "\n")
    return results


def config_classes() -> dict:
    """The config sections `lmlab finetune qa` routes --key value overrides to."""
    return {"train": TrainConfig, "data": QADataConfig}


def default_configs() -> dict:
    return {"train": FINETUNE_TRAIN, "data": QADataConfig()}
