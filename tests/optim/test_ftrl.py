"""FTRL-Proximal against a coordinate-by-coordinate NumPy transcription of McMahan et al. 2013, Algorithm 1."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmlab.optim.ftrl import FTRL


def make_problem(n_examples=300, n_features=60, seed=0):
    """Sparse binary features (about 6 active per example), labels from a sparse true weight vector."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n_examples, n_features)) < 0.1).astype(np.float64)
    w_true = np.where(rng.random(n_features) < 0.3, rng.normal(0, 2, n_features), 0.0)
    p = 1 / (1 + np.exp(-(X @ w_true - 0.5)))
    y = (rng.random(n_examples) < p).astype(np.float64)
    return X, y


def ftrl_reference(X, y, alpha, beta, l1, l2):
    """Algorithm 1 of the paper, literally: one example at a time, one coordinate at a time."""
    d = X.shape[1]
    z, n, w = np.zeros(d), np.zeros(d), np.zeros(d)
    for x_t, y_t in zip(X, y):
        active = [i for i in range(d) if x_t[i] != 0.0]  # the paper's I: features present in this example
        for i in active:  # the weights, lazily, from z and n
            if abs(z[i]) <= l1:
                w[i] = 0.0
            else:
                w[i] = -(z[i] - math.copysign(l1, z[i])) / ((beta + math.sqrt(n[i])) / alpha + l2)
        p_t = 1 / (1 + math.exp(-sum(x_t[i] * w[i] for i in active)))
        for i in active:
            g = (p_t - y_t) * x_t[i]
            sigma = (math.sqrt(n[i] + g * g) - math.sqrt(n[i])) / alpha
            z[i] += g - sigma * w[i]
            n[i] += g * g
    # the final weights from the final z and n
    w = np.where(np.abs(z) <= l1, 0.0, -(z - np.sign(z) * l1) / ((beta + np.sqrt(n)) / alpha + l2))
    return w, z, n


def ftrl_torch(X, y, dtype, **hp):
    """Online logistic regression with lmlab's FTRL, batch size 1."""
    w = torch.zeros(X.shape[1], dtype=dtype, requires_grad=True)
    opt = FTRL([w], **hp)
    Xt, yt = torch.tensor(X, dtype=dtype), torch.tensor(y, dtype=dtype)
    for x_t, y_t in zip(Xt, yt):
        F.binary_cross_entropy_with_logits(x_t @ w, y_t).backward()  # grad = (p − y)·x
        opt.step()
        opt.zero_grad(set_to_none=True)
    return w.detach(), opt


@pytest.mark.parametrize("hp", [dict(alpha=0.5, beta=1.0, l1=0.0, l2=0.0),
                                dict(alpha=0.5, beta=1.0, l1=1.0, l2=0.5),
                                dict(alpha=0.1, beta=0.5, l1=0.3, l2=0.0)])
def test_matches_algorithm_1(hp):
    X, y = make_problem()
    w_ref, z_ref, n_ref = ftrl_reference(X, y, **hp)
    assert np.abs(w_ref).max() > 0.1  # it learned something
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-6)):
        w, opt = ftrl_torch(X, y, dtype, **hp)
        assert np.abs(w.double().numpy() - w_ref).max() <= tol, dtype
        n = opt.state[opt.param_groups[0]["params"][0]]["n"].double().numpy()
        assert np.abs(n - n_ref).max() <= tol * max(1.0, n_ref.max())
        if hp["l1"] > 0:  # the zero pattern is exact, not just small
            assert np.array_equal(w.numpy() == 0, w_ref == 0)


def test_exact_zeros_while_z_below_l1():
    X, y = make_problem(n_examples=400)
    l1 = 2.0
    w, opt = ftrl_torch(X, y, torch.float32, alpha=0.5, beta=1.0, l1=l1, l2=0.0)
    z = opt.state[opt.param_groups[0]["params"][0]]["z"]
    inside = z.abs() <= l1
    assert inside.any() and (~inside).any()  # both cases occur
    assert torch.equal(w == 0, inside)  # zero exactly where |z| ≤ λ1, nonzero elsewhere
    assert (w[inside].view(torch.int32) == 0).all()  # +0.0, not -0.0 or a tiny value


def test_sparsity_grows_with_l1():
    X, y = make_problem(n_examples=400)
    zeros = [(ftrl_torch(X, y, torch.float32, alpha=0.5, l1=l1)[0] == 0).float().mean().item()
             for l1 in (0.0, 0.5, 2.0, 8.0)]
    assert zeros == sorted(zeros) and zeros[-1] > zeros[0]


def test_state_round_trip_continues_identically():
    X, y = make_problem()
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    hp = dict(alpha=0.3, beta=1.0, l1=0.5, l2=0.1)

    def train(w, opt, rows):
        for i in rows:
            F.binary_cross_entropy_with_logits(Xt[i] @ w, yt[i]).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

    w_a = torch.zeros(X.shape[1], requires_grad=True)
    opt_a = FTRL([w_a], **hp)
    train(w_a, opt_a, range(300))

    w_b = torch.zeros(X.shape[1], requires_grad=True)
    opt_b = FTRL([w_b], **hp)
    train(w_b, opt_b, range(150))
    buf = io.BytesIO()
    torch.save({"w": w_b.detach(), "opt": opt_b.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    w_c = saved["w"].clone().requires_grad_()
    opt_c = FTRL([w_c], alpha=1.0)  # other hyper-parameters: load_state_dict restores the saved ones
    opt_c.load_state_dict(saved["opt"])
    assert opt_c.param_groups[0]["l1"] == 0.5
    train(w_c, opt_c, range(150, 300))
    assert torch.equal(w_c, w_a)


def test_matrix_and_bias_groups():
    """FTRL on a 2-D weight and an unregularised bias group: per-coordinate, shapes kept."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 3)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = FTRL([{"params": [lin.weight], "l1": 0.2}, {"params": [lin.bias], "l1": 0.0}], alpha=0.5)
    x, target = torch.randn(64, 8), torch.randint(0, 3, (64,))
    for _ in range(20):
        F.cross_entropy(lin(x), target).backward()
        opt.step()
        opt.zero_grad()
    assert lin.weight.shape == (3, 8) and (lin.bias != 0).all()
    z = opt.state[lin.weight]["z"]
    assert torch.equal(lin.weight == 0, z.abs() <= 0.2)


@pytest.mark.parametrize("bad", [dict(alpha=0.0), dict(alpha=-1.0), dict(beta=-1.0), dict(l1=-0.1),
                                 dict(l2=-0.1), dict(alpha=float("nan"))])
def test_invalid_hyper_parameters(bad):
    with pytest.raises(ValueError, match="FTRL: "):
        FTRL([torch.zeros(3, requires_grad=True)], **bad)
