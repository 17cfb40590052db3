"""Knowledge distillation: a small student trained on a large teacher's soft labels.

Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network" (soft labels at a
temperature T, the loss scaled by T²); Sanh et al. 2019, "DistilBERT" (the triple loss: soft
labels + hard labels + cosine between hidden states; a student made of every other teacher layer).

    config     DistillConfig: temperature, alpha_kl / alpha_ce / alpha_cos, layers, init
    losses     soft_label_loss, hidden_cosine_loss, distillation_loss (pure functions)
    student    parse_layers, student_from_teacher (layers copied bit for bit)
    objective  DistillObjective: the Trainer's objective, with the frozen teacher inside
"""

from lmlab.distill.config import DistillConfig
from lmlab.distill.losses import distillation_loss, hidden_cosine_loss, soft_label_loss
from lmlab.distill.objective import DistillObjective
from lmlab.distill.student import parse_layers, student_from_teacher

__all__ = ["DistillConfig", "DistillObjective", "distillation_loss", "hidden_cosine_loss", "parse_layers",
           "soft_label_loss", "student_from_teacher"]
