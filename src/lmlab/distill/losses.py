"""The distillation loss: soft labels, hard labels and hidden-state directions (the "triple loss").

Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network": the student matches
the teacher's softened distribution p_T = softmax(z_teacher / T). The soft loss is
T² · KL(p_T ‖ q_T): the gradient of KL with respect to the student's logits is (q_T − p_T) / T,
and for T large compared with the logits q_T − p_T ≈ (z_s − z_t) / (V·T), so the gradient shrinks
as 1/T²; multiplying by T² keeps its scale independent of T, so T can change without re-tuning
the weights (§2).

Sanh et al. 2019, "DistilBERT, a distilled version of BERT" (§3): the student minimises
    α_kl · L_kl  (soft labels, T² · KL at temperature T)
  + α_ce · L_ce  (hard labels: masked-LM tokens for BERT, the next token for GPT)
  + α_cos · L_cos (1 − cos between the student's and the teacher's last hidden states)
with DistilBERT's weights 5 : 2 : 1 and T = 2 as defaults. The cosine term compares directions of
vectors of the same width, so the student keeps the teacher's d_model (DistilBERT halves the depth,
not the width); a student of another width is refused rather than given a learned projection,
which would be a second model to train, save and explain.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lmlab.distill.config import DistillConfig
from lmlab.errors import LmlabError
from lmlab.ops.losses import cosine_embedding_loss, cross_entropy, kl_div_with_temperature


def soft_label_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """T² · KL(softmax(t/T) ‖ softmax(s/T)), averaged over rows (..., V); in fp32, teacher detached."""
    if student_logits.shape != teacher_logits.shape:
        raise LmlabError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} differ: the two models need the same tokenizer "
                         "(vocabulary) and the same inputs")
    return kl_div_with_temperature(student_logits.float(), teacher_logits.detach().float(), temperature)


def hidden_cosine_loss(student_hidden: Tensor, teacher_hidden: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean of 1 − cos(h_s, h_t) over the positions where mask (B, T) is True (all when None).

    Hidden states (B, T, C) of the same width C; the teacher's are detached. Equal to
    F.cosine_embedding_loss(h_s, h_t, ones) on the selected rows.
    """
    if student_hidden.size(-1) != teacher_hidden.size(-1):
        raise LmlabError(f"the cosine loss compares hidden states of the same width, but the student's are "
                         f"{student_hidden.size(-1)} wide and the teacher's {teacher_hidden.size(-1)}; keep the "
                         "teacher's d_model (DistilBERT halves the depth, not the width) or set alpha_cos 0")
    s, t = student_hidden.float(), teacher_hidden.detach().float()
    if mask is not None:
        s, t = s[mask], t[mask]                                          # (N, C) the real tokens
    s, t = s.reshape(-1, s.size(-1)), t.reshape(-1, t.size(-1))
    return cosine_embedding_loss(s, t, torch.ones(len(s), device=s.device))


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor, student_hidden: Tensor,
                      teacher_hidden: Tensor, cfg: DistillConfig, hidden_mask: Tensor | None = None
                      ) -> dict[str, Tensor]:
    """The triple loss and its parts. Logits (N, V) at the N scored positions with their labels (N,)
    (-100 ignored by the hard loss); hidden states (B, T, C) with hidden_mask (B, T) of real tokens.
    Returns {"loss": α_kl·kl + α_ce·ce + α_cos·cos, "kl", "ce", "cos"} (the parts detached): one sum,
    one backward pass (the notes' "sum the losses, then backward")."""
    kl = soft_label_loss(student_logits, teacher_logits, cfg.temperature)
    ce = cross_entropy(student_logits, labels, ignore_index=-100)
    cos = hidden_cosine_loss(student_hidden, teacher_hidden, hidden_mask)
    loss = cfg.alpha_kl * kl + cfg.alpha_ce * ce + cfg.alpha_cos * cos
    return {"loss": loss, "kl": kl.detach(), "ce": ce.detach(), "cos": cos.detach()}
