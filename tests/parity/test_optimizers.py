"""lmlab's optimizers against torch.optim: 200 steps of a tiny GPT on Tiny Shakespeare.

Two identical copies of the model (decay / no-decay param groups, as the Trainer builds them), one
per optimizer, see the same 200 batches (B 4, T 32, next-character cross-entropy). Afterwards every
parameter must agree to rel ≤ 1e-6 in fp32, where rel = max |ours − ref| / max(|ref|, 1e-3)
(a relative error, with an absolute floor of 1e-9 for entries near zero). The reference is
torch.optim's foreach implementation; lmlab's code follows its op order, and in practice every case
agrees bit for bit (rel = 0.0; torch 2.11 and 2.13). Why not a looser comparison with another op
order: Adam divides by √V̂ + ε, so a one-ulp difference in a gradient that is ~0 can flip a whole
lr-sized step, and 200 steps of training grow that into O(1) relative differences (torch's own fused
AdamW vs its foreach AdamW: rel ≈ 2.6 here); tests/optim compares those on fixed gradients instead.
The EMA momentum form has no torch counterpart: it is checked against a hand-written loop of the
notes' formula and against torch's form with the learning rate scaled by (1 − β) (see lmlab.optim.sgd),
in float64, since those agree in exact arithmetic but round differently.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import train_tokenizer
from lmlab.models.gpt import GPT, preset
from lmlab.optim.adagrad import AdaGrad
from lmlab.optim.adam import Adam, AdamW
from lmlab.optim.param_groups import decay_groups
from lmlab.optim.rmsprop import RMSProp
from lmlab.optim.sgd import SGD

STEPS, B, T = 200, 4, 32
TOL = 1e-6


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The tiny model gains little from a second thread, and on a shared machine a busy core makes
    two-thread kernels wait for each other (10x slower steps were seen); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def batches():
    """200 (B, T + 1) windows of Tiny Shakespeare as character ids, drawn with a fixed generator."""
    text = load_text("tinyshakespeare")[:200_000]
    tok = train_tokenizer("char", text)
    data = torch.tensor(tok.encode(text))
    gen = torch.Generator().manual_seed(0)
    starts = torch.randint(0, len(data) - T - 1, (STEPS, B), generator=gen)
    return tok.vocab_size, [torch.stack([data[s:s + T + 1] for s in row]) for row in starts]


def _loss(model, xy):
    logits = model(xy[:, :-1])  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), xy[:, 1:].reshape(-1))


def _models(vocab_size, dtype=torch.float32):
    torch.manual_seed(0)
    model = GPT(preset("tiny", vocab_size=vocab_size, max_seq_len=T)).to(dtype)
    return model, copy.deepcopy(model)


def max_rel_diff(ours, ref) -> float:
    """max over all parameters of |ours − ref| / max(|ref|, 1e-3)."""
    worst = 0.0
    for a, b in zip(ours.parameters(), ref.parameters()):
        worst = max(worst, ((a - b).abs() / b.abs().clamp_min(1e-3)).max().item())
    return worst


def run_pair(batches, make_ours, make_ref, weight_decay=0.1, dtype=torch.float32):
    """Train both copies in lockstep on the same batches; return (max rel diff, distance travelled)."""
    vocab_size, xs = batches
    ours, ref = _models(vocab_size, dtype)
    start = [p.detach().clone() for p in ours.parameters()]
    opt_ours = make_ours(decay_groups(ours, weight_decay))
    opt_ref = make_ref(decay_groups(ref, weight_decay))
    for xy in xs:
        for model, opt in ((ours, opt_ours), (ref, opt_ref)):
            _loss(model, xy).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    moved = max((p - s).abs().max().item() for p, s in zip(ref.parameters(), start))
    return max_rel_diff(ours, ref), moved


# Each run has two groups (decay 0.1 / no decay), so the weight-decay and no-decay code paths are
# both exercised; cases with wd 0.0 also decay nothing in the first group.
CASES = {
    "sgd": (lambda g: SGD(g, lr=0.1),
            lambda g: torch.optim.SGD(g, lr=0.1, foreach=True), 0.1),
    "momentum": (lambda g: SGD(g, lr=0.05, momentum=0.9),
                 lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, foreach=True), 0.1),
    "momentum-dampening": (lambda g: SGD(g, lr=0.05, momentum=0.9, dampening=0.5),
                           lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, dampening=0.5, foreach=True), 0.1),
    "nesterov": (lambda g: SGD(g, lr=0.05, momentum=0.9, nesterov=True),
                 lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, nesterov=True, foreach=True), 0.1),
    "adagrad": (lambda g: AdaGrad(g, lr=0.05),
                lambda g: torch.optim.Adagrad(g, lr=0.05, foreach=True), 0.0),
    "adagrad-decay-init": (lambda g: AdaGrad(g, lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1),
                           lambda g: torch.optim.Adagrad(g, lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1,
                                                         foreach=True), 0.1),
    "rmsprop": (lambda g: RMSProp(g, lr=1e-3),
                lambda g: torch.optim.RMSprop(g, lr=1e-3, foreach=True), 0.1),
    "rmsprop-momentum": (lambda g: RMSProp(g, lr=1e-3, momentum=0.9),
                         lambda g: torch.optim.RMSprop(g, lr=1e-3, momentum=0.9, foreach=True), 0.1),
    "rmsprop-centered": (lambda g: RMSProp(g, lr=1e-3, alpha=0.9, centered=True, momentum=0.5),
                         lambda g: torch.optim.RMSprop(g, lr=1e-3, alpha=0.9, centered=True, momentum=0.5,
                                                       foreach=True), 0.1),
    "adam": (lambda g: Adam(g, lr=3e-3, betas=(0.8, 0.99)),
             lambda g: torch.optim.Adam(g, lr=3e-3, betas=(0.8, 0.99), foreach=True), 0.1),
    "adamw": (lambda g: AdamW(g, lr=3e-3, betas=(0.9, 0.99)),
              lambda g: torch.optim.AdamW(g, lr=3e-3, betas=(0.9, 0.99), foreach=True), 0.1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch(batches, case):
    make_ours, make_ref, wd = CASES[case]
    rel, moved = run_pair(batches, make_ours, make_ref, weight_decay=wd)
    assert moved > 1e-3, "the parameters should have moved: the comparison would be vacuous"
    assert rel <= TOL, f"{case}: max relative parameter difference {rel:.3g} after {STEPS} steps"


def test_ema_momentum_matches_formula(batches):
    """momentum_form="ema" = a hand-written loop of g ← g + λ·w, m ← β·m + (1 − β)·g, w ← w − α·m.

    Same maths, different rounding (the loop is per tensor, in another op order), so this runs in
    float64, where 200 steps of rounding differences stay far below the tolerance."""
    lr, beta, wd = 0.5, 0.9, 0.1
    vocab_size, xs = batches
    ours, ref = _models(vocab_size, torch.float64)
    opt = SGD(decay_groups(ours, wd), lr=lr, momentum=beta, momentum_form="ema")
    groups = decay_groups(ref, wd)
    m = {p: torch.zeros_like(p) for g in groups for p in g["params"]}
    for xy in xs:
        _loss(ours, xy).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _loss(ref, xy).backward()
        with torch.no_grad():
            for g in groups:
                for p in g["params"]:
                    grad = p.grad + g["weight_decay"] * p
                    m[p] = beta * m[p] + (1 - beta) * grad
                    p -= lr * m[p]
                    p.grad = None
    assert max_rel_diff(ours, ref) <= 1e-9


def test_ema_momentum_is_torch_momentum_with_scaled_lr(batches):
    """m_t = (1 − β)·b_t exactly, so EMA with lr α ≡ torch form (dampening 0) with lr α·(1 − β).

    Equal in exact arithmetic, not bit for bit (β·m + (1 − β)·g rounds differently from β·b + g):
    float64, as above."""
    lr, beta = 0.5, 0.9
    rel, moved = run_pair(batches, lambda g: SGD(g, lr=lr, momentum=beta, momentum_form="ema"),
                          lambda g: torch.optim.SGD(g, lr=lr * (1 - beta), momentum=beta, foreach=True),
                          dtype=torch.float64)
    assert moved > 1e-3
    assert rel <= 1e-9, rel
