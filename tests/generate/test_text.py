import torch

from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import train_tokenizer
from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.text import cut_at_stop, decode_stream, generate_ids, generate_text, stream_text
from lmlab.models.gpt import GPT, GPTConfig


def char_model(text="abcdefgh \n"):
    tok = train_tokenizer("char", text)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, max_seq_len=16, d_model=16, n_heads=2, n_layers=1))
    return tok, model


def test_decode_stream_holds_back_split_utf8_characters():
    """Byte-level BPE can end a token in the middle of a Chinese character: no piece shows U+FFFD."""
    tok = train_tokenizer("bpe", load_text("tang300")[:3000], vocab_size=260)  # almost only single bytes
    text = "床前明月光，疑是地上霜。"
    ids = tok.encode(text)
    assert len(ids) > len(text)  # characters really are split over several tokens
    pieces = list(decode_stream(tok, iter(ids)))
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == text


def test_stream_text_equals_batch_generation():
    tok, model = char_model()
    cfg = GenerationConfig(max_new_tokens=30, temperature=0)  # longer than the context: it slides
    pieces = list(stream_text(model, tok, tok.encode("ab"), cfg))
    assert "".join(pieces) == generate_text(model, tok, ["ab"], cfg)[0]
    assert len("".join(pieces)) == 30


def test_sampling_is_reproducible_with_a_seed():
    tok, model = char_model()
    cfg = GenerationConfig(max_new_tokens=20, temperature=1.0)
    runs = [generate_ids(model, [[0, 1]], cfg, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert runs[0] == runs[1]


def test_stop_strings_end_the_text_after_the_stop_string():
    assert cut_at_stop("hello world. more", [".", "wor"]) == ("hello wor", True)
    tok, model = char_model()
    cfg = GenerationConfig(max_new_tokens=40, temperature=1.0)
    free = generate_text(model, tok, ["ab"], cfg, generator=torch.Generator().manual_seed(1))[0]
    stop = free[5:7]  # a string the unconstrained sample contains
    cut = generate_text(model, tok, ["ab"], cfg, generator=torch.Generator().manual_seed(1), stop_strings=[stop])[0]
    assert cut == free[:free.index(stop) + len(stop)]
    streamed = "".join(stream_text(model, tok, tok.encode("ab"), cfg, torch.Generator().manual_seed(1),
                                   stop_strings=[stop]))
    assert streamed == cut


def test_eos_ends_a_row_and_is_not_returned():
    tok, model = char_model()
    cfg = GenerationConfig(max_new_tokens=10, temperature=0)
    free = generate_ids(model, [[0, 1], [2]], cfg)
    eos = free[0][2]
    got = generate_ids(model, [[0, 1], [2]], GenerationConfig(max_new_tokens=10, temperature=0, eos_id=eos))
    assert got[0] == free[0][:free[0].index(eos)]
    assert got[1] == (free[1][:free[1].index(eos)] if eos in free[1] else free[1])
