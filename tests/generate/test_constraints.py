"""Placeholder-constrained decoding: on an untrained model (which would never write a placeholder by itself)
every translation, greedy or beam, masked or raw, holds exactly its source's placeholders, printf-compatible."""

from pathlib import Path

import pytest
import torch

from lmlab.data.placeholders import compatible, placeholders, slot_tokens
from lmlab.data.tokenizers import train_bpe
from lmlab.data.translation import masked_pairs, read_parallel
from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.seq2seq import translate_texts
from lmlab.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer

DATA = Path(__file__).parents[1] / "data" / "messages_en_zh_1000.tsv"
SOURCES = ["%s: cannot open", "Copied %lu of %lu bytes (%.*s) 100%%", "Done", "%2$s by %1$s", "{0} of {name}",
           "%s %s %s %d %u %x %c %f %p %ld %lld %zu %hhd"]


@pytest.fixture(scope="module", params=[0, 16], ids=["raw", "masked"])
def setup(request):
    """(model, tokenizer, slots): a byte-level BPE of the test messages (with <phk> tokens when masked) and a
    random tiny model on it."""
    torch.set_num_threads(1)
    slots = request.param
    pairs = masked_pairs(read_parallel(DATA)[0], slots)
    tok = train_bpe("\n".join([p.src for p in pairs] + [p.tgt for p in pairs]), 600, tuple(slot_tokens(slots)))
    torch.manual_seed(0)
    eos = tok.eos_id
    model = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=tok.vocab_size, d_model=32, n_heads=2, d_ff=64,
                                             n_encoder_layers=1, n_decoder_layers=1, max_seq_len=64, dropout=0.0,
                                             pad_id=eos, bos_id=eos, eos_id=eos)).eval()
    return model, tok, slots


@pytest.mark.parametrize("beams", [1, 3])
def test_every_translation_keeps_its_placeholders(setup, beams):
    model, tok, slots = setup
    cfg = GenerationConfig(temperature=0.0, num_beams=beams)
    outs = translate_texts(model, tok, tok, SOURCES, cfg, batch_size=4, placeholder_slots=slots)
    for src, out in zip(SOURCES, outs):
        assert compatible(src, out), (src, out)
    assert placeholders(outs[1]).count("%%") <= 1 and "%" not in outs[2].replace("%%", "")
    free = translate_texts(model, tok, tok, SOURCES, cfg, batch_size=4, placeholder_slots=slots,
                           keep_placeholders=False)
    assert sum(compatible(s, o) for s, o in zip(SOURCES, free)) < len(SOURCES)   # untrained: it needs the guard


def test_a_short_budget_still_holds_every_placeholder(setup):
    """The constraint forces what is missing once the steps left are just enough to write it."""
    model, tok, slots = setup
    src = SOURCES[-1]
    out = translate_texts(model, tok, tok, [src], GenerationConfig(temperature=0.0), max_new_tokens=40,
                          placeholder_slots=slots)[0]
    assert compatible(src, out), out
