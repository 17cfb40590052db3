"""BERT's masked-language-model corruption, 15 % with 80-10-10 (notes 002 §IV.2.1 and 004).

The notes: pick 15 % of the tokens as prediction targets; of those, replace 80 % with [MASK], 10 %
with a random token and leave 10 % unchanged; the loss is computed on the picked 15 % only (so
85 % of the positions teach nothing per step). The 10 % random and 10 % unchanged exist because
[MASK] never appears at fine-tuning time: the model must build a good representation of every
token, not only of the masked ones.

This run applies the rule to real sentences of Tiny Shakespeare (word-level tokens) and counts
the outcomes over many samples: 15 % picked, of which 80 / 10 / 10, i.e. 12 % / 1.5 % / 1.5 % of
all tokens. (A random replacement can draw the original word, 1 time in 14,565 here, so the
share of targets that look unchanged is 10 % plus a hair.) Selection is per token (as in Hugging Face's
collator), so a 128-token sequence gets a binomial number of targets; Google's BERT code picks
exactly round(15 % · n).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from lmlab.data.corpora import load_text
from lmlab.tools.explain._report import Notes, heading, save_plot

P_SELECT, P_MASK, P_RANDOM = 0.15, 0.8, 0.1     # the rest of the selected (10 %) stay as they are
IGNORE = -100                                    # label of the positions the loss skips
SEQ_LEN, N_SEQ, ROUNDS = 128, 64, 100


def bert_mask(ids: torch.Tensor, vocab_size: int, mask_id: int, gen: torch.Generator):
    """(inputs, labels, kind): the corrupted ids, the targets (IGNORE where not picked) and, per
    position, 0 = untouched, 1 = [MASK], 2 = random token, 3 = picked but kept."""
    picked = torch.rand(ids.shape, generator=gen) < P_SELECT             # 15 % become targets
    r = torch.rand(ids.shape, generator=gen)
    to_mask = picked & (r < P_MASK)                                      # 80 % of them -> [MASK]
    to_random = picked & (r >= P_MASK) & (r < P_MASK + P_RANDOM)         # 10 % -> a random token
    inputs = ids.clone()
    inputs[to_mask] = mask_id
    inputs[to_random] = torch.randint(vocab_size, ids.shape, generator=gen)[to_random]
    labels = torch.where(picked, ids, torch.full_like(ids, IGNORE))
    kind = picked.long() * 3
    kind[to_mask], kind[to_random] = 1, 2
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
    same_word = 0
    per_seq = []
    for _ in range(ROUNDS):
        inputs, labels, kind = bert_mask(batch, len(vocab) - 1, mask_id, gen)
        counts += torch.bincount(kind.flatten(), minlength=4)
        same_word += ((kind == 2) & (inputs == batch)).sum().item()
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
    n_random = counts[2].item()
    look_same = (counts[3].item() + same_word) / picked
    print(f"  random replacements that drew the original word: {same_word} of {n_random:,} "
          f"({same_word / n_random:.2%}), so {look_same:.2%} of the targets")
    print(f"  look unchanged. The loss sees {picked / total:.1%} of the positions: the notes' "
          "'85 % not updated'.")
    per_seq_t = torch.tensor(per_seq, dtype=torch.float)
    print(f"  targets per {SEQ_LEN}-token sequence: mean {per_seq_t.mean():.1f}, min {int(per_seq_t.min())}, "
          f"max {int(per_seq_t.max())}")
    print(f"  (Google's BERT code picks exactly round(0.15 × {SEQ_LEN}) = {round(0.15 * SEQ_LEN)} "
          "per sequence)")
    notes.tally()

    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 3.8))
        lo, hi = int(per_seq_t.min()), int(per_seq_t.max())
        ax.hist(per_seq, bins=torch.arange(lo, hi + 2).tolist(), align="left", rwidth=0.85,
                label="per-token 15 % (Hugging Face)")
        ax.axvline(round(0.15 * SEQ_LEN), color="C3", label="exactly round(15 % · n) (Google's BERT)")
        ax.set(xlabel=f"prediction targets in a {SEQ_LEN}-token sequence", ylabel="sequences",
               title="how many tokens a sequence gets to predict")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    save_plot(out, "masking.png", draw)
    return dict(picked=picked / total, **frac, same_word=same_word, checks=notes.rows)
