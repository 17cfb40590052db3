"""The road measured: fortune topics from one-hot vectors to a fine-tuned BERT, on one split (issue 16).

    python benchmarks/representations.py                          # ~15 min on 2 shared CPU cores; writes the JSON
    python benchmarks/representations.py --quick                  # smoke run, ~1 min (writes no JSON)
    python benchmarks/representations.py --corpus corpus.txt      # write the unlabelled corpus, then:
    lmlab train elmo --data corpus.txt ... --out runs/elmo-fortunes   # (BENCHMARKS.md gives the command)
    python benchmarks/representations.py --bert runs/fortunes/finetuned-0 --elmo runs/elmo-fortunes
    python benchmarks/representations.py --labels all --w2v-epochs 3 --elmo-budget 600   # all 40 topics

The notes' road of text representations (002 III: one-hot, TF-IDF, word2vec, ELMo, BERT), each read by
the same classifier on the same texts:
  (a) one-hot: binary bag of words (lmlab.data.vectorize, scikit-learn's `\\w\\w+` words, lower-cased);
  (b) TF-IDF: lmlab.data.tfidf, sublinear tf, smooth idf, l2 (unigrams); and, for continuity with
      finetune_fortunes.py, scikit-learn's TfidfVectorizer on word 1-2 grams with C = 10 as there;
  (c) word2vec: the mean of a text's word vectors (skip-gram, dim 100, window 5, negative 5, min_count 3,
      --w2v-epochs) trained by `lmlab.recipes.train_word2vec` on the unlabelled corpus below, words as in (a);
  (d) ELMo: the run given by --elmo (which must not have read the split's validation or test texts: train it
      on --corpus's file), or elmo-tiny's biLM trained by `lmlab.recipes.train_elmo` on the same corpus for
      --elmo-steps or --elmo-budget seconds, whichever ends first. A text's features are the means over its
      words of the 3 layers (token vectors [x; x], biLM layers 1 and 2), read two ways: (d) the equal-weight
      scalar mix (γ = 1, lmlab.tools.token_vectors' default) + the logistic regression below; (d′) the scalar
      mix learned jointly with a linear classifier (Peters et al. 2018, eq. 1: γ Σ_j softmax(w)_j R_j, the
      ScalarMix of lmlab.models.elmo; each layer standardised on the training split first), by full-batch
      L-BFGS with the same L2 penalty C and the same choice of C. The same ELMo with random (seeded)
      weights is measured both ways too: the baseline any claim about what training taught must beat;
  (e) BERT: the fine-tuned classifier given by --bert (a `bert-classifier` run, e.g. OUT/finetuned-0 of
      `finetune_fortunes.py --out OUT`), its own head, evaluated on this split's test texts. Refused if its
      training split is not this split; skipped with a note when not given.
(a)-(d) feed scikit-learn's LogisticRegression (lbfgs, multinomial); dense features are standardised on the
training split; C is chosen from 0.01 … 100 by validation accuracy, then the test split is scored once.

Split: `fortunes.en.jsonl`, the topics of --labels (default the four of finetune_fortunes.py: computers,
politics, science, work), split per label 80/10/10 with seed --seed by lmlab.data.classification.split_examples:
the very split finetune_fortunes.py uses, so its BERT runs (and the BERT figures in BENCHMARKS.md) are on
the same 300 test texts. Unlabelled corpus for word2vec and ELMo: every fortune (all 40 topics) except the
validation and test texts of the chosen topics, one per line: the corpus finetune_fortunes.py pretrains
BERT on, so no representation ever saw a test text. Scores: lmlab.tools.classification (accuracy,
macro-F1). Seconds: "repr" = training the representation + encoding the split's texts (ELMo: the encoding
only, shared by its two rows), "fit" = the classifier's fit at the chosen C (for BERT: its fine-tuning, from
its metrics.jsonl).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from lmlab.data.classification import ClassificationDataConfig, keep_labels, read_examples, split_examples
from lmlab.data.tfidf import Tfidf, TfidfConfig
from lmlab.data.vectorize import Vocabulary, WordTokenizer, count_matrix, fit_counts
from lmlab.errors import LmlabError
from lmlab.tools.classification import accuracy, macro_f1

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "fortunes" / "fortunes.en.jsonl"
DEFAULT_JSON = Path(__file__).parent / "results" / "representations.json"
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
WORDS = WordTokenizer()  # scikit-learn's default words, lower-cased: (a), (b) and (c) read the same words


def one_line(text: str) -> str:
    """A fortune on one line (its lines joined by spaces), so that a corpus line is one fortune."""
    return " ".join(text.split())


def logistic(train: tuple, val: tuple, test: tuple, dense: bool, seed: int) -> dict:
    """Choose C on validation, fit on train, score test; every X is (N, F), every y a list of label ids."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = train, val, test
    if dense:  # word2vec / ELMo means: features on very different scales
        scaler = StandardScaler().fit(x_tr)
        x_tr, x_va, x_te = (scaler.transform(x) for x in (x_tr, x_va, x_te))
    val_acc = {}
    for c in C_GRID:
        clf = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(x_tr, y_tr)
        val_acc[c] = accuracy(y_va, clf.predict(x_va).tolist())
    best = max(C_GRID, key=lambda c: (val_acc[c], -c))  # ties: the stronger regularisation
    t0 = time.perf_counter()
    clf = LogisticRegression(C=best, max_iter=3000, random_state=seed).fit(x_tr, y_tr)
    fit = time.perf_counter() - t0
    pred = clf.predict(x_te).tolist()
    return {"accuracy": accuracy(y_te, pred), "macro_f1": macro_f1(y_te, pred), "C": best,
            "val_accuracy": val_acc[best], "fit_seconds": fit, "features": int(x_tr.shape[1])}


def word2vec_means(corpus: list[str], splits: list[list[str]], work: Path, args) -> tuple[list[np.ndarray], dict]:
    """Train skip-gram on the corpus (words as WORDS splits them); each text's mean word vector."""
    from lmlab.data.words import WordDataConfig
    from lmlab.models.word2vec.config import Word2VecConfig, Word2VecTrainConfig
    from lmlab.recipes.train_word2vec import train_word2vec
    from lmlab.tools.word_vectors import open_vectors
    (work / "w2v.txt").write_text("".join(" ".join(WORDS(t)) + "\n" for t in corpus), encoding="utf-8")
    train_word2vec(str(work / "w2v.txt"), Word2VecConfig(dim=100, window=5, negative=5),
                   Word2VecTrainConfig(epochs=args.w2v_epochs, seed=args.seed + 1),
                   WordDataConfig(min_count=3), str(work / "w2v"), resume=False, overwrite=True, quiet=True)
    wv = open_vectors(work / "w2v")
    vocab = Vocabulary(wv.words, np.zeros(len(wv.words)), len(corpus), WORDS)
    out = []
    for texts in splits:
        counts = count_matrix(texts, vocab).astype(np.float64)                 # (N, V) word counts
        n = np.maximum(counts.sum(axis=1), 1.0)                                # a text with no known word: 0
        out.append((counts @ wv.vectors) / n[:, None])                         # (N, 100)
    info = json.loads((work / "w2v" / "metrics.json").read_text())
    covered = [float((count_matrix(t, vocab).sum(axis=1) > 0).mean()) for t in splits]
    return out, {"vocab_size": len(wv.words), "corpus_words": info["corpus_words"], "epochs": args.w2v_epochs,
                 "train_seconds": info["seconds"], "texts_with_a_known_word": covered}


@torch.inference_mode()
def elmo_layer_means(run_dir: Path, splits: list[list[str]], random_weights: bool, seed: int) -> list[np.ndarray]:
    """Each text's mean over its words of every ELMo layer, (N, L+1, 2C) per split: layer 0 = [x; x], layer j =
    [→h_j; ←h_j] (Elmo.layer_outputs). Texts go shortest first, 32 at a time; padding is masked out of the mean."""
    from lmlab.data.word_chars import char_tensor, split_words
    from lmlab.runs.run import Run
    run = Run.open(run_dir, family="elmo")
    torch.manual_seed(seed)
    model = (run.build() if random_weights else run.model()).eval()
    lowercase = run.config("data").lowercase
    out = []
    for texts in splits:
        words = [split_words(t, lowercase) or ["."] for t in texts]             # a text of no word: one mark
        order = sorted(range(len(words)), key=lambda i: len(words[i]))
        x = np.zeros((len(texts), model.cfg.n_layers + 1, 2 * model.cfg.d_model))
        for start in range(0, len(order), 32):
            idx = order[start:start + 32]
            chars, lengths = char_tensor([words[i] for i in idx], model.cfg.max_chars)
            layers = model.layer_outputs(chars, lengths)                           # (L+1, B, T, 2C)
            mask = (torch.arange(layers.shape[2]) < lengths[:, None]).to(layers.dtype)  # (B, T)
            x[idx] = (torch.einsum("lbtc,bt->blc", layers, mask) / lengths[:, None, None]).numpy()
        out.append(x)
    return out


def fit_mix(x: torch.Tensor, y: torch.Tensor, n_classes: int, c: float) -> tuple:
    """ScalarMix + Linear fitted jointly by full-batch L-BFGS (float64) on the mean cross-entropy + ‖γW‖² / (2CN),
    x (N, L+1, F): scikit-learn's penalty C, put on the effective weights γW since γ only rescales W (a penalty
    on W alone could be dodged by a large γ). s starts equal, γ at 1, W and b at 0."""
    import torch.nn.functional as F

    from lmlab.models.elmo.model import ScalarMix
    mix = ScalarMix(x.shape[1]).double()
    head = torch.nn.Linear(x.shape[2], n_classes).double()
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS([*mix.parameters(), *head.parameters()], max_iter=5000, history_size=20,
                            tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")
    layers = x.transpose(0, 1)                                                 # (L+1, N, F), as ScalarMix reads

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(head(mix(layers)), y) + (mix.gamma * head.weight).pow(2).sum() / (2 * c * len(y))
        loss.backward()
        return loss

    opt.step(closure)                                                          # to convergence, or 5,000 iterations
    return mix, head


def mixed_logistic(train: tuple, val: tuple, test: tuple) -> dict:
    """ELMo's scalar mix learned with the classifier (Peters et al. 2018, eq. 1): p(y | text) = softmax(W γ Σ_j s_j
    R̄_j + b), s = softmax(w), R̄_j the mean of layer j over the text's words (the mean commutes with the mix, so
    this is the mix of each word, then averaged). Each layer standardised on the training split first (the
    paper's optional layer normalisation before the mix). C from C_GRID by validation accuracy, as logistic()."""
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = train, val, test
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-12                              # (L+1, F) each
    x_tr, x_va, x_te = (torch.from_numpy((x - mean) / std) for x in (x_tr, x_va, x_te))
    y = torch.tensor(y_tr)
    k = int(max(y_tr)) + 1

    def predict(mix, head, x) -> list[int]:
        with torch.no_grad():
            return head(mix(x.transpose(0, 1))).argmax(-1).tolist()

    val_acc = {c: accuracy(y_va, predict(*fit_mix(x_tr, y, k, c), x_va)) for c in C_GRID}
    best = max(C_GRID, key=lambda c: (val_acc[c], -c))
    t0 = time.perf_counter()
    mix, head = fit_mix(x_tr, y, k, best)
    fit = time.perf_counter() - t0
    pred = predict(mix, head, x_te)
    return {"accuracy": accuracy(y_te, pred), "macro_f1": macro_f1(y_te, pred), "C": best,
            "val_accuracy": val_acc[best], "fit_seconds": fit, "features": int(x_tr.shape[2]),
            "s": torch.softmax(mix.weights.detach(), 0).tolist(), "gamma": mix.gamma.item()}


def train_small_elmo(corpus: list[str], work: Path, args) -> Path:
    """elmo-tiny on the corpus for --elmo-steps or --elmo-budget seconds, whichever ends first (batch 32
    windows of 20 words, lr 2e-3: the ELMo defaults)."""
    import dataclasses

    from lmlab.data.word_chars import WordDataConfig
    from lmlab.models.elmo.presets import preset
    from lmlab.recipes.train_elmo import train_elmo
    from lmlab.train.config import ELMO_TRAIN
    (work / "elmo.txt").write_text("".join(t + "\n" for t in corpus), encoding="utf-8")
    steps = args.elmo_steps
    cfg = dataclasses.replace(ELMO_TRAIN, max_steps=steps, warmup_steps=min(100, steps // 10),
                              eval_every=max(1, steps // 4), eval_batches=10, seed=args.seed, device="cpu",
                              time_budget=args.elmo_budget)
    train_elmo(str(work / "elmo.txt"), preset("elmo-tiny"), cfg, WordDataConfig(max_vocab=10000), work / "elmo",
               overwrite=True, quiet=True)
    return work / "elmo"


def bert_row(path: Path, labels: list[str], test: list[dict], cfg: ClassificationDataConfig) -> dict:
    """A fine-tuned `bert-classifier` run on this test split; refused if it was trained on another split."""
    from lmlab.data.classification import doc_batches, encode_examples
    from lmlab.recipes.finetune_classify import predict
    from lmlab.runs.run import Run
    run = Run.open(path, family="bert-classifier")
    dcfg = run.config("data")
    if run.meta.get("labels") != labels:
        raise LmlabError(f"{path} classifies {run.meta.get('labels')}, this split has {labels}; give --labels")
    source = Path(run.source)
    if source.is_file():  # the run's own split, recomputed: its test texts must be ours
        theirs = split_examples(keep_labels(read_examples(source), dcfg.labels), dcfg.val_fraction,
                                dcfg.test_fraction, dcfg.split_seed)[2]
        if sorted(e["text"] for e in theirs) != sorted(e["text"] for e in test):
            raise LmlabError(f"{path} was fine-tuned on another split of {source} (split_seed {dcfg.split_seed}); "
                             f"its training texts may hold this split's test texts")
    elif (dcfg.split_seed, dcfg.val_fraction, dcfg.test_fraction) != (cfg.split_seed, cfg.val_fraction,
                                                                        cfg.test_fraction):
        raise LmlabError(f"{path} was fine-tuned with another split (its data {source} is gone to check)")
    model, tok = run.model(), run.tokenizer()
    seqs = encode_examples(test, tok, labels, dcfg)
    t0 = time.perf_counter()
    y_true, y_pred = predict(model, doc_batches(seqs, 32, tok.special_ids["pad"]), torch.device("cpu"))
    enc = time.perf_counter() - t0
    times = [r["time"] for r in map(json.loads, (path / "metrics.jsonl").open()) if "time" in r]
    side = Path(run.meta.get("encoder", "")) / "fortunes_pretraining.json"
    pre = json.loads(side.read_text())["seconds"] if side.is_file() else float("nan")
    return {"accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred),
            "fit_seconds": max(times, default=float("nan")), "repr_seconds": pre + enc,
            "encoder": run.meta.get("encoder"), "max_len": dcfg.max_len, "steps": run.config("train").max_steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--labels", default="computers,politics,science,work", help="topics to classify, or 'all'")
    ap.add_argument("--seed", type=int, default=0, help="split seed (as finetune_fortunes.py's --seed)")
    ap.add_argument("--w2v-epochs", type=int, default=5, help="word2vec epochs over the corpus (default 5)")
    ap.add_argument("--elmo-steps", type=int, default=600, help="ELMo training steps at most (default 600)")
    ap.add_argument("--elmo-budget", type=float, default=300.0,
                    help="seconds of ELMo training at most (default 300; 0: no limit): ELMo is the slow one on a CPU")
    ap.add_argument("--elmo", metavar="RUN", help="use this ELMo run instead of training one")
    ap.add_argument("--no-elmo-random", action="store_true", help="skip the random-weights ELMo row")
    ap.add_argument("--bert", metavar="RUN", help="a fine-tuned bert-classifier run on this split")
    ap.add_argument("--out", help="keep the word2vec and ELMo runs here (default: a temporary folder)")
    ap.add_argument("--json", help=f"results file (default {DEFAULT_JSON.relative_to(ROOT)}; none with --quick)")
    ap.add_argument("--quick", action="store_true", help="150 texts a topic, 1 word2vec epoch, 30 ELMo steps")
    ap.add_argument("--corpus", metavar="FILE",
                    help="write the unlabelled corpus (one fortune a line) to FILE and stop: the text to train an "
                         "ELMo on for --elmo")
    args = ap.parse_args()
    if args.quick:
        args.w2v_epochs, args.elmo_steps = 1, 30
    t_start = time.perf_counter()
    labels_arg = "" if args.labels == "all" else args.labels
    cfg = ClassificationDataConfig(labels=labels_arg, split_seed=args.seed)
    everything = read_examples(args.data)
    chosen = keep_labels(everything, labels_arg)
    if args.quick:  # the first 150 texts of each topic
        seen: Counter = Counter()
        kept = []
        for e in chosen:
            seen[e["label"]] += 1
            if seen[e["label"]] <= 150:
                kept.append(e)
        chosen = kept
    train, val, test = split_examples(chosen, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
    labels = sorted({e["label"] for e in chosen})
    held_out = {e["text"] for e in val + test}
    corpus = [one_line(e["text"]) for e in (train if args.quick else everything) if e["text"] not in held_out]
    if args.corpus:
        Path(args.corpus).write_text("".join(t + "\n" for t in corpus), encoding="utf-8")
        print(f"wrote {len(corpus):,} fortunes to {args.corpus} (no validation or test text of the split)")
        return
    ids = {lab: i for i, lab in enumerate(labels)}
    texts = [[e["text"] for e in part] for part in (train, val, test)]
    ys = [[ids[e["label"]] for e in part] for part in (train, val, test)]
    print(f"{len(labels)} topics: {len(train)} / {len(val)} / {len(test)} train / val / test texts; unlabelled "
          f"corpus {len(corpus):,} fortunes ({sum(len(WORDS(t)) for t in corpus):,} words)", flush=True)
    rows: list[dict] = []

    def add(name: str, scores: dict, repr_seconds: float, **extra) -> None:
        r = {"model": name, **scores, "repr_seconds": repr_seconds, **extra}
        rows.append(r)
        print(f"  {name}: accuracy {r['accuracy']:.3f}, macro-F1 {r['macro_f1']:.3f} (C {r['C']:g}, val "
              f"{r['val_accuracy']:.3f})", flush=True)

    def add_lr(name: str, xs: list, repr_seconds: float, dense: bool, **extra) -> None:
        add(name, logistic(*zip(xs, ys), dense=dense, seed=args.seed), repr_seconds, **extra)

    def add_elmo(tag: str, name: str, random_weights: bool) -> None:
        """Two rows from one encoding: the equal-weight mix + scikit-learn's LR, and the mix learned with the
        classifier (repr s: the encoding, shared)."""
        t0 = time.perf_counter()
        xs = elmo_layer_means(elmo, texts, random_weights=random_weights, seed=args.seed)   # (N, L+1, 2C) each
        enc = time.perf_counter() - t0
        add_lr(f"({tag}) {name}: equal mix + LR", [x.mean(1) for x in xs], enc, dense=True)
        r = mixed_logistic(*zip(xs, ys))
        add(f"({tag}') {name}: learned scalar mix + linear", r, enc)
        print(f"      s = {', '.join(f'{w:.3f}' for w in r['s'])}, γ = {r['gamma']:.3f}", flush=True)

    t0 = time.perf_counter()
    vocab, x_train, _ = fit_counts(texts[0], binary=True)
    xs = [x_train] + [count_matrix(t, vocab, binary=True) for t in texts[1:]]
    add_lr("(a) one-hot bag of words + LR", xs, time.perf_counter() - t0, dense=False)
    t0 = time.perf_counter()
    tfidf = Tfidf(TfidfConfig(tf="sublinear"))
    xs = [tfidf.fit_transform(texts[0])] + [tfidf.transform(t) for t in texts[1:]]
    add_lr("(b) TF-IDF (lmlab, sublinear tf) + LR", xs, time.perf_counter() - t0, dense=False)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    clf = LogisticRegression(C=10.0, max_iter=2000, random_state=args.seed).fit(vec.fit_transform(texts[0]), ys[0])
    pred = clf.predict(vec.transform(texts[2])).tolist()
    rows.append({"model": "(b') TF-IDF 1-2 grams (scikit-learn) + LR, C 10", "accuracy": accuracy(ys[2], pred),
                 "macro_f1": macro_f1(ys[2], pred), "C": 10.0, "fit_seconds": time.perf_counter() - t0,
                 "repr_seconds": 0.0, "note": "finetune_fortunes.py's baseline; fit includes the vectorizer"})

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.out or tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        xs, w2v = word2vec_means(corpus, texts, work, args)
        add_lr(f"(c) word2vec mean ({args.w2v_epochs} epochs) + LR", xs, time.perf_counter() - t0, dense=True,
            word2vec=w2v)
        elmo = Path(args.elmo) if args.elmo else train_small_elmo(corpus, work, args)
        ppl = [json.loads(line) for line in (elmo / "metrics.jsonl").open()]
        ppl = [r for r in ppl if "val_fwd_ppl" in r][-1]
        args.elmo_ppl = {k: ppl[k] for k in ("step", "val_fwd_ppl", "val_bwd_ppl")}
        name = f"ELMo {elmo.name} ({ppl['step']} steps)"
        print(f"  ELMo {elmo}: step {ppl['step']}, val fwd ppl {ppl['val_fwd_ppl']:.1f}, bwd ppl "
              f"{ppl['val_bwd_ppl']:.1f}", flush=True)
        add_elmo("d", name, random_weights=False)
        if not args.no_elmo_random:
            add_elmo("d0", "the same, random weights", random_weights=True)
    if args.bert:
        r = bert_row(Path(args.bert), labels, test, cfg)
        rows.append({"model": f"(e) BERT fine-tuned ({args.bert})", **r})
    else:
        print("  (e) BERT skipped: give --bert RUN, a bert-classifier fine-tuned on this split (e.g. OUT/finetuned-0 "
              "of `python benchmarks/finetune_fortunes.py --out OUT`)")
    majority = Counter(ys[0]).most_common(1)[0][0]
    pred = [majority] * len(ys[2])
    rows.append({"model": f"majority class ({labels[majority]})", "accuracy": accuracy(ys[2], pred),
                 "macro_f1": macro_f1(ys[2], pred), "fit_seconds": 0.0, "repr_seconds": 0.0})

    print(f"\ntest split: {len(test)} fortunes, {len(labels)} topics; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'representation + classifier':<66} {'accuracy':>8} {'macro-F1':>8} {'repr s':>7} {'fit s':>7}")
    for r in rows:
        print(f"{r['model']:<66} {r['accuracy']:>8.3f} {r['macro_f1']:>8.3f} {r['repr_seconds']:>7.1f} "
              f"{r['fit_seconds']:>7.1f}")
    print(f"total {time.perf_counter() - t_start:.0f} s")
    out = args.json or (None if args.quick else str(DEFAULT_JSON))
    if out:
        record = {"args": vars(args), "labels": labels, "n_train": len(train), "n_val": len(val),
                  "n_test": len(test), "corpus_fortunes": len(corpus), "c_grid": C_GRID, "results": rows,
                  "torch": torch.__version__, "threads": torch.get_num_threads()}
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
