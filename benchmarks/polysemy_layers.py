"""Where does an ELMo keep a word's sense? Polysemy ("bank": river or money) layer by layer, half by half, with
spreads (issue 16; Peters et al. 2018 §5.3; notes 004 七).

For each ELMo run and its random-weight twin (same architecture, seeded), every labelled occurrence of the
word gets these vectors: layer 0 (the char CNN's context-free x, identical for every occurrence), each biLM
layer's forward half →h_j, backward half ←h_j and both [→h_j; ←h_j], and the untrained ScalarMix (the mean
of the layers). Context-identity baselines ask how much of the separation the neighbouring words'
identity alone gives: the char-CNN vector x of the word before the occurrence, of the word after it, of
the two before and the two after (concatenated, in order), and the mean x of the words within 3 of it. Measures as `lmlab explain polysemy` (same/cross cosine gap, centred
gap, leave-one-out 1-NN and nearest sense centroid), (ties among nearest neighbours broken at random, in expectation), each with a 90% bootstrap interval over occurrences (resampled with replacement;
a copy of an occurrence is never paired with itself or taken as its own neighbour), and, for each view, the
trained-minus-random difference on the same resamples (paired), with its interval; random twins of
several seeds show how much the baseline itself moves. Last, a leave-one-out logistic-regression probe
asks whether the sense is linearly readable at all, where the cosines may not show it.

    python benchmarks/polysemy_layers.py --elmo RUN [RUN …] [--sentences extra.tsv] --json out.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lmlab.data.word_chars import char_tensor, split_words
from lmlab.runs.run import Run
from lmlab.tools.explain.polysemy import labelled, nearest_centroid, read_labelled

MEASURES = ("gap", "centred_gap", "nn_acc", "centroid_acc")


@torch.inference_mode()
def views(model, texts: list[str], word: str) -> tuple[dict[str, torch.Tensor], list[int]]:
    """name -> (N, C) vectors of the N occurrences of `word` in the texts, and the text of each occurrence."""
    model.eval()
    sentences = [split_words(t) for t in texts]
    where = [(s, i) for s, words in enumerate(sentences) for i, w in enumerate(words) if w.lower() == word]
    chars, lengths = char_tensor(sentences, model.cfg.max_chars)
    out = model.states(chars, lengths)
    rows = torch.tensor([s for s, _ in where])
    pos = torch.tensor([i for _, i in where])
    n = lengths[rows]

    def pick(h: torch.Tensor, p: torch.Tensor = pos) -> torch.Tensor:   # (B, T, C) -> (N, C)
        return h[rows, p]

    v = {"L0 x (context-free)": pick(out.tokens)}
    layers = [torch.cat([out.tokens, out.tokens], -1)]
    for j, (f, b) in enumerate(zip(out.forward, out.backward), 1):
        v[f"L{j} forward"], v[f"L{j} backward"] = pick(f), pick(b)
        v[f"L{j} [fwd; bwd]"] = pick(torch.cat([f, b], -1))
        layers.append(torch.cat([f, b], -1))
    v["mix (mean of layers)"] = pick(torch.stack(layers).mean(0))
    def at(k: int) -> torch.Tensor:                                     # x of the word k away, (N, C)
        return pick(out.tokens, torch.minimum((pos + k).clamp(min=0), n - 1))

    v["base: x of word before"], v["base: x of word after"] = at(-1), at(1)
    v["base: x of 2 before [-1; -2]"] = torch.cat([at(-1), at(-2)], -1)
    v["base: x of 2 after [+1; +2]"] = torch.cat([at(1), at(2)], -1)
    t = torch.arange(out.tokens.shape[1])[None, :]
    near = ((t - pos[:, None]).abs() <= 3) & (t != pos[:, None]) & (t < n[:, None])    # (N, T)
    x = out.tokens[rows]                                                                # (N, T, C)
    v["base: mean x of words ±3"] = (x * near[..., None]).sum(1) / near.sum(1, keepdim=True)
    return v, rows.tolist()


def resampled(vectors: torch.Tensor, label: torch.Tensor, idx: torch.Tensor) -> dict[str, float]:
    """The three measures on a resample idx (N,) of the occurrences; copies are never paired with themselves."""
    v = vectors[idx].double()
    lab = label[idx]
    other = idx[:, None] != idx[None, :]
    same = (lab[:, None] == lab[None, :]) & other
    cross = lab[:, None] != lab[None, :]

    def cos(x):
        u = torch.nn.functional.normalize(x, dim=-1)
        return u @ u.T

    c, cc = cos(v), cos(v - v.mean(0))
    # 1-NN with ties (equal vectors: the neighbours' context-free x) broken at random, in expectation
    c = c.masked_fill(~other, -2)
    tied = (c >= c.max(1, keepdim=True).values - 1e-9).double()
    return {"gap": (c[same].mean() - c[cross].mean()).item(),
            "centred_gap": (cc[same].mean() - cc[cross].mean()).item(),
            "nn_acc": ((tied * same).sum(1) / tied.sum(1)).mean().item(),
            "centroid_acc": nearest_centroid(v, lab, other).item()}


def probe(vectors: torch.Tensor, label: torch.Tensor) -> float:
    """Leave-one-out accuracy of a logistic-regression probe (standardised features, L2, C = 0.1): is the
    sense linearly readable from the vectors, even where cosines do not show it? (Liu et al. 2019)"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneOut, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    return cross_val_score(model, vectors.double().numpy(), label.numpy(), cv=LeaveOneOut()).mean().item()


def interval(xs: list[float]) -> list[float]:
    t = torch.tensor(xs)
    return [t.quantile(0.05).item(), t.quantile(0.95).item()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--elmo", nargs="+", required=True, help="ELMo run folders")
    p.add_argument("--sentences", help="more SENSE<TAB>sentence lines, added to the bundled WikiText ones")
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples (default: 1000)")
    p.add_argument("--seeds", type=int, default=5, help="random twins, seeds 0..N-1 (default: 5); the paired "
                                                         "difference is taken with seed 0's")
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    senses, texts, source = labelled("bank")
    if args.sentences:
        extra = read_labelled(args.sentences)
        senses, texts = senses + [s for s, _ in extra], texts + [t for _, t in extra]
    results, draws = {}, None
    for path in args.elmo:
        run = Run.open(path, family="elmo")
        trained, where = views(run.model(), texts, "bank")
        twins = []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            twins.append(views(run.build(), texts, "bank")[0])
        occ = [senses[s] for s in where]
        if draws is None:
            print(f"{len(texts)} sentences, {len(occ)} occurrences: {occ.count('river')} river, "
                  f"{occ.count('money')} money")
            label = torch.tensor([s == "money" for s in occ]).long()
            g = torch.Generator().manual_seed(0)
            draws = [torch.randint(len(occ), (len(occ),), generator=g) for _ in range(args.bootstrap)]
        everyone = torch.arange(len(occ))
        res = {}
        print(f"\n{path}: trained [90% bootstrap] | random twin seed 0 (min..max of {args.seeds} seeds) | "
              "trained - twin 0 [90%, paired]")
        for view in trained:
            boots = [resampled(trained[view], label, d) for d in draws]
            boots0 = [resampled(twins[0][view], label, d) for d in draws]
            twin_full = [resampled(t[view], label, everyone) for t in twins]
            row = {"trained": resampled(trained[view], label, everyone),
                   "trained_90": {m: interval([b[m] for b in boots]) for m in MEASURES},
                   "random": twin_full[0],
                   "random_seeds": {m: [min(t[m] for t in twin_full), max(t[m] for t in twin_full)]
                                    for m in MEASURES},
                   "diff_90": {m: interval([a[m] - b[m] for a, b in zip(boots, boots0)]) for m in MEASURES},
                   "probe": probe(trained[view], label), "probe_random": [probe(t[view], label) for t in twins]}
            res[view] = row
            print(f"  {view}")
            for m in MEASURES:
                t, i, r, rs, d = (row["trained"][m], row["trained_90"][m], row["random"][m], row["random_seeds"][m],
                                  row["diff_90"][m])
                print(f"    {m:<13} {t:+.3f} [{i[0]:+.3f}, {i[1]:+.3f}] | {r:+.3f} ({rs[0]:+.3f}..{rs[1]:+.3f}) | "
                      f"[{d[0]:+.3f}, {d[1]:+.3f}]")
            pr = row["probe_random"]
            print(f"    {'probe (LOO)':<13} {row['probe']:+.3f} | {pr[0]:+.3f} ({min(pr):+.3f}..{max(pr):+.3f})")
        results[path] = res
    if args.json:
        summary = {"source": source, "sentences": len(texts), "occurrences": len(occ), "runs": results}
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
