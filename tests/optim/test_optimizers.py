"""lmlab's optimizers: validation, state round trips, the registry, and the momentum identities.

The 200-step comparisons with torch.optim on a GPT live in tests/parity/test_optimizers.py.
"""

from __future__ import annotations

import copy
import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmlab.optim.adagrad import AdaGrad
from lmlab.optim.adam import Adam, AdamW
from lmlab.optim.ftrl import FTRL
from lmlab.optim.param_groups import decay_groups
from lmlab.optim.registry import OPTIMIZERS, build_optimizer
from lmlab.optim.rmsprop import RMSProp
from lmlab.optim.sgd import SGD


class Small(nn.Module):
    """Embedding -> Linear -> LayerNorm -> Linear, plus a layer that never gets a gradient."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.fc = nn.Linear(8, 16)
        self.norm = nn.LayerNorm(16)
        self.out = nn.Linear(16, 20)
        self.unused = nn.Linear(4, 4)  # grad stays None: every optimizer must skip it

    def forward(self, idx):
        return self.out(F.gelu(self.norm(self.fc(self.emb(idx)))))  # (B, 20)


def _model(dtype=torch.float32):
    torch.manual_seed(0)
    return Small().to(dtype)


def _batches(n=12, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randint(0, 20, (16,), generator=gen), torch.randint(0, 20, (16,), generator=gen))
            for _ in range(n)]


def _train(model, opt, batches):
    for x, y in batches:
        F.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)


# ---- the state_dict round trip ---------------------------------------------------------------

BUILDERS = {
    "sgd": lambda g: SGD(g, lr=0.1),
    "momentum": lambda g: SGD(g, lr=0.1, momentum=0.9, dampening=0.1),
    "momentum-ema": lambda g: SGD(g, lr=0.5, momentum=0.9, momentum_form="ema"),
    "nesterov": lambda g: SGD(g, lr=0.1, momentum=0.9, nesterov=True),
    "adagrad": lambda g: AdaGrad(g, lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1),
    "rmsprop": lambda g: RMSProp(g, lr=1e-2, momentum=0.5, centered=True),
    "adam": lambda g: Adam(g, lr=1e-2),
    "adamw": lambda g: AdamW(g, lr=1e-2),
    "ftrl": lambda g: FTRL(g, alpha=0.1, l1=0.01, l2=0.1),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_state_dict_round_trip_continues_identically(name):
    """Train 12 steps; or 6, save model + optimizer, load both into fresh objects, 6 more: same bits."""
    make, batches = BUILDERS[name], _batches()
    straight = _model()
    opt = make(decay_groups(straight, 0.1))
    _train(straight, opt, batches)
    assert straight.unused.weight.grad is None and straight.unused.weight not in opt.state  # skipped

    first = _model()
    opt_first = make(decay_groups(first, 0.1))
    _train(first, opt_first, batches[:6])
    buf = io.BytesIO()
    torch.save({"model": first.state_dict(), "optimizer": opt_first.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)  # as the Trainer loads train_state.pt

    resumed = _model()
    resumed.load_state_dict(saved["model"])
    opt_resumed = make(decay_groups(resumed, 0.1))
    opt_resumed.load_state_dict(saved["optimizer"])
    _train(resumed, opt_resumed, batches[6:])

    for (n, a), b in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.equal(a, b), n
    assert torch.equal(straight.unused.weight, _model().unused.weight)  # never touched


# ---- validation ------------------------------------------------------------------------------

INVALID = [
    (SGD, dict(lr=-0.1), "lr"),
    (SGD, dict(momentum=1.0), "momentum"),
    (SGD, dict(momentum=-0.5), "momentum"),
    (SGD, dict(dampening=2.0), "dampening"),
    (SGD, dict(weight_decay=-1e-4), "weight_decay"),
    (SGD, dict(nesterov=True), "Nesterov"),
    (SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (SGD, dict(momentum_form="polyak"), "momentum_form"),
    (SGD, dict(momentum=0.9, dampening=0.5, momentum_form="ema"), "dampening"),
    (AdaGrad, dict(lr=-1.0), "lr"),
    (AdaGrad, dict(eps=-1.0), "eps"),
    (AdaGrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (AdaGrad, dict(lr_decay=-1.0), "lr_decay"),
    (AdaGrad, dict(weight_decay=-1.0), "weight_decay"),
    (RMSProp, dict(lr=-1.0), "lr"),
    (RMSProp, dict(alpha=1.0), "alpha"),
    (RMSProp, dict(alpha=-0.1), "alpha"),
    (RMSProp, dict(eps=-1.0), "eps"),
    (RMSProp, dict(momentum=1.5), "momentum"),
    (RMSProp, dict(weight_decay=-1.0), "weight_decay"),
    (Adam, dict(lr=-1e-3), "lr"),
    (Adam, dict(lr=float("nan")), "lr"),
    (Adam, dict(betas=(0.9, 1.0)), "betas"),
    (Adam, dict(betas=(-0.1, 0.999)), "betas"),
    (Adam, dict(betas=(0.9,)), "betas"),
    (Adam, dict(eps=-1e-8), "eps"),
    (Adam, dict(weight_decay=-0.1), "weight_decay"),
    (AdamW, dict(betas=(1.0, 0.999)), "AdamW: betas"),
    (AdamW, dict(weight_decay=-0.1), "AdamW: weight_decay"),
]


@pytest.mark.parametrize("cls, kwargs, match", INVALID)
def test_invalid_hyper_parameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([torch.zeros(3, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_sparse_gradients_are_refused(name):
    emb = nn.Embedding(10, 4, sparse=True)
    opt = BUILDERS[name](emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()


def test_closure_and_defaults():
    w = torch.ones(3, requires_grad=True)
    opt = AdamW([w], lr=0.1)
    assert opt.param_groups[0]["weight_decay"] == 0.01 and Adam([w]).param_groups[0]["weight_decay"] == 0.0
    loss = opt.step(lambda: (w**2).sum().backward() or (w**2).sum())
    assert loss.item() == 3.0 and (w < 1).all()


def test_group_lr_changes_take_effect():
    """The Trainer writes group["lr"] before every step: the same schedule gives torch's numbers."""
    a, b = _model(), _model()
    ours, ref = AdamW(decay_groups(a, 0.1), lr=1.0), torch.optim.AdamW(decay_groups(b, 0.1), lr=1.0, foreach=True)
    for i, (x, y) in enumerate(_batches()):
        for model, opt in ((a, ours), (b, ref)):
            for group in opt.param_groups:
                group["lr"] = 1e-2 * (i + 1) / 12
            F.cross_entropy(model(x), y).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


# ---- Adam/AdamW against torch's other implementations, and state interop ----------------------

@pytest.mark.parametrize("impl", [dict(fused=True), dict(foreach=False)])
def test_adamw_matches_torch_fused_and_single_tensor(impl):
    """Same updates as torch's fused kernel and its per-tensor loop, to rounding, on fixed gradients."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(64, 32), (32,), (7, 3, 5)]
    start = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[torch.randn(s, generator=gen) * 10.0 ** torch.randint(-6, 1, (), generator=gen) for s in shapes]
             for _ in range(10)]
    ours, ref = [p.clone().requires_grad_() for p in start], [p.clone().requires_grad_() for p in start]
    opt_ours = AdamW([{"params": ours[:1]}, {"params": ours[1:], "weight_decay": 0.0}], lr=1e-2, weight_decay=0.1)
    opt_ref = torch.optim.AdamW([{"params": ref[:1]}, {"params": ref[1:], "weight_decay": 0.0}], lr=1e-2,
                                weight_decay=0.1, **impl)
    for gs in grads:
        for params, opt in ((ours, opt_ours), (ref, opt_ref)):
            for p, g in zip(params, gs):
                p.grad = g.clone()
            opt.step()
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_adam_state_interop_with_torch():
    """lmlab's Adam resumes from a torch.optim.Adam state (tensor steps) and vice versa (float steps)."""
    batches = _batches()
    a, b = _model(), _model()
    ours, ref = Adam(a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2, foreach=True)
    _train(b, ref, batches[:6])
    a.load_state_dict(b.state_dict())
    # deepcopy: load_state_dict keeps the very tensors it is given, and ref goes on using its own
    ours.load_state_dict(copy.deepcopy(ref.state_dict()))  # tensor steps in, float steps from here on
    _train(a, ours, batches[6:])
    _train(b, ref, batches[6:])
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    c = _model()
    c.load_state_dict(a.state_dict())
    back = torch.optim.Adam(c.parameters(), lr=1e-2, foreach=True)
    back.load_state_dict(copy.deepcopy(ours.state_dict()))  # float steps in: torch makes them tensors
    _train(c, back, batches[:3])
    _train(a, ours, batches[:3])
    for p, q in zip(a.parameters(), c.parameters()):
        assert torch.equal(p, q)


# ---- momentum identities (float64: equal maths, different rounding) --------------------------

def test_nesterov_is_sutskever_look_ahead_form():
    """PyTorch's NAG stores w̃ = w + μ·v of Sutskever et al.'s v ← μ·v − α·∇f(w + μ·v), w ← w + v."""
    lr, mu = 0.1, 0.9
    model, hand = _model(torch.float64), _model(torch.float64)
    del model.unused, hand.unused
    opt = SGD(model.parameters(), lr=lr, momentum=mu, nesterov=True)
    w = [p.detach().clone() for p in hand.parameters()]
    v = [torch.zeros_like(p) for p in w]
    for x, y in _batches(30):
        F.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():  # the gradient at the look-ahead point w + μ·v
            for p, wi, vi in zip(hand.parameters(), w, v):
                p.copy_(wi + mu * vi)
        F.cross_entropy(hand(x), y).backward()
        with torch.no_grad():
            for p, wi, vi in zip(hand.parameters(), w, v):
                vi.mul_(mu).sub_(lr * p.grad)
                wi.add_(vi)
                p.grad = None
    for p, wi, vi in zip(model.parameters(), w, v):
        torch.testing.assert_close(p, wi + mu * vi, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_ema_momentum_is_torch_momentum_with_scaled_lr(nesterov):
    """m_t = (1 − β)·b_t, so "ema" with lr α follows torch's SGD with lr α·(1 − β), Nesterov too."""
    lr, beta = 0.5, 0.9
    a, b = _model(torch.float64), _model(torch.float64)
    ours = SGD(decay_groups(a, 0.1), lr=lr, momentum=beta, nesterov=nesterov, momentum_form="ema")
    ref = torch.optim.SGD(decay_groups(b, 0.1), lr=lr * (1 - beta), momentum=beta, nesterov=nesterov)
    _train(a, ours, _batches(30))
    _train(b, ref, _batches(30))
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def test_ema_momentum_is_not_torch_dampening():
    """Dampening β is not the EMA: torch's first step copies g undamped (b_1 = g, but m_1 = (1 − β)·g)."""
    g = torch.tensor([1.0, -2.0])
    ema, damp = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opts = [SGD([ema], lr=1.0, momentum=0.9, momentum_form="ema"), SGD([damp], lr=1.0, momentum=0.9, dampening=0.9)]
    for p, opt in zip((ema, damp), opts):
        p.grad = g.clone()
        opt.step()
    assert torch.allclose(ema, -0.1 * g) and torch.equal(damp, -g)


# ---- registry ----------------------------------------------------------------------------------

def test_registry_names():
    assert list(OPTIMIZERS) == ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "ftrl",
                                "torch-adamw"]
    assert OPTIMIZERS["torch-adamw"] is torch.optim.AdamW


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown optimizer 'lion'; choose from: sgd, momentum, nesterov"):
        build_optimizer("lion", [torch.zeros(2, requires_grad=True)], lr=1e-3)


def test_build_optimizer_maps_settings():
    model = _model()
    common = dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, momentum=0.7, weight_decay=0.5)
    build = lambda name, groups=None: build_optimizer(name, groups or decay_groups(model, 0.1), **common)

    for name in OPTIMIZERS:  # groups keep their own weight decay (l2 for FTRL); lr everywhere
        opt = build(name)
        key = "l2" if name == "ftrl" else "weight_decay"
        assert [g[key] for g in opt.param_groups] == [0.1, 0.0], name
        assert all(("alpha" if name == "ftrl" else "lr") in g for g in opt.param_groups)
    plain = list(model.parameters())  # no groups: the weight_decay argument applies
    assert build("adamw", plain).param_groups[0]["weight_decay"] == 0.5
    assert build("ftrl", plain).param_groups[0]["l2"] == 0.5

    sgd, mom, nag = build("sgd").defaults, build("momentum").defaults, build("nesterov").defaults
    assert (sgd["momentum"], mom["momentum"], nag["momentum"]) == (0.0, 0.7, 0.7)
    assert (mom["nesterov"], nag["nesterov"], mom["momentum_form"]) == (False, True, "torch")
    assert type(build("adagrad")) is AdaGrad and build("adagrad").defaults["eps"] == 1e-6
    rms = build("rmsprop")
    assert type(rms) is RMSProp and rms.defaults["eps"] == 1e-6 and rms.defaults["alpha"] == 0.99
    for name, cls in (("adam", Adam), ("adamw", AdamW)):
        opt = build(name)
        assert type(opt) is cls and opt.defaults["betas"] == (0.8, 0.95) and opt.defaults["eps"] == 1e-6
    ftrl = build("ftrl")
    assert type(ftrl) is FTRL and ftrl.defaults["alpha"] == 0.01 and ftrl.defaults["l1"] == 0.0
    assert all("weight_decay" not in g for g in ftrl.param_groups)
    fast = build("torch-adamw")
    assert fast.defaults["fused"] is True and fast.defaults["betas"] == (0.8, 0.95)

    groups = decay_groups(model, 0.1)
    build("ftrl", groups)
    assert "weight_decay" in groups[0]  # the caller's group dicts are not modified


def test_build_optimizer_trains():
    for name in OPTIMIZERS:
        model = _model()
        opt = build_optimizer(name, decay_groups(model, 0.01), lr=0.05 if name != "ftrl" else 0.5)
        x, y = _batches(1)[0]
        losses = []
        for _ in range(15):
            loss = F.cross_entropy(model(x), y)
            losses.append(loss.item())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        assert losses[-1] < losses[0], name


def test_adam_step_is_a_python_number_in_the_state():
    """`step` is a float (bias corrections need no .item() per tensor) and is saved with the state."""
    model = _model()
    opt = AdamW(model.parameters(), lr=1e-2)
    _train(model, opt, _batches(2))
    steps = [s["step"] for s in opt.state_dict()["state"].values()]
    assert steps and all(type(s) is float and s == 2.0 for s in steps)


# ---- CUDA (skipped without a GPU) ------------------------------------------------------------

TORCH_TWINS = {  # lmlab name in BUILDERS -> the torch.optim twin with the same hyper-parameters
    "sgd": lambda g: torch.optim.SGD(g, lr=0.1, foreach=True),
    "momentum": lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, dampening=0.1, foreach=True),
    "nesterov": lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, nesterov=True, foreach=True),
    "adagrad": lambda g: torch.optim.Adagrad(g, lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1, foreach=True),
    "rmsprop": lambda g: torch.optim.RMSprop(g, lr=1e-2, momentum=0.5, centered=True, foreach=True),
    "adam": lambda g: torch.optim.Adam(g, lr=1e-2, foreach=True),
    "adamw": lambda g: torch.optim.AdamW(g, lr=1e-2, foreach=True),
}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", list(BUILDERS))
def test_on_cuda(name):
    """On the GPU (foreach fast path): the torch twin's bits on fixed gradients; FTRL keeps its zeros."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(256, 64), (64,), (3, 5, 7)]
    start = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[torch.randn(s, generator=gen).cuda() for s in shapes] for _ in range(20)]
    ours = [p.cuda().requires_grad_() for p in start]
    opt = BUILDERS[name]([{"params": ours[:1], "weight_decay": 0.1}, {"params": ours[1:], "weight_decay": 0.0}])
    pairs = [(ours, opt)]
    if name in TORCH_TWINS:
        ref = [p.cuda().requires_grad_() for p in start]
        pairs.append((ref, TORCH_TWINS[name]([{"params": ref[:1], "weight_decay": 0.1},
                                              {"params": ref[1:], "weight_decay": 0.0}])))
    for gs in grads:
        for params, o in pairs:
            for p, g in zip(params, gs):
                p.grad = g.clone()
            o.step()
    if name in TORCH_TWINS:
        for a, b in zip(ours, pairs[1][0]):
            assert torch.equal(a, b)
    if name == "ftrl":
        for p in ours:
            assert torch.equal(p == 0, opt.state[p]["z"].abs() <= 0.01)
    assert all(p.is_cuda and torch.isfinite(p).all() for p in ours)
