"""`lmlab explain TOPIC`: the notes' worked examples, computed step by step with lmlab's own code.

Each topic is one short module with a `run(out) -> dict` function. It prints the computation with
the numbers lmlab computes, sets them beside the numbers printed in the notes (✓ where they
agree, ≈ where the notes rounded, ✗ where the notes erred, with the step that differs), saves a
PNG into `out` when a picture helps (only when `out` is given), and returns its key numbers so
tests can check them. Everything is seeded: two runs print the same thing.

Add a topic: write `tools/explain/<name>.py` with a docstring (what the notes claim, what the run
shows) and `run(out)`, then register it in TOPICS below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from lmlab.errors import LmlabError


@dataclass(frozen=True)
class Topic:
    module: str   # lmlab.tools.explain.<module>
    summary: str  # one line for `lmlab explain --list`
    options: tuple[str, ...] = ()  # keyword arguments its run(out, **options) takes (`lmlab explain` flags)


TOPICS: dict[str, Topic] = {
    "batch-size": Topic("batch_size", "y = w·x + b by hand: batch size 4 (two steps) vs 32 (one step)"),
    "softmax": Topic("softmax", "the notes' softmax examples, −∞ / −1e9 masking, temperature"),
    "attention-scaling": Topic("attention_scaling", "Var(q·k) = d_k; dividing by √d_k stops saturation"),
    "label-smoothing": Topic("label_smoothing", "the notes' ε/(V−1) targets vs PyTorch's ε/V, with losses"),
    "embedding-scale": Topic("embedding_scale", "why embeddings are scaled by √d_model before adding "
                                                "positions"),
    "adam-vs-adamw": Topic("adam_vs_adamw", "L2 inside Adam vs AdamW's decoupled decay, per parameter"),
    "vanishing-gradients": Topic("vanishing_gradients", "gradient per layer of a 20-layer MLP: sigmoid, "
                                                        "ReLU, residual"),
    "norms": Topic("norms", "what BatchNorm and LayerNorm average over in a (b, n, d) batch"),
    "symmetry": Topic("symmetry", "hidden units that start equal stay equal; random init breaks it"),
    "masking": Topic("masking", "BERT's 15 % / 80-10-10 masking on Tiny Shakespeare, counted"),
    "receptive-field": Topic("receptive_field", "two stacked 3×3 convolutions vs one 5×5: the same field "
                                                "(by gradient), 18C² vs 25C² weights"),
    "eval-mode": Topic("eval_mode", "model.eval() changes a CNN with BatchNorm and dropout, not a GPT without "
                                    "dropout"),
    "schedule": Topic("schedule", "every learning-rate schedule of lmlab.optim.schedules, plotted"),
    "tf-idf": Topic("tf_idf", "one-hot, counts and TF-IDF by hand; the notes' idf goes negative"),
    "polysemy": Topic("polysemy", "'bank' by the river and at the money: static vs ELMo/BERT vectors, "
                                  "trained vs random (--model RUN)", options=("models", "word", "sentences",
                                                                                 "layer", "sentence_set")),
    "patches": Topic("patches", "ViT's patches: 16×16×3 = 768, the patch count for any image, patch size "
                                "and stride", options=("image_size", "patch_size", "stride", "channels", "d_model")),
}


def list_topics() -> str:
    width = max(map(len, TOPICS))
    return "\n".join(f"  {name:<{width}}  {t.summary}" for name, t in TOPICS.items())


def run_topic(name: str, out: str | Path | None = None, **options) -> dict:
    """Run one topic: print it, save its plot into `out` (if given), return its key numbers. `options` (those
    not None) go to a topic that takes them; one that does not is told so."""
    if name not in TOPICS:
        import difflib
        close = difflib.get_close_matches(name, list(TOPICS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise LmlabError(f"unknown topic '{name}'{hint}; topics: {', '.join(TOPICS)}")
    out = None if out is None else Path(out)
    if out is not None and out.exists() and not out.is_dir():
        raise LmlabError(f"--out {out} exists and is not a folder")
    options = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(options) - set(TOPICS[name].options))
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        takes = [t for t, topic in TOPICS.items() if set(unknown) <= set(topic.options)]
        raise LmlabError(f"{name} takes no {flags}" + (f" ({' and '.join(takes)} does)" if takes else ""))
    module = importlib.import_module(f"lmlab.tools.explain.{TOPICS[name].module}")
    return module.run(out, **options)
