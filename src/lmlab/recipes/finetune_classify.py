"""Fine-tune a pretrained BERT for text classification (Devlin et al. 2019, §4.1; notes 5.一 and 001).

A linear head on the pooled [CLS] of a pretrained encoder (an lmlab BERT run or a Hugging Face BERT
folder), trained with cross-entropy on labelled texts. `pooling = "mean"` puts the head on the mean of
the real tokens' final hidden states instead: an encoder pretrained by masked-LM alone (lmlab's default,
sentence_task none) never trained its [CLS] state or its pooler, and a frozen encoder under LoRA cannot
retrain them well. The notes' fine-tuning advice:
- a small learning rate with warm-up, so the pretrained knowledge is adjusted, not overwritten. The
  default here is 1e-4 (one tenth of lmlab's pretraining rate 1e-3, the notes' rule), linear warm-up
  over 30 steps (10 % of the default 300), then linear decay to 0 (BERT's schedule). A Hugging Face bert-base
  wants 2e-5 … 5e-5 (Devlin et al.); a tiny BERT pretrained for minutes on a CPU learns faster with
  3e-4 … 1e-3. Set it with --lr.
- freezing the lower layers: `freeze_layers = k` freezes the embeddings and the k lowest encoder
  layers (requires_grad False, so the optimizer never sees them); k = 0 trains everything, k =
  n_layers trains only the pooler and the head. The embeddings are frozen as soon as k ≥ 1: they are
  the bottom of the stack.
Long texts are cut by head / tail / head+tail or read in sliding windows whose logits are averaged
(lmlab.data.classification). The run directory gets config.json (family "bert-classifier"),
model.safetensors, tokenizer.json, metrics.jsonl, loss.png, and, after training, results.json
(accuracy and macro-F1 on the held-out test split, accuracy on the validation split, every text counted)
and confusion.png.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lmlab.config import to_dict
from lmlab.data.classification import (
    ClassificationDataConfig,
    SequenceBatches,
    doc_batches,
    encode_examples,
    keep_labels,
    label_vocab,
    pool_logits,
    read_examples,
    split_examples,
)
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text
from lmlab.io.peft_adapters import run_adapter_writer
from lmlab.models.bert.model import BertForSequenceClassification, freeze_lower_layers
from lmlab.nn.nf4_linear import NF4Config
from lmlab.peft.apply import apply_lora
from lmlab.peft.lora import LoRAConfig
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.hf import hf_bert_base, load_bert_encoder
from lmlab.runs.run import check_qlora, write_run_config
from lmlab.tools.classification import accuracy, confusion_matrix, macro_f1, plot_confusion
from lmlab.train.config import FINETUNE_TRAIN, FinetuneConfig, TrainConfig
from lmlab.train.objectives import classification
from lmlab.train.trainer import Trainer


def with_classifier(lora: LoRAConfig) -> LoRAConfig:
    """The LoRA config a classifier fine-tune runs with: the new classifier always trains in full."""
    return lora.saving("classifier")


def mlm_only(model_path: str | Path) -> bool:
    """Is `model_path` an lmlab BERT run pretrained without a sentence task (no NSP/SOP to train [CLS])?"""
    cfg = Path(model_path) / "config.json"
    meta = json.loads(cfg.read_text()) if cfg.is_file() else {}
    return meta.get("family") == "bert" and meta.get("data", {}).get("sentence_task") == "none"


@torch.no_grad()
def predict(model, batches: list[dict], device: torch.device) -> tuple[list[int], list[int]]:
    """(true labels, predicted labels) per text, the windows of a text pooled."""
    model.eval()
    y_true, y_pred = [], []
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
        logits = pool_logits(logits, batch["doc"], batch["labels"].numel())
        y_true += batch["labels"].tolist()
        y_pred += logits.argmax(-1).tolist()
    return y_true, y_pred


def finetune_classify(model_path: str | Path, data: str | Path, data_cfg: ClassificationDataConfig,
                      train_cfg: TrainConfig, ft_cfg: FinetuneConfig, out: str | Path,
                      overwrite: bool = False, quiet: bool = False, lora: LoRAConfig | None = None,
                      nf4: NF4Config | None = None, skip_bad: bool = False) -> dict:
    """Fine-tune the encoder of `model_path` on the labelled texts of `data` into run directory `out`;
    returns results.json's contents (test accuracy, macro-F1, confusion matrix, majority baseline).
    With `lora`, the encoder is frozen and LoRA adapters train with the classifier (always in
    modules_to_save: it is new); the adapters also go to RUN/adapter/ in peft's layout. With `nf4` as well
    (QLoRA) the frozen encoder's linear layers are stored in 4-bit NF4, in memory and in model.safetensors.
    `skip_bad`: skip the data's bad rows (lmlab.data.rows) and report how many, instead of refusing the first."""
    check_qlora(lora, nf4)
    examples = keep_labels(read_examples(data, data_cfg.text_column, data_cfg.label_column,
                                         data_cfg.pair_column, skip_bad), data_cfg.labels)
    vocab = label_vocab(examples)
    train_ex, val_ex, test_ex = split_examples(examples, data_cfg.val_fraction, data_cfg.test_fraction,
                                               data_cfg.split_seed)
    encoder, tok = load_bert_encoder(model_path)
    if data_cfg.max_len > encoder.cfg.max_seq_len:
        raise LmlabError(f"max_len {data_cfg.max_len} is longer than the encoder's {encoder.cfg.max_seq_len} "
                         "positions; lower --max-len")
    train_seqs, val_seqs, test_seqs = (encode_examples(x, tok, vocab, data_cfg) for x in (train_ex, val_ex, test_ex))
    pad = tok.special_ids["pad"]

    torch.manual_seed(train_cfg.seed)
    model = BertForSequenceClassification(encoder, len(vocab), classifier_dropout=ft_cfg.classifier_dropout,
                                          pooling=ft_cfg.pooling)
    frozen = freeze_lower_layers(model.bert, ft_cfg.freeze_layers)
    if lora is not None:
        if ft_cfg.freeze_layers:
            raise LmlabError("--freeze-layers and --lora do not mix: with LoRA every encoder weight is frozen "
                             "already (only the adapters and the classifier train)")
        lora = with_classifier(lora)
        apply_lora(model, lora, quiet=quiet, nf4=nf4)

    if ft_cfg.pooling == "cls" and mlm_only(model_path) and not quiet:
        print(f"note: {model_path} was pretrained by masked-LM alone (sentence_task none), so its [CLS] state and "
              "pooler never trained; --pooling mean usually classifies better (and much better under LoRA)")
    run_dir = prepare_run_dir(out, resume=False, overwrite=overwrite)
    tok.save(run_dir / "tokenizer.json")
    write_run_config(run_dir, "bert-classifier", {"model": encoder.cfg, "train": train_cfg, "data": data_cfg,
                                                  "finetune": ft_cfg},
                     source=str(data), lora=lora, nf4=nf4, encoder=str(model_path), labels=vocab)
    if not quiet:
        n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(f"fine-tuning {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters "
              f"({n_train / 1e6:.2f}M trainable, {len(frozen)} tensors frozen) | {len(vocab)} labels | "
              f"{len(train_ex)} / {len(val_ex)} / {len(test_ex)} train / val / test texts "
              f"({len(train_seqs)} training sequences, {data_cfg.truncation})")
    train_data = SequenceBatches(train_seqs, train_cfg.batch_size, pad, train_cfg.seed)
    val = doc_batches(val_seqs, train_cfg.batch_size, pad)[:train_cfg.eval_batches]
    hf_base = hf_bert_base(model_path)
    on_eval = run_adapter_writer(run_dir, model, hf_base, quiet=quiet) if lora else None
    trainer = Trainer(model, classification, train_data, train_cfg, run_dir, eval_data=val, quiet=quiet,
                      on_eval=on_eval)
    trainer.fit()

    y_true, y_pred = predict(model, doc_batches(test_seqs, train_cfg.batch_size, pad), trainer.device)
    # the trainer's val_acc is a mean of per-batch accuracies over at most eval_batches batches (a short
    # last batch weighs as much as a full one); results.json counts every validation text instead
    y_val, p_val = predict(model, doc_batches(val_seqs, train_cfg.batch_size, pad), trainer.device)
    matrix = confusion_matrix(y_true, y_pred, len(vocab))
    majority = max(sum(t == c for t in y_true) for c in range(len(vocab))) / len(y_true)
    results = {"labels": vocab, "n_test": len(y_true), "n_train": len(train_ex), "n_val": len(val_ex),
               "test_accuracy": accuracy(y_true, y_pred),
               "test_macro_f1": macro_f1(y_true, y_pred), "majority_accuracy": majority,
               "val_accuracy": accuracy(y_val, p_val) if y_val else None, "confusion_matrix": matrix,
               "truncation": data_cfg.truncation, "freeze_layers": ft_cfg.freeze_layers,
               "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
               "lora": to_dict(lora) if lora else None, "nf4": nf4 is not None}
    atomic_write_text(run_dir / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    plot_confusion(matrix, vocab, run_dir / "confusion.png",
                   title=f"test accuracy {results['test_accuracy']:.3f}\nmacro-F1 {results['test_macro_f1']:.3f}")
    return results


def config_classes() -> dict:
    """The config sections `lmlab finetune classify` routes --key value overrides to."""
    return {"train": TrainConfig, "data": ClassificationDataConfig, "finetune": FinetuneConfig}


def default_configs() -> dict:
    return {"train": FINETUNE_TRAIN, "data": ClassificationDataConfig(), "finetune": FinetuneConfig()}

