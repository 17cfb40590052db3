"""Translate with a trained run (`lmlab translate`): batched greedy or beam search, and attention maps.

Placeholders (`%s`, `%lu`, `{0}` …): a run trained with masking sees each as a reserved token <phk> and
gets the source's text back after decoding; by default decoding is constrained so that every
translation holds exactly its source's placeholders (printf-compatible, as `msgfmt -c` checks), for
runs trained before masking too (then over the raw text); keep_placeholders=False turns that off.

Decoding comes from lmlab.generate (the same engine as GPT's): greedy is beam search with one
beam; `num_beams` > 1 keeps the best partial translations, scored by log-probability divided by
length ** length_penalty. The attention map re-runs the chosen translation teacher-forced and
draws one decoder layer's cross-attention, averaged over its heads or for one head.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lmlab.data.placeholders import mask_source, mask_target
from lmlab.data.translation import load_tokenizers
from lmlab.errors import LmlabError
from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.seq2seq import translate_texts
from lmlab.runs.run import Run
from lmlab.tools.attention_map import attention_weights, plot_attention, token_labels
from lmlab.train.trainer import resolve_device


def check_map_args(cfg, head: int | None, layer: int) -> None:
    """Refuse a head or decoder layer the model does not have."""
    if not -cfg.n_decoder_layers <= layer < cfg.n_decoder_layers:
        raise LmlabError(f"--layer {layer} does not exist: the decoder has {cfg.n_decoder_layers} layers "
                         f"(0 … {cfg.n_decoder_layers - 1}, or -1 for the last)")
    if head is not None and not 0 <= head < cfg.n_heads:
        raise LmlabError(f"--head {head} does not exist: the model has {cfg.n_heads} heads (0 … {cfg.n_heads - 1})")


def translate(run: str | Path, texts: list[str], cfg: GenerationConfig, batch_size: int = 32,
              max_new_tokens: int | None = None, device: str = "cpu", backend: str | None = None,
              attention_png: str | Path | None = None, head: int | None = None, layer: int = -1,
              keep_placeholders: bool = True) -> tuple[list[str], bool | None]:
    """The translations of `texts` by the model of run directory `run`; with attention_png, also the
    cross-attention map of the first text (see attention_map). Returns (translations, whether a CJK
    font was found for the map's labels, or None without a map). Placeholders: masked as the run was
    trained (its data section's placeholder_slots; none for runs from before masking) and, with
    keep_placeholders, kept by constrained decoding (lmlab.generate.constraints)."""
    if not texts:
        raise LmlabError("no texts to translate: give them as arguments or with --input FILE (one per line)")
    run = Run.open(run, command="translate")
    model, data_cfg = run.model(), run.config("data")
    src_tok, tgt_tok = load_tokenizers(run.path, model.cfg, data_cfg.joint_vocab)
    meta = run.meta
    if attention_png is not None:
        check_map_args(model.cfg, head, layer)
    model.to(resolve_device(device))
    outs = translate_texts(model, src_tok, tgt_tok, texts, cfg, batch_size, max_new_tokens, backend,
                           data_cfg.placeholder_slots, keep_placeholders)
    fonts = None
    if attention_png is not None:
        src, phs = mask_source(texts[0], data_cfg.placeholder_slots)     # as the model reads them: <phk>
        fonts = attention_map(model, src_tok, tgt_tok, src, mask_target(outs[0], phs), attention_png, head, layer,
                              f"{meta.get('source_lang', 'source')} -> {meta.get('target_lang', 'target')}")
    return outs, fonts


def attention_map(model, src_tok, tgt_tok, text: str, translation: str, out: str | Path, head: int | None = None,
                  layer: int = -1, direction: str = "") -> bool:
    """Draw the cross-attention of decoder layer `layer` while the model reads `translation` of `text`
    (head None: the mean over heads). Returns False when no CJK font was found for the labels."""
    cfg = model.cfg
    check_map_args(cfg, head, layer)
    device = next(model.parameters()).device
    src = src_tok.encode(text)[:cfg.max_seq_len - 1] + [cfg.eos_id]
    tgt = tgt_tok.encode(translation)[:cfg.max_seq_len - 1] + [cfg.eos_id]  # targets y_1 … EOS
    dec_in = [cfg.bos_id] + tgt[:-1]                                        # read as BOS y_1 … (teacher forcing)
    model.eval()
    run = lambda: model(torch.tensor([src], device=device), torch.tensor([dec_in], device=device))
    w = attention_weights(model.decoder[layer].cross_attn, run)[0]          # (H, T, S)
    w = w.mean(0) if head is None else w[head]                              # (T, S)
    which = "mean over heads" if head is None else f"head {head}"
    title = f"cross-attention, decoder layer {layer % cfg.n_decoder_layers}, {which}\n{direction}"
    return plot_attention(w, token_labels(src_tok, src), token_labels(tgt_tok, tgt), out, title)
