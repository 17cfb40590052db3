"""lmlab.tools.classification: macro-F1 and the confusion matrix agree with scikit-learn."""

from __future__ import annotations

import random

import pytest

from lmlab.tools.classification import confusion_matrix, macro_f1


def test_macro_f1_and_confusion_matrix_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(0)
    for trial in range(30):
        n_classes = rng.randint(2, 6)
        y_true = [rng.randrange(n_classes) for _ in range(rng.randint(1, 40))]
        # some trials never predict a class, or predict one absent from y_true
        y_pred = [rng.randrange(n_classes if trial % 3 else n_classes - 1) for _ in y_true]
        assert macro_f1(y_true, y_pred) == pytest.approx(
            metrics.f1_score(y_true, y_pred, average="macro", zero_division=0.0))
        assert confusion_matrix(y_true, y_pred, n_classes) == \
            metrics.confusion_matrix(y_true, y_pred, labels=list(range(n_classes))).tolist()
