"""ELMo's pieces against torch and the papers' equations, fp32, outputs to atol 1e-6 (1e-5 where a sum runs
over a few hundred terms).

- LSTMStack (separate nn.LSTM(proj_size) layers, residual after the first) vs torch.nn.LSTM(num_layers=2,
  proj_size) with the same weights: layer 1 equals the 1-layer torch LSTM, layer 2 equals the 2-layer torch
  LSTM's output plus layer 1 (the residual is the only difference).
- torch.nn.LSTM(proj_size) vs the LSTM with a recurrent projection layer written out step by step (Sak et
  al. 2014, the cell ELMo uses): i, f, g, o from [x_t, r_{t-1}]; c_t = f c_{t-1} + i g; r_t = W_r (o tanh c_t).
- CharCNN vs Kim et al. 2016's narrow 2-D convolution of the (W, char_dim) character matrix with (w, char_dim)
  kernels (F.conv2d), max over positions, ReLU; then highway y = g x + (1-g) relu(W_h x + b_h),
  g = σ(W_g x + b_g) (Srivastava et al. 2015) and the projection, written out.
AllenNLP (the reference ELMo) is not installable next to torch 2.x, so its code is not run here.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lmlab.models.elmo import ElmoConfig
from lmlab.models.elmo.model import CharCNN, Highway, LSTMStack

CFG = ElmoConfig(vocab_size=40, max_chars=10, char_dim=5, filters=((1, 3), (2, 4), (4, 5)), d_model=6,
                 d_hidden=11, n_layers=2, dropout=0.0)


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def test_lstm_stack_is_torch_lstm_plus_the_residual():
    stack = LSTMStack(CFG).eval()
    ref2 = torch.nn.LSTM(CFG.d_model, CFG.d_hidden, num_layers=2, proj_size=CFG.d_model, batch_first=True)
    ref1 = torch.nn.LSTM(CFG.d_model, CFG.d_hidden, num_layers=1, proj_size=CFG.d_model, batch_first=True)
    with torch.no_grad():
        for layer, lstm in enumerate(stack.layers):
            for name, p in lstm.named_parameters():       # weight_ih_l0 -> weight_ih_l{layer} of the 2-layer LSTM
                getattr(ref2, name.replace("_l0", f"_l{layer}")).copy_(p)
                if layer == 0:
                    getattr(ref1, name).copy_(p)
    x = torch.randn(3, 9, CFG.d_model)
    with torch.no_grad():
        h1, h2 = stack(x)
        r1, r2 = ref1(x)[0], ref2(x)[0]
    torch.testing.assert_close(h1, r1, rtol=0, atol=1e-6)
    torch.testing.assert_close(h2, r2 + r1, rtol=0, atol=1e-6)


def test_torch_lstm_with_projection_is_the_lstmp_cell():
    lstm = torch.nn.LSTM(CFG.d_model, CFG.d_hidden, proj_size=CFG.d_model, batch_first=True)
    x = torch.randn(2, 7, CFG.d_model)
    W_ih, W_hh, b = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0
    W_r = lstm.weight_hr_l0                                        # (proj, hidden)
    r = torch.zeros(2, CFG.d_model)
    c = torch.zeros(2, CFG.d_hidden)
    outs = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            i, f, g, o = (x[:, t] @ W_ih.T + r @ W_hh.T + b).chunk(4, dim=-1)   # torch's gate order: i, f, g, o
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            r = (torch.sigmoid(o) * torch.tanh(c)) @ W_r.T
            outs.append(r)
        torch.testing.assert_close(lstm(x)[0], torch.stack(outs, 1), rtol=0, atol=1e-6)


def test_char_cnn_is_kims_2d_convolution_then_highway_then_projection():
    cnn = CharCNN(CFG).eval()
    chars = torch.randint(0, 261, (2, 3, CFG.max_chars))
    chars[0, 0, 6:] = 0                                            # a short word, padded
    with torch.no_grad():
        ours = cnn(chars)
        E = cnn.embed.weight[chars.view(6, CFG.max_chars)].unsqueeze(1)          # (N, 1, W, char_dim)
        feats = []
        for conv in cnn.convs:                                     # Conv1d weight (n, char_dim, w) -> (n, 1, w, char_dim)
            kernel = conv.weight.transpose(1, 2).unsqueeze(1)
            y = F.conv2d(E, kernel, conv.bias).squeeze(-1)          # (N, n, W - w + 1)
            feats.append(torch.relu(y.max(dim=-1).values))
        h = torch.cat(feats, -1)
        for hw in cnn.highways:
            C = h.shape[-1]
            W, bias = hw.linear.weight, hw.linear.bias
            g = torch.sigmoid(h @ W[C:].T + bias[C:])
            h = g * h + (1 - g) * torch.relu(h @ W[:C].T + bias[:C])
        ref = (h @ cnn.proj.weight.T + cnn.proj.bias).view(2, 3, CFG.d_model)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5)
    assert torch.all(cnn.embed.weight[0] == 0)                     # the padding character is all zeros


def test_highway_starts_near_carrying_its_input():
    hw = Highway(8)
    assert torch.all(hw.linear.bias[8:] == 1.0)                    # gate bias 1: σ(1) ≈ 0.73 of x carried
