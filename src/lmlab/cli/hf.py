"""Hugging Face folders in and out: `lmlab hf import|export`."""

from __future__ import annotations

import argparse

from lmlab.errors import LmlabError


def cmd_hf(args) -> None:
    from lmlab.io.checkpoint import load_config
    from lmlab.runs.hf import export_hf, import_hf
    if args.hf_command == "import":
        out = import_hf(args.path, args.out, overwrite=args.overwrite)
        from lmlab.runs import families
        family = families.get(load_config(out, required=("family",))["family"])
        print(f"imported {args.path} into {out}; {family.next_step.format(out=out)}")
    elif args.hf_command == "export":
        out, model_type = export_hf(args.run, args.out, overwrite=args.overwrite)
        cls = {"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM", "bert": "BertForPreTraining",
               "resnet": "ResNetForImageClassification"}[model_type]
        print(f"exported {args.run} to {out} as {model_type}; load it with {cls}.from_pretrained(\"{out}\")")
        if "lora" in load_config(args.run, required=()):
            print(f"note: its LoRA adapters are merged into the weights; the adapter alone, for peft on the base "
                  f"model, is {args.run}/adapter/")
    else:
        raise LmlabError("say `lmlab hf import PATH --out RUN` or `lmlab hf export RUN --out PATH`")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `hf` command's parser."""
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


def run(args) -> None:
    cmd_hf(args)
