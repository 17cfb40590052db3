"""Querying and evaluating word vectors: nearest words, analogies, and the two classic benchmarks.

Analogy a : b :: c : ? (Mikolov et al. 2013c) is answered over unit vectors by 3CosAdd,
argmax cos(x, b - a + c), or by 3CosMul (Levy & Goldberg 2014), argmax cos'(x,b)·cos'(x,c) /
(cos'(x,a) + 1e-6) with cos' = (1 + cos)/2; the three question words are never answers.
The evaluations follow gensim's KeyedVectors.evaluate_word_pairs (Spearman's ρ between human and
cosine similarity on pairs in the vocabulary, e.g. wordsim353.tsv) and evaluate_word_analogies
(3CosAdd accuracy on questions-words.txt, case-insensitive, over the 300,000 most frequent words),
so that their numbers equal gensim's on the same vectors.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from lmlab.errors import LmlabError

RESTRICT = 300_000  # gensim's restrict_vocab for both evaluations


class WordVectors:
    """Words (most frequent first) and their vectors (V, C)."""

    def __init__(self, words: list[str], vectors: np.ndarray, source: str = "the vectors"):
        self.words, self.vectors, self.source = list(words), np.asarray(vectors, dtype=np.float32), source
        self.index = {w: i for i, w in enumerate(self.words)}
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.where(norms == 0, 1, norms)

    def id(self, word: str) -> int:
        """The row of `word`, or an error naming the closest words by spelling."""
        if word not in self.index:
            close = difflib.get_close_matches(word, self.words, n=5, cutoff=0.6)
            hint = f"; closest by spelling: {', '.join(close)}" if close else ""
            raise LmlabError(f"'{word}' is not in the vocabulary of {self.source} ({len(self.words)} words){hint}")
        return self.index[word]

    def _top(self, scores: np.ndarray, exclude: set[int], topn: int) -> list[tuple[str, float]]:
        order = np.argsort(-scores, kind="stable")[: topn + len(exclude)]
        return [(self.words[i], float(scores[i])) for i in order if i not in exclude][:topn]

    def similar(self, word: str, topn: int = 10) -> list[tuple[str, float]]:
        """The `topn` nearest words by cosine similarity."""
        i = self.id(word)
        return self._top(self.unit @ self.unit[i], {i}, topn)

    def analogy(self, a: str, b: str, c: str, topn: int = 10, method: str = "add",
                restrict: int | None = None) -> list[tuple[str, float]]:
        """a is to b as c is to …: 3CosAdd (method "add") or 3CosMul ("mul")."""
        ids = [self.id(w) for w in (a, b, c)]
        unit = self.unit[:restrict] if restrict else self.unit
        va, vb, vc = (self.unit[i] for i in ids)
        if method == "add":
            target = vb - va + vc
            scores = unit @ (target / np.linalg.norm(target))
        elif method == "mul":
            cos = lambda v: (1 + unit @ v) / 2  # noqa: E731
            scores = cos(vb) * cos(vc) / (cos(va) + 1e-6)
        else:
            raise ValueError(f"method must be add or mul, got {method!r}")
        return self._top(scores, set(ids), topn)

    def _upper(self, restrict: int) -> dict[str, int]:
        """Case-insensitive lookup as gensim's: an upper-cased word maps to its most frequent spelling."""
        return {w.upper(): i for i, w in reversed(list(enumerate(self.words[:restrict])))}

    def evaluate_word_pairs(self, path: str | Path, restrict: int = RESTRICT) -> dict[str, float]:
        """Pearson r, Spearman ρ (human vs cosine similarity) and the % of pairs out of vocabulary."""
        from scipy import stats
        vocab, gold, model, oov = self._upper(restrict), [], [], 0
        for n, line in enumerate(_lines(path), 1):
            if line.startswith("#") or not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            try:
                a, b, sim = parts[0].upper(), parts[1].upper(), float(parts[2])
            except (IndexError, ValueError):
                raise LmlabError(f"{path}:{n}: expected 'word<TAB>word<TAB>score', got {line[:60]!r}") from None
            if a not in vocab or b not in vocab:
                oov += 1
                continue
            gold.append(sim)
            model.append(float(self.unit[vocab[a]] @ self.unit[vocab[b]]))
        if len(gold) < 2:
            raise LmlabError(f"{path}: fewer than 2 pairs in the vocabulary of {self.source}")
        return {"pearson": float(stats.pearsonr(gold, model)[0]), "spearman": float(stats.spearmanr(gold, model)[0]),
                "oov_percent": 100.0 * oov / (len(gold) + oov), "pairs": len(gold)}

    def evaluate_word_analogies(self, path: str | Path, restrict: int = RESTRICT) -> dict[str, float]:
        """3CosAdd accuracy over the questions whose four words are all among the `restrict` most frequent."""
        vocab, questions, skipped = self._upper(restrict), [], 0
        unit = self.unit[:restrict]
        for n, line in enumerate(_lines(path), 1):
            if line.startswith(":") or not line.strip():
                continue
            try:
                a, b, c, expected = (w.upper() for w in line.split())
            except ValueError:
                raise LmlabError(f"{path}:{n}: expected four words, got {line[:60]!r}") from None
            if all(w in vocab for w in (a, b, c, expected)):
                questions.append((a, b, c, expected))
            else:
                skipped += 1
        correct = 0
        for start in range(0, len(questions), 512):  # a block of questions against the vocabulary at once
            block = questions[start:start + 512]
            ids = np.array([[vocab[a], vocab[b], vocab[c]] for a, b, c, _ in block])           # (Q, 3)
            target = unit[ids[:, 1]] - unit[ids[:, 0]] + unit[ids[:, 2]]                       # (Q, C)
            scores = (target / np.linalg.norm(target, axis=1, keepdims=True)) @ unit.T          # (Q, V)
            top = np.argpartition(-scores, 8, axis=1)[:, :8]                                    # (Q, 8)
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), axis=1), 1)
            for q, (a, b, c, expected) in enumerate(block):
                guess = None  # as gensim: the first of the top 5 that is no question word (else the 5th)
                for i in [i for i in top[q] if i not in ids[q]][:5]:
                    guess = self.words[i].upper()
                    if guess not in (a, b, c):
                        break
                correct += guess == expected
        wrong = len(questions) - correct
        total = correct + wrong
        return {"accuracy": correct / total if total else 0.0, "questions": total,
                "coverage": total / max(total + skipped, 1)}


def _lines(path: str | Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise LmlabError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise LmlabError(f"{path} is not UTF-8 text") from None


def open_vectors(spec: str | Path) -> WordVectors:
    """Word vectors from a word2vec or item2vec run folder (its input vectors, rows in vocab.txt's order),
    or from a word2vec text/binary file (e.g. one gensim wrote)."""
    from lmlab.io.word2vec_format import load_vocab, load_word2vec
    from lmlab.runs.run import Run
    path = Path(spec)
    if path.is_dir():
        run = Run.open(path, family=("word2vec", "item2vec"))
        vocab_file = path / "vocab.txt"
        if not vocab_file.is_file():
            raise LmlabError(f"{path} has no vocab.txt; the run is damaged: retrain")
        words = load_vocab(vocab_file)
        model = run.model()
        if len(words) != model.in_emb.shape[0]:
            raise LmlabError(f"{vocab_file} lists {len(words)} words, the model has {model.in_emb.shape[0]} rows; "
                             "the files come from different runs")
        return WordVectors(words, model.in_emb.detach().numpy(), source=str(path))
    if not path.is_file():
        raise LmlabError(f"{spec} is neither a run folder nor a word2vec vectors file")
    words, vectors = load_word2vec(path)
    return WordVectors(words, vectors, source=str(path))


def precision_at_k(wv: WordVectors, labels: dict[str, str], k: int = 10) -> float:
    """Mean over labelled words of the share of their k nearest neighbours that carry the same label
    (e.g. a Debian package's section): how well the space groups what belongs together."""
    ids = np.array([i for i, w in enumerate(wv.words) if labels.get(w)])
    lab = np.array([labels.get(w, "") for w in wv.words])
    hits = []
    for start in range(0, len(ids), 1024):
        block = ids[start:start + 1024]
        scores = wv.unit[block] @ wv.unit.T                                            # (Q, V)
        scores[np.arange(len(block)), block] = -np.inf
        top = np.argpartition(-scores, k, axis=1)[:, :k]                               # (Q, k)
        hits.append((lab[top] == lab[block][:, None]).mean(1))
    return float(np.concatenate(hits).mean())


def ppmi_svd(baskets: list[list[int]], n: int, dim: int) -> np.ndarray:
    """The co-occurrence baseline (Levy & Goldberg 2014): positive PMI of items sharing a basket, reduced by
    a truncated SVD to (n, dim) vectors U·sqrt(S)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import svds
    rows, cols = [], []
    for b in baskets:
        b = np.unique(np.asarray(b))
        if len(b) > 1:
            rows.append(np.repeat(b, len(b)))
            cols.append(np.tile(b, len(b)))
    r, c = np.concatenate(rows), np.concatenate(cols)
    keep = r != c
    counts = coo_matrix((np.ones(keep.sum()), (r[keep], c[keep])), shape=(n, n)).tocsr()
    total, row_sum = counts.sum(), np.asarray(counts.sum(1)).ravel()
    coo = counts.tocoo()
    pmi = np.log(coo.data * total / (row_sum[coo.row] * row_sum[coo.col]))
    pos = pmi > 0
    ppmi = coo_matrix((pmi[pos], (coo.row[pos], coo.col[pos])), shape=(n, n)).tocsr()
    u, s, _ = svds(ppmi, k=dim)
    return (u * np.sqrt(s)).astype(np.float32)
