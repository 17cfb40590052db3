"""Objectives: `(model, batch) -> dict of losses`; the Trainer minimises `losses["loss"]`.

Causal language modelling (autoregressive pretraining): predict token t+1 from tokens ≤ t,
L = -(1/N) Σ log p(x_{t+1} | x_≤t), the cross-entropy of the next-token distribution
(lmlab.ops.losses.cross_entropy, optionally label-smoothed in either of its two definitions).
"""

from __future__ import annotations

import torch

from lmlab.data.classification import pool_logits
from lmlab.ops.losses import cross_entropy


def causal_lm(model, batch: dict[str, torch.Tensor], label_smoothing: float = 0.0,
              smoothing: str = "uniform") -> dict[str, torch.Tensor]:
    """batch: `input_ids` (B, T) and `labels` (B, T) = input_ids shifted left by one; -100 is ignored."""
    logits = model(batch["input_ids"])  # (B, T, V)
    loss = cross_entropy(logits, batch["labels"], label_smoothing, smoothing, ignore_index=-100)
    return {"loss": loss}




def bert_pretraining(model, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BERT's loss (Devlin et al. 2019, §3.1): cross-entropy on the masked tokens (labels ≠ -100) plus,
    when the batch has a sentence-pair label (NSP or SOP), cross-entropy of the 2-way [CLS] head.
    Also returns each part and its accuracy, for logging."""
    labels = batch["labels"]
    targets = labels != -100                                                  # (B, T) the masked positions
    out = model(batch["input_ids"], batch.get("token_type_ids"), batch.get("attention_mask"), mlm_mask=targets)
    mlm_loss = cross_entropy(out.mlm_logits, labels[targets])                 # logits (N, V) at the N targets
    parts = {"mlm_loss": mlm_loss,
             "mlm_acc": (out.mlm_logits.argmax(-1) == labels[targets]).float().mean()}
    loss = mlm_loss
    pair = next((k for k in ("next_sentence_label", "sentence_order_label") if k in batch), None)
    if pair is not None:
        sentence_loss = cross_entropy(out.nsp_logits, batch[pair])
        parts.update(sentence_loss=sentence_loss,
                     sentence_acc=(out.nsp_logits.argmax(-1) == batch[pair]).float().mean())
        loss = loss + sentence_loss
    return {"loss": loss, **{k: v.detach() for k, v in parts.items()}}


def seq2seq_lm(model, batch: dict[str, torch.Tensor], label_smoothing: float = 0.0,
               smoothing: str = "uniform") -> dict[str, torch.Tensor]:
    """The encoder-decoder's loss (Vaswani et al. 2017, §5.4: label smoothing ε = 0.1): cross-entropy of
    each target token given the source and the target tokens before it (teacher forcing), optionally
    label-smoothed in either definition of lmlab.ops.losses. batch: input_ids / attention_mask (B, S) of
    the source, decoder_input_ids (B, T) = BOS y_1 … y_{T-1}, labels (B, T) = y_1 … y_T (-100 on pads).
    Also returns the token accuracy of the argmax prediction."""
    logits = model(batch["input_ids"], batch["decoder_input_ids"], batch.get("attention_mask"))  # (B, T, V)
    labels = batch["labels"]
    loss = cross_entropy(logits, labels, label_smoothing, smoothing, ignore_index=-100)
    keep = labels != -100
    acc = (logits.detach().argmax(-1) == labels)[keep].float().mean()
    return {"loss": loss, "acc": acc}


def bidirectional_lm(model, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """ELMo's biLM loss (Peters et al. 2018, §3.1): the forward LM's cross-entropy of word t+1 given words ≤ t
    plus the backward LM's of word t-1 given words ≥ t, trained jointly as their sum. batch: chars (B, T, W)
    and the targets next (B, T) and prev (B, T). Each direction's loss is returned as fwd_nll / bwd_nll, so
    that evaluation reports each one's perplexity (val_fwd_ppl, val_bwd_ppl); val_ppl = exp(sum) is their product."""
    fwd_logits, bwd_logits = model(batch["chars"])                   # (B, T, V) each
    fwd = cross_entropy(fwd_logits, batch["next"])
    bwd = cross_entropy(bwd_logits, batch["prev"])
    return {"loss": fwd + bwd, "fwd_nll": fwd.detach(), "bwd_nll": bwd.detach()}


OBJECTIVES = {"causal_lm": causal_lm, "bert_pretraining": bert_pretraining, "seq2seq_lm": seq2seq_lm,
              "bidirectional_lm": bidirectional_lm}


def classification(model, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cross-entropy of the classifier head ([CLS] or mean pooling) and accuracy. When the batch has "doc"
    (evaluation), the logits of a text's windows are averaged first, so loss and accuracy are per text."""
    logits = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])   # (N, C)
    if "doc" in batch:
        logits = pool_logits(logits, batch["doc"], batch["labels"].numel())                # (B, C)
    loss = cross_entropy(logits, batch["labels"])
    return {"loss": loss, "acc": (logits.argmax(-1) == batch["labels"]).float().mean()}


def token_classification(model, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cross-entropy of a tagger's logits (B, T, K) at the labelled pieces (each word's first; -100 elsewhere)
    and their accuracy."""
    logits = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])   # (B, T, K)
    labels = batch["labels"]
    keep = labels != -100
    loss = cross_entropy(logits, labels, ignore_index=-100)
    return {"loss": loss, "acc": (logits.detach().argmax(-1) == labels)[keep].float().mean()}


def image_classification(model, batch: dict[str, torch.Tensor], label_smoothing: float = 0.0) -> dict[str, torch.Tensor]:
    """Cross-entropy of an image classifier (CNN, ViT): `pixel_values` (B, C, H, W) -> logits (B, K); and accuracy."""
    logits = model(batch["pixel_values"])                                                 # (B, K)
    loss = cross_entropy(logits, batch["labels"], label_smoothing)
    return {"loss": loss, "acc": (logits.detach().argmax(-1) == batch["labels"]).float().mean()}


def span_extraction(model, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Extractive QA's loss (Devlin et al. 2019, §4.2): the cross-entropy of the answer's start position
    over the window's tokens plus that of its end position, halved (Hugging Face's BertForQuestionAnswering
    loss). Position 0 ([CLS]) is the target of a window that does not hold the answer. Also the accuracy of
    the argmax start and end."""
    start, end = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])   # (B, T) each
    s, e = batch["start_positions"], batch["end_positions"]
    loss = (cross_entropy(start, s) + cross_entropy(end, e)) / 2
    return {"loss": loss, "start_acc": (start.detach().argmax(-1) == s).float().mean(),
            "end_acc": (end.detach().argmax(-1) == e).float().mean()}
