"""Fine-tune a pretrained BERT for token classification, e.g. named entities (Devlin et al. 2019, §5.3).

A linear head on every token's final hidden state of a pretrained encoder (an lmlab BERT run or a
Hugging Face BERT folder), trained with cross-entropy on the first WordPiece of each word of CoNLL
files (lmlab.data.conll). Defaults as `lmlab finetune classify`'s (lr 1e-4 with linear warm-up and
decay; a tiny BERT pretrained for minutes on a CPU learns faster with 3e-4 … 1e-3).

Evaluation is seqeval's entity-level precision / recall / F1, overall and per type, on the test
sentences (a --test file, or a seeded share of --data). Two more figures put it in context:
- unseen: the same scores on the entities whose text never occurs as an entity of the training data
  (both the gold and the predicted ones restricted so). When labels come from a rule (a list of names),
  F1 on all entities says how well the model learnt the rule; F1 on unseen names says whether it learnt
  what a name looks like in context, which a list cannot;
- gazetteer: the scores of tagging every occurrence of a training entity's text, the memorising
  baseline (its unseen recall is 0 by construction).
The run directory gets config.json (family "bert-ner", the labels), model.safetensors, tokenizer.json,
metrics.jsonl, loss.png, results.json and test_predictions.conll (word, gold, predicted).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lmlab.config import to_dict
from lmlab.data.conll import (
    NerDataConfig,
    TokenBatches,
    encode_sentences,
    label_vocab,
    read_conll,
    split_sentences,
    token_batches,
)
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text
from lmlab.io.peft_adapters import run_adapter_writer
from lmlab.models.bert.model import BertForTokenClassification, freeze_lower_layers
from lmlab.nn.nf4_linear import NF4Config
from lmlab.peft.apply import apply_lora
from lmlab.peft.lora import LoRAConfig
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.hf import hf_bert_base, load_bert_encoder
from lmlab.runs.run import check_qlora, write_run_config
from lmlab.tools.token_tagging import entity_names, gazetteer_tags, only_unseen, predict_words, seqeval_scores
from lmlab.train.config import FINETUNE_TRAIN, TaggerConfig, TrainConfig
from lmlab.train.objectives import token_classification
from lmlab.train.trainer import Trainer


def load_splits(data, val, test, cfg: NerDataConfig, skip_bad: bool) -> tuple[list, list, list]:
    """Train / validation / test sentences: the --val and --test files where given, else seeded shares of --data."""
    main = read_conll(data, cfg.scheme, skip_bad)
    train, val_s, test_s = split_sentences(main, 0.0 if val else cfg.val_fraction,
                                           0.0 if test else cfg.test_fraction, cfg.split_seed)
    val_s = read_conll(val, cfg.scheme, skip_bad) if val else val_s
    test_s = read_conll(test, cfg.scheme, skip_bad) if test else test_s
    if not test_s:
        raise LmlabError(f"no test sentences: {data} has {len(main)}; give --test FILE or a larger test_fraction")
    return train, val_s, test_s


def evaluate(model, sentences, chunks, vocab, pad: int, batch_size: int, device) -> list[list[str]]:
    """The predicted tag of every word of every sentence."""
    preds = predict_words(model, chunks, len(sentences), batch_size, pad, device)
    return [[vocab[i] for i, _ in p] for p in preds]


def finetune_ner(model_path: str | Path, data: str | Path, data_cfg: NerDataConfig, train_cfg: TrainConfig,
                 tagger_cfg: TaggerConfig, out: str | Path, val: str | Path | None = None,
                 test: str | Path | None = None, overwrite: bool = False, quiet: bool = False,
                 skip_bad: bool = False, lora: LoRAConfig | None = None, nf4: NF4Config | None = None) -> dict:
    """Fine-tune the encoder of `model_path` on the CoNLL sentences of `data` into run directory `out`;
    returns results.json's contents (seqeval scores on the test sentences, on unseen entities, the gazetteer's).
    With `lora` the encoder is frozen and adapters train with the classifier (always in full: it is new), also
    saved in peft's layout in RUN/adapter/; with `nf4` too (QLoRA) the frozen linear layers are stored in NF4."""
    check_qlora(lora, nf4)
    train_s, val_s, test_s = load_splits(data, val, test, data_cfg, skip_bad)
    vocab = label_vocab(train_s + val_s + test_s)
    encoder, tok = load_bert_encoder(model_path)
    if data_cfg.max_len > encoder.cfg.max_seq_len:
        raise LmlabError(f"max_len {data_cfg.max_len} is longer than the encoder's {encoder.cfg.max_seq_len} "
                         "positions; lower --max-len")
    train_c, val_c, test_c = (encode_sentences(s, tok, vocab, data_cfg.max_len) for s in (train_s, val_s, test_s))
    pad = tok.special_ids["pad"]

    torch.manual_seed(train_cfg.seed)
    model = BertForTokenClassification(encoder, len(vocab), classifier_dropout=tagger_cfg.classifier_dropout)
    frozen = freeze_lower_layers(model.bert, tagger_cfg.freeze_layers)
    if lora is not None:
        if tagger_cfg.freeze_layers:
            raise LmlabError("--freeze-layers and --lora do not mix: with LoRA every encoder weight is frozen "
                             "already (only the adapters and the classifier train)")
        lora = lora.saving("classifier")
        apply_lora(model, lora, quiet=quiet, nf4=nf4)
    run_dir = prepare_run_dir(out, resume=False, overwrite=overwrite)
    tok.save(run_dir / "tokenizer.json")
    write_run_config(run_dir, "bert-ner", {"model": encoder.cfg, "train": train_cfg, "data": data_cfg,
                                           "finetune": tagger_cfg},
                     source=str(data), encoder=str(model_path), labels=vocab, lora=lora, nf4=nf4)
    if not quiet:
        n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(f"fine-tuning {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters "
              f"({n_train / 1e6:.2f}M trainable, {len(frozen)} tensors frozen) | labels {' '.join(vocab)} | "
              f"{len(train_s)} / {len(val_s)} / {len(test_s)} train / val / test sentences "
              f"({len(train_c)} training chunks of at most {data_cfg.max_len} pieces)")
    train_data = TokenBatches(train_c, train_cfg.batch_size, pad, train_cfg.seed)
    val_batches = token_batches(val_c, train_cfg.batch_size, pad)[:train_cfg.eval_batches] if val_c else None
    on_eval = run_adapter_writer(run_dir, model, hf_bert_base(model_path), quiet=quiet) if lora else None
    trainer = Trainer(model, token_classification, train_data, train_cfg, run_dir, eval_data=val_batches,
                      quiet=quiet, on_eval=on_eval)
    trainer.fit()

    words = [s.words for s in test_s]
    gold = [s.labels for s in test_s]
    pred = evaluate(model, test_s, test_c, vocab, pad, train_cfg.batch_size, trainer.device)
    names = entity_names([s.words for s in train_s], [s.labels for s in train_s])
    seen = {" ".join(k) for k in names}
    gazetteer = gazetteer_tags(words, names)
    unseen_gold = only_unseen(words, gold, seen)
    results = {
        "labels": vocab, "n_train": len(train_s), "n_val": len(val_s), "n_test": len(test_s),
        "test": seqeval_scores(gold, pred),
        "test_unseen": seqeval_scores(unseen_gold, only_unseen(words, pred, seen)),
        "gazetteer": seqeval_scores(gold, gazetteer),
        "gazetteer_unseen": seqeval_scores(unseen_gold, only_unseen(words, gazetteer, seen)),
        "val": seqeval_scores([s.labels for s in val_s],
                              evaluate(model, val_s, val_c, vocab, pad, train_cfg.batch_size, trainer.device))
        if val_s else None,
        "n_training_names": len(names), "freeze_layers": tagger_cfg.freeze_layers,
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "lora": to_dict(lora) if lora else None, "nf4": nf4 is not None,
        "scorer": "seqeval (CoNLL rules: type and both ends right), micro-averaged over entities",
    }
    atomic_write_text(run_dir / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    rows = ["\n".join(f"{w}\t{g}\t{p}" for w, g, p in zip(*t)) + "\n" for t in zip(words, gold, pred)]
    atomic_write_text(run_dir / "test_predictions.conll", "\n".join(rows))
    return results


def config_classes() -> dict:
    """The config sections `lmlab finetune ner` routes --key value overrides to."""
    return {"train": TrainConfig, "data": NerDataConfig, "finetune": TaggerConfig}


def default_configs() -> dict:
    return {"train": FINETUNE_TRAIN, "data": NerDataConfig(), "finetune": TaggerConfig()}
