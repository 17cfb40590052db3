"""SQuAD's exact match and F1, as the official evaluation script (v1.1; v2.0 for unanswerable questions) defines them.

Rajpurkar et al. 2016, §5: both compare a predicted answer with each reference answer after normalising
the two, and keep the best over the references. Normalising lower-cases, removes ASCII punctuation
(Python's string.punctuation), removes the articles a / an / the as whole words, and collapses whitespace
(in that order: lower, punctuation, articles, whitespace). Exact match is 1 when the normalised strings are
equal; F1 is the harmonic mean of precision and recall over the bag of normalised tokens (whitespace split)
shared by prediction and reference. v2.0 adds one rule: when either side has no tokens (an unanswerable
question's reference is ""), F1 is 1 if both are empty, else 0. Scores are reported in percent.
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, drop the articles a/an/the, collapse whitespace (SQuAD's order)."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def f1(prediction: str, reference: str) -> float:
    """Token-overlap F1 of the normalised strings (v2.0's rule when one of them is empty)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_over(metric, prediction: str, references: list[str]) -> float:
    """The best score over the reference answers ("" alone: an unanswerable question)."""
    return max(metric(prediction, ref) for ref in (references or [""]))


def squad_scores(predictions: dict[str, str], references: dict[str, list[str]]) -> dict[str, float]:
    """{"exact_match", "f1"} in percent over the questions of `references`; a question without a prediction
    counts 0 (the script's "Unanswered question … will receive score 0")."""
    if not references:
        raise ValueError("no reference answers to score against")
    em = sum(best_over(exact_match, predictions[q], refs) for q, refs in references.items() if q in predictions)
    f = sum(best_over(f1, predictions[q], refs) for q, refs in references.items() if q in predictions)
    return {"exact_match": 100.0 * em / len(references), "f1": 100.0 * f / len(references)}
