"""Record each legacy run's forward pass with the OLD lmlab (commit fba57cb), as probe.safetensors.

Run from a checkout of fba57cb:  cd OLD && PYTHONPATH=src python /path/to/legacy_runs/make_probes.py
Every probe holds its inputs (fixed, seeded) and the outputs of the run's model in eval mode:
"logits" from the plain model (LoRA merged, NF4 dequantised), "logits_saved" from the model as
saved (NF4 layers, LoRA adapters kept) where they differ, and "text_ids" (the tokenizer's encoding of
TEXT) so the new tokenizer can be checked too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from lmlab.recipes.run_dir import load_run_weights
from safetensors.torch import save_file

import lmlab
from lmlab.data.tokenizers import TextTokenizer
from lmlab.io.checkpoint import load_config
from lmlab.recipes.lora_merge import build_run_model
from lmlab.recipes.train_seq2seq import load_translation_run

HERE = Path(__file__).resolve().parent
TEXT = "First Citizen: Before we proceed any further, hear me speak."
RUNS = ["gpt", "gpt-lora", "gpt-qlora", "gpt-nf4", "bert", "bert-classifier", "bert-classifier-lora", "seq2seq"]


def ids(vocab: int, shape: tuple[int, int], seed: int) -> torch.Tensor:
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


def model_of(run: Path, meta: dict, plain: bool):
    model = build_run_model(meta)
    load_run_weights(run, model, meta, plain=plain)
    return model.eval()


@torch.no_grad()
def probe(name: str) -> dict[str, torch.Tensor]:
    run = HERE / name
    meta = load_config(run, required=())
    family, V = meta["family"], meta["model"]["vocab_size"]
    out = {"text_ids": torch.tensor(TextTokenizer.load(run / "tokenizer.json").encode(TEXT))}
    if family == "seq2seq":
        model, _, _, _ = load_translation_run(run)
        model.eval()
        out["src_ids"], out["tgt_ids"] = ids(V, (2, 7), 1), ids(V, (2, 5), 2)
        out["logits"] = model(out["src_ids"], out["tgt_ids"])
        return out
    adapted = "lora" in meta or "quantization" in meta
    if family == "gpt":
        out["input_ids"] = ids(V, (2, 8), 0)
        out["logits"] = model_of(run, meta, True)(out["input_ids"])
        if adapted:
            out["logits_saved"] = model_of(run, meta, False)(out["input_ids"])
        return out
    # bert / bert-classifier: two sequences, the second padded, with segments
    out["input_ids"] = ids(V, (2, 10), 0)
    out["token_type_ids"] = torch.tensor([[0] * 5 + [1] * 5, [0] * 4 + [1] * 6])
    out["attention_mask"] = torch.tensor([[1] * 10, [1] * 7 + [0] * 3])
    args = (out["input_ids"], out["token_type_ids"], out["attention_mask"])
    for key, plain in (("", True), ("_saved", False)) if adapted else (("", True),):
        y = model_of(run, meta, plain)(*args)
        if family == "bert":
            out["mlm_logits" + key], out["nsp_logits" + key] = y
        else:
            out["logits" + key] = y
    return out


def main() -> None:
    print("lmlab from", lmlab.__file__, file=sys.stderr)
    for name in RUNS:
        tensors = {k: v.contiguous() for k, v in probe(name).items()}
        save_file(tensors, HERE / name / "probe.safetensors")
        print(name, {k: tuple(v.shape) for k, v in tensors.items()})


if __name__ == "__main__":
    main()
