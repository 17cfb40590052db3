"""Named ELMo sizes, and the parameter count of a config from its shapes.

"original" is the released ELMo (Peters et al. 2018; AllenNLP's elmo_2x4096_512_2048cnn_2xhighway):
2048 character filters, 2 highway layers, 2 LSTM layers of 4096 cells projected to 512, per direction.
Its published size, 93.6M, counts the token encoder and the four LSTMs without the softmax (whose 793k-word
1B Word Benchmark vocabulary was not released); `count_parameters(cfg, softmax=False, lstm_biases=1)`
gives 93,600,848 (the TensorFlow LSTM has one bias vector, torch.nn.LSTM two: +65,536 here).
"""

from __future__ import annotations

from lmlab.errors import LmlabError
from lmlab.models.elmo.config import ORIGINAL_FILTERS, ElmoConfig

PRESETS: dict[str, dict] = {
    # a small CPU size: trains on Tiny Shakespeare or WikiText in minutes
    "elmo-tiny": dict(filters=((1, 32), (2, 32), (3, 64), (4, 128)), d_model=128, d_hidden=512),
    "elmo-small": dict(filters=((1, 32), (2, 32), (3, 64), (4, 128), (5, 256)), d_model=256, d_hidden=1024),
    # the paper's model (vocab_size: the 1B Word Benchmark's 793,471 words)
    "original": dict(filters=ORIGINAL_FILTERS, d_model=512, d_hidden=4096, vocab_size=793_471),
}

PAPER_SIZE = "93.6M"   # the "original" ELMo as AllenNLP's ELMo page gives it, softmax excluded

CHAR_VOCAB = 261  # the paper's n_characters: 256 byte values, begin/end of word, padding, begin/end of sentence


def preset(name: str, **overrides) -> ElmoConfig:
    """The ElmoConfig of a named preset, with keyword overrides."""
    if name not in PRESETS:
        raise LmlabError(f"unknown preset '{name}'; choose from: {', '.join(PRESETS)}")
    return ElmoConfig(**{**PRESETS[name], **overrides})


def parameter_parts(cfg: ElmoConfig, lstm_biases: int = 2) -> dict[str, int]:
    """Parameters of an Elmo by part, from the shapes (no model is built): token encoder, LSTMs, softmax.
    lstm_biases=1 counts one bias vector per LSTM, as TensorFlow's LSTMCell has (torch.nn.LSTM: two)."""
    C, H, F = cfg.d_model, cfg.d_hidden, cfg.n_filters
    chars = CHAR_VOCAB * cfg.char_dim
    cnn = sum(w * cfg.char_dim * n + n for w, n in cfg.filters)
    highway = cfg.n_highway * (F * 2 * F + 2 * F)          # one Linear(F, 2F): transform and gate
    proj = F * C + C
    lstm = 4 * H * C + 4 * H * C + lstm_biases * 4 * H + H * C   # W_ih, W_hh (from the projected h), biases, W_hr
    return {"token encoder": chars + cnn + highway + proj, "LSTMs": 2 * cfg.n_layers * lstm,
            "softmax": C * cfg.vocab_size + cfg.vocab_size}


def count_parameters(cfg: ElmoConfig, softmax: bool = True, lstm_biases: int = 2) -> int:
    """Parameters of an Elmo with this config; softmax=False leaves the output layer out."""
    parts = parameter_parts(cfg, lstm_biases)
    return sum(parts.values()) - (0 if softmax else parts["softmax"])


def facts(cfg: ElmoConfig) -> list[str]:
    """Lines for `lmlab info`: where the parameters are, and the size as the paper counts it."""
    parts = parameter_parts(cfg)
    return [f"  token encoder {parts['token encoder']:,} (char CNN of {cfg.n_filters} filters, {cfg.n_highway} highway)",
            f"  LSTMs         {parts['LSTMs']:,} (2 directions × {cfg.n_layers} layers, {cfg.d_hidden} cells "
            f"projected to {cfg.d_model})",
            f"  softmax       {parts['softmax']:,} ({cfg.vocab_size:,} words)",
            f"as the paper counts (no softmax, one bias per LSTM): "
            f"{count_parameters(cfg, softmax=False, lstm_biases=1):,} (the original ELMo: {PAPER_SIZE})"]
