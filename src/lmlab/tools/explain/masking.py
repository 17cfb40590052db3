"""BERT's masked-language-model corruption, 15 % with 80-10-10 (notes 002 §IV.2.1 and 004).

The notes: pick 15 % of the tokens as prediction targets; of those, replace 80 % with [MASK], 10 %
with a random token and leave 10 % unchanged; the loss is computed on the picked 15 % only (so
85 % of the positions teach nothing per step). The 10 % random and 10 % unchanged exist because
[MASK] never appears at fine-tuning time: the model must build a good representation of every
token, not only of the masked ones.

This run applies lmlab's own masking (lmlab.data.mlm.mask_tokens, token strategy) to real
sentences of Tiny Shakespeare (word-level tokens) and counts the outcomes over many samples: 15 %
picked, of which 80 / 10 / 10, i.e. 12 % / 1.5 % / 1.5 % of all tokens. lmlab picks exactly
round(15 % · n) targets per sequence, as Google's BERT code does (Hugging Face's collator flips a
15 % coin per token instead, so its count per sequence varies). A random replacement may draw the
original word; it then looks unchanged and is counted with the kept ones.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from lmlab.data.corpora import load_text
from lmlab.data.mlm import MaskingConfig, mask_tokens
from lmlab.tools.explain._report import Notes, heading, save_plot

IGNORE = -100                                    # label of the positions the loss skips
SEQ_LEN, N_SEQ, ROUNDS = 128, 64, 100
CFG = MaskingConfig(strategy="token")            # 15 %, then 80 / 10 / 10


def bert_mask(ids: torch.Tensor, vocab_size: int, mask_id: int, gen: torch.Generator):
    """(inputs, labels, kind) for each row of ids (N, T) via lmlab.data.mlm.mask_tokens; kind per
    position: 0 = untouched, 1 = [MASK], 2 = random token, 3 = target that looks unchanged."""
    rows = [mask_tokens(row, torch.zeros_like(row, dtype=torch.bool), None, CFG, vocab_size + 1, mask_id, gen,
                        special_ids=(mask_id,)) for row in ids.view(-1, ids.size(-1))]
    inputs = torch.stack([r[0] for r in rows]).view(ids.shape)
    labels = torch.stack([r[1] for r in rows]).view(ids.shape)
    picked = labels != IGNORE
    kind = picked.long() * 3
    kind[picked & (inputs == mask_id)] = 1
    kind[picked & (inputs != mask_id) & (inputs != ids)] = 2
    return inputs, labels, kind


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z']+|[^\sA-Za-z']", text)


def run(out: Path | None) -> dict:
    notes = Notes()
    gen = torch.Generator().manual_seed(0)
    tokens = words(load_text("tinyshakespeare"))
    vocab = sorted(set(tokens)) + ["[MASK]"]
    stoi = {w: i for i, w in enumerate(vocab)}
    mask_id = stoi["[MASK]"]
    ids = torch.tensor([stoi[w] for w in tokens])
    print(f"Tiny Shakespeare: {len(tokens):,} word tokens, {len(vocab) - 1:,} distinct words + [MASK]")

    heading("One sentence, masked five times")
    sentence = words("Before we proceed any further, hear me speak.")
    s_ids = torch.tensor([stoi[w] for w in sentence])
    print(f"  {' '.join(sentence)}")
    for _ in range(5):
        inputs, labels, kind = bert_mask(s_ids, len(vocab) - 1, mask_id, gen)
        shown = []
        for w, i, k in zip(sentence, inputs.tolist(), kind.tolist()):
            shown.append(vocab[i] if k in (0, 1) else f"{vocab[i]}←{w}" if k == 2 else f"{w}(kept)")
        targets = [vocab[t] for t in labels.tolist() if t != IGNORE]
        print(f"  {' '.join(shown):<60} predict: {targets}")
    print("  (word←original: a random replacement; (kept): a target left unchanged)")

    heading(f"Counts over {ROUNDS} passes of {N_SEQ} sequences × {SEQ_LEN} tokens")
    batch = ids[: N_SEQ * SEQ_LEN].view(N_SEQ, SEQ_LEN)
    counts = torch.zeros(4, dtype=torch.long)
    per_seq = []
    for _ in range(ROUNDS):
        inputs, labels, kind = bert_mask(batch, len(vocab) - 1, mask_id, gen)
        counts += torch.bincount(kind.flatten(), minlength=4)
        per_seq += (labels != IGNORE).sum(-1).tolist()
    total, picked = counts.sum().item(), counts[1:].sum().item()
    frac = {name: counts[i].item() / picked for i, name in ((1, "mask"), (2, "random"), (3, "kept"))}
    print(f"  {total:,} token decisions, {picked:,} picked as targets")
    notes.check("picked (prediction targets)", "0.15", picked / total)
    notes.check("  of which → [MASK]", "0.80", frac["mask"])
    notes.check("  of which → random token", "0.10", frac["random"])
    notes.check("  of which → unchanged", "0.10", frac["kept"])
    share = (counts / total).tolist()
    print(f"  of all tokens: [MASK] {share[1]:.2%}, random {share[2]:.2%}, kept but predicted "
          f"{share[3]:.2%}, untouched {share[0]:.2%}")
    print(f"  The loss sees {picked / total:.1%} of the positions: the notes' '85 % not updated'.")
    per_seq_t = torch.tensor(per_seq, dtype=torch.float)
    print(f"  targets per {SEQ_LEN}-token sequence: mean {per_seq_t.mean():.1f}, min {int(per_seq_t.min())}, "
          f"max {int(per_seq_t.max())}")
    print(f"  (exactly round(0.15 × {SEQ_LEN}) = {round(0.15 * SEQ_LEN)} per sequence, as Google's BERT code; "
          "Hugging Face's per-token coin gives a binomial count instead)")
    notes.tally()

    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 3.8))
        names = ["untouched", "[MASK]", "random token", "kept (predicted)"]
        ax.bar(names, [100 * x for x in share], color=["C7", "C0", "C1", "C2"])
        for i, x in enumerate(share):
            ax.text(i, 100 * x, f"{x:.1%}", ha="center", va="bottom", fontsize=8)
        ax.set(ylabel="% of all tokens", title="BERT masking: what happens to each token")
        fig.tight_layout()
        return fig

    save_plot(out, "masking.png", draw)
    return dict(picked=picked / total, **frac, checks=notes.rows)
