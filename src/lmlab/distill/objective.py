"""The distillation objective for the Trainer: `(student, batch) -> {"loss", "kl", "ce", "cos"}`.

It holds the teacher (frozen: eval mode, no gradients, never handed to the Trainer, so it is
neither optimised nor saved with the student) and reads both models' last hidden states through
forward hooks on the module that produces them (the final norm, before the LM head), so the models
keep their plain `forward` and the student may be wrapped (DDP, torch.compile) by the Trainer.

Positions scored, as in DistilBERT's training code: for BERT the masked tokens (MLM labels ≠ -100)
for the soft and hard losses and every real token (attention_mask) for the cosine; for GPT every
position with a next-token label, for all three.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.distill.config import DistillConfig
from lmlab.distill.losses import distillation_loss
from lmlab.errors import LmlabError
from lmlab.ops.losses import cross_entropy


def final_hidden_module(model: nn.Module) -> nn.Module:
    """The module whose output is the last hidden state (B, T, C): GPT's norm_f, BERT's encoder norm_f
    (an Identity for Post-LN models, whose blocks end in a norm)."""
    encoder = getattr(model, "bert", model)  # BertForPreTraining / BertForMaskedLM wrap a BertModel
    if not hasattr(encoder, "norm_f"):
        raise LmlabError(f"cannot find the last hidden state of a {type(model).__name__} (no norm_f); "
                         "distillation supports lmlab's GPT and BERT models")
    return encoder.norm_f


class HiddenState:
    """Keeps the output of `module` from the latest forward pass (a forward hook)."""

    def __init__(self, module: nn.Module):
        self.value: torch.Tensor | None = None
        self.handle = module.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self.value = output

    def pop(self) -> torch.Tensor:
        value, self.value = self.value, None
        if value is None:
            raise RuntimeError("the model's forward pass did not reach its final norm")
        return value

    def remove(self) -> None:
        self.handle.remove()


class DistillObjective:
    """Teacher -> student objective for a "gpt" (causal LM) or "bert" (masked LM) student.

    `objective(student, batch)` trains on the triple loss; `objective.evaluate(student, batch)` reports
    the same parts with "loss" = the hard-label loss, so a student's val_loss means what it means in
    any run of its family (next-token or MLM cross-entropy) and compares with its teacher's.
    """

    def __init__(self, teacher: nn.Module, student: nn.Module, cfg: DistillConfig, lm: str):
        if lm not in ("causal", "masked"):
            raise LmlabError(f"distillation needs a causal or masked language model, not lm='{lm}'")
        if teacher.cfg.vocab_size != student.cfg.vocab_size:
            raise LmlabError(f"teacher and student vocabularies differ ({teacher.cfg.vocab_size} vs "
                             f"{student.cfg.vocab_size}): the soft labels need the same tokenizer")
        if cfg.alpha_cos > 0 and teacher.cfg.d_model != student.cfg.d_model:
            raise LmlabError(f"alpha_cos > 0 compares hidden states, but the student is {student.cfg.d_model} "
                             f"wide and the teacher {teacher.cfg.d_model}; keep the teacher's d_model "
                             "(DistilBERT halves the depth, not the width) or set alpha_cos 0")
        self.teacher = teacher.eval().requires_grad_(False)
        self.cfg, self.lm = cfg, lm
        self.teacher_hidden = HiddenState(final_hidden_module(teacher))
        self.student_hidden = HiddenState(final_hidden_module(student))

    def _logits(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(logits (N, V) at the scored positions, their labels (N,), hidden mask (B, T) or None)."""
        labels = batch["labels"]
        if self.lm == "masked":
            targets = labels != -100                                          # (B, T) the masked tokens
            out = model(batch["input_ids"], batch.get("token_type_ids"), batch.get("attention_mask"),
                        mlm_mask=targets)
            logits = out.mlm_logits if hasattr(out, "mlm_logits") else out  # ForPreTraining / ForMaskedLM
            mask = batch.get("attention_mask")
            return logits, labels[targets], None if mask is None else mask.bool()
        logits = model(batch["input_ids"])                                    # (B, T, V)
        return logits.flatten(0, 1), labels.flatten(), None

    def _losses(self, student: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        if self.teacher.training:  # someone called .train() on it: a teacher never drops out
            self.teacher.eval()
        with torch.no_grad():
            t_logits, _, _ = self._logits(self.teacher, batch)
            t_hidden = self.teacher_hidden.pop()
        s_logits, labels, mask = self._logits(student, batch)
        s_hidden = self.student_hidden.pop()
        return distillation_loss(s_logits, t_logits, labels, s_hidden, t_hidden, self.cfg, mask)

    def __call__(self, student: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        return self._losses(student, batch)

    def evaluate(self, student: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        parts = self._losses(student, batch)
        return {"loss": parts["ce"], "distill_loss": parts["loss"].detach(),
                "kl": parts["kl"], "ce": parts["ce"], "cos": parts["cos"]}

    @torch.no_grad()
    def teacher_loss(self, batches: list[dict], device: torch.device | str = "cpu") -> float:
        """The teacher's mean hard-label loss on `batches`: the val_loss its student is chasing."""
        total = 0.0
        for batch in batches:
            logits, labels, _ = self._logits(self.teacher, {k: v.to(device) for k, v in batch.items()})
            self.teacher_hidden.pop()
            total += cross_entropy(logits, labels, ignore_index=-100).item()
        return total / max(len(batches), 1)

    def remove_hooks(self) -> None:
        self.teacher_hidden.remove()
        self.student_hidden.remove()
