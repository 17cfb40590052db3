"""model.eval() matters for a CNN with BatchNorm and dropout, and not for a GPT without dropout (notes 002).

The notes: eval() switches dropout off and makes BatchNorm use its running statistics instead of the
batch's; so it is essential for ResNet-style vision models, while a decoder-only LLM (LayerNorm, no
dropout) computes the same thing in both modes. Measured here: a small VGG with BatchNorm and dropout is
trained for a few dozen steps on scikit-learn's digits; on test images its train-mode outputs differ from
its eval-mode ones (and from call to call), and so does its accuracy. An lmlab GPT with dropout 0 gives
bit-identical logits in both modes; the same GPT with dropout 0.1 does not.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from lmlab.data.images import ImageDataConfig, Preprocessing, load_images, split_images
from lmlab.models.cnn import CNN, preset
from lmlab.models.gpt import GPT
from lmlab.models.gpt import preset as gpt_preset
from lmlab.tools.explain._report import heading, save_plot

STEPS, BATCH = 30, 64


def trained_cnn():
    """vgg-digits (BatchNorm after every convolution, dropout 0.2 before the classifier), briefly trained."""
    prep = Preprocessing(8, 1)
    train, _, test = split_images(load_images("digits", prep), ImageDataConfig())
    model = CNN(preset("vgg-digits"))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(STEPS):
        idx = torch.randint(0, len(train.labels), (BATCH,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(prep.normalize(train.pixels[idx])), train.labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, prep.normalize(test.pixels), test.labels


def run(out: Path | None) -> dict:
    torch.manual_seed(0)
    heading(f"a CNN with BatchNorm and dropout (vgg-digits, {STEPS} steps on digits), on the test images")
    cnn, x, y = trained_cnn()
    with torch.no_grad():
        result = compare(cnn, x, y)
    save_plot(out, "eval-mode.png", lambda plt: draw(plt, result))
    return result


def draw(plt, r: dict):
    """One bar per comparison: the largest change of an output between two calls."""
    bars = {"CNN\ntrain vs eval": r["cnn_train_vs_eval"], "CNN\ntrain vs train": r["cnn_train_vs_train"],
            "GPT, dropout 0\ntrain vs eval": r["gpt_dropout_0.0"], "GPT, dropout 0.1\ntrain vs eval": r["gpt_dropout_0.1"]}
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.bar(list(bars), list(bars.values()), color=["tab:red", "tab:orange", "tab:green", "tab:blue"])
    for i, v in enumerate(bars.values()):
        ax.annotate(f"{v:.3g}", (i, v), ha="center", va="bottom")
    ax.set_ylabel("max |difference| (CNN: probability, GPT: logit)")
    ax.set_title("does model.eval() change the output?")
    fig.tight_layout()
    return fig


def compare(cnn, x: torch.Tensor, y: torch.Tensor) -> dict:
    cnn.train()
    a, b = cnn(x).softmax(-1), cnn(x).softmax(-1)
    cnn.eval()
    e = cnn(x).softmax(-1)
    acc = lambda p: (p.argmax(-1) == y).float().mean().item()  # noqa: E731
    result = {"cnn_train_vs_eval": (a - e).abs().max().item(), "cnn_train_vs_train": (a - b).abs().max().item(),
              "cnn_acc_train_mode": acc(a), "cnn_acc_eval_mode": acc(e)}
    print(f"  max |p_train − p_eval|           {result['cnn_train_vs_eval']:.4f}")
    print(f"  max |p_train − p_train| (2 calls) {result['cnn_train_vs_train']:.4f}   (dropout draws anew)")
    print(f"  accuracy: train mode {result['cnn_acc_train_mode']:.4f}, eval mode {result['cnn_acc_eval_mode']:.4f}")

    heading("a decoder-only GPT (lmlab `tiny`: LayerNorm), random ids")
    ids = torch.randint(0, 256, (4, 32))
    for dropout in (0.0, 0.1):
        gpt = GPT(dataclasses.replace(gpt_preset("tiny"), dropout=dropout))
        gpt.train()
        t = gpt(ids)
        gpt.eval()
        diff = (t - gpt(ids)).abs().max().item()
        result[f"gpt_dropout_{dropout}"] = diff
        print(f"  dropout {dropout}: max |logits_train − logits_eval| = {diff:.3g}")
    print("\n  eval() changes the CNN (BatchNorm's running statistics, no dropout) and leaves the GPT without "
          "dropout exactly as it was: LayerNorm has no running statistics.")
    return result
