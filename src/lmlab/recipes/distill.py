"""Distil a GPT or BERT run into a shallower student (Hinton et al. 2015; Sanh et al. 2019).

The teacher is a run directory (`lmlab train gpt|bert`, `lmlab hf import`, a merged LoRA run). The
student has the teacher's shape with fewer layers and, by default, starts as a copy of every other
teacher layer (lmlab.distill.student); it trains with the shared Trainer on the teacher's corpus,
tokenizer and data settings (the same batches as a from-scratch run with the same seed), on the
triple loss of lmlab.distill. The teacher stays frozen outside the Trainer: it is not optimised and
not saved. The result is an ordinary run of the teacher's family (generate, embed, finetune,
hf export work on it) with a "distill" section in its config.json, which `--resume` reads.
Single process (no torchrun): the teacher forward pass doubles the cost of a step anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from lmlab.config import config_from_dict, to_dict
from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import TextTokenizer
from lmlab.distill import DistillConfig, DistillObjective, parse_layers, student_from_teacher
from lmlab.distill.student import student_config
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import load_config
from lmlab.runs import families
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.run import Run, write_run_config
from lmlab.train.callbacks import samples_writer
from lmlab.train.config import TrainConfig
from lmlab.train.trainer import Trainer, resolve_device

SECTION = "distill"  # config.json: {"teacher": path, "teacher_layers": [...], **DistillConfig}


def load_teacher(path: str | Path) -> tuple[str, torch.nn.Module, TextTokenizer, dict]:
    """(family, model, tokenizer, config.json) of a GPT or BERT run."""
    run = Run.open(path, command="distill")
    return run.name, run.model(), run.tokenizer(), run.meta


def teacher_train_config(run: str | Path) -> TrainConfig:
    """The teacher's training settings (the student's defaults: same batches, same schedule), or TrainConfig()."""
    meta = load_config(run, required=("family",))
    return config_from_dict(TrainConfig, meta["train"]) if "train" in meta else TrainConfig()


def distill(teacher: str | Path | None, out: str | Path, cfg: DistillConfig | None, train_cfg: TrainConfig,
            data: str | None = None, resume: bool = False, overwrite: bool = False,
            quiet: bool = False, skip_bad: bool = False) -> dict[str, float]:
    """Train a student of `teacher` into run directory `out`; returns the final evaluation (val_loss is the
    student's hard-label loss; val_kl, val_ce, val_cos, val_distill_loss the parts) and teacher_val_loss.
    `data`: a corpus instead of the teacher's own. On resume the run's teacher, corpus, data and
    distillation settings are used (`teacher`, `cfg`, `data` are ignored); only `train_cfg` may differ.
    `skip_bad`: leave out the corpus's lines that are not UTF-8 (lmlab.data.rows) instead of refusing them."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise LmlabError("lmlab distill runs in one process; start it without torchrun")
    run_dir = Path(out)
    if resume:
        meta = load_config(run_dir, required=("family", "source", "model", "data", SECTION))
        section = dict(meta[SECTION])
        teacher, layers = section.pop("teacher"), tuple(section.pop("teacher_layers"))
        cfg, data = config_from_dict(DistillConfig, section), str(meta["source"])
        if not Path(teacher).is_dir():
            raise LmlabError(f"cannot resume: the teacher run {teacher} (\"distill\" in its config.json) is gone; "
                             "put it back there")
    if teacher is None:
        raise LmlabError("say which run to distil: --teacher RUN")
    family, teacher_model, tok, t_meta = load_teacher(teacher)
    data_cfg = config_from_dict(families.get(family).config_classes()["data"], (meta if resume else t_meta).get("data", {}))
    source = data or Run(teacher, t_meta).corpus(f"the teacher {teacher} names no corpus to train on")
    if not resume:
        layers = parse_layers(cfg.layers, teacher_model.cfg.n_layers)

    fam = families.get(family)
    batches = families.resolve(fam.batches)
    train_data, val, val_ids = batches(load_text(source, skip_bad), tok, teacher_model.cfg, data_cfg,
                                       train_cfg.batch_size, train_cfg.seed, train_cfg.eval_batches)

    prepare_run_dir(run_dir, resume, overwrite)
    if not resume:
        tok.save(run_dir / "tokenizer.json")
    s_cfg = student_config(teacher_model.cfg, len(layers))
    write_run_config(run_dir, family, {"model": s_cfg, "train": train_cfg, "data": data_cfg}, source=source,
                     **{SECTION: {"teacher": str(Path(teacher).resolve()), "teacher_layers": list(layers), **to_dict(cfg)}})

    torch.manual_seed(train_cfg.seed)
    student = student_from_teacher(teacher_model, layers, "random" if resume else cfg.init)
    for head in student.sentence_heads() if hasattr(student, "sentence_heads") else ():
        head.requires_grad_(False)  # DistilBERT drops the sentence task: its heads stay the teacher's
    device = resolve_device(train_cfg.device)
    teacher_model.to(device)
    objective = DistillObjective(teacher_model, student, cfg, fam.lm)
    teacher_loss = objective.teacher_loss(val, device)
    if not quiet:
        n_t, n_s = teacher_model.num_parameters(), student.num_parameters()
        print(f"teacher {family.upper()} {n_t / 1e6:.2f}M parameters, {teacher_model.cfg.n_layers} layers, "
              f"val_loss {teacher_loss:.4f} -> student {n_s / 1e6:.2f}M ({n_s / n_t:.0%}), {len(layers)} layers "
              f"{'from teacher layers ' + ','.join(map(str, layers)) if cfg.init == 'teacher' else '(random init)'}"
              f" | T {cfg.temperature:g}, alpha kl {cfg.alpha_kl:g} ce {cfg.alpha_ce:g} cos {cfg.alpha_cos:g}")
    on_eval = samples_writer(run_dir, tok, val_ids[:16].tolist(), train_cfg.seed) if fam.lm == "causal" else None
    trainer = Trainer(student, objective, train_data, train_cfg, run_dir, eval_data=val,
                      eval_objective=objective.evaluate, on_eval=on_eval, quiet=quiet)
    try:
        return {**trainer.fit(resume=resume), "teacher_val_loss": teacher_loss}
    finally:
        objective.remove_hooks()

