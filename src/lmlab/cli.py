"""`lmlab <command>`: maps commands onto recipes and tools.

Errors in the user's input raise LmlabError and are printed as one line (exit 2); a traceback
is shown only with --debug.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing
from pathlib import Path

from lmlab.errors import LmlabError

EXAMPLES = """\
examples:
  lmlab data list
  lmlab train gpt --data tinyshakespeare --config shakespeare-char --time-budget 120 --out runs/shakespeare
  lmlab train gpt --data tang300 --preset nano --tokenizer bpe --bpe_vocab_size 1000 --out runs/tang
  lmlab generate runs/shakespeare --prompt "ROMEO:" --max-new-tokens 300
  lmlab info --preset gpt2-small
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `error:` line like every other input error."""

    def error(self, message: str) -> typing.NoReturn:
        raise LmlabError(f"{message}; see `{self.prog} --help`")


# ---- config keys: --key value overrides routed to the dataclass that owns the key -------------------
def _config_classes():
    from lmlab.recipes.pretrain_gpt import CONFIG_CLASSES
    return CONFIG_CLASSES


def _parse_overrides(extra: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--") or arg == "--":
            raise LmlabError(f"unexpected argument '{arg}'; config keys are given as --key value")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise LmlabError(f"--{key} needs a value")
            value = extra[i + 1]
            i += 1
        out[key.replace("-", "_")] = value
        i += 1
    return out


def _route(values: dict, classes: dict) -> dict[str, dict]:
    """Split flat {key: value} into {"model": {...}, "train": {...}, "data": {...}} by field name."""
    import difflib
    routed: dict[str, dict] = {name: {} for name in classes}
    owners = {f.name: name for name, cls in classes.items() for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key.startswith("_"):  # a comment in a config file ("_about": "...")
            continue
        if key in classes and isinstance(value, dict):  # nested config file section
            for k, v in value.items():
                routed[key][k] = v
            continue
        if key not in owners:
            close = difflib.get_close_matches(key, list(owners), n=1)
            hint = f" (did you mean --{close[0]}?)" if close else ""
            raise LmlabError(f"unknown config key '{key}'{hint}; the command's --help lists every key")
        routed[owners[key]][key] = value
    return routed


def _keys_help(classes: dict) -> str:
    lines = ["config keys (set with --key value, or in a JSON --config file):"]
    for section, cls in classes.items():
        hints = typing.get_type_hints(cls)
        lines.append(f"  [{section}]")
        for f in dataclasses.fields(cls):
            typ = getattr(hints[f.name], "__name__", str(hints[f.name]).replace("typing.", ""))
            lines.append(f"    --{f.name:<16} {typ:<12} default {f.default!r}")
    return "\n".join(lines)


def _data_source(data: str) -> str:
    """A bundled corpus by name, a file or folder by absolute path: what a run records, so that --resume
    finds its corpus from any directory."""
    from lmlab.data.corpora import BUNDLED
    return data if data in BUNDLED or not Path(data).exists() else str(Path(data).resolve())


def _settings(args, extra: list[str], classes: dict, config_file: str | None = None) -> dict[str, dict]:
    """A training command's config keys by section: the JSON --config file, then --key value flags,
    then --time-budget."""
    from lmlab.config import load_json
    values: dict = load_json(config_file) if config_file else {}
    values.update(_parse_overrides(extra))
    if args.time_budget is not None:
        values["time_budget"] = str(args.time_budget)
    return _route(values, classes)


def _resumed_train_config(args, routed: dict[str, dict], run_train_config, **flags):
    """The TrainConfig a --resume continues with: the run's own, changed by the training keys given.
    Model and data keys, and flags that shape the model (--lora, --nf4, --init, …), are refused."""
    from lmlab.config import replace
    from lmlab.recipes.run_dir import check_run_dir
    check_run_dir(args.out, resume=True, overwrite=args.overwrite)
    if routed["model"] or routed["data"]:
        raise LmlabError("a resumed run keeps its model, data and other settings; only training keys may change "
                         f"(got {', '.join([*routed['model'], *routed['data']])})")
    given = [f"--{name}" for name, value in flags.items() if value]
    if given:
        raise LmlabError(f"a resumed run keeps its {given[0]} settings; drop the flag")
    return replace(run_train_config(args.out), routed["train"])


# ---- commands ------------------------------------------------------------------------------------
def cmd_train_gpt(args, extra: list[str]) -> None:
    from lmlab.config import replace
    from lmlab.data.lm_config import LMDataConfig
    from lmlab.models.gpt import preset
    from lmlab.recipes.configs import bundled_config
    from lmlab.recipes.pretrain_gpt import load_run_configs, pretrain_gpt
    from lmlab.recipes.run_dir import restore_on_failure
    from lmlab.train.config import TrainConfig

    routed = _settings(args, extra, _config_classes(), bundled_config(args.config) if args.config else None)
    if args.resume:
        train_cfg = _resumed_train_config(args, routed, lambda run: load_run_configs(run, ("train",))[1]["train"],
                                          lora=args.lora, nf4=args.nf4, init=args.init)
        model_cfg = data_cfg = data = None  # pretrain_gpt takes them from the run
    else:
        if not args.data:
            raise LmlabError("--data is required: a bundled corpus (`lmlab data list`), a text file or a folder")
        model_cfg = replace(preset(args.preset), routed["model"])
        train_cfg = replace(TrainConfig(), routed["train"])
        data_cfg = replace(LMDataConfig(), routed["data"])
        data = _data_source(args.data)
        if args.init:
            if routed["model"] or args.preset != "nano":
                raise LmlabError("--init takes the model (shape and weights) from its run; drop --preset and "
                                 f"model keys ({', '.join(routed['model']) or '--preset'})")
            load_run_configs(args.init)  # a GPT run, or a clear error before anything starts
    lora = _lora_config(args.lora)
    nf4 = _nf4_config(args.nf4, lora)
    init = str(Path(args.init).resolve()) if args.init and not args.resume else None
    with restore_on_failure(args.out, resume=args.resume, overwrite=args.overwrite):
        pretrain_gpt(data, model_cfg, train_cfg, data_cfg, args.out, resume=args.resume,
                     overwrite=args.overwrite, quiet=args.quiet, init=init, lora=lora, nf4=nf4)
    if os.environ.get("RANK", "0") == "0":
        print(f"run saved in {args.out}; sample with: lmlab generate {args.out} --prompt \"...\"")


BERT_EXAMPLES = """\
examples:
  lmlab train bert --data tinyshakespeare --preset bert-mini --out runs/bert
  lmlab train bert --data tinyshakespeare --preset bert-tiny --masking whole_word --sentence_task sop --out runs/wwm
  lmlab train bert --data my_texts/ --masking span --sentence_task none --dynamic true --out runs/spanbert
  lmlab train bert --out runs/bert --resume --max_steps 4000       # continue a run, with more steps
  lmlab train bert --data my_texts/ --tokenizer bert-base-uncased/vocab.txt --out runs/bert-vocab
"""


def _bert_config_classes():
    from lmlab.models.bert import BertConfig
    from lmlab.recipes.pretrain_bert import BertDataConfig
    from lmlab.train.config import TrainConfig
    return {"model": BertConfig, "train": TrainConfig, "data": BertDataConfig}


def cmd_train_bert(args, extra: list[str]) -> None:
    from lmlab.config import replace
    from lmlab.models.bert import preset
    from lmlab.recipes.pretrain_bert import CONFIG_CLASSES, pretrain_bert
    from lmlab.recipes.run_dir import read_run_configs, restore_on_failure

    classes = _bert_config_classes()
    routed = _settings(args, extra, classes, args.config)
    if args.resume:
        train_cfg = _resumed_train_config(
            args, routed, lambda run: read_run_configs(run, "bert", CONFIG_CLASSES, ("train",))[1]["train"],
            lora=args.lora, nf4=args.nf4, tokenizer=args.tokenizer)
        data = model_cfg = data_cfg = None  # pretrain_bert takes them from the run
    else:
        if not args.data:
            raise LmlabError("--data is required: a bundled corpus (`lmlab data list`), a text file or a folder")
        model_cfg = replace(preset(args.preset), routed["model"])
        train_cfg = replace(classes["train"](), routed["train"])
        data_cfg = replace(classes["data"](), routed["data"])
        data = _data_source(args.data)
    lora = _lora_config(args.lora)
    nf4 = _nf4_config(args.nf4, lora)
    with restore_on_failure(args.out, resume=args.resume, overwrite=args.overwrite):
        final = pretrain_bert(data, model_cfg, train_cfg, data_cfg, args.out, resume=args.resume,
                              overwrite=args.overwrite, quiet=args.quiet, lora=lora, tokenizer=args.tokenizer,
                              nf4=nf4)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in final.items() if k.startswith("val_") and k != "val_ppl")
    print(f"run saved in {args.out}; {shown}")


FINETUNE_EXAMPLES = """\
examples:
  lmlab finetune classify --model runs/bert --data reviews.csv --out runs/reviews
  lmlab finetune classify --model runs/bert --data fortunes.en.jsonl --labels computers,food,law \\
      --truncation head+tail --max-len 128 --freeze-layers 1 --lr 3e-4 --max_steps 500 --out runs/topics
  lmlab finetune classify --model path/to/hf-bert --data long.tsv --text-column body --label-column tag \\
      --truncation sliding-window --max-len 256 --stride 128 --lr 2e-5 --out runs/long
  lmlab finetune classify --model runs/bert --data reviews.csv --lora r=8,alpha=16,targets=qkv,ff --lr 1e-3 \
      --out runs/reviews-lora          # LoRA: the encoder frozen, adapters + classifier train; then:
  lmlab lora merge runs/reviews-lora   # a plain run with W + (alpha/r) B A folded in
  lmlab finetune classify --model runs/bert --data reviews.csv --lora r=8,targets=all-linear --nf4 --lr 1e-3 \
      --out runs/reviews-qlora         # QLoRA: the frozen encoder stored in 4-bit NF4
"""


def _finetune_keys_help() -> str:
    """Like _keys_help, with the fine-tuning defaults (lr 1e-4, warmup_linear, …) instead of the classes'."""
    from lmlab.recipes.finetune_classify import default_configs
    lines = ["config keys (set with --key value; defaults are fine-tuning's):"]
    for section, cfg in default_configs().items():
        lines.append(f"  [{section}]")
        lines += [f"    --{f.name:<18} default {getattr(cfg, f.name)!r}" for f in dataclasses.fields(cfg)]
    return "\n".join(lines)


def cmd_finetune(args, extra: list[str]) -> None:
    from lmlab.config import replace
    from lmlab.recipes.finetune_classify import config_classes, default_configs, finetune_classify
    from lmlab.recipes.run_dir import restore_on_failure

    if args.task != "classify":
        raise LmlabError("say what to fine-tune for: `lmlab finetune classify …` (see `lmlab finetune --help`)")
    values = _parse_overrides(extra)
    flags = {"text_column": args.text_column, "label_column": args.label_column, "truncation": args.truncation,
             "max_len": args.max_len, "stride": args.stride, "freeze_layers": args.freeze_layers,
             "pooling": args.pooling}
    values.update({k: str(v) for k, v in flags.items() if v is not None})
    routed = _route(values, config_classes())
    cfgs = {name: replace(cfg, routed[name]) for name, cfg in default_configs().items()}
    lora = _lora_config(args.lora)
    nf4 = _nf4_config(args.nf4, lora)
    with restore_on_failure(args.out, resume=False, overwrite=args.overwrite):
        res = finetune_classify(args.model, args.data, cfgs["data"], cfgs["train"], cfgs["finetune"], args.out,
                                overwrite=args.overwrite, quiet=args.quiet, lora=lora, nf4=nf4)
    print(f"run saved in {args.out}; test accuracy {res['test_accuracy']:.4f}, macro-F1 "
          f"{res['test_macro_f1']:.4f} on {res['n_test']} texts (majority class {res['majority_accuracy']:.4f}); "
          f"results.json and confusion.png written")


LORA_HELP = ("train LoRA adapters only, on a frozen base (Hu et al. 2021). SPEC is key=value,…: r (rank, "
             "default 8), alpha (scale alpha/r, default 16), dropout (on the bypass, default 0), targets (presets "
             "qv, qkv, qkvo, ff, all-linear; or module names, globs, re:REGEX, which may name a token embedding, "
             "e.g. tok_emb; several: targets=q_proj,v_proj; default qkv), rslora (true: scale alpha/sqrt(r)), "
             "modules_to_save (modules trained in full). "
             "Example: --lora r=8,alpha=16,targets=qkv,ff. The adapters are also saved in peft's layout in "
             "OUT/adapter/; `lmlab lora merge` folds them into a plain run")


def _lora_config(spec: str | None):
    """--lora SPEC -> LoRAConfig (None without the flag)."""
    if spec is None:
        return None
    from lmlab.peft.lora import parse_lora_spec
    return parse_lora_spec(spec)


NF4_HELP = ("QLoRA (Dettmers et al. 2023): with --lora, store the frozen base's linear layers (all but the output "
            "layers) in 4-bit NormalFloat, block 64 with double quantisation (4.127 bits a weight), dequantised a "
            "chunk at a time in forward and backward; only the adapters are in full precision. The checkpoint "
            "keeps the NF4 codes, not the float weights. Example: --lora r=8,alpha=16,targets=all-linear --nf4. "
            "(To quantise a trained run for sampling: `lmlab quantize nf4 RUN`.)")


def _nf4_config(flag: bool, lora):
    """--nf4 -> NF4Config (QLoRA's defaults), only together with --lora."""
    if not flag:
        return None
    if lora is None:
        raise LmlabError("--nf4 stores the frozen base in 4 bits under LoRA adapters (QLoRA), so it needs --lora: "
                         "e.g. --lora r=8,alpha=16,targets=qkv --nf4 (to quantise a trained run instead: "
                         "`lmlab quantize nf4 RUN`)")
    from lmlab.nn.nf4_linear import NF4Config
    return NF4Config()


def cmd_lora(args) -> None:
    if args.lora_command == "merge":
        from lmlab.recipes.lora_merge import merge_run
        res = merge_run(args.run, args.out, overwrite=args.overwrite)
        print(f"merged {res['n_layers']} LoRA layers of {args.run} into {res['out']} (a plain {res['family']} "
              f"run); largest output change {res['max_abs_diff']:.2e} on a random batch")
    elif args.lora_command == "import":
        from lmlab.recipes.lora_import import import_adapter
        res = import_adapter(args.adapter, args.base, args.out, overwrite=args.overwrite)
        whole = f", {', '.join(res['modules_to_save'])} whole" if res["modules_to_save"] else ""
        print(f"imported {args.adapter} into {res['out']}: a {res['family']} LoRA run with {res['n_layers']} "
              f"adapted layers (r={res['r']}, alpha={res['alpha']:g}{whole}); reloaded, it matches the adapter "
              f"on its base within {res['max_abs_diff']:.1e}")
    else:
        raise LmlabError("say `lmlab lora merge RUN` or `lmlab lora import ADAPTER --base BASE --out RUN` "
                         "(see `lmlab lora --help`)")


DISTILL_EXAMPLES = """\
examples:
  lmlab train gpt --data tinyshakespeare --config shakespeare-char --n_layers 6 --out runs/teacher
  lmlab distill --teacher runs/teacher --out runs/student        # teacher layers 0,2,4; T 2; weights 5:2:1
  lmlab distill --teacher runs/teacher --layers 0,3,5 --temperature 4 --alpha-cos 0 --out runs/student-035
  lmlab distill --teacher runs/teacher --init random --out runs/kd-only   # the losses without the layer copy
  lmlab distill --teacher runs/bert --max_steps 4000 --lr 5e-4 --out runs/distilbert
  lmlab distill --out runs/student --resume --max_steps 6000
"""


def _distill_keys_help() -> str:
    from lmlab.train.config import TrainConfig
    return _keys_help({"train": TrainConfig}).replace(
        "config keys (set with --key value, or in a JSON --config file):",
        "training keys (--key value; each defaults to the teacher run's own setting, else to the value below):")


def cmd_distill(args, extra: list[str]) -> None:
    from lmlab.config import replace
    from lmlab.distill import DistillConfig
    from lmlab.recipes.distill import distill, teacher_train_config
    from lmlab.recipes.run_dir import check_run_dir, restore_on_failure
    from lmlab.train.config import TrainConfig

    values = _parse_overrides(extra)
    flags = {"layers": args.layers, "temperature": args.temperature, "alpha_kl": args.alpha_kl,
             "alpha_ce": args.alpha_ce, "alpha_cos": args.alpha_cos, "init": args.init}
    values.update({k: str(v) for k, v in flags.items() if v is not None})
    if args.time_budget is not None:
        values["time_budget"] = str(args.time_budget)
    routed = _route(values, {"distill": DistillConfig, "train": TrainConfig})
    if args.resume:
        check_run_dir(args.out, resume=True, overwrite=args.overwrite)
        if routed["distill"] or args.teacher or args.data:
            raise LmlabError("a resumed distillation keeps its teacher, corpus and distillation settings; only "
                             f"training keys may change (got {', '.join(routed['distill']) or '--teacher/--data'})")
        from lmlab.config import config_from_dict
        from lmlab.io.checkpoint import load_config
        meta = load_config(args.out, required=("train", "distill"))
        train_cfg = replace(config_from_dict(TrainConfig, meta["train"]), routed["train"])
        cfg = teacher = None  # distill() reads them from the run
    else:
        if not args.teacher:
            raise LmlabError("--teacher is required: the run to distil (a `lmlab train gpt|bert` run)")
        if not Path(args.teacher).is_dir():
            raise LmlabError(f"teacher run {args.teacher} does not exist")
        train_cfg = replace(teacher_train_config(args.teacher), routed["train"])
        cfg, teacher = replace(DistillConfig(), routed["distill"]), args.teacher
    data = _data_source(args.data) if args.data else None
    with restore_on_failure(args.out, resume=args.resume, overwrite=args.overwrite):
        final = distill(teacher, args.out, cfg, train_cfg, data=data, resume=args.resume,
                        overwrite=args.overwrite, quiet=args.quiet)
    print(f"run saved in {args.out}; val_loss {final['val_loss']:.4f} (teacher {final['teacher_val_loss']:.4f}), "
          f"val_kl {final['val_kl']:.4f}, val_cos {final['val_cos']:.4f}")


SEQ2SEQ_EXAMPLES = """\
examples:
  lmlab train seq2seq --data messages.en-zh.tsv --preset transformer-small --time-budget 1200 --out runs/en-zh
  lmlab train seq2seq --data pairs.jsonl --source de --target en --joint_vocab false --share_embeddings false \\
      --bpe_vocab_size 4000 --out runs/de-en
  lmlab train seq2seq --data messages.en-fr.tsv --schedule warmup_cosine --lr 5e-4 --label_smoothing 0.2 --out runs/fr
  lmlab train seq2seq --out runs/en-zh --resume --max_steps 8000
"""


def _seq2seq_keys_help() -> str:
    """Like _keys_help, with translation's training defaults (inverse_sqrt, label smoothing 0.1, …)."""
    from lmlab.recipes.train_seq2seq import default_configs
    lines = ["config keys (set with --key value, or in a JSON --config file; defaults are translation's;",
             "the --preset sets the model's sizes, the tokenizer its vocab_size and pad/bos/eos ids, and",
             "batches hold --batch_tokens tokens, so --batch_size is not used):"]
    for section, cfg in default_configs().items():
        lines.append(f"  [{section}]")
        lines += [f"    --{f.name:<18} default {getattr(cfg, f.name)!r}" for f in dataclasses.fields(cfg)]
    return "\n".join(lines)


def cmd_train_seq2seq(args, extra: list[str]) -> None:
    from lmlab.config import replace
    from lmlab.models.seq2seq import preset
    from lmlab.recipes.run_dir import restore_on_failure
    from lmlab.recipes.train_seq2seq import CONFIG_CLASSES, default_configs, load_run_configs, train_seq2seq

    routed = _settings(args, extra, CONFIG_CLASSES, args.config)
    if args.resume:
        train_cfg = _resumed_train_config(args, routed, lambda run: load_run_configs(run)[1]["train"])
        model_cfg = data_cfg = data = None  # train_seq2seq takes them from the run
    else:
        if not args.data:
            raise LmlabError("--data is required: a parallel corpus, .tsv with a header row or .jsonl")
        defaults = default_configs()
        model_cfg = replace(preset(args.preset), routed["model"])
        train_cfg = replace(defaults["train"], routed["train"])
        data_cfg = replace(defaults["data"], routed["data"])
        data = _data_source(args.data)
    with restore_on_failure(args.out, resume=args.resume, overwrite=args.overwrite):
        final = train_seq2seq(data, model_cfg, train_cfg, data_cfg, args.out, resume=args.resume,
                              overwrite=args.overwrite, quiet=args.quiet)
    if os.environ.get("RANK", "0") == "0":
        shown = ", ".join(f"{k} {final[k]:.4g}" for k in ("val_loss", "val_acc", "val_bleu", "val_chrf") if k in final)
        print(f"run saved in {args.out}; {shown}; translate with: lmlab translate {args.out} \"some text\"")


def cmd_translate(args) -> None:
    from lmlab.generate.decoding import GenerationConfig
    from lmlab.recipes.translate import translate

    texts = list(args.text)
    if args.input is not None:
        from lmlab.recipes.embed import read_texts
        texts += read_texts(args.input)
    for flag, value in (("--num-beams", args.num_beams), ("--batch-size", args.batch_size),
                        ("--max-new-tokens", args.max_new_tokens)):
        if value is not None and value <= 0:
            raise LmlabError(f"{flag} must be positive, got {value}")
    cfg = GenerationConfig(temperature=0.0, num_beams=args.num_beams, length_penalty=args.length_penalty,
                           use_cache=not args.no_cache)
    outs, fonts = translate(args.run, texts, cfg, args.batch_size, args.max_new_tokens, args.device, args.backend,
                            args.attention_map, args.head, args.layer)
    if args.out:
        from lmlab.io.atomic import atomic_write_text
        atomic_write_text(Path(args.out), "".join(o.replace("\n", " ") + "\n" for o in outs))
        print(f"wrote {len(outs)} translations to {args.out}", file=sys.stderr)
    else:
        for o in outs:
            print(o)
    if args.attention_map:
        print(f"wrote the cross-attention of the first text to {args.attention_map}"
              + ("" if fonts else " (no CJK font found: Chinese characters are labelled by code point; "
                                  "install e.g. fonts-noto-cjk to see them)"), file=sys.stderr)


def cmd_generate(args) -> None:
    import torch

    from lmlab.generate.decoding import GenerationConfig
    from lmlab.generate.text import generate_text, stream_steps, stream_text
    from lmlab.recipes.quantize import load_run_model  # any GPT run, NF4-quantised ones too

    prompts = args.prompt or ["\n"]
    try:
        cfg = GenerationConfig(
            max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
            min_p=args.min_p, repetition_penalty=args.repetition_penalty,
            no_repeat_ngram_size=args.no_repeat_ngram, num_beams=args.num_beams,
            length_penalty=args.length_penalty, use_cache=not args.no_cache)
    except ValueError as e:  # name the flag, not the config field
        field, _, rest = str(e).partition(" ")
        flag = "--no-repeat-ngram" if field == "no_repeat_ngram_size" else "--" + field.replace("_", "-")
        raise LmlabError(f"{flag} {rest}; see `lmlab generate --help`") from None
    if args.show_probs and (len(prompts) > 1 or cfg.num_beams > 1):
        raise LmlabError("--show-probs works with one --prompt and without beam search")
    model, tokenizer, _ = load_run_model(args.run)
    cfg = dataclasses.replace(cfg, eos_id=tokenizer.eos_id)
    encoded = [tokenizer.encode(p) for p in prompts]
    for p, ids in zip(prompts, encoded):
        if not ids:
            raise LmlabError(f"the prompt {p!r} is empty after tokenization; give --prompt some text")
        if len(ids) > model.cfg.max_seq_len:
            raise LmlabError(f"the prompt has {len(ids)} tokens but the model's context is "
                             f"{model.cfg.max_seq_len}; shorten the prompt")
    gen = torch.Generator(device=next(model.parameters()).device).manual_seed(args.seed)
    kw = dict(generator=gen, backend=args.backend)
    if args.show_probs:
        _print_probs(tokenizer, stream_steps(model, encoded[0], cfg, stop=None, **kw), prompts[0])
    elif len(prompts) == 1 and cfg.num_beams == 1:
        sys.stdout.write(prompts[0])
        for piece in stream_text(model, tokenizer, encoded[0], cfg, stop_strings=args.stop, **kw):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
    else:
        outs = generate_text(model, tokenizer, prompts, cfg, stop_strings=args.stop, **kw)
        for i, (p, out) in enumerate(zip(prompts, outs)):
            print(f"=== {i + 1} ===\n{p}{out}")


def _print_probs(tokenizer, steps, prompt: str) -> None:
    """One line per generated token: its probability and the most likely alternatives."""
    print(f"prompt: {prompt!r}\n{'step':>4}  {'p':>6}  token         alternatives (p)")
    ids = []
    for t, step in enumerate(steps):
        tok = int(step.tokens[0])
        ids.append(tok)
        alts = ", ".join(f"{tokenizer.decode([int(i)])!r} {float(p):.3f}"
                         for i, p in zip(step.top_ids[0][:4], step.top_probs[0][:4]) if int(i) != tok)
        print(f"{t:>4}  {float(step.probs[0]):6.3f}  {tokenizer.decode([tok])!r:<12}  {alts}")
    print(f"\ntext: {prompt + tokenizer.decode(ids)}")


def _info_seq2seq(name: str) -> None:
    """Settings and parameter count of an encoder-decoder preset, beside the paper's figure."""
    from lmlab.models.seq2seq import PUBLISHED, count_parameters, preset
    cfg = preset(name)
    n = count_parameters(cfg)
    print(f"encoder-decoder Transformer preset {name}")
    for f in dataclasses.fields(cfg):
        print(f"  {f.name:<17} {getattr(cfg, f.name)}")
    print(f"parameters        {n:,} ({_human(n)}); embeddings {cfg.vocab_size * cfg.d_model:,} (shared)"
          + (f"; the paper: {_human(PUBLISHED[name])}" if name in PUBLISHED else ""))


def cmd_info(args) -> None:
    from lmlab.models.gpt import preset
    from lmlab.models.gpt.presets import PUBLISHED, count_parameters

    if bool(args.run) == bool(args.preset):
        raise LmlabError("give either a run directory or --preset NAME")
    if args.preset and args.preset.startswith("transformer-"):
        _info_seq2seq(args.preset)
        return
    if args.preset:
        cfg, title = preset(args.preset), f"preset {args.preset}"
    else:
        from lmlab.recipes.pretrain_gpt import load_run_configs
        cfg, title = load_run_configs(args.run)[1]["model"], f"run {args.run}"
    n = count_parameters(cfg)
    emb = cfg.vocab_size * cfg.d_model + (cfg.max_seq_len * cfg.d_model if cfg.pos_embedding == "learned" else 0)
    print(f"GPT {title}")
    for f in dataclasses.fields(cfg):
        print(f"  {f.name:<15} {getattr(cfg, f.name)}")
    print(f"parameters      {n:,} ({_human(n)})")
    print(f"  embeddings    {emb:,}   non-embedding {n - emb:,}")
    if args.preset in PUBLISHED:
        print(f"  published     {_human(PUBLISHED[args.preset])}")
    print(f"weights         {_bytes(4 * n)} fp32, {_bytes(2 * n)} bf16")
    from lmlab.nn.kv_cache import kv_bytes_per_token
    per_tok = kv_bytes_per_token(cfg.n_layers, cfg.kv_heads, cfg.head_dim, bytes_per_value=2)
    print(f"KV cache        {_bytes(per_tok)} per token in bf16 ({_bytes(2 * per_tok)} fp32) = 2 (K,V) × "
          f"{cfg.n_layers} layers × {cfg.kv_heads} kv heads × {cfg.head_dim} dims; "
          f"{_bytes(per_tok * cfg.max_seq_len)} for one full {cfg.max_seq_len}-token context")
    if args.run:
        from lmlab.train.metrics import read_metrics
        rows = read_metrics(Path(args.run) / "metrics.jsonl")
        evals = [r for r in rows if "val_loss" in r]
        if rows:
            print(f"trained         {rows[-1]['step']} steps" +
                  (f", last val_loss {evals[-1]['val_loss']:.4f} (ppl {evals[-1]['val_ppl']:.2f})" if evals else ""))
        from lmlab.recipes.quantize import describe
        print("\n".join(describe(args.run)) or f"NF4             not quantised (`lmlab quantize nf4 {args.run}`)")


def cmd_memory(args) -> None:
    from lmlab.models.gpt import GPTConfig, preset
    from lmlab.tools.memory import format_bill, training_bill

    def count(text: str) -> float:  # "7B", "124M", "7e9"
        scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(text[-1:].upper(), 1.0)
        try:
            return float(text[:-1] if scale != 1.0 else text) * scale
        except ValueError:
            raise LmlabError(f"--params takes a count like 7e9, 7B or 124M, got '{text}'") from None

    if bool(args.preset) == bool(args.params):
        raise LmlabError("give either --preset NAME or --params COUNT (e.g. --params 7B)")
    shape = {"d_model": args.d_model, "n_layers": args.n_layers, "n_heads": args.n_heads, "d_ff": args.d_ff,
             "vocab_size": args.vocab_size}
    given = [k for k, v in shape.items() if v is not None]
    if args.preset and given:
        raise LmlabError(f"--{given[0].replace('_', '-')} goes with --params; a preset has its own shape")
    for name, value in (("--batch", args.batch), ("--seq-len", args.seq_len), ("--lora-rank", args.lora_rank),
                        *((f"--{k.replace('_', '-')}", shape[k]) for k in given)):
        if value is not None and value <= 0:
            raise LmlabError(f"{name} must be positive, got {value}")
    if args.mixed and args.dtype == "fp32":
        raise LmlabError("--mixed computes in 16 bits: use it with --dtype bf16 (or fp16)")
    params, name, cfg = None, f"preset {args.preset}", None
    if args.preset:
        cfg = preset(args.preset)
    else:
        params = count(args.params)
        if params <= 0:
            raise LmlabError(f"--params must be positive, got {args.params}")
        name = f"{args.params} parameters"
        if args.d_model and args.n_layers:  # enough shape for the activations
            C = args.d_model
            heads = args.n_heads or next(C // d for d in (128, 64, C) if C % d == 0)
            try:
                cfg = GPTConfig(vocab_size=args.vocab_size or 50257, max_seq_len=args.seq_len or 2048, d_model=C,
                                n_heads=heads, n_layers=args.n_layers, d_ff=args.d_ff or 0)
            except ValueError as e:
                raise LmlabError(str(e)) from None
        elif given:
            raise LmlabError("activations need both --d-model and --n-layers (or a --preset)")
    try:
        bill = training_bill(cfg, params=params, batch=args.batch, seq_len=args.seq_len, dtype=args.dtype,
                             mixed=args.mixed, optimizer=args.optimizer, method=args.method,
                             lora_rank=args.lora_rank, double_quant=args.double_quant,
                             checkpointing=args.checkpointing, backend=args.backend, name=name)
    except ValueError as e:
        raise LmlabError(str(e)) from None
    print(format_bill(bill, details=not args.short))


def cmd_convert(args) -> None:
    from lmlab.recipes.convert_gqa import convert_gqa

    if args.convert_command != "gqa":
        raise LmlabError("say what to convert to: `lmlab convert gqa RUN --n-kv-heads K --out DIR`")
    res = convert_gqa(args.run, args.n_kv_heads, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out}: key/value heads mean-pooled to {args.n_kv_heads}")
    if res["val_loss_mha"] is None:
        print("(the run's corpus is not available, so no validation loss was measured)")
    else:
        print(f"validation loss {res['val_loss_mha']:.4f} (ppl {res['ppl_mha']:.2f}) before, "
              f"{res['val_loss_gqa']:.4f} (ppl {res['ppl_gqa']:.2f}) after; continue training the "
              f"converted run to recover (\"uptraining\" in the GQA paper)")


def cmd_quantize(args) -> None:
    from lmlab.recipes.quantize import quantize_run

    if args.quantize_command != "nf4":
        raise LmlabError("say how to quantise: `lmlab quantize nf4 RUN [--out DIR]`")
    q = quantize_run(args.run, args.out, args.block_size, not args.no_double_quant, args.overwrite)
    print(f"wrote {q['out']}: {q['layers']} linear layers in NF4, {q['bits_per_weight']:.3f} bits per weight; "
          f"checkpoint {_bytes(q['checkpoint_bytes'])} (was {_bytes(q['checkpoint_bytes_before'])})")
    if q["val_loss_before"] is None:
        print("(the run's corpus is not available, so no validation loss was measured)")
    else:
        print(f"validation loss {q['val_loss_before']:.4f} -> {q['val_loss_after']:.4f}; see `lmlab info {q['out']}`, "
              f"sample with `lmlab generate {q['out']}`")


def _human(n: float) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.{1 if unit == 'B' else 0}f}{unit}"
    return str(int(n))


def _bytes(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def cmd_hf(args) -> None:
    from lmlab.io.checkpoint import load_config
    from lmlab.recipes.hf_interop import export_hf, import_hf
    if args.hf_command == "import":
        out = import_hf(args.path, args.out, overwrite=args.overwrite)
        bert = load_config(out, required=("family",))["family"] == "bert"
        hint = f"lmlab embed {out} \"...\"" if bert else f"lmlab generate {out} --prompt \"...\""
        print(f"imported {args.path} into {out}; try: {hint}")
    elif args.hf_command == "export":
        out, model_type = export_hf(args.run, args.out, overwrite=args.overwrite)
        cls = {"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM", "bert": "BertForPreTraining"}[model_type]
        print(f"exported {args.run} to {out} as {model_type}; load it with {cls}.from_pretrained(\"{out}\")")
        if "lora" in load_config(args.run, required=()):
            print(f"note: its LoRA adapters are merged into the weights; the adapter alone, for peft on the base "
                  f"model, is {args.run}/adapter/")
    else:
        raise LmlabError("say `lmlab hf import PATH --out RUN` or `lmlab hf export RUN --out PATH`")


def cmd_data_list(args) -> None:
    from lmlab.data.corpora import BUNDLED, bundled_path
    print(f"{'name':<16} {'size':>9}  {'chars':>10}  description")
    for name, c in BUNDLED.items():
        path = bundled_path(name)
        text = path.read_text(encoding="utf-8")
        print(f"{name:<16} {_bytes(path.stat().st_size):>9}  {len(text):>10,}  {c.description}")
        print(f"{'':<16} {'':>9}  {'':>10}  source: {c.provenance}")


def cmd_explain(args) -> None:
    from lmlab.tools.explain import TOPICS, list_topics, run_topic
    if args.list:
        print(f"topics (lmlab explain TOPIC [--out DIR]):\n{list_topics()}")
        return
    if args.topic is None:
        raise LmlabError(f"say which topic: lmlab explain TOPIC, one of {', '.join(TOPICS)} "
                         "(`lmlab explain --list` describes them)")
    run_topic(args.topic, args.out)


def cmd_tokenizer(args) -> None:
    from lmlab.data.tokenizers import TextTokenizer, train_tokenizer
    if args.tokenizer_command == "train":
        from lmlab.data.corpora import load_text
        out = Path(args.out)
        if out.exists() and not args.overwrite:
            raise LmlabError(f"{out} exists; pass --overwrite to replace it")
        if args.vocab_size <= 0:
            raise LmlabError(f"--vocab-size must be positive, got {args.vocab_size}")
        tok = train_tokenizer(args.kind, load_text(args.data), args.vocab_size, lowercase=not args.cased)
        out.parent.mkdir(parents=True, exist_ok=True)
        tok.save(out)
        specials = ", ".join(f"{name} {i}" for name, i in tok.special_ids.items())
        print(f"wrote {out}: {tok.kind} tokenizer, {tok.vocab_size} tokens" + (f" (specials: {specials})"
              if specials else "") + f"; try: lmlab tokenizer encode {out} \"some text\"")
    elif args.tokenizer_command == "encode":
        if args.max_len is not None and args.max_len <= 0:
            raise LmlabError(f"--max-len must be positive, got {args.max_len}")
        tok = TextTokenizer.load(args.tokenizer, lowercase=not args.cased)
        if tok.kind == "wordpiece" or args.pair is not None:  # BERT's [CLS] A [SEP] B [SEP]
            enc = tok.encode_pair(args.text, args.pair, max_len=args.max_len)
            ids, segments = enc["input_ids"], enc["token_type_ids"]
        else:
            ids = tok.encode(args.text)[:args.max_len]
            segments = [0] * len(ids)
        words = tok.word_ids(ids) if tok.kind != "bpe" else [None] * len(ids)
        print(f"{'pos':>4}  {'token':<16} {'id':>6}  segment  word")
        for pos, (t, i, seg, w) in enumerate(zip(tok.tokens(ids), ids, segments, words)):
            print(f"{pos:>4}  {t!r:<16} {i:>6}  {seg:>7}  {'-' if w is None else w:>4}")
        print(f"tokens:         {tok.tokens(ids)}\ninput_ids:      {ids}\ntoken_type_ids: {segments}")
    else:
        raise LmlabError("say `lmlab tokenizer train --kind KIND --data DATA --vocab-size N --out FILE` "
                         "or `lmlab tokenizer encode TOKENIZER \"text\" [\"pair text\"]`")


def cmd_embed(args) -> None:
    texts = list(args.text)
    if args.input is not None:
        from lmlab.recipes.embed import read_texts
        texts += read_texts(args.input)
    if not texts:
        raise LmlabError("no texts to embed: give them as arguments or with --input FILE (one per line)")
    for flag, value in (("--max-len", args.max_len), ("--batch-size", args.batch_size)):
        if value is not None and value <= 0:
            raise LmlabError(f"{flag} must be positive, got {value}")
    from lmlab.recipes.embed import embed, to_json
    vectors = embed(args.model, texts, args.pooling, args.normalize, args.max_len, args.batch_size,
                    args.device, args.out)
    if args.out is None:
        print(to_json(texts, vectors))
    else:
        print(f"wrote {len(texts)} embeddings of {vectors.shape[1]} dimensions ({args.pooling} pooling"
              f"{', L2-normalised' if args.normalize else ''}) to {args.out}")


# ---- parser --------------------------------------------------------------------------------------
def _run_flags(p: argparse.ArgumentParser, resume_help: str = "continue the run in --out from its last "
               "checkpoint (training keys such as max_steps may change; model and data settings stay)") -> None:
    """The flags every training command shares: --resume, --overwrite, --time-budget, --quiet, --debug."""
    p.add_argument("--resume", action="store_true", help=resume_help)
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run in --out (it is kept until the new run has started)")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="stop cleanly (final eval + checkpoint) after this much training time")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = _Parser(prog="lmlab", formatter_class=fmt, epilog=EXAMPLES,
                                description="Build, pretrain, fine-tune and sample Transformer-era models.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser("train", help="train a model from scratch or resume a run",
                           description="Train a model; `lmlab train gpt|bert|seq2seq --help` for the options.")
    tsub = train.add_subparsers(dest="family", metavar="FAMILY")
    from lmlab.models.gpt.presets import PRESETS
    g = tsub.add_parser(
        "gpt", formatter_class=fmt,
        help="pretrain a decoder-only GPT on a text corpus (causal LM)",
        description="Pretrain a GPT (next-token prediction) on a text corpus. Writes a run directory "
                    "with config.json, tokenizer.json, model.safetensors, train_state.pt, metrics.jsonl, "
                    "loss.png and samples.txt. Any config key below can be set with --key value.",
        epilog=_keys_help(_config_classes()) + "\n\n" + EXAMPLES)
    g.add_argument("--data", help="bundled corpus name (see `lmlab data list`), a UTF-8 text file, "
                                  "or a folder of text files")
    g.add_argument("--preset", default="nano",
                   help=f"model size (default: nano). One of: {', '.join(PRESETS)}")
    g.add_argument("--config", help="a bundled recipe (shakespeare-char) or a JSON file of config keys "
                                    "(flat, or in model/train/data sections); "
                                    "--key value flags override it")
    g.add_argument("--out", required=True, help="run directory to create (or continue with --resume)")
    _run_flags(g)
    g.add_argument("--init", metavar="RUN", help="start from the weights and tokenizer of this GPT run (e.g. "
                                                "one made by `lmlab hf import`) instead of a fresh --preset")
    g.add_argument("--lora", metavar="SPEC", help=LORA_HELP)
    g.add_argument("--nf4", action="store_true", help=NF4_HELP)

    from lmlab.models.bert.presets import PRESETS as BERT_PRESETS
    b = tsub.add_parser(
        "bert", formatter_class=fmt,
        help="pretrain a BERT encoder on a text corpus (masked LM + NSP/SOP)",
        description="Pretrain a BERT (masked-language modelling, plus next-sentence or sentence-order "
                    "prediction) on a text corpus split into documents at blank lines and segments at "
                    "line breaks. A WordPiece tokenizer is trained on the corpus. Writes config.json, "
                    "tokenizer.json, model.safetensors, train_state.pt, metrics.jsonl (val_mlm_loss, "
                    "val_mlm_acc, val_sentence_acc) and loss.png. Any config key below: --key value.",
        epilog=_keys_help(_bert_config_classes()) + "\n\n" + BERT_EXAMPLES)
    b.add_argument("--data", help="bundled corpus name, a UTF-8 text file, or a folder of text files")
    b.add_argument("--preset", default="bert-tiny",
                   help=f"model size (default: bert-tiny). One of: {', '.join(BERT_PRESETS)}")
    b.add_argument("--config", help="a JSON file of config keys (flat, or in model/train/data sections)")
    b.add_argument("--tokenizer", metavar="FILE",
                   help="use this WordPiece tokenizer.json or BERT vocab.txt instead of training one on the corpus "
                        "(it sets the vocabulary size; tokenizer_vocab_size is then ignored)")
    b.add_argument("--out", required=True, help="run directory to create (or continue with --resume)")
    _run_flags(b)
    b.add_argument("--lora", metavar="SPEC", help=LORA_HELP)
    b.add_argument("--nf4", action="store_true", help=NF4_HELP)

    from lmlab.models.seq2seq.presets import PRESETS as SEQ2SEQ_PRESETS
    s2s = tsub.add_parser(
        "seq2seq", formatter_class=fmt,
        help="train an encoder-decoder Transformer to translate, on a parallel corpus",
        description="Train the encoder-decoder Transformer of \"Attention Is All You Need\" on sentence pairs\n"
                    "(a .tsv with a header row, e.g. `en<TAB>zh<TAB>…`, or .jsonl; --source/--target name the\n"
                    "columns, default the first two). Pairs are split into train / validation / test (seeded,\n"
                    "never the same source sentence in two splits); a byte-level BPE is trained on the\n"
                    "training pairs (joint by default, so source embedding, target embedding and output layer\n"
                    "share one matrix); batches hold about --batch_tokens tokens of similar-length pairs.\n"
                    "Loss: label-smoothed cross-entropy (--label_smoothing, default 0.1); schedule: the paper's\n"
                    "inverse square root after --warmup_steps (peak --lr), or --schedule warmup_cosine.\n"
                    "Each evaluation logs val_loss, val_acc and, on --bleu_sentences validation pairs\n"
                    "translated greedily, val_bleu and val_chrf (sacrebleu; Chinese is scored per character)\n"
                    "in metrics.jsonl, with a few translations in samples.txt.",
        epilog=_seq2seq_keys_help() + "\n\n" + SEQ2SEQ_EXAMPLES)
    s2s.add_argument("--data", help="parallel corpus: .tsv (header row) or .jsonl")
    s2s.add_argument("--preset", default="transformer-small",
                     help=f"model size (default: transformer-small). One of: {', '.join(SEQ2SEQ_PRESETS)}")
    s2s.add_argument("--config", help="a JSON file of config keys (flat, or in model/train/data sections)")
    s2s.add_argument("--out", required=True, help="run directory to create (or continue with --resume)")
    _run_flags(s2s)

    ft = sub.add_parser("finetune", help="fine-tune a pretrained model for a task (text classification)",
                        description="Fine-tune a pretrained model; `lmlab finetune classify --help` for the options.")
    ftsub = ft.add_subparsers(dest="task", metavar="TASK")
    fc = ftsub.add_parser(
        "classify", formatter_class=fmt,
        help="text classification: a linear head on a pretrained BERT (lmlab run or Hugging Face folder)",
        description="Fine-tune a BERT for text classification: a linear head on the pooled [CLS] (or on the "
                    "mean of the tokens, --pooling mean), a small "
                    "learning rate with warm-up (default 1e-4, linear warm-up and decay), optionally the "
                    "embeddings and the lowest K layers frozen. The data (CSV with a header, TSV or JSONL) "
                    "is split per label into train / validation / test (seeded). Long texts: head, tail, "
                    "head+tail (the notes' 128 + 382 / 256 + 254 for 512, scaled) or sliding windows whose "
                    "logits are averaged. Writes config.json, model.safetensors, tokenizer.json, "
                    "metrics.jsonl, loss.png, then results.json (test accuracy, macro-F1) and confusion.png.",
        epilog=_finetune_keys_help() + "\n\n" + FINETUNE_EXAMPLES)
    fc.add_argument("--model", required=True, help="an lmlab BERT run (`lmlab train bert`) or a Hugging Face "
                                                   "BERT folder")
    fc.add_argument("--data", required=True, help="a .csv (header row), .tsv or .jsonl file of labelled texts")
    fc.add_argument("--text-column", help="column of the text (default: text)")
    fc.add_argument("--label-column", help="column of the label (default: label)")
    fc.add_argument("--truncation", choices=("head", "tail", "head+tail", "sliding-window"),
                    help="how a long text fits max-len (default: head)")
    fc.add_argument("--max-len", type=int, help="tokens per sequence, [CLS] and [SEP] included (default: 128)")
    fc.add_argument("--stride", type=int, help="sliding-window step in tokens (default: half a window)")
    fc.add_argument("--freeze-layers", type=int, metavar="K",
                    help="freeze the embeddings and the K lowest encoder layers (default: 0, none)")
    fc.add_argument("--pooling", choices=("cls", "mean"),
                    help="what the head reads: cls, BERT's pooler (dense + tanh) on [CLS], as Hugging Face's "
                         "BertForSequenceClassification; mean, the average of the real tokens' final states, "
                         "better for an encoder pretrained by MLM alone, whose [CLS] and pooler never trained "
                         "(default: cls)")
    fc.add_argument("--out", required=True, help="run directory to create")
    fc.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    fc.add_argument("--lora", metavar="SPEC", help=LORA_HELP + " (the classifier always trains in full)")
    fc.add_argument("--nf4", action="store_true", help=NF4_HELP)
    fc.add_argument("--quiet", action="store_true", help="no progress bar")
    fc.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    gen = sub.add_parser(
        "generate", help="generate text from a trained run", formatter_class=fmt,
        description="Continue prompts with a trained GPT run: greedy (--temperature 0), sampling (the "
                    "default) or beam search (--num-beams K). One prompt is streamed to the terminal; "
                    "several --prompt flags are decoded together as one left-padded batch. Processors "
                    "apply in Hugging Face's order: repetition penalty, no-repeat n-gram, then (sampling "
                    "only) temperature, top-k, top-p, min-p.",
        epilog="examples:\n  lmlab generate runs/demo --prompt ROMEO: --temperature 0.8 --top-p 0.9\n"
               "  lmlab generate runs/demo --prompt ROMEO: --temperature 0 --show-probs --max-new-tokens 20\n"
               "  lmlab generate runs/demo --prompt ROMEO: --prompt JULIET: --num-beams 4 --stop \"\\n\\n\"")
    gen.add_argument("run", help="run directory (from `lmlab train gpt` or `lmlab hf import`)")
    gen.add_argument("--prompt", action="append", help="text to continue; repeat for a batch (default: a newline)")
    gen.add_argument("--max-new-tokens", type=int, default=200, help="tokens to generate (default: 200)")
    gen.add_argument("--temperature", type=float, default=1.0,
                     help="divide logits by T; <1 sharper, >1 flatter, 0 = greedy (default: 1.0)")
    gen.add_argument("--top-k", type=int, default=0, help="keep the k most likely tokens; 0 = all (default: 0)")
    gen.add_argument("--top-p", type=float, default=1.0,
                     help="nucleus: keep the smallest set with probability mass ≥ p (default: 1.0 = off)")
    gen.add_argument("--min-p", type=float, default=0.0,
                     help="keep tokens with probability ≥ p × the top probability (default: 0 = off)")
    gen.add_argument("--repetition-penalty", type=float, default=1.0,
                     help="CTRL penalty for tokens already present, e.g. 1.2 (default: 1.0 = off)")
    gen.add_argument("--no-repeat-ngram", type=int, default=0, metavar="N",
                     help="never repeat an n-gram of this size (default: 0 = off)")
    gen.add_argument("--num-beams", type=int, default=1, help="beam search with K beams (default: 1 = off)")
    gen.add_argument("--length-penalty", type=float, default=1.0,
                     help="beam scores are divided by length**penalty; >1 favours longer (default: 1.0)")
    gen.add_argument("--stop", action="append", default=[], metavar="TEXT",
                     help="end a sequence once its text contains TEXT (repeatable)")
    gen.add_argument("--seed", type=int, default=0, help="random seed, for reproducible samples (default: 0)")
    gen.add_argument("--backend", choices=("sdpa", "flash", "naive"), default=None,
                     help="attention kernel for this call (default: the model's, normally sdpa)")
    gen.add_argument("--no-cache", action="store_true",
                     help="re-encode the whole sequence every step instead of using the KV cache (slow; "
                          "for comparison)")
    gen.add_argument("--show-probs", action="store_true",
                     help="print each token with its probability and the top alternatives")
    gen.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    tr = sub.add_parser(
        "translate", formatter_class=fmt, help="translate texts with a run from `lmlab train seq2seq`",
        description="Translate each text with a trained encoder-decoder run, one translation per line.\n"
                    "Greedy by default; --num-beams K keeps the K best partial translations, scored by\n"
                    "log-probability / length**(--length-penalty). The source is encoded once; the decoder\n"
                    "reuses its cross-attention keys/values and a KV cache (--no-cache recomputes all, for\n"
                    "comparison). Texts are batched by length. --attention-map draws which source tokens\n"
                    "each target token attended to (the first text; one decoder layer; mean over heads).",
        epilog="examples:\n  lmlab translate runs/en-zh \"File not found\" \"%s: cannot open\"\n"
               "  lmlab translate runs/en-zh --input messages.txt --num-beams 4 --out messages.zh.txt\n"
               "  lmlab translate runs/en-zh \"Permission denied\" --attention-map attn.png --head 2")
    tr.add_argument("run", help="run directory from `lmlab train seq2seq`")
    tr.add_argument("text", nargs="*", help="texts to translate (or use --input)")
    tr.add_argument("--input", metavar="FILE", help="a UTF-8 file of texts, one per line (blank lines skipped)")
    tr.add_argument("--out", metavar="FILE", help="write the translations there, one per line, instead of printing")
    tr.add_argument("--num-beams", type=int, default=1, help="beam search with K beams (default: 1 = greedy)")
    tr.add_argument("--length-penalty", type=float, default=1.0,
                    help="beam scores are log-prob / length**penalty; >1 favours longer (default: 1.0)")
    tr.add_argument("--max-new-tokens", type=int,
                    help="longest translation in tokens (default: twice the longest source in the batch + 10)")
    tr.add_argument("--batch-size", type=int, default=32, help="texts decoded together (default: 32)")
    tr.add_argument("--no-cache", action="store_true",
                    help="re-run the decoder over the whole translation at every step (slow; for comparison)")
    tr.add_argument("--backend", choices=("sdpa", "flash", "naive"), default=None,
                    help="attention kernel for this call (default: the model's, normally sdpa)")
    tr.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    tr.add_argument("--attention-map", metavar="PNG", help="draw the cross-attention of the first text")
    tr.add_argument("--head", type=int, help="with --attention-map: one head instead of the mean over heads")
    tr.add_argument("--layer", type=int, default=-1,
                    help="with --attention-map: the decoder layer (default: -1, the last)")
    tr.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    info = sub.add_parser("info", help="parameter counts and settings of a run or a preset",
                          description="Show a model's settings, parameter count and weight memory.")
    info.add_argument("run", nargs="?", help="run directory")
    info.add_argument("--preset", help=f"a preset name instead of a run: {', '.join(PRESETS)}; or an "
                                       "encoder-decoder one: transformer-base, transformer-big, transformer-small …")
    info.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    from lmlab.tools.memory import METHODS, OPTIMIZER_STATES
    mem = sub.add_parser(
        "memory", formatter_class=fmt, help="the memory bill of training: weights, gradients, optimizer, activations",
        description="Estimate the memory one training step needs (notes V.3, the 显存账单): parameters,\n"
                    "gradients, optimizer states and activations, each with its formula, their sum, and\n"
                    "the peak (the four never all exist at once: backward frees activations as it creates\n"
                    "gradients). GB = 10^9 bytes as in the notes, GiB = 2^30. The activations are what\n"
                    "autograd saves in lmlab's GPT; benchmarks/memory_bill.py checks the peak against\n"
                    "real training steps.",
        epilog="examples:\n"
               "  lmlab memory --params 7B --dtype fp16                # the notes: 14 GB + 14 GB + 28 GB\n"
               "  lmlab memory --preset gpt2-small --batch 8 --seq-len 1024\n"
               "  lmlab memory --preset gpt2-small --dtype bf16 --mixed --checkpointing\n"
               "  lmlab memory --preset llama2-7b --dtype bf16 --method qlora --batch 1 --seq-len 2048\n"
               "  lmlab memory --params 7B --d-model 4096 --n-layers 32 --dtype bf16 --batch 1 --seq-len 4096")
    mem.add_argument("--preset", help=f"a GPT preset: {', '.join(PRESETS)}")
    mem.add_argument("--params", help="a bare parameter count instead (7e9, 7B, 124M); activations then need "
                                      "--d-model and --n-layers")
    mem.add_argument("--d-model", type=int, help="with --params: width, for the activations")
    mem.add_argument("--n-layers", type=int, help="with --params: depth, for the activations")
    mem.add_argument("--n-heads", type=int, help="with --params: heads (default: d_model / 128)")
    mem.add_argument("--d-ff", type=int, help="with --params: FF width (default: 4 × d_model)")
    mem.add_argument("--vocab-size", type=int, help="with --params: vocabulary (default: 50257)")
    mem.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32",
                     help="what weights, gradients, optimizer states and activations are stored in "
                          "(default: fp32)")
    mem.add_argument("--mixed", action="store_true",
                     help="mixed precision as `lmlab train gpt --dtype bf16` does it: compute in --dtype "
                          "under autocast, keep fp32 master weights, gradients and optimizer states")
    mem.add_argument("--optimizer", choices=tuple(OPTIMIZER_STATES), default="adamw",
                     help="states per parameter: sgd 0, momentum/nesterov/adagrad/rmsprop 1, "
                          "rmsprop-momentum/adam/adamw/ftrl 2 (default: adamw)")
    mem.add_argument("--batch", type=int, default=8, help="sequences per step (default: 8)")
    mem.add_argument("--seq-len", type=int, help="tokens per sequence (default: the preset's context; 2048)")
    mem.add_argument("--method", choices=METHODS, default="full",
                     help="full: train every weight; lora: frozen base + adapters on q, k, v, o; "
                          "qlora: the same with the base block matrices in 4-bit NF4 (default: full)")
    mem.add_argument("--lora-rank", type=int, default=8, help="LoRA rank r (default: 8)")
    mem.add_argument("--double-quant", action="store_true",
                     help="QLoRA with double quantisation: 4.127 instead of 4.5 bits a weight")
    mem.add_argument("--checkpointing", action="store_true",
                     help="activation checkpointing: keep only each block's input, recompute in backward")
    mem.add_argument("--backend", choices=("sdpa", "naive", "flash"),
                     help="attention kernel (default: the model's, sdpa); naive saves the T×T probabilities")
    mem.add_argument("--short", action="store_true", help="only the bill, without the itemised activations")
    mem.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    hf = sub.add_parser("hf", help="import or export Hugging Face GPT-2, Llama and BERT checkpoints",
                        description="Convert between lmlab run directories and Hugging Face GPT-2, Llama or BERT "
                                    "folders (config.json + model.safetensors or its shards [+ tokenizer.json, "
                                    "or a BERT vocab.txt]).")
    hsub = hf.add_subparsers(dest="hf_command", metavar="ACTION")
    hi = hsub.add_parser("import", help="make a run directory from a Hugging Face GPT-2, Llama or BERT folder",
                         description="GPT-2 and Llama folders become GPT runs (`lmlab generate`); BERT folders "
                                     "become BERT runs holding BertForPreTraining (`lmlab finetune classify "
                                     "--model`, `lmlab embed`); heads the folder lacks start from BERT's init.")
    hi.add_argument("path", help="folder with config.json (model_type gpt2, llama or bert) and model.safetensors "
                                 "(tokenizer.json is copied if present; a BERT vocab.txt is converted)")
    hi.add_argument("--out", required=True, help="run directory to create")
    he = hsub.add_parser("export", help="write a run as a Hugging Face GPT-2, Llama or BERT folder",
                         description="Write a run as the Hugging Face architecture that computes the same "
                                     "model: GPT-2 (learned positions, LayerNorm, GELU/ReLU, biases) or "
                                     "Llama (rotary positions, RMSNorm, SwiGLU, no biases) for a GPT run, "
                                     "BertForPreTraining (+ tokenizer.json and vocab.txt) for a BERT run.")
    he.add_argument("run", help="lmlab run directory")
    he.add_argument("--out", required=True, help="folder to create; loads with GPT2LMHeadModel, "
                                                 "LlamaForCausalLM or BertForPreTraining.from_pretrained")
    for q in (hi, he):
        q.add_argument("--overwrite", action="store_true", help="replace what is in --out")
        q.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    conv = sub.add_parser("convert", help="convert a run's architecture (multi-head -> grouped-query)",
                          description="Convert a run into a variant of itself.")
    csub = conv.add_subparsers(dest="convert_command", metavar="TARGET")
    cg = csub.add_parser(
        "gqa", formatter_class=fmt, help="mean-pool key/value heads: MHA -> GQA (or MQA with 1)",
        description="Make a grouped-query-attention copy of a multi-head GPT run by averaging the key and "
                    "value projections of each group of heads (Ainslie et al. 2023), and report the "
                    "validation loss before and after. The KV cache shrinks by n_heads / n_kv_heads.")
    cg.add_argument("run", help="a multi-head GPT run directory")
    cg.add_argument("--n-kv-heads", type=int, required=True, help="key/value heads to keep; must divide n_heads")
    cg.add_argument("--out", required=True, help="run directory to create")
    cg.add_argument("--overwrite", action="store_true", help="replace what is in --out")
    cg.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    qz = sub.add_parser("quantize", help="store a run's weights in 4 bits (NF4, as QLoRA does)",
                        description="Quantise a trained run into a new run directory.")
    qsub = qz.add_subparsers(dest="quantize_command", metavar="FORMAT")
    qn = qsub.add_parser(
        "nf4", formatter_class=fmt, help="4-bit NormalFloat with block-wise scales (Dettmers et al. 2023)",
        description="Write a copy of a GPT run whose linear layers (all but the LM head) keep 4-bit NF4 codes\n"
                    "instead of their weights: each block of --block-size weights is divided by its largest\n"
                    "magnitude (absmax) and every value replaced by the nearest of 16 levels placed at\n"
                    "quantiles of the normal distribution, which is how trained weights are distributed.\n"
                    "Double quantisation stores the absmax values in 8 bits too: 4 + 32/64 = 4.5 bits per\n"
                    "weight become 4 + 8/64 + 32/(64·256) = 4.127. Embeddings, norms and the head stay as they\n"
                    "were. The validation loss is measured before and after on the run's own validation split;\n"
                    "`lmlab info` shows it with the bytes per parameter, and `lmlab generate` samples from the\n"
                    "copy (dequantising one chunk of each layer at a time). Layout and values equal\n"
                    "bitsandbytes' quantize_4bit(quant_type=\"nf4\").",
        epilog="examples:\n  lmlab quantize nf4 runs/shakespeare                 # -> runs/shakespeare-nf4\n"
               "  lmlab quantize nf4 runs/shakespeare --out runs/sh-4bit --block-size 128 --no-double-quant\n"
               "  lmlab info runs/shakespeare-nf4")
    qn.add_argument("run", help="a GPT run directory (not changed)")
    qn.add_argument("--out", help="run directory to create (default: RUN-nf4)")
    qn.add_argument("--block-size", type=int, default=64,
                    help="weights per absmax scale (default: 64); larger blocks cost fewer bits, more error")
    qn.add_argument("--no-double-quant", action="store_true",
                    help="keep the absmax scales in fp32 (4.5 bits a weight at block 64, instead of 4.127)")
    qn.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    qn.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    data = sub.add_parser("data", help="bundled corpora", description="Corpora that ship with lmlab.")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")
    dl = dsub.add_parser("list", help="list the bundled corpora with sizes and provenance")
    dl.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    ex = sub.add_parser(
        "explain", formatter_class=fmt, help="the notes' worked examples, computed step by step",
        description="Run one of the notes' worked examples with lmlab's own losses, layers and optimizers.\n"
                    "Each step is printed with the numbers lmlab computes, beside the numbers the notes\n"
                    "print: ✓ agrees, ≈ the notes rounded, ✗ the notes erred (and at which step).\n"
                    "Output is deterministic (seeded). Plots are written only when --out is given.",
        epilog="examples:\n  lmlab explain --list\n  lmlab explain batch-size\n"
               "  lmlab explain attention-scaling --out explain-plots")
    ex.add_argument("topic", nargs="?", help="the topic to run (see --list)")
    ex.add_argument("--list", action="store_true", help="list the topics with a one-line summary each")
    ex.add_argument("--out", metavar="DIR", help="folder to save the topic's plot in, as TOPIC.png "
                                                 "(created if missing; default: no plot)")
    ex.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    tk = sub.add_parser("tokenizer", help="train a tokenizer (char, bpe, BERT's wordpiece) or see how one "
                                          "encodes",
                        description="Train a tokenizer on a corpus, or show the tokens, ids and segment ids "
                                    "(token_type_ids) a tokenizer gives a text or a BERT pair.")
    tksub = tk.add_subparsers(dest="tokenizer_command", metavar="ACTION")
    tt = tksub.add_parser(
        "train", formatter_class=fmt, help="train a tokenizer on a corpus and save it as tokenizer.json",
        description="char: one token per character; bpe: GPT-2's byte-level BPE; wordpiece: BERT's\n"
                    "(lowercase, strip accents, split CJK characters and punctuation, '##' pieces, with\n"
                    "[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4).",
        epilog="example:\n  lmlab tokenizer train --kind wordpiece --data tinyshakespeare --vocab-size 2000 "
               "--out wp.json")
    tt.add_argument("--kind", required=True, choices=("wordpiece", "bpe", "char"), help="which tokenizer")
    tt.add_argument("--data", required=True, help="bundled corpus name, a UTF-8 text file or a folder")
    tt.add_argument("--vocab-size", type=int, default=1024,
                    help="tokens in the vocabulary, specials included (bpe, wordpiece; default: 1024)")
    tt.add_argument("--cased", action="store_true",
                    help="wordpiece: keep case and accents (default: lowercase)")
    tt.add_argument("--out", required=True, help="the tokenizer.json to write")
    tt.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    te = tksub.add_parser(
        "encode", formatter_class=fmt, help="show the tokens, ids and segment ids of a text or a pair",
        description="Encode TEXT (and PAIR) with a tokenizer.json or a BERT vocab.txt. A wordpiece\n"
                    "tokenizer gives BERT's input, [CLS] TEXT [SEP] PAIR [SEP], with segment id 0 for the\n"
                    "first part and 1 for the second; `word` numbers the words ('##' pieces join the word\n"
                    "before).",
        epilog="example:\n  lmlab tokenizer encode wp.json \"The cat sat.\" \"It purred.\"")
    te.add_argument("tokenizer", help="a tokenizer.json, or a BERT vocab.txt")
    te.add_argument("text", help="the text (sentence A)")
    te.add_argument("pair", nargs="?", help="a second text (sentence B), for BERT pairs")
    te.add_argument("--max-len", type=int, help="truncate to this many tokens, the longer text first")
    te.add_argument("--cased", action="store_true", help="vocab.txt of a cased BERT: do not lowercase")
    for q in (tt, te):
        q.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    em = sub.add_parser(
        "embed", formatter_class=fmt, help="sentence embeddings from a BERT run or Hugging Face BERT folder",
        description="One vector per text, as sentence-transformers computes it: [CLS] text [SEP] through the\n"
                    "encoder, then the mean of the token vectors over the attention mask ([CLS] and [SEP]\n"
                    "included, padding not) or the [CLS] vector, optionally scaled to unit length (then a\n"
                    "dot product is the cosine similarity). Without --out, JSON goes to stdout:\n"
                    '[{"text": ..., "embedding": [...]}, ...].',
        epilog="examples:\n  lmlab embed runs/bert \"To be, or not to be.\" \"All the world's a stage.\"\n"
               "  lmlab embed path/to/hf-bert --input sentences.txt --pooling cls --normalize --out emb.npy")
    em.add_argument("model", help="an lmlab BERT run (`lmlab train bert`) or a Hugging Face BERT folder")
    em.add_argument("text", nargs="*", help="texts to embed (or use --input)")
    em.add_argument("--input", metavar="FILE", help="a UTF-8 file of texts, one per line (blank lines skipped); "
                                                    "added after the texts given as arguments")
    em.add_argument("--pooling", choices=("mean", "cls"), default="mean",
                    help="mean over real tokens, or the [CLS] vector (default: mean)")
    em.add_argument("--normalize", action="store_true", help="L2-normalise each embedding to length 1")
    em.add_argument("--max-len", type=int, help="truncate texts to this many tokens, [CLS] and [SEP] included "
                                                "(default: the model's max_seq_len)")
    em.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default: 32)")
    em.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    em.add_argument("--out", metavar="FILE", help="write FILE.npy (float32 array (N, C)) or FILE.json instead "
                                                  "of printing JSON")
    em.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    di = sub.add_parser(
        "distill", formatter_class=fmt,
        help="train a shallower student of a GPT or BERT run on its soft labels (knowledge distillation)",
        description="Knowledge distillation (Hinton et al. 2015; DistilBERT, Sanh et al. 2019). The student is the\n"
                    "teacher's model with fewer layers: by default a copy of every other teacher layer, with\n"
                    "the teacher's embeddings and heads. It trains on the teacher's corpus, tokenizer and\n"
                    "data settings with the triple loss\n"
                    "    alpha_kl * T^2 * KL(softmax(teacher/T) || softmax(student/T))   soft labels\n"
                    "  + alpha_ce  * cross-entropy with the true tokens                    hard labels\n"
                    "  + alpha_cos * (1 - cos(student hidden, teacher hidden))             last hidden states\n"
                    "(scored on the masked tokens for BERT, every next token for GPT). The soft labels carry\n"
                    "what the hard ones cannot: which wrong answers are nearly right. T > 1 flattens them so\n"
                    "the small probabilities count; T^2 keeps the gradient's size the same for every T.\n"
                    "The teacher is frozen and not saved. OUT is an ordinary run of the teacher's family\n"
                    "(generate, embed, finetune, hf export), and metrics.jsonl logs val_loss (the student's\n"
                    "hard-label loss, comparable with the teacher's), val_kl, val_ce, val_cos and\n"
                    "val_distill_loss. Training keys (--max_steps, --lr, …) default to the teacher's own.",
        epilog=_distill_keys_help() + "\n\n" + DISTILL_EXAMPLES)
    di.add_argument("--teacher", metavar="RUN", help="the run to distil: a GPT or BERT run directory")
    di.add_argument("--out", required=True, help="the student's run directory (or the run to continue with --resume)")
    di.add_argument("--layers", help="teacher layers the student keeps, in order: every-other (default: 0,2,4,… "
                                     "as DistilBERT) or a list like 0,2,4 (DistilBERT's release: 0,2,4,7,9,11)")
    di.add_argument("--temperature", type=float, help="T of the soft labels (default 2; 1 = the plain softmax)")
    di.add_argument("--alpha-kl", type=float, help="weight of the soft-label loss T^2 * KL (default 5)")
    di.add_argument("--alpha-ce", type=float, help="weight of the hard-label cross-entropy (default 2)")
    di.add_argument("--alpha-cos", type=float, help="weight of the hidden-state cosine loss (default 1; it "
                                                    "needs the teacher's width, which a student keeps)")
    di.add_argument("--init", choices=("teacher", "random"),
                    help="teacher (default): copy the chosen layers, embeddings and heads; random: fresh weights "
                         "of the same shape, to see what the copy is worth")
    di.add_argument("--data", help="train on this corpus instead of the teacher's (needed for a teacher made by "
                                   "`lmlab hf import`); it must suit the teacher's tokenizer")
    _run_flags(di, resume_help="continue the run in --out (its teacher, corpus and settings come from its "
                               "config.json)")

    lo = sub.add_parser("lora", help="LoRA runs: fold the adapters into a plain run, import a peft adapter",
                        description="Work with runs trained with --lora (see `lmlab train gpt --help`).")
    losub = lo.add_subparsers(dest="lora_command", metavar="ACTION")
    lm = losub.add_parser(
        "merge", formatter_class=fmt, help="W <- W + s*B*A in every adapted layer: a plain run, same outputs",
        description="Fold a LoRA run's adapters into its weights (W <- W + (alpha/r) * B @ A, Hu et al. 2021,\n"
                    "section 4.1) and write a plain run: same config without the 'lora' section, the merged\n"
                    "model.safetensors, and the run's tokenizer, metrics and results. It computes the same\n"
                    "function (float rounding aside; the largest change on a random batch is printed) with\n"
                    "no extra cost per token, and loads anywhere a plain run does (`lmlab hf export`, …).\n"
                    "The optimizer state is not copied: continue training the merged run as a new run.",
        epilog="examples:\n  lmlab lora merge runs/cls-lora                    # writes runs/cls-lora-merged\n"
               "  lmlab lora merge runs/gpt2-lora --out runs/gpt2-tuned\n"
               "  lmlab lora merge runs/gpt2-lora --out runs/gpt2-tuned --overwrite")
    lm.add_argument("run", help="a run trained with --lora (its config.json has a 'lora' section)")
    lm.add_argument("--out", help="the plain run to create (default: RUN-merged); never replaced without "
                                  "--overwrite")
    lm.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    lm.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    li = losub.add_parser(
        "import", formatter_class=fmt, help="a peft adapter folder on a base model -> an lmlab LoRA run",
        description="Turn a LoRA adapter saved by Hugging Face peft (adapter_config.json +\n"
                    "adapter_model.safetensors) into an lmlab LoRA run on its base model: an lmlab gpt,\n"
                    "bert or bert-classifier run (an NF4 run gives a QLoRA run) or a Hugging Face GPT-2,\n"
                    "Llama or BERT folder. GPT-2's fused c_attn adapter becomes adapters on q, k and v.\n"
                    "The run is loaded back and checked against the adapter on its base before it is kept;\n"
                    "then `lmlab generate`, `lmlab lora merge` and `lmlab hf export` take it like any LoRA run.",
        epilog="examples:\n  lmlab lora import ./my-adapter --base ./gpt2-hf --out runs/gpt2-adapted\n"
               "  lmlab lora import ./my-adapter --out runs/adapted     # base: the adapter's\n"
               "                                                        # base_model_name_or_path, if a folder\n"
               "  lmlab lora import runs/cls-lora/adapter --base runs/bert --out runs/cls-again")
    li.add_argument("adapter", help="a peft LoRA adapter folder (adapter_config.json + adapter_model.safetensors)")
    li.add_argument("--base", help="the base model: an lmlab run or a Hugging Face folder (default: the "
                                   "adapter's base_model_name_or_path, when that is a folder here)")
    li.add_argument("--out", required=True, help="the LoRA run to create; never replaced without --overwrite")
    li.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    li.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    debug = "--debug" in argv
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "train":
            if args.family == "gpt":
                cmd_train_gpt(args, extra)
            elif args.family == "bert":
                cmd_train_bert(args, extra)
            elif args.family == "seq2seq":
                cmd_train_seq2seq(args, extra)
            else:
                raise LmlabError("say which model to train: `lmlab train gpt|bert|seq2seq …` (see `lmlab train --help`)")
            return 0
        if args.command == "finetune":
            cmd_finetune(args, extra)
            return 0
        if args.command == "distill":
            cmd_distill(args, extra)
            return 0
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "generate":
            cmd_generate(args)
        elif args.command == "info":
            cmd_info(args)
        elif args.command == "memory":
            cmd_memory(args)
        elif args.command == "convert":
            cmd_convert(args)
        elif args.command == "quantize":
            cmd_quantize(args)
        elif args.command == "hf":
            cmd_hf(args)
        elif args.command == "data":
            if args.data_command != "list":
                raise LmlabError("`lmlab data list` is the data command")
            cmd_data_list(args)
        elif args.command == "explain":
            cmd_explain(args)
        elif args.command == "tokenizer":
            cmd_tokenizer(args)
        elif args.command == "embed":
            cmd_embed(args)
        elif args.command == "translate":
            cmd_translate(args)
        elif args.command == "lora":
            cmd_lora(args)
        return 0
    except LmlabError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, or an input we failed to check: still no traceback unless --debug
        if debug:
            raise
        print(f"error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
