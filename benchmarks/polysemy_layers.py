"""Where does an ELMo keep a word's sense? Polysemy ("bank": river or money) layer by layer, half by half, with
spreads (issue 16; Peters et al. 2018 §5.3; notes 004 七).

For each ELMo run and its random-weight twin (same architecture, seeded), every labelled occurrence of the
word gets these vectors: layer 0 (the char CNN's context-free x, identical for every occurrence), each biLM
layer's forward half →h_j, backward half ←h_j and both [→h_j; ←h_j], and the untrained ScalarMix (the mean
of the layers). Context-identity baselines ask how much of the separation the neighbouring words'
identity alone gives: the char-CNN vector x of the word before the occurrence, of the word after it, of
the two before and the two after (concatenated, in order), and the mean x of the words within 3 of it. Measures as `lmlab explain polysemy` (same/cross cosine gap, centred
gap, leave-one-out 1-NN and nearest sense centroid), (ties among nearest neighbours broken at random, in expectation), each with a 90% bootstrap interval over sentences (resampled with replacement,
each drawn sentence bringing all its labelled occurrences; a copy of an occurrence is never paired with itself
or taken as its own neighbour), and, for each view, the trained-minus-random difference on the same resamples
(paired), with its interval; random twins of several seeds show how much the baseline itself moves. Last, a
logistic-regression probe (10-fold cross-validation, folds by sentence) asks whether the sense is linearly
readable at all, where the cosines may not show it. A BERT run (`--bert`) gets the same measures for its final
layer, beside its own random twins.

`--set all` measures every hand-labelled river or money "bank"/"banks" of `lmlab explain polysemy --set all`
(172); `--source wikitext2` keeps only those of one text (WikiText's 51: the river and money occurrences then
come from the same kind of text, so its style cannot stand in for the sense).

    python benchmarks/polysemy_layers.py --elmo RUN [RUN …] [--bert RUN] [--set all [--source S] [--singular]] \
        --json out.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lmlab.data.word_chars import char_tensor, split_words
from lmlab.runs.run import Run
from lmlab.tools.explain.polysemy import (
    BANK,
    Labelled,
    labelled,
    nearest_centroid,
    read_labelled,
    word_vectors,
)

MEASURES = ("gap", "centred_gap", "nn_acc", "centroid_acc")


@torch.inference_mode()
def views(model, data: Labelled) -> tuple[dict[str, torch.Tensor], list[int]]:
    """name -> (N, C) vectors of the N labelled occurrences in the texts, and the text of each occurrence."""
    model.eval()
    sentences = [split_words(t) for t in data.texts]
    where = []
    for s, words in enumerate(sentences):
        at = [i for i, w in enumerate(words) if w.lower() in data.forms]
        where += [(s, i) for i in (at if data.which[s] is None else at[data.which[s]:data.which[s] + 1])]
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


def probe(vectors: torch.Tensor, label: torch.Tensor, sentence: torch.Tensor) -> float:
    """Cross-validated accuracy (10 folds, stratified, the occurrences of one sentence in one fold) of a
    logistic-regression probe (standardised features, L2, C = 0.1): is the sense linearly readable from the
    vectors, even where cosines do not show it? (Liu et al. 2019)"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    folds = StratifiedGroupKFold(n_splits=10, shuffle=True, random_state=0)
    return cross_val_score(model, vectors.double().numpy(), label.numpy(), groups=sentence.numpy(),
                           cv=folds).mean().item()


def interval(xs: list[float]) -> list[float]:
    t = torch.tensor(xs)
    return [t.quantile(0.05).item(), t.quantile(0.95).item()]


def bert_views(path: str, data: Labelled, seed: int | None = None) -> tuple[dict[str, torch.Tensor], list[int]]:
    """The final layer's vectors of the labelled occurrences for a BERT run (seed: its random twin)."""
    from lmlab.tools.token_vectors import bert_word_vectors
    rows = bert_word_vectors(path, data.texts, random_weights=seed is not None, seed=seed or 0)
    vectors, where = word_vectors(rows, data.forms, data.which)
    return {"final layer": vectors}, where


def compare(path: str, trained, twins, label, sentence, draws, seeds: int) -> dict:
    """Each view's measures for a run beside its random twins, with the intervals; printed and returned."""
    everyone = torch.arange(len(label))
    res = {}
    print(f"\n{path}: trained [90% bootstrap] | random twin seed 0 (min..max of {seeds} seeds) | "
          "trained - twin 0 [90%, paired]")
    for view in trained:
        boots = [resampled(trained[view], label, d) for d in draws]
        boots0 = [resampled(twins[0][view], label, d) for d in draws]
        twin_full = [resampled(t[view], label, everyone) for t in twins]
        row = {"trained": resampled(trained[view], label, everyone),
               "trained_90": {m: interval([b[m] for b in boots]) for m in MEASURES},
               "random": twin_full[0],
               "random_seeds": {m: [min(t[m] for t in twin_full), max(t[m] for t in twin_full)] for m in MEASURES},
               "diff_90": {m: interval([a[m] - b[m] for a, b in zip(boots, boots0)]) for m in MEASURES},
               "probe": probe(trained[view], label, sentence),
               "probe_random": [probe(t[view], label, sentence) for t in twins]}
        res[view] = row
        print(f"  {view}")
        for m in MEASURES:
            t, i, r, rs, d = (row["trained"][m], row["trained_90"][m], row["random"][m], row["random_seeds"][m],
                              row["diff_90"][m])
            print(f"    {m:<13} {t:+.3f} [{i[0]:+.3f}, {i[1]:+.3f}] | {r:+.3f} ({rs[0]:+.3f}..{rs[1]:+.3f}) | "
                  f"[{d[0]:+.3f}, {d[1]:+.3f}]")
        pr = row["probe_random"]
        print(f"    {'probe (10-fold)':<13} {row['probe']:+.3f} | {pr[0]:+.3f} ({min(pr):+.3f}..{max(pr):+.3f})")
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--elmo", nargs="+", default=[], help="ELMo run folders")
    p.add_argument("--bert", nargs="+", default=[], help="BERT run folders (their final layer)")
    p.add_argument("--set", default="wikitext", choices=("wikitext", "all"), help="the bundled set (default: "
                   "wikitext, the 35 rule-labelled occurrences; all: the 172 hand-labelled ones)")
    p.add_argument("--source", help="with --set all: only the occurrences from this text (e.g. wikitext2)")
    p.add_argument("--singular", action="store_true", help="with --set all: only the occurrences spelled 'bank' "
                   "(plurals are a larger share of the river ones, a cue of spelling, not of context)")
    p.add_argument("--sentences", help="more SENSE<TAB>sentence lines, added to the bundled ones")
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples (default: 1000)")
    p.add_argument("--seeds", type=int, default=5, help="random twins, seeds 0..N-1 (default: 5); the paired "
                                                         "difference is taken with seed 0's")
    p.add_argument("--json")
    args = p.parse_args()
    if not args.elmo and not args.bert:
        p.error("give --elmo and/or --bert runs")
    torch.set_num_threads(1)
    data = labelled("bank", sentence_set=args.set)
    keep = [i for i, o in enumerate(data.origins) if args.source in (None, o)
            and not (args.singular and BANK.findall(data.texts[i])[data.which[i]].lower() == "banks")]
    data = data._replace(**{f: [getattr(data, f)[i] for i in keep] for f in ("senses", "texts", "which", "origins")})
    if args.sentences:
        extra = read_labelled(args.sentences)
        data = data._replace(senses=data.senses + [s for s, _ in extra], texts=data.texts + [t for _, t in extra],
                             which=data.which + [None] * len(extra), origins=data.origins + ["extra"] * len(extra))
    runs = [(path, views(Run.open(path, family="elmo").model(), data),
             [views(_seeded(Run.open(path, family="elmo").build, seed), data)[0] for seed in range(args.seeds)])
            for path in args.elmo]
    runs += [(path, bert_views(path, data), [bert_views(path, data, seed)[0] for seed in range(args.seeds)])
             for path in args.bert]
    where = runs[0][1][1]
    assert all(r[1][1] == where for r in runs), "every model must find the same occurrences"
    occ = [data.senses[s] for s in where]
    text_id = {t: i for i, t in enumerate(dict.fromkeys(data.texts))}       # one sentence, one id
    sentence = torch.tensor([text_id[data.texts[s]] for s in where])
    label = torch.tensor([s == "money" for s in occ]).long()
    majority = max(occ.count("river"), occ.count("money")) / len(occ)
    print(f"{len(text_id)} sentences, {len(occ)} occurrences: {occ.count('river')} river, {occ.count('money')} money "
          f"(always the larger sense: {majority:.1%})")
    members = [torch.nonzero(sentence == i).flatten() for i in range(len(text_id))]
    g = torch.Generator().manual_seed(0)
    draws = [torch.cat([members[i] for i in torch.randint(len(members), (len(members),), generator=g).tolist()])
             for _ in range(args.bootstrap)]
    results = {path: compare(path, trained[0], twins, label, sentence, draws, args.seeds)
               for path, trained, twins in runs}
    if args.json:
        summary = {"source": data.source, "set": args.set, "only": args.source, "singular": args.singular,
                   "sentences": len(text_id),
                   "occurrences": len(occ), "river": occ.count("river"), "money": occ.count("money"),
                   "majority": majority, "runs": results}
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


def _seeded(build, seed: int):
    torch.manual_seed(seed)
    return build()


if __name__ == "__main__":
    main()
