import torch

from lmlab.nn.norms import RMSNorm


def test_rmsnorm_equals_torch():
    """Outputs and gradients equal torch.nn.RMSNorm's within 1e-6 (fp32)."""
    torch.manual_seed(0)
    ours, ref = RMSNorm(48, eps=1e-6), torch.nn.RMSNorm(48, eps=1e-6)
    with torch.no_grad():
        ours.weight.normal_()
        ref.weight.copy_(ours.weight)
    x1 = torch.randn(4, 7, 48, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    y1, y2 = ours(x1), ref(x2)
    assert (y1 - y2).abs().max() <= 1e-6
    g = torch.randn_like(y1)
    y1.backward(g)
    y2.backward(g)
    assert (x1.grad - x2.grad).abs().max() <= 1e-6
    assert (ours.weight.grad - ref.weight.grad).abs().max() <= 1e-5


def test_layernorm_normalises_each_token_over_its_features():
    """(b, n, d): b·n statistics, each over d values."""
    from lmlab.nn.norms import LayerNorm

    x = 3 * torch.randn(2, 5, 16) + 7
    y = LayerNorm(16)(x)
    assert torch.allclose(y.mean(-1), torch.zeros(2, 5), atol=1e-5)
    assert torch.allclose(y.var(-1, unbiased=False), torch.ones(2, 5), atol=1e-3)
    # independent of the rest of the batch, same in train and eval
    assert torch.allclose(LayerNorm(16)(x[:1]), y[:1])
    assert LayerNorm(16, bias=False).bias is None


def test_batchnorm_normalises_each_feature_over_the_batch():
    """(b, n, d) with channels_last: d statistics, each over b·n values; eval uses running averages."""
    from lmlab.nn.norms import BatchNorm

    bn = BatchNorm(16, momentum=None, channels_last=True)
    x = 3 * torch.randn(4, 5, 16) + 7
    y = bn(x)
    assert torch.allclose(y.mean((0, 1)), torch.zeros(16), atol=1e-5)
    assert torch.allclose(y.var((0, 1), unbiased=False), torch.ones(16), atol=1e-3)
    # momentum=None after one batch: running stats are that batch's mean and unbiased variance
    assert torch.allclose(bn.running_mean, x.mean((0, 1)))
    assert torch.allclose(bn.running_var, x.var((0, 1), unbiased=True))
    bn.eval()
    one = bn(x[:1])      # depends only on the running statistics now (unbiased var: not y[:1])
    assert torch.allclose(one, (x[:1] - bn.running_mean) / (bn.running_var + bn.eps).sqrt(), atol=1e-5)
    assert bn.num_batches_tracked == 1


def test_batchnorm_layouts_and_errors():
    import pytest

    from lmlab.nn.norms import BatchNorm

    bn = BatchNorm(3)
    assert bn(torch.randn(8, 3)).shape == (8, 3) and bn(torch.randn(2, 3, 4)).shape == (2, 3, 4)
    with pytest.raises(ValueError, match="more than 1 value"):
        bn(torch.randn(1, 3))
    with pytest.raises(ValueError, match="expects"):
        bn(torch.randn(2, 3, 4, 5))
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def test_norm_layer_by_name():
    import pytest

    from lmlab.nn.norms import norm_layer

    ln = norm_layer("layernorm", 8, 1e-5, bias=False)
    assert isinstance(ln, torch.nn.LayerNorm) and ln.bias is None
    assert set(norm_layer("layernorm", 8, 1e-5).state_dict()) == {"weight", "bias"}
    assert isinstance(norm_layer("rmsnorm", 8, 1e-6), RMSNorm)
    with pytest.raises(ValueError, match="unknown norm"):
        norm_layer("groupnorm", 8, 1e-5)
