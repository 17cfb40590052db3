"""Pretrain a GPT on a text corpus: tokenize, split, build, train, checkpoint, sample.

The run directory ends up with config.json, tokenizer.json, model.safetensors,
train_state.pt, metrics.jsonl, loss.png and samples.txt (see DESIGN.md).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import torch

from lmlab import __version__
from lmlab.config import to_dict
from lmlab.data.corpora import BUNDLED, load_text
from lmlab.data.lm import RandomWindows, eval_batches, split_tokens
from lmlab.data.lm_config import LMDataConfig
from lmlab.data.tokenizers import TextTokenizer, train_tokenizer
from lmlab.errors import LmlabError
from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.text import generate_ids
from lmlab.io.checkpoint import load_config, save_config
from lmlab.io.peft_adapters import run_adapter_writer
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.nn.nf4_linear import NF4Config
from lmlab.peft.apply import apply_lora
from lmlab.peft.lora import LoRAConfig, run_lora_config
from lmlab.peft.qlora import run_nf4_config, run_nf4_section
from lmlab.recipes.run_dir import load_run_weights, prepare_run_dir, read_run_configs
from lmlab.train import distributed as D
from lmlab.train.config import TrainConfig
from lmlab.train.objectives import causal_lm
from lmlab.train.trainer import Trainer, resolve_device

SAMPLE_TOKENS = 200
CONFIG_CLASSES = {"model": GPTConfig, "train": TrainConfig, "data": LMDataConfig}  # config.json's sections


def samples_writer(run_dir: Path, tokenizer: TextTokenizer, prompt: list[int], seed: int):
    """An on_eval callback: append a sample from the current model to samples.txt."""
    def on_eval(step: int, model) -> None:
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(seed)
        cfg = GenerationConfig(max_new_tokens=SAMPLE_TOKENS, temperature=0.8, eos_id=tokenizer.eos_id)
        new = generate_ids(model, [prompt], cfg, generator=gen)[0]
        with open(run_dir / "samples.txt", "a", encoding="utf-8") as f:
            f.write(f"=== step {step} ===\n{tokenizer.decode(prompt + new)}\n\n")
    return on_eval


def load_run_configs(run_dir: str | Path, sections: tuple[str, ...] = ("model",),
                     also: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """A GPT run's config.json and its `sections` as checked configs; a damaged file is named as such."""
    return read_run_configs(run_dir, "gpt", CONFIG_CLASSES, sections, also)


def load_run_model(run_dir: str | Path) -> tuple[GPT, TextTokenizer, dict]:
    """The trained GPT, its tokenizer and its config.json from a run directory, as a plain model: LoRA adapters
    merged in, an NF4 base (`lmlab quantize nf4`, QLoRA's --nf4) dequantised first. (`lmlab generate` keeps NF4
    runs in NF4: lmlab.recipes.quantize.load_run_model.)"""
    model, meta = load_plain_gpt(run_dir)
    tokenizer = TextTokenizer.load(Path(run_dir) / "tokenizer.json", model_vocab_size=model.cfg.vocab_size)
    return model, tokenizer, meta


def load_plain_gpt(run_dir: str | Path) -> tuple[GPT, dict]:
    """The GPT of a run and its config.json, LoRA merged and NF4 dequantised (load_run_model without tokenizer)."""
    run_dir = Path(run_dir)
    meta, cfgs = load_run_configs(run_dir)
    model = GPT(cfgs["model"])
    load_run_weights(run_dir, model, meta)
    return model, meta


def _chain(*callbacks):
    """One on_eval callback that calls several (their returned metrics merged)."""
    return lambda step, model: {k: v for f in callbacks for k, v in (f(step, model) or {}).items()}


def _hf_source(run_dir: Path) -> str | None:
    """The Hugging Face folder a run's weights came from (`lmlab hf import`, then --init), for adapter_config.json."""
    try:
        meta = load_config(run_dir, required=())
        if meta.get("init"):
            meta = load_config(meta["init"], required=())
    except LmlabError:
        return None
    source = str(meta.get("source", ""))
    return source.removeprefix("hf:") if source.startswith("hf:") else None


def pretrain_gpt(data: str | None, model_cfg: GPTConfig | None, train_cfg: TrainConfig,
                 data_cfg: LMDataConfig | None, out: str | Path, resume: bool = False, overwrite: bool = False,
                 quiet: bool = False, on_step_end=None, init: str | Path | None = None,
                 lora: LoRAConfig | None = None, nf4: NF4Config | None = None) -> dict[str, float]:
    """Train a GPT into run directory `out`. On resume the run's own data, model, data, LoRA and NF4 settings
    are used (`data`, `model_cfg`, `data_cfg`, `init`, `lora`, `nf4` are ignored); only `train_cfg` may differ,
    e.g. more steps. `init`: start from the weights and tokenizer of this GPT run (model_cfg is then ignored);
    `lora`: train LoRA adapters only (lmlab.peft), everything else frozen; `nf4` (with `lora`): QLoRA, the
    frozen base's linear layers stored in 4-bit NF4 (lmlab.peft.qlora), in memory and in the checkpoint."""
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
        meta, cfgs = load_run_configs(run_dir, ("model", "data"), also=("source",))
        model_cfg, data_cfg, data = cfgs["model"], cfgs["data"], str(meta["source"])
        lora, nf4, init = run_lora_config(meta), run_nf4_config(meta), None
        if data not in BUNDLED and not Path(data).exists():
            raise LmlabError(f"cannot resume: the run's corpus {data} (\"source\" in its config.json) is gone; "
                             "put it back there")

    if nf4 is not None and lora is None:
        raise LmlabError("NF4 (QLoRA) stores the frozen base under LoRA adapters: give a LoRA config with it")
    # Read, tokenize and split the data before touching the run folder, so bad data costs nothing.
    text = load_text(data)
    init_model = None
    if resume:
        tokenizer = TextTokenizer.load(run_dir / "tokenizer.json", model_vocab_size=model_cfg.vocab_size)
    elif init is not None:  # a pretrained GPT: its weights, shape and tokenizer
        init_model, tokenizer, _ = load_run_model(init)
        model_cfg = init_model.cfg
    else:  # every process trains the same tokenizer (training is deterministic)
        tokenizer = train_tokenizer(data_cfg.tokenizer, text, data_cfg.bpe_vocab_size)
        model_cfg = dataclasses.replace(model_cfg, vocab_size=tokenizer.vocab_size)
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.int32)
    train_ids, val_ids = split_tokens(ids, data_cfg.val_fraction)
    T = model_cfg.max_seq_len
    train_data = RandomWindows(train_ids, T, train_cfg.batch_size, train_cfg.seed, dist.rank, dist.world_size)
    val = eval_batches(val_ids, T, train_cfg.batch_size, train_cfg.eval_batches, seed=0,
                       rank=dist.rank, world_size=dist.world_size)

    if dist.is_main:
        prepare_run_dir(run_dir, resume, overwrite)
        if not resume:
            tokenizer.save(run_dir / "tokenizer.json")
        save_config(run_dir, {"lmlab_version": __version__, "family": "gpt", "source": data,
                              "model": to_dict(model_cfg), "train": to_dict(train_cfg), "data": to_dict(data_cfg),
                              **({"init": str(init)} if init else {}), **({"lora": to_dict(lora)} if lora else {}),
                              **({"quantization": run_nf4_section(nf4, qlora=True)} if nf4 else {})})
    D.barrier(dist)

    torch.manual_seed(train_cfg.seed)
    model = init_model if init_model is not None else GPT(model_cfg)
    apply_lora(model, lora, quiet=quiet or not dist.is_main, nf4=nf4)
    if dist.is_main and not quiet:
        print(f"GPT {model.num_parameters() / 1e6:.2f}M parameters | {tokenizer.kind} tokenizer, "
              f"vocab {tokenizer.vocab_size} | {len(train_ids):,} train / {len(val_ids):,} val tokens | "
              f"device {device}" + (f" x {dist.world_size} processes" if dist.enabled else ""))
    objective = functools.partial(causal_lm, label_smoothing=train_cfg.label_smoothing,
                                  smoothing=train_cfg.smoothing)
    on_eval = samples_writer(run_dir, tokenizer, val_ids[:16].tolist(), train_cfg.seed)
    if lora is not None and (write_adapter := run_adapter_writer(run_dir, model, _hf_source(run_dir), quiet)):
        on_eval = _chain(on_eval, write_adapter)
    trainer = Trainer(model, objective, train_data, train_cfg, run_dir, eval_data=val, eval_objective=causal_lm,
                      on_eval=on_eval,
                      on_step_end=on_step_end, dist=dist, quiet=quiet)
    try:
        return trainer.fit(resume=resume)
    finally:
        D.teardown(dist)
