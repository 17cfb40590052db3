"""Fill in [MASK]: a BERT's masked-LM head read as a cloze test (`lmlab fill-mask`).

BERT (Devlin et al. 2019, §3.1) pretrains by guessing masked tokens from both sides; the same head, given a
text with `[MASK]` written in it, says what it would put there: the softmax of the MLM logits at each [MASK]
position, its top k tokens with their probabilities. The answers are those of transformers'
`pipeline("fill-mask")` (transformers/pipelines/fill_mask.py): the same `[CLS] text [SEP]` input, the same
softmax over the whole vocabulary, and the same `sequence` — the text with that one guess filled in, special
tokens dropped when the text has one [MASK] and kept (the other [MASK]s, [CLS], [SEP]) when it has several.
Each [MASK] is guessed on its own from the same input: several masks are not filled jointly.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

import torch

from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import CONFIG_FILE, load_config
from lmlab.io.hf_bert import load_hf_bert
from lmlab.io.hf_tokenizer import load_hf_tokenizer
from lmlab.models.bert.model import BertForMaskedLM, BertForPreTraining
from lmlab.runs.run import TOKENIZER, Run

MASKED_LMS = (BertForPreTraining, BertForMaskedLM)  # the models with an MLM head: `.bert` then `.mlm`


class Guess(NamedTuple):
    """One candidate for one [MASK], with the keys of transformers' fill-mask pipeline."""
    score: float        # its probability (softmax over the vocabulary at that position)
    token: int          # its id
    token_str: str      # its text
    sequence: str       # the text with this guess in place of that [MASK]


def load_masked_lm(source: str | Path) -> tuple[torch.nn.Module, TextTokenizer]:
    """The model (BertForPreTraining or BertForMaskedLM, in eval mode) and tokenizer of an lmlab BERT run
    (`lmlab train bert`, `lmlab hf import`) or of a Hugging Face BERT folder with a masked-LM head."""
    source = Path(source)
    meta = load_config(source, required=()) if (source / CONFIG_FILE).is_file() else None
    if meta is not None and "family" in meta:
        run = Run.open(source)
        if "fill-mask" not in run.family.commands:
            raise LmlabError(f"{source} holds a '{run.name}' run, which has no masked-LM head to fill [MASK] with; "
                             "`lmlab fill-mask` takes a BERT run (`lmlab train bert`, `lmlab hf import`) or a "
                             "Hugging Face BERT folder")
        model = run.model()
        files = [name for name in (TOKENIZER, "vocab.txt") if (source / name).is_file()]
        if not files:
            raise LmlabError(f"{source} has no tokenizer.json or vocab.txt")
        tok = run.tokenizer(files[0])
    elif meta is not None and meta.get("model_type") == "bert":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a head the folder lacks is refused below, not noted
            model = load_hf_bert(source, head="auto")
        tok = load_hf_tokenizer(source, "bert", model_vocab_size=model.cfg.vocab_size)
        if tok is None:
            raise LmlabError(f"{source} has no tokenizer.json or vocab.txt")
    else:
        raise LmlabError(f"{source} is neither an lmlab BERT run (`lmlab train bert`) nor a Hugging Face BERT "
                         "folder (config.json with model_type 'bert')")
    if not isinstance(model, MASKED_LMS):
        raise LmlabError(f"{source} holds a {type(model).__name__}, which has no masked-LM head to fill [MASK] with; `lmlab "
                         "fill-mask` needs a BertForMaskedLM or BertForPreTraining")
    return model.eval(), tok


def _inputs(tok: TextTokenizer, texts: list[str], max_seq_len: int) -> list[list[int]]:
    """`[CLS] text [SEP]` ids of each text, refused with the text's number if it has no [MASK] or is too long."""
    mask_id = tok.special_ids.get("mask")
    if mask_id is None:
        raise LmlabError("the tokenizer has no [MASK] token, so no text can ask for one")
    rows = []
    for i, text in enumerate(texts, 1):
        ids = tok.encode_pair(text)["input_ids"]
        if mask_id not in ids:
            raise LmlabError(f"text {i} has no [MASK]: {text!r}; write [MASK] (in capitals) where a token is to "
                             "be guessed")
        if len(ids) > max_seq_len:
            raise LmlabError(f"text {i} is {len(ids)} tokens long with [CLS] and [SEP]; the model reads at most "
                             f"{max_seq_len}")
        rows.append(ids)
    return rows


@torch.inference_mode()
def fill_mask(model: torch.nn.Module, tok: TextTokenizer, texts: list[str], top_k: int = 5,
              batch_size: int = 32) -> list[list[list[Guess]]]:
    """For each text, for each of its [MASK]s (left to right), the top_k guesses, most probable first."""
    if not texts:
        raise LmlabError("no texts: give one or more texts with [MASK] in them")
    if top_k < 1:
        raise LmlabError(f"--top-k must be at least 1, got {top_k}")
    if batch_size < 1:
        raise LmlabError(f"--batch-size must be at least 1, got {batch_size}")
    rows = _inputs(tok, texts, model.cfg.max_seq_len)
    mask_id, pad_id = tok.special_ids["mask"], tok.special_ids.get("pad", 0)
    k = min(top_k, model.cfg.vocab_size)
    device = next(model.parameters()).device
    results = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        T = max(map(len, chunk))
        ids = torch.tensor([r + [pad_id] * (T - len(r)) for r in chunk], device=device)             # (B, T)
        real = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in chunk], device=device)      # (B, T)
        hidden = model.bert(ids, attention_mask=real).hidden                                         # (B, T, C)
        at = (ids == mask_id) & real.bool()                                                          # (B, T)
        probs = model.mlm(hidden[at]).float().softmax(dim=-1)                                        # (N, V)
        values, tokens = probs.topk(k, dim=-1)                                                       # (N, k)
        values, tokens = values.tolist(), tokens.tolist()
        n = 0  # masks are in row-major order: text by text, left to right
        for row in chunk:
            where = [t for t, i in enumerate(row) if i == mask_id]
            single = len(where) == 1
            per_mask = []
            for t in where:
                guesses = []
                for score, token in zip(values[n], tokens[n]):
                    filled = [i for i in row[:t] + [token] + row[t + 1:] if i != pad_id]  # as the pipeline
                    guesses.append(Guess(score, token, tok.decode([token]), tok.decode(filled, skip_special=single)))
                per_mask.append(guesses)
                n += 1
            results.append(per_mask)
    return results
