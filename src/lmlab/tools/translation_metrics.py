"""How good is a translation: BLEU and chrF (sacrebleu), and whether printf placeholders survive.

BLEU (Papineni et al. 2002): the geometric mean of 1- to 4-gram precisions against the reference,
times a brevity penalty; corpus-level, 0–100. chrF (Popović 2015): an F-score of character n-grams,
kinder to morphology and needing no word segmentation. Both from `sacrebleu` (Post 2018), the
field's reference implementation, so the numbers compare with published ones. Chinese has no
spaces between words: BLEU needs sacrebleu's `zh` tokenizer (each Chinese character a token),
which `bleu_tokenizer("zh")` picks.

Software messages carry placeholders that a program fills in at run time (`%s`, `%d`, `%lu`,
`%1$s`, `%.250s`, `%%`, Python's `%(name)s` and `{0}`; the space flag of printf is left out, so
"50% done" holds none): a translation that drops or alters one
breaks the program. `placeholders(text)` lists them in order (lmlab.data.placeholders); a translation
agrees with the reference when its multiset of placeholders equals the reference's, and is *printf-compatible*
with its source when `msgfmt -c` would accept it (the same arguments and types, in order or placed with `%n$`).
"""

from __future__ import annotations

from collections import Counter

from lmlab.data.placeholders import compatible, placeholders

_BLEU_TOKENIZERS = {"zh": "zh", "ja": "ja-mecab", "ko": "ko-mecab"}


def bleu_tokenizer(target_lang: str, setting: str = "auto") -> str:
    """The sacrebleu tokenizer for a target language: zh for Chinese, 13a (the default) otherwise."""
    if setting != "auto":
        return setting
    return _BLEU_TOKENIZERS.get(target_lang.lower().split("-")[0].split("_")[0], "13a")


def bleu_chrf(hyps: list[str], refs: list[str], tokenize: str = "13a") -> dict[str, float]:
    """Corpus BLEU and chrF, 0–100."""
    import sacrebleu
    if tokenize.endswith("-mecab"):  # needs optional extras; a character split is the robust fallback
        try:
            sacrebleu.BLEU(tokenize=tokenize)
        except Exception:
            tokenize = "char"
    return {"bleu": sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize).score,
            "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score}


def placeholder_agreement(hyps: list[str], refs: list[str]) -> tuple[int, int]:
    """(n, total): of the `total` references holding a placeholder, `n` whose translation holds the
    same ones, as many times each (order may differ: `%2$s … %1$s` reorders legitimately)."""
    n = total = 0
    for h, r in zip(hyps, refs):
        want = Counter(placeholders(r))
        if want:
            total += 1
            n += Counter(placeholders(h)) == want
    return n, total


def printf_compatibility(hyps: list[str], srcs: list[str]) -> dict[str, int]:
    """How many translations `msgfmt -c` would accept for their source: of all ("n", "total") and of the
    sources holding a placeholder ("n_with", "total_with")."""
    out = dict.fromkeys(("n", "total", "n_with", "total_with"), 0)
    for h, s in zip(hyps, srcs):
        ok, has = compatible(s, h), bool(placeholders(s))
        out["n"] += ok
        out["total"] += 1
        out["n_with"] += ok and has
        out["total_with"] += has
    return out
