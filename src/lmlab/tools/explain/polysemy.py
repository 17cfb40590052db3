"""Polysemy: one word, two senses; static vectors cannot tell them apart, contextual ones can (notes 002 III,
004 七; Peters et al. 2018 §5.3).

The notes: word2vec gives "bank" one vector whether money or a river is meant (我把钱存进了银行 / 我坐在河岸上;
苹果 the company or the fruit); ELMo and BERT compute a word's vector from its sentence, so the two senses
come apart. This run measures that on real text: the 39 sentences of WikiText-2 (validation and test
splits, CC BY-SA 3.0; `data/wikitext2_bank.txt`) that contain the word "bank", each occurrence labelled by
this rule:
  river  if the word before it is a side or bank of a river (north, south, east, west, northern, southern,
         eastern, western, far, left, right, shallow, river) or the sentence names a river, shore or stream;
  money  if the sentence has a word of banking (account, balance, banking, banks, branch, capital, chartered,
         credit, deposits, director, failures, financial, investment, loan, shares) or says "Bank of";
  neither, or both: left out (a bank holiday, M & T Bank Stadium, the North Bank of the Thames by the City).
For each model, every labelled occurrence gets its contextual vector from the model's top layer
(lmlab.tools.token_vectors; ELMo's top biLM layer, the better of its two for word senses in the paper, §5.3;
`--layer N` reads another ELMo layer; benchmarks/polysemy_layers.py compares them all, and each direction). The word
itself is spelled one way in every sentence ("Bank of" -> "bank of"), so that only its context can tell
the senses apart. The cosine of every pair is averaged over same-sense and over cross-sense pairs, also
after centring (the mean of all the occurrences subtracted: contextual vectors share one large common
direction); a leave-one-out nearest neighbour, and the nearest sense centroid (the paper's word-sense
test), guess each occurrence's sense. A static embedding
(word2vec, GloVe, a lookup table) gives every occurrence the same vector by construction: all cosines 1,
gap 0, the neighbour a coin toss. Any contextual model gives cosines below 1, trained or not, so each
model is set beside the same architecture with random weights (seeded): what training added is the gap
beyond that baseline.
`--sentences FILE` takes your own (one `SENSE<TAB>sentence` a line, e.g. 公司 / 水果 for 苹果 with --word 苹果;
for an ELMo, put spaces between Chinese words, as it splits words at spaces and punctuation).
"""

from __future__ import annotations

import re
from functools import partial
from importlib import resources
from pathlib import Path

import torch

from lmlab.errors import LmlabError
from lmlab.runs import families
from lmlab.runs.run import Run
from lmlab.tools.explain._report import heading, save_plot

RIVER_BEFORE = {"north", "south", "east", "west", "northern", "southern", "eastern", "western", "far", "left",
                "right", "shallow", "river"}
RIVER_WORDS = {"river", "shore", "stream"}
MONEY_WORDS = {"account", "balance", "banking", "banks", "branch", "capital", "chartered", "credit", "deposits",
               "director", "failures", "financial", "investment", "loan", "shares"}


def wikitext_sentences() -> list[str]:
    path = resources.files("lmlab.tools.explain") / "data" / "wikitext2_bank.txt"
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sense_of_bank(sentence: str) -> str | None:
    """The rule above: "river", "money", or None (neither or both)."""
    words = sentence.split()
    lower = [w.lower() for w in words]
    at = [i for i, w in enumerate(lower) if w == "bank"]
    river = any(i > 0 and lower[i - 1] in RIVER_BEFORE for i in at) or bool(RIVER_WORDS & set(lower))
    money = bool(MONEY_WORDS & set(lower)) or " Bank of " in f" {sentence} "
    return None if river == money else "river" if river else "money"


def read_labelled(path: str | Path) -> list[tuple[str, str]]:
    """(sense, sentence) pairs from a file of `SENSE<TAB>sentence` lines (blank lines and # comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise LmlabError(f"--sentences {path} not found")
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        sense, tab, sentence = line.partition("\t")
        if not tab or not sense.strip() or not sentence.strip():
            raise LmlabError(f"{path}:{n}: expected SENSE<TAB>sentence, got {line[:60]!r}")
        pairs.append((sense.strip(), sentence.strip()))
    return pairs


def occurrences(words: list[str], word: str) -> list[list[int]]:
    """Where `word` is in a model's word list: runs of consecutive words that spell it (BERT splits 苹果 into
    苹 and 果), case-insensitively."""
    target = word.lower()
    found, i = [], 0
    while i < len(words):
        text, j = "", i
        while j < len(words) and len(text) < len(target) and target.startswith(text + words[j].lower()):
            text += words[j].lower()
            j += 1
        if text == target and j > i:
            found.append(list(range(i, j)))
            i = j
        else:
            i += 1
    return found


def word_vectors(rows, word: str) -> tuple[torch.Tensor, list[int]]:
    """The vectors of every occurrence of `word` in each sentence's WordVectors, and the sentence of each."""
    vectors, where = [], []
    for s, row in enumerate(rows):
        for span in occurrences(row.words, word):
            vectors.append(row.vectors[span].mean(0))
            where.append(s)
    return (torch.stack(vectors) if vectors else torch.empty(0)), where


def nearest_centroid(vectors: torch.Tensor, label: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Accuracy of the nearest sense centroid (Peters et al. 2018 §5.3: each sense's mean vector, the nearest
    one by Euclidean distance, which the common direction does not sway), each occurrence i left out of
    the centroids: only the j with other[i, j] count. vectors (N, C), label (N,) in 0..K-1, other (N, N) bool."""
    v = vectors.double()
    onehot = torch.nn.functional.one_hot(label).double()                         # (N, K)
    keep = other.double()                                                        # (N, N)
    sums = torch.einsum("ij,jk,jc->ikc", keep, onehot, v)                        # (N, K, C)
    centroids = sums / (keep @ onehot).clamp(min=1)[..., None]
    guess = (v[:, None, :] - centroids).norm(dim=-1).argmin(1)                   # (N,)
    return (guess == label).double().mean()


def separation(vectors: torch.Tensor, senses: list[str]) -> tuple[dict[str, float], torch.Tensor]:
    """Mean cosine of same-sense and of cross-sense pairs and their gap, the same after centring (the mean
    vector of all occurrences subtracted), leave-one-out 1-NN and nearest-centroid sense accuracy; and the
    cosine matrix (N, N)."""
    label = torch.tensor([sorted(set(senses)).index(s) for s in senses])
    same = label[:, None] == label[None, :]
    off = ~torch.eye(len(senses), dtype=torch.bool)

    def cosines(v: torch.Tensor) -> torch.Tensor:                        # (N, N)
        unit = torch.nn.functional.normalize(v.double(), dim=-1)
        return unit @ unit.T

    cos, centred = cosines(vectors), cosines(vectors - vectors.mean(0))
    s, c = cos[same & off].mean().item(), cos[~same].mean().item()
    centred_gap = centred[same & off].mean().item() - centred[~same].mean().item()
    nearest = cos.masked_fill(~off, -2).argmax(1)
    return {"same": s, "cross": c, "gap": s - c, "centred_gap": centred_gap,
            "nn_acc": (label[nearest] == label).double().mean().item(),
            "centroid_acc": nearest_centroid(vectors, label, off).item()}, cos


def measure(vectors_of, texts: list[str], senses: list[str], word: str) -> tuple[dict[str, float], torch.Tensor]:
    """Separation of the senses for one model (`vectors_of(texts)` -> WordVectors per text), occurrences in
    the order of `texts` (sorted by sense by the caller)."""
    vectors, where = word_vectors(vectors_of(texts), word)
    missing = sorted(set(range(len(texts))) - set(where))
    if missing:
        raise LmlabError(f"sentence {missing[0] + 1} ({texts[missing[0]][:50]!r}…): the model's words do not "
                         f"spell {word!r} (for an ELMo, put spaces around Chinese words)")
    return separation(vectors, [senses[s] for s in where])


def _models(models: tuple[str, ...], layer: int = -1) -> list[tuple[str, object]]:
    """(label, texts -> WordVectors) for each run and its random-weight twin; without runs, a random elmo-tiny."""
    at = "" if layer == -1 else f", layer {layer}"
    if not models:
        from lmlab.models.elmo import preset
        from lmlab.models.elmo.model import Elmo
        from lmlab.tools.token_vectors import elmo_vectors
        torch.manual_seed(0)
        model = Elmo(preset("elmo-tiny"))
        return [(f"elmo-tiny, random weights{at}", lambda t: elmo_vectors(model, t, layer=layer))]
    out = []
    for path in models:
        family = families.get(Run.open(path).name, "embed")
        if family.token_vectors is None:
            raise LmlabError(f"{path}: a '{family.name}' run gives no word vectors")
        vectors = families.resolve(family.token_vectors)
        name = Path(path).name
        out += [(f"{name} ({family.name}){at}", partial(vectors, path, layer=layer)),
                (f"{name}, random weights{at}", partial(vectors, path, layer=layer, random_weights=True))]
    return out


def labelled(word: str = "bank", sentences: str | None = None) -> tuple[list[str], list[str], str]:
    """(senses, texts, source): the bundled WikiText "bank" sentences labelled by the rule, or a
    `SENSE<TAB>sentence` file's; sorted by sense, the word spelled one way in every text."""
    if sentences is None:
        if word != "bank":
            raise LmlabError("the bundled WikiText sentences are about 'bank'; for another word give --sentences")
        pairs = [(sense_of_bank(s), s) for s in wikitext_sentences()]
        left_out = [s for sense, s in pairs if sense is None]
        pairs = [(sense, s) for sense, s in pairs if sense is not None]
        source = f"WikiText-2, {len(pairs)} sentences labelled by the rule ({len(left_out)} left out)"
    else:
        pairs, source = read_labelled(sentences), str(sentences)
    pairs.sort(key=lambda p: p[0])                                         # by sense: blocks in the plot
    # the word itself is written one way everywhere ("Bank of …" -> "bank of …"): its spelling must not tell
    # the senses apart, only its context
    spelled = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
    return [p[0] for p in pairs], [spelled.sub(word, p[1]) for p in pairs], source


def run(out: Path | None, models: tuple[str, ...] = (), word: str = "bank", sentences: str | None = None,
        layer: int = -1) -> dict:
    senses, texts, source = labelled(word, sentences)
    pairs = list(zip(senses, texts))
    counts = {s: senses.count(s) for s in sorted(set(senses))}
    if len(counts) < 2 or min(counts.values()) < 2:
        raise LmlabError(f"need two senses with at least two sentences each; got {counts}")
    heading(f"'{word}' in context: {source}")
    for sense, n in counts.items():
        print(f"  {sense} ({n}):")
        for text in [t for s, t in pairs if s == sense][:2]:
            print(f"    {text[:100]}{'…' if len(text) > 100 else ''}")
    print(f"\n  {'vectors of the occurrences':<34} {'same':>7} {'cross':>7} {'gap':>8} {'centred':>8} {'1-NN':>7} {'centroid':>8}")
    print(f"  {'static (word2vec): by construction':<34} {1:>7.4f} {1:>7.4f} {0:>+8.4f} {'n/a':>8} {'n/a':>7} "
          f"{'n/a':>8}   one vector a word")
    nan = float("nan")
    results: dict = {"static": {"same": 1.0, "cross": 1.0, "gap": 0.0, "centred_gap": nan, "nn_acc": nan,
                                "centroid_acc": nan}}
    matrices = {}
    for label, vectors_of in _models(models, layer):
        results[label], matrices[label] = measure(vectors_of, texts, senses, word)
        m = results[label]
        print(f"  {label:<34} {m['same']:>7.4f} {m['cross']:>7.4f} {m['gap']:>+8.4f} {m['centred_gap']:>+8.4f} "
              f"{m['nn_acc']:>7.1%} {m['centroid_acc']:>8.1%}")
    print("\n  same: mean cosine of two occurrences of one sense; cross: of two senses; gap = same - cross.\n"
          "  centred: that gap once the mean of all the occurrences is subtracted (contextual vectors share one\n"
          "  large direction, which pushes every cosine towards 1; Ethayarajh 2019). 1-NN: the sense of each\n"
          "  occurrence's nearest other occurrence; centroid: the sense whose mean vector (without the occurrence)\n"
          "  is nearest, as the paper's word-sense test does. A random contextual model already separates a\n"
          "  little (it passes on the identity of the words around 'bank'); what training adds is the separation\n"
          "  beyond its random-weight twin. 35 occurrences: a difference of 0.1 in the centred gap or of 10\n"
          "  points of accuracy is within the noise (benchmarks/polysemy_layers.py gives bootstrap intervals).")
    if not models:
        print("  Give trained runs with --model RUN (ELMo or BERT, e.g. trained on WikiText) to measure them.")

    def draw(plt):
        fig, axes = plt.subplots(1, len(matrices), figsize=(4.2 * len(matrices), 4), squeeze=False)
        for ax, (label, cos) in zip(axes[0], matrices.items()):
            im = ax.imshow(cos.numpy(), cmap="viridis")
            first = senses.index(sorted(counts)[1])
            ax.axhline(first - 0.5, color="w", lw=1)
            ax.axvline(first - 0.5, color="w", lw=1)
            ax.set_title(f"{label}\ngap {results[label]['gap']:+.4f}", fontsize=9)
            ax.set_xlabel(" | ".join(sorted(counts)))
            fig.colorbar(im, ax=ax, fraction=0.046)
        fig.suptitle(f"cosine of '{word}' occurrences, grouped by sense")
        fig.tight_layout()
        return fig
    save_plot(out, "polysemy.png", draw)
    return results
