"""nn.Linear subclass: same parameters and state dict as nn.Linear, output equal up to rounding."""

import torch
from torch import nn

from lmlab.nn.linear import Linear


def test_drop_in_for_nn_linear():
    torch.manual_seed(0)
    ours = Linear(12, 5)
    ref = nn.Linear(12, 5)
    ref.load_state_dict(ours.state_dict())
    assert isinstance(ours, nn.Linear) and list(ours.state_dict()) == ["weight", "bias"]
    x = torch.randn(3, 4, 12)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-6)
