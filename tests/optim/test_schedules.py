import pytest

from lmlab.optim.schedules import warmup_cosine


def test_warmup_cosine_end_points():
    f = lambda s: warmup_cosine(s, lr=1.0, warmup=10, total=110, min_lr=0.1)
    assert f(0) == pytest.approx(0.1)     # (0+1)/10 of the peak
    assert f(9) == pytest.approx(1.0)     # end of warm-up: the peak
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55)   # half way down the cosine: mean of peak and floor
    assert f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)


def test_warmup_cosine_values_unchanged():
    """The Trainer's schedule: the exact values of the original formula."""
    import math

    for s in range(0, 130, 7):
        if s < 10:
            want = 3e-4 * (s + 1) / 10
        elif s >= 110:
            want = 3e-5
        else:
            progress = (s - 10) / 100
            want = 3e-5 + 0.5 * (1.0 + math.cos(math.pi * progress)) * (3e-4 - 3e-5)
        assert warmup_cosine(s, 3e-4, 10, 110, 3e-5) == want


def test_constant():
    from lmlab.optim.schedules import constant

    assert constant(0, 0.5) == 0.5 and constant(10**6, 0.5) == 0.5
    assert constant(0, 1.0, warmup=4) == 0.25 and constant(3, 1.0, warmup=4) == 1.0 and constant(99, 1.0, 4) == 1.0


def test_warmup_linear_end_points():
    from lmlab.optim.schedules import warmup_linear

    f = lambda s: warmup_linear(s, lr=1.0, warmup=10, total=110, min_lr=0.1)
    assert f(0) == pytest.approx(0.1)
    assert f(9) == pytest.approx(1.0) and f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55)              # half way down the line
    assert f(85) == pytest.approx(1.0 - 0.75 * 0.9)  # linear, unlike the cosine
    assert f(110) == pytest.approx(0.1) and f(10**6) == pytest.approx(0.1)
    assert warmup_linear(5, 1.0, warmup=0, total=10) == pytest.approx(0.5)   # no warm-up


def test_inverse_sqrt_is_the_papers_noam():
    """Vaswani et al. 2017 eq. 3 with d_model = 512, warmup = 4000; s = step + 1."""
    from lmlab.optim.schedules import inverse_sqrt

    f = lambda step: inverse_sqrt(step, 4000, d_model=512)
    peak = 512**-0.5 * 4000**-0.5                  # ≈ 6.99e-4
    assert f(3999) == pytest.approx(peak)          # s = warmup: both branches of the min meet
    assert peak == pytest.approx(6.988e-4, rel=1e-3)
    assert max(f(s) for s in range(0, 20000, 7)) <= peak and f(3998) < peak and f(4000) < peak
    assert f(0) == pytest.approx(512**-0.5 * 4000**-1.5)          # s = 1, linear branch
    assert f(1999) == pytest.approx(peak / 2)                      # linear rise: half way, half the peak
    assert f(15999) == pytest.approx(peak / 2)                     # 1/√s decay: 4× the steps, half the rate
    assert inverse_sqrt(3999, 4000, 512, scale=2.0) == pytest.approx(2 * peak)


def test_inverse_sqrt_without_d_model_peaks_at_scale():
    from lmlab.optim.schedules import inverse_sqrt

    assert inverse_sqrt(99, 100, scale=3e-4) == pytest.approx(3e-4)
    assert inverse_sqrt(0, 100, scale=3e-4) == pytest.approx(3e-6)
    assert inverse_sqrt(399, 100, scale=3e-4) == pytest.approx(1.5e-4)
    with pytest.raises(ValueError, match="warmup"):
        inverse_sqrt(0, 0)


def test_step_decay_equals_torch_steplr():
    import torch

    from lmlab.optim.schedules import step_decay

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for step in range(100):
        assert step_decay(step, 0.5, 30, 0.1) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()
    assert step_decay(29, 1.0, 30) == 1.0 and step_decay(30, 1.0, 30) == pytest.approx(0.1)


def test_schedule_lr_dispatches_with_one_set_of_settings():
    from lmlab.optim.schedules import SCHEDULES, inverse_sqrt, schedule_lr, step_decay, warmup_linear

    kw = dict(lr=1e-3, warmup=10, total=100, min_lr=1e-5, step_size=20, gamma=0.5)
    assert set(SCHEDULES) == {"constant", "warmup_cosine", "warmup_linear", "inverse_sqrt", "step_decay"}
    for s in (0, 9, 10, 50, 100, 500):
        assert schedule_lr("warmup_cosine", s, **kw) == warmup_cosine(s, 1e-3, 10, 100, 1e-5)
        assert schedule_lr("warmup_linear", s, **kw) == warmup_linear(s, 1e-3, 10, 100, 1e-5)
        assert schedule_lr("step_decay", s, **kw) == step_decay(s, 1e-3, 20, 0.5)
        assert schedule_lr("inverse_sqrt", s, **kw) == inverse_sqrt(s, 10, None, scale=1e-3)
        assert schedule_lr("inverse_sqrt", s, **kw, d_model=512) == inverse_sqrt(s, 10, 512, scale=1e-3)
    assert schedule_lr("constant", 0, **kw) == pytest.approx(1e-4) and schedule_lr("constant", 50, **kw) == 1e-3
    assert schedule_lr("inverse_sqrt", 9, **kw) == pytest.approx(1e-3)    # peak = lr without d_model
    with pytest.raises(ValueError, match="step_size"):
        schedule_lr("step_decay", 0, lr=1.0)
    with pytest.raises(ValueError, match="total"):
        schedule_lr("warmup_cosine", 0, lr=1.0)
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule_lr("cyclic", 0, lr=1.0)
