"""TF-IDF by hand (notes 002 III.1 "统计时代:TF-IDF"; one-hot in notes 004 "One-Hot编码").

The notes define tf = count / document length and idf = log(N / (df + 1)), and say that a word found in
almost every document (的, 是) gets an idf "extremely close to 0". They print no numbers. This run works
a four-document corpus by hand and sets each number beside lmlab's sparse matrices (lmlab.data.tfidf):
- one-hot vectors of tokens, whose sum over a document is its count vector;
- the notes' idf is exactly 0 for a word in N − 1 documents, and *negative* for a word in all N
  (ln(N / (N + 1)) < 0): "the" then scores below words a document does not even hold;
- scikit-learn's smoothed idf, ln((1 + N) / (1 + df)) + 1, never drops below 1, so with raw counts the
  commonest word can top a document's ranking (sublinear tf, 1 + ln(count), tames it);
- on a real corpus (Tiny Shakespeare, one document per paragraph) the commonest words' idf under each
  formula.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lmlab.data.corpora import load_text
from lmlab.data.documents import split_text
from lmlab.data.tfidf import Tfidf, TfidfConfig, idf_weights, top_terms
from lmlab.data.vectorize import Vocabulary, WordTokenizer, count_matrix, one_hot
from lmlab.tools.explain._report import heading, save_plot

CORPUS = ["the cat sat on the mat", "the dog sat on the log", "the cat chased the dog", "the bird sat"]
FORMULAS = {"notes": "ln(N / (df + 1))", "smooth": "ln((1 + N) / (1 + df)) + 1", "sklearn-raw": "ln(N / df) + 1"}


def _mark(by_hand: float, lmlab: float) -> str:
    return "✓" if abs(by_hand - lmlab) < 1e-12 else "✗"


def run(out: Path | None) -> dict:
    N = len(CORPUS)
    heading(f"The corpus: N = {N} documents")
    for i, d in enumerate(CORPUS, 1):
        print(f"  d{i}: {d}")

    heading("One-hot: each token is a unit vector over the vocabulary")
    vocab = Vocabulary.fit(CORPUS)
    print(f"  vocabulary (sorted, V = {len(vocab)}): {', '.join(vocab.terms)}")
    tokens = WordTokenizer()(CORPUS[0])
    hot = one_hot(tokens, vocab).toarray()
    for t, row in zip(tokens, hot):
        print(f"  {t:<6} {''.join(map(str, row))}")
    counts = count_matrix(CORPUS, vocab).toarray()
    print(f"  sum  = {''.join(map(str, hot.sum(0)))}  = d1's count vector {''.join(map(str, counts[0]))} "
          f"{_mark(0, float(np.abs(hot.sum(0) - counts[0]).sum()))}")
    zh = Vocabulary.fit(["猫 狗 鱼"], tokenizer=WordTokenizer(r"(?u)\w"))
    print(f"  notes 004: 猫=[1,0,0] 狗=[0,1,0] 鱼=[0,0,1] (ids in order of appearance); lmlab sorts the "
          f"vocabulary ({', '.join(zh.terms)}), so 猫 = {one_hot(['猫'], zh).toarray()[0].tolist()} — any "
          "order of ids is a one-hot code")

    heading("Document frequency and idf (natural log)")
    df = vocab.df
    idf = {kind: idf_weights(df, N, kind) for kind in FORMULAS}
    print(f"  {'term':<7} {'df':>2}   " + "".join(f"{k + ': ' + f:<37}" for k, f in FORMULAS.items()).rstrip())
    for j, term in enumerate(vocab.terms):
        n, d = N, df[j]
        cells = (f"ln({n}/{d + 1}) = {idf['notes'][j]:.4f}", f"ln({n + 1}/{d + 1}) + 1 = {idf['smooth'][j]:.4f}",
                 f"ln({n}/{d}) + 1 = {idf['sklearn-raw'][j]:.4f}")
        print(f"  {term:<7} {d:>2}   " + "".join(f"{c:<37}" for c in cells).rstrip())
    the, sat = vocab.index["the"], vocab.index["sat"]
    notes_idf = {"the": math.log(N / (N + 1)), "sat": math.log(N / N)}
    print(f"  'sat' is in N − 1 = {N - 1} documents: the notes' idf ln({N}/{N}) = 0 — near-universal words "
          f"vanish, as the notes say ✓")
    print(f"  'the' is in all {N}: the notes' idf ln({N}/{N + 1}) = {notes_idf['the']:.4f} < 0 — not "
          "'close to 0' but negative: it pulls a document *away* from its own commonest word")

    heading("tf-idf of d1 with the notes' formulas: tf = count / length, idf = ln(N / (df + 1))")
    notes_model = Tfidf(TfidfConfig(tf="notes", idf="notes", norm="none"))
    x_notes = notes_model.fit_transform(CORPUS).toarray()
    length = len(tokens)
    rows = []
    for j, term in enumerate(vocab.terms):
        if counts[0, j] == 0:
            continue
        by_hand = counts[0, j] / length * math.log(N / (df[j] + 1))
        rows.append(dict(term=term, by_hand=by_hand, lmlab=float(x_notes[0, j])))
        print(f"  {term:<6} {counts[0, j]}/{length} × ln({N}/{df[j] + 1}) = {by_hand:>8.4f}   "
              f"lmlab: {x_notes[0, j]:>8.4f}  {_mark(by_hand, x_notes[0, j])}")
    ranking = [t for t, _ in top_terms(notes_model.transform(CORPUS[:1]), vocab.terms, 6)[0]]
    print(f"  ranking: {', '.join(ranking)}  ('the' last: below 'sat', and below every word d1 lacks, "
          "which score 0)")

    heading("The same with scikit-learn's defaults: raw counts, smooth idf, l2 norm")
    ranks = {}
    for tf in ("raw", "sublinear"):
        x = Tfidf(TfidfConfig(tf=tf)).fit_transform(CORPUS)
        ranks[tf] = top_terms(x, vocab.terms, 6)[0]
        print(f"  tf {tf:<9}: " + ", ".join(f"{t} {w:.3f}" for t, w in ranks[tf]))
    print(f"  raw: 'the' counts 2 × idf 1 = 2 > 'mat' 1 × {idf['smooth'][vocab.index['mat']]:.4f}, so the "
          "commonest word tops d1; sublinear tf 1 + ln 2 = 1.693 puts it back below 'mat'")

    heading("A real corpus: Tiny Shakespeare, one document per paragraph")
    paragraphs, _ = split_text(load_text("tinyshakespeare"), "tinyshakespeare")
    big = Vocabulary.fit(paragraphs)
    common = np.argsort(-big.df, kind="stable")[:5]
    print(f"  N = {big.n_docs:,} paragraphs, V = {len(big):,} terms")
    for j in common:
        cells = "   ".join(f"{k} {idf_weights(big.df[j:j + 1], big.n_docs, k)[0]:.3f}" for k in FORMULAS)
        print(f"  {big.terms[j]:<6} in {big.df[j]:>5,} ({big.df[j] / big.n_docs:5.1%})   {cells}")
    rare = idf_weights(np.array([1]), big.n_docs, "notes")[0]
    print(f"  no word is in every paragraph, so the notes' idf stays positive: the commonest words get about "
          f"1, lower than a word of one paragraph ({rare:.2f}) but not 'close to 0'")

    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 3.8))
        n = 10
        d = np.arange(1, n + 1)
        for kind, formula in FORMULAS.items():
            ax.plot(d, idf_weights(d, n, kind), marker="o", label=f"{kind}: {formula}")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(xlabel="df: documents holding the term, of N = 10", ylabel="idf",
               title="idf by document frequency: the notes' goes below 0 at df = N")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    save_plot(out, "tf-idf.png", draw)
    return dict(vocab=vocab.terms, df=df.tolist(), idf={k: v.tolist() for k, v in idf.items()},
                notes_d1=rows, notes_ranking=ranking, notes_the=float(idf["notes"][the]), notes_sat=float(idf["notes"][sat]),
                ranks=ranks, shakespeare_n=big.n_docs, checks=[])
