import pytest

from lmlab.optim.schedules import warmup_cosine


def test_warmup_cosine_end_points():
    f = lambda s: warmup_cosine(s, lr=1.0, warmup=10, total=110, min_lr=0.1)
    assert f(0) == pytest.approx(0.1)     # (0+1)/10 of the peak
    assert f(9) == pytest.approx(1.0)     # end of warm-up: the peak
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55)   # half way down the cosine: mean of peak and floor
    assert f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)
