"""Classification metrics and the confusion-matrix picture: accuracy, macro-F1 (scikit-learn's definition)."""

from __future__ import annotations

from pathlib import Path

from lmlab.io.atomic import atomic_write


def confusion_matrix(y_true: list[int], y_pred: list[int], n_classes: int) -> list[list[int]]:
    """counts[i][j]: texts of true class i predicted as j."""
    m = [[0] * n_classes for _ in range(n_classes)]
    for t, p in zip(y_true, y_pred):
        m[t][p] += 1
    return m


def macro_f1(y_true: list[int], y_pred: list[int]) -> float:
    """Unweighted mean over classes of F1 = 2·TP / (2·TP + FP + FN), over the classes that occur in
    y_true or y_pred (scikit-learn's f1_score(average="macro"); a class never predicted scores 0)."""
    classes = sorted(set(y_true) | set(y_pred))
    scores = []
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(y_true, y_pred))
        fp = sum(t != c and p == c for t, p in zip(y_true, y_pred))
        fn = sum(t == c and p != c for t, p in zip(y_true, y_pred))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def accuracy(y_true: list[int], y_pred: list[int]) -> float:
    """The fraction of texts whose predicted label is the true one."""
    return sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true)


def plot_confusion(matrix: list[list[int]], labels: list[str], path: Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 + 0.6 * n), max(3.6, 1.4 + 0.55 * n)))
    ax.imshow(matrix, cmap="Blues")
    top = max(max(row) for row in matrix) or 1
    for i in range(n):
        for j in range(n):
            ax.text(j, i, matrix[i][j], ha="center", va="center",
                    color="white" if matrix[i][j] > top / 2 else "black", fontsize=8)
    ax.set_xticks(range(n), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
