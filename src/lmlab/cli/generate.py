"""Continue prompts with a GPT run: `lmlab generate`."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from lmlab.errors import LmlabError
from lmlab.ops.backends import BACKENDS


def cmd_generate(args) -> None:
    import torch

    from lmlab.generate.decoding import GenerationConfig
    from lmlab.generate.precision import DTYPES, bf16_warning, decode_dtype
    from lmlab.generate.text import generate_text, stream_steps, stream_text
    from lmlab.runs.run import Run

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
    run = Run.open(args.run, command="generate")
    model, tokenizer = run.model(plain=run.nf4 is None), run.tokenizer()  # an NF4 run samples in NF4
    if args.dtype != "fp32":
        if run.nf4 is not None:
            raise LmlabError(f"{args.run} is an NF4 run: it decodes in its own compute dtype; drop --dtype")
        dtype = decode_dtype(model, args.dtype)
        warning = bf16_warning(model, dtype)
        if warning:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        if args.dtype == "auto":
            print(f"decoding in {dtype} (--dtype auto)", file=sys.stderr, flush=True)
        model = model.to(DTYPES[dtype])
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


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `generate` command's parser."""
    gen = sub.add_parser(
        "generate", help="generate text from a trained run", formatter_class=fmt,
        description="Continue prompts with a trained GPT run: greedy (--temperature 0), sampling (the "
                    "default) or beam search (--num-beams K). One prompt is streamed to the terminal; "
                    "several --prompt flags are decoded together as one left-padded batch. Processors "
                    "apply in Hugging Face's order: repetition penalty, no-repeat n-gram, then (sampling "
                    "only) temperature, top-k, top-p, min-p.",
        epilog="examples:\n  lmlab generate runs/demo --prompt ROMEO: --temperature 0.8 --top-p 0.9\n"
               "  lmlab generate runs/demo --prompt ROMEO: --temperature 0 --show-probs --max-new-tokens 20\n"
               "  lmlab generate runs/demo --prompt ROMEO: --prompt JULIET: --num-beams 4 --stop \"\\n\\n\"\n"
               "  lmlab generate runs/demo --prompt ROMEO: --dtype auto   # bf16 or fp32, the faster here")
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
    gen.add_argument("--backend", choices=BACKENDS, default=None,
                     help="attention kernel for this call (default: the model's, normally auto: the fastest "
                          "measured here for each kind of call)")
    gen.add_argument("--dtype", choices=("fp32", "bf16", "auto"), default="fp32",
                     help="precision of the weights while decoding: fp32 (default: as trained), bf16 (half the "
                          "bytes to stream), or auto: whichever decodes this model faster on this CPU, "
                          "measured once and cached (see `lmlab info --system`)")
    gen.add_argument("--no-cache", action="store_true",
                     help="re-encode the whole sequence every step instead of using the KV cache (slow; "
                          "for comparison)")
    gen.add_argument("--show-probs", action="store_true",
                     help="print each token with its probability and the top alternatives")
    gen.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_generate(args)
