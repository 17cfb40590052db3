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
from lmlab.runs.run import Run, check_qlora, write_run_config
from lmlab.train.config import TrainConfig
from lmlab.train.objectives import bert_pretraining
from lmlab.train.trainer import Trainer


def pretrain_bert(data: str | None, model_cfg: BertConfig | None, train_cfg: TrainConfig,
                  data_cfg: BertDataConfig | None, out: str | Path, resume: bool = False, overwrite: bool = False,
                  quiet: bool = False, lora: LoRAConfig | None = None,
                  tokenizer: str | Path | None = None, nf4: NF4Config | None = None,
                  skip_bad: bool = False) -> dict[str, float]:
    """Train a BertForPreTraining into run directory `out`; returns the final evaluation. With `lora`, only
    LoRA adapters train (lmlab.peft), on a frozen base; `nf4` too: QLoRA, that base stored in 4-bit NF4. On
    resume the run's own corpus, model, data, LoRA and NF4 settings are used (`data`, `model_cfg`, `data_cfg`,
    `lora`, `nf4` are ignored); only `train_cfg` may
    differ, e.g. more steps. The examples are rebuilt from the corpus with the run's tokenizer, so the
    corpus must still be where config.json's "source" says. `tokenizer`: a WordPiece tokenizer.json or
    BERT vocab.txt to use instead of training one (e.g. bert-base-uncased's); it sets the vocabulary size.
    (Hugging Face's WordPiece trainer breaks ties between equally frequent merges in hash order, so two
    trainings on the same text can differ in a few tokens; give the same file to get the same ids.)
    `skip_bad`: leave out the corpus's lines that are not UTF-8 (lmlab.data.rows) instead of refusing them."""
    run_dir = Path(out)
    if resume:
        run = Run.open(run_dir, family="bert")
        cfgs = run.configs("model", "data")
        model_cfg, data_cfg, data = cfgs["model"], cfgs["data"], run.corpus()
        lora, nf4 = run.lora, run.nf4
    check_qlora(lora, nf4)
    train_docs, val_docs = split_documents(load_text(data, skip_bad), data_cfg.val_fraction, data)
    if resume:
        tok = run.tokenizer()
    else:
        if tokenizer is not None:
            tok = TextTokenizer.load(tokenizer, lowercase=data_cfg.lowercase)
            missing = [name for name in ("pad", "cls", "sep", "mask") if name not in tok.special_ids]
            if tok.kind != "wordpiece" or missing:
                raise LmlabError(f"{tokenizer} is a {tok.kind} tokenizer{' without ' + ', '.join(missing) if missing else ''}; "
                                 "BERT needs WordPiece with [PAD] [CLS] [SEP] [MASK]")
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
                     lora=lora, nf4=nf4)
    torch.manual_seed(train_cfg.seed)
    model = BertForPreTraining(model_cfg)
    apply_lora(model, lora, quiet=quiet, nf4=nf4)
    if not quiet:
        print(f"BERT {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters | WordPiece vocab "
              f"{tok.vocab_size} | {n_train:,} train / {n_val:,} val examples | "
              f"masking {data_cfg.masking}, {data_cfg.sentence_task}")
    on_eval = run_adapter_writer(run_dir, model, quiet=quiet) if lora else None
    trainer = Trainer(model, bert_pretraining, train_data, train_cfg, run_dir, eval_data=val, quiet=quiet,
                      on_eval=on_eval)
    return trainer.fit(resume=resume)
