"""benchmarks/representations.py's ELMo reading: a text's per-layer means are the mean of its ELMo word vectors
(padding masked out); the scalar mix learned with a linear classifier is scikit-learn's logistic regression
when there is one layer, and puts its weight on the layer that carries the labels."""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from representations import elmo_layer_means, fit_mix  # noqa: E402

from lmlab.tools.token_vectors import elmo_word_vectors  # noqa: E402


def test_layer_means_are_the_mean_word_vectors(elmo_run):
    run, _ = elmo_run
    texts = ["O Romeo , Romeo , wherefore art thou Romeo ?", "Long live the king !", "Go ."]
    (x,) = elmo_layer_means(run, [texts], random_weights=False, seed=0)                # (3, L+1, 2C)
    for j in range(x.shape[1]):
        layer = elmo_word_vectors(run, texts, layer=j)
        np.testing.assert_allclose(x[:, j], np.stack([v.vectors.mean(0).numpy() for v in layer]), atol=1e-5)


def _blobs(n: int, f: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, k, (n,), generator=g)
    centres = torch.randn(k, f, generator=g)
    return (centres[y] + 1.5 * torch.randn(n, f, generator=g)).double(), y


def test_one_layer_is_scikit_learns_logistic_regression():
    """mean CE + ‖γW‖² / (2CN) has scikit-learn's minimiser (C · Σ CE + ‖W‖² / 2, intercept free)."""
    from sklearn.linear_model import LogisticRegression
    x, y = _blobs(300, 6, 3, seed=0)
    for c in (0.01, 1.0):
        mix, head = fit_mix(x[:, None], y, 3, c)
        with torch.no_grad():
            ours = torch.softmax(head(mix(x[None])), -1).numpy()
        theirs = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(x.numpy(), y.numpy()).predict_proba(x.numpy())
        np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_the_mix_weighs_the_layer_with_the_labels():
    x, y = _blobs(400, 8, 4, seed=1)
    noise = torch.randn(2, 400, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    layers = torch.stack([noise[0], x, noise[1]], 1)                                  # (N, 3, F): layer 1 informs
    mix, _ = fit_mix(layers, y, 4, c=1.0)
    s = torch.softmax(mix.weights.detach(), 0)
    assert s[1] > 0.8, s
