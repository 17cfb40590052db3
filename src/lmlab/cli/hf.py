"""Hugging Face folders in and out: `lmlab hf import|export`."""

from __future__ import annotations

import argparse

from lmlab.errors import LmlabError


def cmd_hf(args) -> None:
    from lmlab.io.checkpoint import load_config
    from lmlab.runs.families import get
    from lmlab.runs.hf import export_hf, import_hf
    if args.hf_command == "import":
        out = import_hf(args.path, args.out, overwrite=args.overwrite)
        family = get(load_config(out, required=("family",))["family"])
        print(f"imported {args.path} into {out} (a '{family.name}' run); "
              f"{family.next_step.format(out=out) or f'lmlab info {out}'}")
        from lmlab.io.st_folder import read_st_settings
        if (st := read_st_settings(out)) is not None:
            print(f"note: sentence-transformers settings kept as `lmlab embed`'s defaults: {st['pooling']} pooling"
                  f"{', normalised' if st['normalize'] else ''}, at most {st['max_len']} tokens")
    elif args.hf_command == "export":
        from lmlab.io.hf_folder import read_hf_config
        out, model_type = export_hf(args.run, args.out, overwrite=args.overwrite)
        cls = read_hf_config(out)["architectures"][0]
        print(f"exported {args.run} to {out} as {model_type}; load it with {cls}.from_pretrained(\"{out}\") "
              f"and AutoTokenizer.from_pretrained(\"{out}\")")
        if "lora" in load_config(args.run, required=()):
            print(f"note: its LoRA adapters are merged into the weights; the adapter alone, for peft on the base "
                  f"model, is {args.run}/adapter/")
    else:
        raise LmlabError("say `lmlab hf import PATH --out RUN` or `lmlab hf export RUN --out PATH`")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `hf` command's parser."""
    hf = sub.add_parser("hf", help="import or export Hugging Face GPT-2, Llama, BERT and ViT checkpoints",
                        description="Convert between lmlab run directories and Hugging Face GPT-2, Llama, BERT or ViT "
                                    "folders (config.json + model.safetensors or its shards [+ tokenizer.json, "
                                    "or a BERT vocab.txt]).")
    hsub = hf.add_subparsers(dest="hf_command", metavar="ACTION")
    hi = hsub.add_parser("import", help="make a run directory from a Hugging Face GPT-2, Llama, BERT, ResNet or ViT "
                                        "folder",
                         description="GPT-2 and Llama folders become GPT runs (`lmlab generate`); BERT folders "
                                     "become BERT runs holding BertForPreTraining (`lmlab finetune classify "
                                     "--model`, `lmlab embed`); heads the folder lacks start from BERT's init. "
                                     "ViT and ResNet folders become vit and cnn runs (`lmlab train --init`).")
    hi.add_argument("path", help="folder with config.json (model_type gpt2, llama, bert, resnet or vit) and "
                                 "model.safetensors (its tokenizer becomes the run's tokenizer.json as transformers' "
                                 "AutoTokenizer reads it: tokenizer_config.json honoured, the file's own padding and "
                                 "truncation off; a sentence-transformers folder's pooling becomes `lmlab embed`'s "
                                 "default)")
    hi.add_argument("--out", required=True, help="run directory to create")
    he = hsub.add_parser("export", help="write a run as a Hugging Face GPT-2, Llama, BERT or ViT folder",
                         description="Write a run as the Hugging Face architecture that computes the same "
                                     "model: GPT-2 (learned positions, LayerNorm, GELU/ReLU, biases) or "
                                     "Llama (rotary positions, RMSNorm, SwiGLU, no biases) for a GPT run, "
                                     "BertForPreTraining (+ vocab.txt) for a BERT run, BertForSequenceClassification "
                                     "for a classifier (`lmlab finetune classify`), with tokenizer.json and "
                                     "tokenizer_config.json that AutoTokenizer reads as lmlab tokenizes. A ViT or "
                                     "ResNet run is written as its HF image classifier (with "
                                     "preprocessor_config.json); a ViT whose stride is not its patch size has no "
                                     "HF twin and is refused.")
    he.add_argument("run", help="lmlab run directory")
    he.add_argument("--out", required=True, help="folder to create; loads with GPT2LMHeadModel, "
                                                 "LlamaForCausalLM, BertForPreTraining or ViTForImageClassification"
                                                 ".from_pretrained")
    for q in (hi, he):
        q.add_argument("--overwrite", action="store_true", help="replace what is in --out")
        q.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_hf(args)
