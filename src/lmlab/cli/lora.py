"""LoRA runs: `lmlab lora merge|import`."""

from __future__ import annotations

import argparse

from lmlab.errors import LmlabError


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


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `lora` command's parser."""
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


def run(args) -> None:
    cmd_lora(args)
