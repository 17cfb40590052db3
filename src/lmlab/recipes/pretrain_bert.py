"""Pretrain a BERT (Devlin et al. 2019): masked-LM + a sentence-pair task, on a text corpus.

The corpus becomes documents and masked "[CLS] A [SEP] B [SEP]" examples (lmlab.data.bert_pretraining);
a WordPiece tokenizer is trained on the training part unless one is given. The loss is MLM + the
sentence loss; evaluation reports both, with their accuracies, on held-out documents.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from lmlab.data.bert_pretraining import BertDataConfig, mlm_batches, split_documents
from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import TextTokenizer, train_tokenizer
from lmlab.errors import LmlabError
from lmlab.io.peft_adapters import run_adapter_writer
from lmlab.models.bert import BertConfig
from lmlab.models.bert.model import BertForPreTraining
from lmlab.nn.nf4_linear import NF4Config
from lmlab.peft.apply import apply_lora
from lmlab.peft.lora import LoRAConfig
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.hf import hf_origin, load_bert_init
from lmlab.runs.run import Run, check_qlora, write_run_config
from lmlab.train.config import TrainConfig
from lmlab.train.objectives import bert_pretraining
from lmlab.train.trainer import Trainer


def pretrain_bert(data: str | None, model_cfg: BertConfig | None, train_cfg: TrainConfig,
                  data_cfg: BertDataConfig | None, out: str | Path, resume: bool = False, overwrite: bool = False,
                  quiet: bool = False, lora: LoRAConfig | None = None,
                  tokenizer: str | Path | None = None, nf4: NF4Config | None = None,
                  skip_bad: bool = False, init: str | Path | None = None) -> dict[str, float]:
    """Train a BertForPreTraining into run directory `out`; returns the final evaluation. With `lora`, only
    LoRA adapters train (lmlab.peft), on a frozen base; `nf4` too: QLoRA, that base stored in 4-bit NF4. On
    resume the run's own corpus, model, data, LoRA and NF4 settings are used (`data`, `model_cfg`, `data_cfg`,
    `lora`, `nf4` are ignored); only `train_cfg` may
    differ, e.g. more steps. The examples are rebuilt from the corpus with the run's tokenizer, so the
    corpus must still be where config.json's "source" says. `tokenizer`: a WordPiece tokenizer.json or
    BERT vocab.txt to use instead of training one (e.g. bert-base-uncased's); it sets the vocabulary size.
    (Hugging Face's WordPiece trainer breaks ties between equally frequent merges in hash order, so two
    trainings on the same text can differ in a few tokens; give the same file to get the same ids.)
    `skip_bad`: leave out the corpus's lines that are not UTF-8 (lmlab.data.rows) instead of refusing them.
    `init`: continue pretraining this encoder (an lmlab BERT run, a bert-classifier run's encoder, or a Hugging
    Face BERT folder; lmlab.runs.hf.load_bert_init) with its tokenizer; `model_cfg` and `tokenizer` are then
    not used, and data settings may differ (max_len at most the init's positions). LoRA (and NF4) wrap a
    pretrained base only: without `init` they are refused, since adapters on a random, frozen base learn
    little."""
    run_dir = Path(out)
    if resume:
        run = Run.open(run_dir, family="bert")
        cfgs = run.configs("model", "data")
        model_cfg, data_cfg, data = cfgs["model"], cfgs["data"], run.corpus()
        lora, nf4, init = run.lora, run.nf4, None
    check_qlora(lora, nf4)
    if lora is not None and init is None and not resume:
        raise LmlabError("--lora trains adapters on a frozen base, and without --init that base is random (it "
                         "would never learn); give --init RUN_OR_HF_FOLDER (a pretrained BERT) or drop --lora")
    if init is not None:
        moot = [f"--{k}" for k in ("tokenizer_vocab_size", "lowercase") if getattr(data_cfg, k) != getattr(BertDataConfig(), k)]
        if tokenizer is not None or moot:
            raise LmlabError(f"--init {init} brings its own tokenizer (its vocabulary is the model's); drop "
                             f"{' and '.join((['--tokenizer'] if tokenizer is not None else []) + moot)}")
    init_model = None
    if init is not None:  # before the corpus is read: a wrong init costs nothing
        init_model, tok = load_bert_init(init)
        _check_wordpiece(tok, init)
        model_cfg = init_model.cfg
        if data_cfg.max_len > model_cfg.max_seq_len:
            raise LmlabError(f"max_len {data_cfg.max_len} is longer than the {model_cfg.max_seq_len} positions of "
                             f"--init {init}; give --max_len {model_cfg.max_seq_len} or less")
    train_docs, val_docs = split_documents(load_text(data, skip_bad), data_cfg.val_fraction, data)
    if resume:
        tok = run.tokenizer()
    elif init is None:
        if tokenizer is not None:
            tok = TextTokenizer.load(tokenizer, lowercase=data_cfg.lowercase)
            _check_wordpiece(tok, tokenizer)
        else:
            tok = train_tokenizer("wordpiece", "\n".join("\n".join(d) for d in train_docs),
                                  data_cfg.tokenizer_vocab_size, data_cfg.lowercase)
        model_cfg = dataclasses.replace(model_cfg, vocab_size=tok.vocab_size,
                                        max_seq_len=max(model_cfg.max_seq_len, data_cfg.max_len),
                                        pad_id=tok.special_ids["pad"])
    train_data, val, (n_train, n_val) = mlm_batches(train_docs, val_docs, tok, data_cfg, train_cfg.batch_size,
                                                    train_cfg.seed, train_cfg.eval_batches)

    prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)
    if not resume:
        tok.save(run_dir / "tokenizer.json")
    write_run_config(run_dir, "bert", {"model": model_cfg, "train": train_cfg, "data": data_cfg}, source=data,
                     lora=lora, nf4=nf4, **({"init": str(init)} if init else {}))
    torch.manual_seed(train_cfg.seed)
    model = init_model if init_model is not None else BertForPreTraining(model_cfg)
    apply_lora(model, lora, quiet=quiet, nf4=nf4)
    if not quiet:
        print(f"BERT {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters | WordPiece vocab "
              f"{tok.vocab_size} | {n_train:,} train / {n_val:,} val examples | "
              f"masking {data_cfg.masking}, {data_cfg.sentence_task}")
    on_eval = run_adapter_writer(run_dir, model, hf_origin(run_dir), quiet=quiet) if lora else None
    trainer = Trainer(model, bert_pretraining, train_data, train_cfg, run_dir, eval_data=val, quiet=quiet,
                      on_eval=on_eval)
    return trainer.fit(resume=resume, evaluate_first=init is not None)


def _check_wordpiece(tok: TextTokenizer, source) -> None:
    missing = [name for name in ("pad", "cls", "sep", "mask") if name not in tok.special_ids]
    if tok.kind != "wordpiece" or missing:
        raise LmlabError(f"{source} has a {tok.kind} tokenizer{' without ' + ', '.join(missing) if missing else ''}; "
                         "BERT needs WordPiece with [PAD] [CLS] [SEP] [MASK]")
