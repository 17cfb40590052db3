"""Pretrain a GPT on a text corpus: tokenize, split, build, train, checkpoint, sample.

The run directory ends up with config.json, tokenizer.json, model.safetensors,
train_state.pt, metrics.jsonl, loss.png and samples.txt (see DESIGN.md).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import torch

from lmlab.data.corpora import load_text
from lmlab.data.lm import causal_lm_batches
from lmlab.data.lm_config import LMDataConfig
from lmlab.data.tokenizers import train_tokenizer
from lmlab.errors import LmlabError
from lmlab.io.peft_adapters import run_adapter_writer
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.nn.nf4_linear import NF4Config
from lmlab.peft.apply import apply_lora
from lmlab.peft.lora import LoRAConfig
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.hf import hf_origin
from lmlab.runs.run import Run, check_qlora, write_run_config
from lmlab.train import distributed as D
from lmlab.train.callbacks import chain, samples_writer
from lmlab.train.config import TrainConfig
from lmlab.train.objectives import causal_lm
from lmlab.train.trainer import Trainer, resolve_device


def pretrain_gpt(data: str | None, model_cfg: GPTConfig | None, train_cfg: TrainConfig,
                 data_cfg: LMDataConfig | None, out: str | Path, resume: bool = False, overwrite: bool = False,
                 quiet: bool = False, on_step_end=None, init: str | Path | None = None,
                 lora: LoRAConfig | None = None, nf4: NF4Config | None = None,
                 skip_bad: bool = False) -> dict[str, float]:
    """Train a GPT into run directory `out`. On resume the run's own data, model, data, LoRA and NF4 settings
    are used (`data`, `model_cfg`, `data_cfg`, `init`, `lora`, `nf4` are ignored); only `train_cfg` may differ,
    e.g. more steps. `init`: start from the weights and tokenizer of this GPT run (model_cfg is then ignored);
    `lora`: train LoRA adapters only (lmlab.peft), everything else frozen; `nf4` (with `lora`): QLoRA, the
    frozen base's linear layers stored in 4-bit NF4 (lmlab.peft.qlora), in memory and in the checkpoint;
    `skip_bad`: leave out the corpus's lines that are not UTF-8 (lmlab.data.rows) instead of refusing them."""
    device = resolve_device(train_cfg.device)
    dist = D.setup(device)
    if dist.enabled and device.type == "cuda":
        if dist.local_rank >= torch.cuda.device_count():
            raise LmlabError(f"process {dist.rank} wants GPU {dist.local_rank} but this machine has "
                             f"{torch.cuda.device_count()}; start torchrun with --nproc_per_node "
                             f"{torch.cuda.device_count()} (or train with --device cpu)")
        device = torch.device("cuda", dist.local_rank)
        train_cfg = dataclasses.replace(train_cfg, device=str(device))
    run_dir = Path(out)
    if resume:
        run = Run.open(run_dir, family="gpt")
        cfgs = run.configs("model", "data")
        model_cfg, data_cfg, data = cfgs["model"], cfgs["data"], run.corpus()
        lora, nf4, init = run.lora, run.nf4, None
    check_qlora(lora, nf4)
    # Read, tokenize and split the data before touching the run folder, so bad data costs nothing.
    text = load_text(data, skip_bad)
    init_model = None
    if resume:
        tokenizer = run.tokenizer()
    elif init is not None:  # a pretrained GPT: its weights, shape and tokenizer
        init_run = Run.open(init, family="gpt")
        init_model, tokenizer = init_run.model(), init_run.tokenizer()
        model_cfg = init_model.cfg
    else:  # every process trains the same tokenizer (training is deterministic)
        tokenizer = train_tokenizer(data_cfg.tokenizer, text, data_cfg.bpe_vocab_size)
        model_cfg = dataclasses.replace(model_cfg, vocab_size=tokenizer.vocab_size)
    train_data, val, val_ids = causal_lm_batches(text, tokenizer, model_cfg, data_cfg, train_cfg.batch_size,
                                                train_cfg.seed, train_cfg.eval_batches, dist.rank, dist.world_size)

    if dist.is_main:
        prepare_run_dir(run_dir, resume, overwrite)
        if not resume:
            tokenizer.save(run_dir / "tokenizer.json")
        write_run_config(run_dir, "gpt", {"model": model_cfg, "train": train_cfg, "data": data_cfg}, source=data,
                         lora=lora, nf4=nf4, **({"init": str(init)} if init else {}))
    D.barrier(dist)

    torch.manual_seed(train_cfg.seed)
    model = init_model if init_model is not None else GPT(model_cfg)
    apply_lora(model, lora, quiet=quiet or not dist.is_main, nf4=nf4)
    if dist.is_main and not quiet:
        print(f"GPT {model.num_parameters() / 1e6:.2f}M parameters | {tokenizer.kind} tokenizer, "
              f"vocab {tokenizer.vocab_size} | {len(train_data.ids):,} train / {len(val_ids):,} val tokens | "
              f"device {device}" + (f" x {dist.world_size} processes" if dist.enabled else ""))
    objective = functools.partial(causal_lm, label_smoothing=train_cfg.label_smoothing,
                                  smoothing=train_cfg.smoothing)
    on_eval = samples_writer(run_dir, tokenizer, val_ids[:16].tolist(), train_cfg.seed)
    if lora is not None:
        on_eval = chain(on_eval, run_adapter_writer(run_dir, model, hf_origin(run_dir), quiet))
    trainer = Trainer(model, objective, train_data, train_cfg, run_dir, eval_data=val, eval_objective=causal_lm,
                      on_eval=on_eval,
                      on_step_end=on_step_end, dist=dist, quiet=quiet)
    try:
        return trainer.fit(resume=resume)
    finally:
        D.teardown(dist)
