"""lmlab.runs.evaluate: a language-model run's validation loss on its own split (None without its corpus), and
the fixed probe batch whose outputs a merge or an import must keep."""

import math

import pytest
import torch

from lmlab.data.tokenizers import train_char
from lmlab.models.bert.model import BertForPreTraining, BertModel
from lmlab.models.bert.presets import preset as bert_preset
from lmlab.models.gpt.model import GPT
from lmlab.models.gpt.presets import preset as gpt_preset
from lmlab.runs.evaluate import lm_val_loss, probe
from lmlab.runs.run import TOKENIZER, Run, write_run_config

TEXT = "".join(chr(97 + (i * 7 + i // 5) % 26) + (" " if i % 6 == 5 else "") for i in range(3000))


def _run(folder, text: str, source=None) -> tuple[Run, GPT]:
    """A gpt run folder over `text` (char tokenizer, tiny shape) and an untrained model of it."""
    folder.mkdir()
    corpus = folder / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    tok = train_char(TEXT)
    tok.save(folder / TOKENIZER)
    cfg = gpt_preset("tiny", vocab_size=tok.vocab_size, max_seq_len=32)
    meta = write_run_config(folder, "gpt", {"model": cfg}, source=str(corpus) if source is None else source,
                            data={"val_fraction": 0.2})
    return Run(folder, meta), GPT(cfg)


def test_val_loss_is_on_the_runs_validation_split(tmp_path):
    run, model = _run(tmp_path / "a", TEXT)
    loss = lm_val_loss(model, run, n_batches=3, batch_size=2)
    assert math.isfinite(loss) and abs(loss - math.log(model.cfg.vocab_size)) < 1.0   # untrained: about ln V
    assert lm_val_loss(model, run, n_batches=3, batch_size=2) == loss                # the same windows each time
    cut = int(len(TEXT) * 0.8)                     # char ids: the last 20% of the text is the validation split
    head = TEXT[:cut][::-1]                        # another training split, the same validation split
    other, _ = _run(tmp_path / "b", head + TEXT[cut:])
    assert lm_val_loss(model, other, n_batches=3, batch_size=2) == pytest.approx(loss, abs=1e-6)
    tail, _ = _run(tmp_path / "c", TEXT[:cut] + TEXT[cut:][::-1])
    assert lm_val_loss(model, tail, n_batches=3, batch_size=2) != pytest.approx(loss, abs=1e-6)


@pytest.mark.parametrize("source", ["hf:/somewhere/gpt2", "/no/such/corpus.txt"])
def test_val_loss_is_none_without_the_corpus(tmp_path, source):
    run, model = _run(tmp_path / "run", TEXT, source=source)
    assert lm_val_loss(model, run) is None


def test_probe_is_a_fixed_batch():
    model = GPT(gpt_preset("tiny", max_seq_len=8))
    model.train()
    out = probe(model)
    assert out.shape == (2, 8, model.cfg.vocab_size) and not model.training   # min(16, T) tokens, in eval mode
    torch.manual_seed(123)                                                      # its own generator, not the global one
    assert torch.equal(probe(model), out)


def test_probe_of_a_pretraining_bert_is_its_masked_lm_logits():
    cfg = bert_preset("bert-tiny")
    model = BertForPreTraining(BertModel(cfg))
    out = probe(model)
    assert out.shape == (2, 16, cfg.vocab_size)
