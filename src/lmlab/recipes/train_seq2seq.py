"""Train an encoder-decoder Transformer to translate (Vaswani et al. 2017) on a parallel corpus.

Read the pairs (TSV/JSONL), split them into train / validation / test (seeded, by source sentence),
train a joint (or per-language) byte-level BPE on the training pairs, batch by token count, and
train with label-smoothed cross-entropy and the paper's inverse-square-root warm-up schedule (or
warm-up + cosine) in the shared Trainer (checkpoints, resume, bf16, DDP). Each evaluation reports
the validation loss and token accuracy and, on the first `bleu_sentences` validation pairs
translated greedily, BLEU and chrF (sacrebleu); a few of those translations go to samples.txt.
The run directory: config.json, tokenizer.json (src_tokenizer.json + tgt_tokenizer.json for separate
vocabularies), model.safetensors, train_state.pt, metrics.jsonl, loss.png, samples.txt.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import torch

from lmlab.data.placeholders import slot_tokens
from lmlab.data.tokenizers import TextTokenizer, train_bpe
from lmlab.data.translation import (
    Pair,
    TokenBatches,
    TranslationDataConfig,
    encode_pairs,
    eval_batches,
    load_tokenizers,
    masked_pairs,
    read_parallel,
    split_pairs,
    tokenizer_files,
)
from lmlab.errors import LmlabError
from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.seq2seq import translate_texts
from lmlab.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.run import Run, write_run_config
from lmlab.tools.translation_metrics import bleu_chrf, bleu_tokenizer
from lmlab.train import distributed as D
from lmlab.train.config import TrainConfig
from lmlab.train.objectives import seq2seq_lm
from lmlab.train.trainer import Trainer, resolve_device

SAMPLES = 5  # validation translations written to samples.txt at each evaluation


def train_tokenizers(train: list[Pair], cfg: TranslationDataConfig) -> tuple[TextTokenizer, TextTokenizer]:
    """Byte-level BPE on the training pairs (placeholders masked, the <phk> tokens reserved): one for both
    sides, or one per side."""
    train, slots = masked_pairs(train, cfg.placeholder_slots), tuple(slot_tokens(cfg.placeholder_slots))
    if cfg.joint_vocab:
        tok = train_bpe("\n".join([p.src for p in train] + [p.tgt for p in train]), cfg.bpe_vocab_size, slots)
        return tok, tok
    return (train_bpe("\n".join(p.src for p in train), cfg.bpe_vocab_size, slots),
            train_bpe("\n".join(p.tgt for p in train), cfg.bpe_vocab_size, slots))


def sized_config(model_cfg: Seq2SeqConfig, src_tok: TextTokenizer, tgt_tok: TextTokenizer,
                 data_cfg: TranslationDataConfig) -> Seq2SeqConfig:
    """The model config with the tokenizers' vocabularies and special ids (EOS doubles as BOS and PAD)."""
    joint = src_tok is tgt_tok
    if model_cfg.share_embeddings and not joint:
        raise LmlabError("share_embeddings needs one joint vocabulary; with joint_vocab false also set "
                         "share_embeddings false")
    eos = tgt_tok.eos_id
    try:
        return dataclasses.replace(model_cfg, vocab_size=src_tok.vocab_size,
                                   tgt_vocab_size=0 if joint else tgt_tok.vocab_size, pad_id=eos, bos_id=eos,
                                   eos_id=eos, max_seq_len=max(model_cfg.max_seq_len, data_cfg.max_len))
    except ValueError as e:
        raise LmlabError(f"invalid Seq2SeqConfig: {e}") from None


def run_splits(data: str, data_cfg: TranslationDataConfig,
               skip_bad: bool = False) -> tuple[list[Pair], list[Pair], list[Pair], str, str]:
    """(train, val, test, source column, target column): the split a run with these settings uses."""
    pairs, src_col, tgt_col = read_parallel(data, data_cfg.source, data_cfg.target, skip_bad)
    return (*split_pairs(pairs, data_cfg.val_size, data_cfg.test_size, data_cfg.split_seed), src_col, tgt_col)


def bleu_on_eval(run_dir: Path, pairs: list[Pair], src_tok, tgt_tok, tokenize: str, batch_size: int = 64,
                 placeholder_slots: int = 0):
    """An on_eval callback: translate `pairs` greedily (placeholders kept), return BLEU and chrF, append a few
    to samples.txt."""
    greedy = GenerationConfig(temperature=0.0)

    def on_eval(step: int, model) -> dict[str, float]:
        hyps = translate_texts(model, src_tok, tgt_tok, [p.src for p in pairs], greedy, batch_size,
                               placeholder_slots=placeholder_slots)
        scores = bleu_chrf(hyps, [p.tgt for p in pairs], tokenize)
        with open(run_dir / "samples.txt", "a", encoding="utf-8") as f:
            f.write(f"=== step {step}: BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f} ===\n")
            for p, h in list(zip(pairs, hyps))[:SAMPLES]:
                f.write(f"src: {p.src}\nref: {p.tgt}\nout: {h}\n\n")
        return {"val_bleu": scores["bleu"], "val_chrf": scores["chrf"]}
    return on_eval


def train_seq2seq(data: str | None, model_cfg: Seq2SeqConfig | None, train_cfg: TrainConfig,
                  data_cfg: TranslationDataConfig | None, out: str | Path, resume: bool = False,
                  overwrite: bool = False, quiet: bool = False, on_step_end=None,
                  skip_bad: bool = False) -> dict[str, float]:
    """Train a translation model into run directory `out`. On resume the run's own data, model and data
    settings are used (`data`, `model_cfg`, `data_cfg` are ignored); only `train_cfg` may differ. `skip_bad`:
    skip the corpus's bad lines (lmlab.data.rows) and report how many, instead of refusing the first."""
    device = resolve_device(train_cfg.device)
    dist = D.setup(device)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
        train_cfg = dataclasses.replace(train_cfg, device=str(device))
    run_dir = Path(out)
    if resume:
        run = Run.open(run_dir, family="seq2seq")
        cfgs = run.configs("model", "data")
        model_cfg, data_cfg, data = cfgs["model"], cfgs["data"], run.corpus()

    # Read, split and tokenize before touching the run folder, so bad data costs nothing.
    train, val, _test, src_col, tgt_col = run_splits(data, data_cfg, skip_bad)
    if resume:
        src_tok, tgt_tok = load_tokenizers(run_dir, model_cfg, data_cfg.joint_vocab)
    else:  # every process trains the same tokenizers (training is deterministic)
        src_tok, tgt_tok = train_tokenizers(train, data_cfg)
        model_cfg = sized_config(model_cfg, src_tok, tgt_tok, data_cfg)
    eos, bos, pad = model_cfg.eos_id, model_cfg.bos_id, model_cfg.pad_id
    slots = data_cfg.placeholder_slots
    train_ex = encode_pairs(train, src_tok, tgt_tok, eos, data_cfg.max_len, slots)
    val_ex = encode_pairs(val, src_tok, tgt_tok, eos, model_cfg.max_seq_len, slots)
    train_data = TokenBatches(train_ex, data_cfg.batch_tokens, pad, bos, train_cfg.seed, dist.rank, dist.world_size)
    val_batches = eval_batches(val_ex, data_cfg.batch_tokens, pad, bos, train_cfg.eval_batches)

    if dist.is_main:
        prepare_run_dir(run_dir, resume, overwrite)
        if not resume:
            for tok, name in zip((src_tok, tgt_tok), tokenizer_files(data_cfg.joint_vocab)):
                tok.save(run_dir / name)
        write_run_config(run_dir, "seq2seq", {"model": model_cfg, "train": train_cfg, "data": data_cfg},
                         source=data, source_lang=src_col, target_lang=tgt_col)
    D.barrier(dist)

    torch.manual_seed(train_cfg.seed)
    model = Seq2SeqTransformer(model_cfg)
    if dist.is_main and not quiet:
        vocab = (f"joint BPE vocab {src_tok.vocab_size}" if data_cfg.joint_vocab
                 else f"BPE vocabs {src_tok.vocab_size} / {tgt_tok.vocab_size}")
        print(f"Transformer {model.num_parameters() / 1e6:.2f}M parameters | {src_col} -> {tgt_col} | {vocab} | "
              f"{len(train_ex):,} train pairs ({len(train) - len(train_ex)} longer than {data_cfg.max_len} "
              f"tokens left out), {len(val):,} val, {len(_test):,} test | device {device}")
    objective = functools.partial(seq2seq_lm, label_smoothing=train_cfg.label_smoothing,
                                  smoothing=train_cfg.smoothing)
    on_eval = None
    if data_cfg.bleu_sentences:
        on_eval = bleu_on_eval(run_dir, val[:data_cfg.bleu_sentences], src_tok, tgt_tok,
                               bleu_tokenizer(tgt_col, data_cfg.bleu_tokenize), placeholder_slots=slots)
    trainer = Trainer(model, objective, train_data, train_cfg, run_dir, eval_data=val_batches,
                      eval_objective=seq2seq_lm, on_eval=on_eval, on_step_end=on_step_end, dist=dist, quiet=quiet)
    try:
        return trainer.fit(resume=resume)
    finally:
        D.teardown(dist)
