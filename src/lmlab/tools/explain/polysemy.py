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
`--set all` takes the larger set of `data/bank_senses.tsv` instead: every "bank"/"banks" of the English prose at
hand (WikiText-2, gensim's Wikipedia articles and Lee news corpus, the fortunes, Tiny Shakespeare), each
occurrence labelled by hand (the file's header gives the guideline; benchmarks/bank_senses.py made it): 33 river,
139 money. Its money occurrences come mostly from other texts than WikiText, its river ones mostly from
WikiText, so the text's style can pass for the sense there; its WikiText rows alone (28 river, 23 money) avoid that.
`--sentences FILE` takes your own (one `SENSE<TAB>sentence` a line, e.g. 公司 / 水果 for 苹果 with --word 苹果;
for an ELMo, put spaces between Chinese words, as it splits words at spaces and punctuation).
"""

from __future__ import annotations

import re
from functools import partial
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import torch

from lmlab.errors import LmlabError
from lmlab.runs import families
from lmlab.runs.run import Run
from lmlab.tools.explain._report import heading, save_plot

RIVER_BEFORE = {"north", "south", "east", "west", "northern", "southern", "eastern", "western", "far", "left",
                "right", "shallow", "river"}
RIVER_WORDS = {"river", "shore", "stream"}
BANK = re.compile(r"(?<!\w)banks?(?!\w)", re.IGNORECASE)                 # the forms `data/bank_senses.tsv` follows
MONEY_WORDS = {"account", "balance", "banking", "banks", "branch", "capital", "chartered", "credit", "deposits",
               "director", "failures", "financial", "investment", "loan", "shares"}


def wikitext_sentences() -> list[str]:
    path = resources.files("lmlab.tools.explain") / "data" / "wikitext2_bank.txt"
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Occurrence(NamedTuple):
    """One labelled occurrence of a word: its sense, who labelled it ("rule" or "hand"), the text it is from,
    and where in its sentence it starts."""
    sense: str
    labeller: str
    source: str
    offset: int
    sentence: str


SENSES_HEADER = ("sense", "labeller", "source", "offset", "sentence")
KEPT_SENSES = ("money", "river")


def read_senses(path: str | Path | None = None, keep_all: bool = False) -> list[Occurrence]:
    """The occurrences of a `sense<TAB>labeller<TAB>source<TAB>offset<TAB>sentence` file (default: the bundled
    `data/bank_senses.tsv`, every "bank"/"banks" of the English prose at hand); only the river and money ones
    unless `keep_all` (the file also keeps those left out, labelled other or unclear)."""
    where = resources.files("lmlab.tools.explain") / "data" / "bank_senses.tsv" if path is None else Path(path)
    rows = []
    for n, line in enumerate(where.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if tuple(fields) == SENSES_HEADER:
            continue
        if len(fields) != 5 or not fields[3].isdigit():
            raise LmlabError(f"{where}:{n}: expected sense, labeller, source, offset, sentence (tab-separated)")
        sense, labeller, source, offset, sentence = fields
        if not BANK.match(sentence, int(offset)):
            raise LmlabError(f"{where}:{n}: no 'bank' or 'banks' at offset {offset}")
        rows.append(Occurrence(sense, labeller, source, int(offset), sentence))
    return rows if keep_all else [o for o in rows if o.sense in KEPT_SENSES]


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


def word_vectors(rows, forms: tuple[str, ...], which: list[int | None] | None = None
                 ) -> tuple[torch.Tensor, list[int]]:
    """The vectors of the occurrences of the word (any of its `forms`) in each text's WordVectors, and the text
    of each: every occurrence, or only the k-th one (in order, any form) where which[text] = k."""
    vectors, where = [], []
    for s, row in enumerate(rows):
        spans = sorted((span for form in forms for span in occurrences(row.words, form)), key=lambda sp: sp[0])
        k = None if which is None else which[s]
        for span in spans if k is None else spans[k:k + 1]:
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


def measure(vectors_of, data: Labelled) -> tuple[dict[str, float], torch.Tensor]:
    """Separation of the senses for one model (`vectors_of(texts)` -> WordVectors per text), occurrences in
    the order of the texts (sorted by sense by `labelled`)."""
    vectors, where = word_vectors(vectors_of(data.texts), data.forms, data.which)
    missing = sorted(set(range(len(data.texts))) - set(where))
    if missing:
        raise LmlabError(f"sentence {missing[0] + 1} ({data.texts[missing[0]][:50]!r}…): the model's words do not "
                         f"spell {data.forms[0]!r} (for an ELMo, put spaces around Chinese words)")
    return separation(vectors, [data.senses[s] for s in where])


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


class Labelled(NamedTuple):
    """Sentences with a word to follow: the sense of each (its occurrences'), the texts, which occurrence of
    the word each text is about (None: all of them; k: the k-th, in order), the text each comes from, the
    spellings that count, and where the set comes from."""
    senses: list[str]
    texts: list[str]
    which: list[int | None]
    origins: list[str]
    forms: tuple[str, ...]
    source: str


SETS = ("wikitext", "all")


def labelled(word: str = "bank", sentences: str | None = None, sentence_set: str = "wikitext") -> Labelled:
    """The bundled WikiText "bank" sentences labelled by the rule (set "wikitext"), every river or money
    "bank"/"banks" of `data/bank_senses.tsv` (set "all"), or a `SENSE<TAB>sentence` file's; sorted by sense,
    the word spelled one way in every text (lower case; "bank's" -> "bank 's", so that every model's words
    have it alone)."""
    if sentence_set not in SETS:
        raise LmlabError(f"--set must be one of {', '.join(SETS)}, got {sentence_set!r}")
    if sentences is not None and sentence_set != "wikitext":
        raise LmlabError("give --sentences FILE or --set, not both")
    if sentences is None and word != "bank":
        raise LmlabError("the bundled sentences are about 'bank'; for another word give --sentences")
    forms = (word,)
    if sentences is not None:
        pairs = [(sense, s, None, Path(sentences).name) for sense, s in read_labelled(sentences)]
        source = str(sentences)
    elif sentence_set == "wikitext":
        pairs = [(sense_of_bank(s), s, None, "wikitext2") for s in wikitext_sentences()]
        left_out = [p for p in pairs if p[0] is None]
        pairs = [p for p in pairs if p[0] is not None]
        source = f"WikiText-2, {len(pairs)} sentences labelled by the rule ({len(left_out)} left out)"
    else:
        rows = read_senses()
        sources = ", ".join(sorted({o.source for o in rows}))
        source = f"every river or money 'bank'/'banks' of the English prose at hand ({sources}), {len(rows)} occurrences"
        forms = ("bank", "banks")
        pairs = [(o.sense, o.sentence, len(BANK.findall(o.sentence[:o.offset])), o.source) for o in rows]
    if not pairs:
        raise LmlabError(f"{source}: no labelled sentences")
    pairs.sort(key=lambda p: p[0])                                         # by sense: blocks in the plot
    # the word itself is written one way everywhere ("Bank of …" -> "bank of …"): its spelling must not tell
    # the senses apart, only its context
    spelled = re.compile(rf"(?<!\w)({'|'.join(map(re.escape, forms[::-1]))})(?!\w)", re.IGNORECASE)

    def respell(text: str) -> str:
        return spelled.sub(lambda m: m.group(1).lower() + (" " if re.match(r"['’]\w", text[m.end():]) else ""),
                           text)
    senses, texts, which, origins = zip(*pairs)
    return Labelled(list(senses), [respell(t) for t in texts], list(which), list(origins), forms, source)


def run(out: Path | None, models: tuple[str, ...] = (), word: str = "bank", sentences: str | None = None,
        layer: int = -1, sentence_set: str = "wikitext") -> dict:
    data = labelled(word, sentences, sentence_set)
    senses, source = data.senses, data.source
    pairs = list(zip(senses, data.texts))
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
        results[label], matrices[label] = measure(vectors_of, data)
        m = results[label]
        print(f"  {label:<34} {m['same']:>7.4f} {m['cross']:>7.4f} {m['gap']:>+8.4f} {m['centred_gap']:>+8.4f} "
              f"{m['nn_acc']:>7.1%} {m['centroid_acc']:>8.1%}")
    print("\n  same: mean cosine of two occurrences of one sense; cross: of two senses; gap = same - cross.\n"
          "  centred: that gap once the mean of all the occurrences is subtracted (contextual vectors share one\n"
          "  large direction, which pushes every cosine towards 1; Ethayarajh 2019). 1-NN: the sense of each\n"
          "  occurrence's nearest other occurrence; centroid: the sense whose mean vector (without the occurrence)\n"
          "  is nearest, as the paper's word-sense test does. A random contextual model already separates a\n"
          "  little (it passes on the identity of the words around 'bank'); what training adds is the separation\n"
          "  beyond its random-weight twin. With the 35 occurrences of --set wikitext a difference of 0.1 in the\n"
          "  centred gap or of 10 points of accuracy is within the noise; --set all has 172, but its money ones\n"
          "  come mostly from other texts than its river ones (benchmarks/polysemy_layers.py gives intervals).")
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
