"""Training the encoder-decoder: the loss is the loss module's, and a tiny model learns copy and reverse."""

import math

import pytest
import torch

from lmlab.data.translation import Example, collate
from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.seq2seq import translate_ids
from lmlab.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer
from lmlab.ops.losses import cross_entropy
from lmlab.train.objectives import seq2seq_lm

V = 10  # id 0 is EOS (= BOS = PAD); 1 … 9 are the symbols


def examples(task: str, n: int, g: torch.Generator, max_len: int = 6) -> list[Example]:
    out = []
    for _ in range(n):
        s = torch.randint(1, V, (int(torch.randint(2, max_len + 1, (1,), generator=g)),), generator=g).tolist()
        out.append(Example(s + [0], (s if task == "copy" else s[::-1]) + [0]))
    return out


@pytest.mark.parametrize("smoothing", ["uniform", "others"])
def test_label_smoothed_loss_is_the_loss_modules(smoothing):
    torch.manual_seed(0)
    m = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=V, d_model=16, n_heads=2, d_ff=32, n_encoder_layers=1,
                                         n_decoder_layers=1, dropout=0.0))
    batch = collate(examples("copy", 4, torch.Generator().manual_seed(0)), pad_id=0, bos_id=0)
    out = seq2seq_lm(m, batch, label_smoothing=0.1, smoothing=smoothing)
    logits = m(batch["input_ids"], batch["decoder_input_ids"], batch["attention_mask"])
    keep = batch["labels"] != -100
    torch.testing.assert_close(out["loss"], cross_entropy(logits[keep], batch["labels"][keep], 0.1, smoothing))
    if smoothing == "uniform":  # PyTorch's definition
        ref = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch["labels"], label_smoothing=0.1)
        torch.testing.assert_close(out["loss"], ref)
    else:                       # the notes': 1 − ε on the truth, ε/(V − 1) on each other token
        logp = logits[keep].log_softmax(-1)
        q = torch.full_like(logp, 0.1 / (V - 1)).scatter_(1, batch["labels"][keep][:, None], 0.9)
        torch.testing.assert_close(out["loss"], -(q * logp).sum(-1).mean())


@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_a_tiny_model_learns_to_copy_and_reverse(task):
    """300 steps of 64 random sequences (2–6 symbols) -> at least 298 of 300 new sequences exactly right (the
    last one or two depend on the float rounding of the kernels this CPU's linear layers run on)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    m = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=V, d_model=64, n_heads=4, d_ff=128, n_encoder_layers=2,
                                         n_decoder_layers=2, max_seq_len=16, dropout=0.0))
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3, betas=(0.9, 0.98), weight_decay=0.0)
    steps = 300
    for step in range(steps):
        for group in opt.param_groups:  # warm-up, then cosine down to 0
            group["lr"] = 3e-3 * min(1.0, (step + 1) / 30) * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = seq2seq_lm(m, collate(examples(task, 64, g), 0, 0))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = examples(task, 300, g)
    out = translate_ids(m, [e.src for e in test], GenerationConfig(temperature=0.0, max_new_tokens=12))
    right = sum(o + [0] == e.tgt for o, e in zip(out, test))
    assert right >= 298, f"{right} of 300 exactly right"
