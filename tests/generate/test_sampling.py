import torch

from lmlab.generate.sampling import filter_logits, sample
from lmlab.models.gpt import GPT, GPTConfig


def test_top_k_keeps_k():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    out = filter_logits(logits, top_k=2)
    assert torch.isfinite(out).tolist() == [[False, True, True, False]]


def test_top_p_keeps_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    keep = lambda p: torch.isfinite(filter_logits(logits, top_p=p)).tolist()[0]
    assert keep(0.5) == [True, False, False, False]      # 0.5 ≥ 0.5 already
    assert keep(0.6) == [True, True, False, False]       # 0.8 ≥ 0.6
    assert keep(0.81) == [True, True, True, False]       # 0.95 ≥ 0.81
    assert keep(1.0) == [True, True, True, True]


def test_temperature_zero_is_greedy_and_seed_reproduces():
    model = GPT(GPTConfig(vocab_size=20, max_seq_len=8, d_model=16, n_heads=2, n_layers=1))
    idx = torch.zeros(1, 1, dtype=torch.long)
    greedy = [int(t) for t in sample(model, idx, 12, temperature=0)]  # longer than context: it slides
    assert len(greedy) == 12
    runs = [[int(t) for t in sample(model, idx, 10, generator=torch.Generator().manual_seed(5))]
            for _ in range(2)]
    assert runs[0] == runs[1]


def test_decode_stream_holds_back_split_utf8_characters():
    """Byte-level BPE can end a token in the middle of a Chinese character: no piece shows U+FFFD."""
    from lmlab.data.corpora import load_text
    from lmlab.data.tokenizers import train_tokenizer
    from lmlab.generate.sampling import decode_stream

    tok = train_tokenizer("bpe", load_text("tang300")[:3000], vocab_size=260)  # almost only single bytes
    text = "床前明月光，疑是地上霜。"
    ids = tok.encode(text)
    assert len(ids) > len(text)  # characters really are split over several tokens
    pieces = list(decode_stream(tok, iter(ids)))
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == text


def test_stream_text_yields_the_sampled_text():
    from lmlab.data.tokenizers import train_tokenizer
    from lmlab.generate.sampling import stream_text

    tok = train_tokenizer("char", "abcdefgh")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, max_seq_len=8, d_model=16, n_heads=2, n_layers=1))
    pieces = list(stream_text(model, tok, tok.encode("ab"), 5, temperature=0))
    greedy = [int(t) for t in sample(model, torch.tensor([tok.encode("ab")]), 5, temperature=0)]
    assert "".join(pieces) == tok.decode(greedy)
