"""The student starts as chosen teacher layers, copied bit for bit; the teacher never learns."""

from __future__ import annotations

import pytest
import torch

from lmlab.distill import DistillConfig, DistillObjective, parse_layers, student_from_teacher
from lmlab.errors import LmlabError
from lmlab.models.bert import BertConfig
from lmlab.models.bert.model import BertForPreTraining
from lmlab.models.gpt import GPT, GPTConfig

GPT_CFG = GPTConfig(vocab_size=40, max_seq_len=16, d_model=32, n_heads=4, n_layers=6)
BERT_CFG = BertConfig(vocab_size=50, max_seq_len=16, d_model=32, n_heads=4, n_layers=4)


def test_parse_layers():
    assert parse_layers("every-other", 6) == (0, 2, 4)
    assert parse_layers("every-other", 5) == (0, 2, 4)
    assert parse_layers("0,2,4,7,9,11", 12) == (0, 2, 4, 7, 9, 11)   # DistilBERT's released choice
    with pytest.raises(LmlabError, match="layer 6 is out of range: the teacher has 6 layers"):
        parse_layers("0,6", 6)
    with pytest.raises(LmlabError, match="increasing"):
        parse_layers("2,2", 6)
    with pytest.raises(LmlabError, match="every-other"):
        parse_layers("first", 6)


@pytest.mark.parametrize("make, layers", [(lambda: GPT(GPT_CFG), (0, 2, 4)),
                                          (lambda: GPT(GPT_CFG), (1, 5)),
                                          (lambda: BertForPreTraining(BERT_CFG), (0, 3))])
def test_student_copies_exactly_the_chosen_layers(make, layers):
    teacher = make()
    student = student_from_teacher(teacher, layers)
    assert type(student) is type(teacher) and student.cfg.n_layers == len(layers)
    assert student.cfg.d_model == teacher.cfg.d_model
    t_state, s_state = teacher.state_dict(), student.state_dict()
    for name, value in s_state.items():
        if ".blocks." in f".{name}":
            prefix, rest = name.split("blocks.", 1)
            i, tail = rest.split(".", 1)
            source = f"{prefix}blocks.{layers[int(i)]}.{tail}"
        else:  # embeddings, norms, heads (pooler, NSP): the teacher's own
            source = name
        assert torch.equal(value, t_state[source]), name
        assert value.data_ptr() != t_state[source].data_ptr()   # a copy, not shared storage
    # the tied head stays tied
    if isinstance(student, GPT):
        assert student.lm_head.weight is student.tok_emb.weight
    else:
        assert student.mlm.decoder.weight is student.bert.emb.tok_emb.weight


def test_every_other_layer_of_a_gpt_computes_what_those_teacher_layers_compute():
    teacher = GPT(GPT_CFG).eval()
    student = student_from_teacher(teacher, (0, 2, 4)).eval()
    idx = torch.randint(0, 40, (2, 10))
    x = teacher.tok_emb(idx) + teacher.pos_emb(torch.arange(10))
    for i in (0, 2, 4):
        x = teacher.blocks[i](x)
    torch.testing.assert_close(student(idx), teacher.lm_head(teacher.norm_f(x)), rtol=0, atol=0)


def test_random_init_gives_fresh_weights_of_the_student_shape():
    teacher = GPT(GPT_CFG)
    student = student_from_teacher(teacher, (0, 2, 4), init="random")
    assert student.cfg.n_layers == 3
    assert not torch.equal(student.tok_emb.weight, teacher.tok_emb.weight)


def _gpt_batch():
    idx = torch.randint(0, 40, (4, 17))
    return {"input_ids": idx[:, :-1], "labels": idx[:, 1:]}


def _bert_batch():
    ids = torch.randint(5, 50, (4, 12))
    labels = torch.full_like(ids, -100)
    labels[:, 3] = ids[:, 3]
    labels[:, 7] = ids[:, 7]
    attention = torch.ones_like(ids)
    attention[0, 9:] = 0
    return {"input_ids": ids, "labels": labels, "attention_mask": attention,
            "token_type_ids": torch.zeros_like(ids)}


@pytest.mark.parametrize("family, make, batch", [("causal", lambda: GPT(GPT_CFG), _gpt_batch),
                                                 ("masked", lambda: BertForPreTraining(BERT_CFG), _bert_batch)])
def test_teacher_gets_no_gradient_and_is_unchanged_by_training(family, make, batch, tmp_path):
    from lmlab.train.config import TrainConfig
    from lmlab.train.trainer import Trainer

    teacher = make()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = student_from_teacher(teacher, (0, 2))
    s_before = {k: v.clone() for k, v in student.state_dict().items()}
    objective = DistillObjective(teacher, student, DistillConfig(), family)
    batches = [batch() for _ in range(3)]

    class Source:  # the Trainer's batch source
        i = 0
        def next(self):
            self.i += 1
            return batches[self.i % 3]
        def state_dict(self):
            return {}

    (tmp_path / "run").mkdir()
    cfg = TrainConfig(max_steps=3, batch_size=4, eval_every=3, eval_batches=1, warmup_steps=0, lr=1e-2,
                      device="cpu")
    trainer = Trainer(student, objective, Source(), cfg, tmp_path / "run", eval_data=batches[:1],
                      eval_objective=objective.evaluate, quiet=True)
    final = trainer.fit()
    assert {"val_loss", "val_kl", "val_ce", "val_cos", "val_distill_loss"} <= set(final)
    assert final["val_loss"] == final["val_ce"]
    assert not teacher.training
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())
    assert any(not torch.equal(v, s_before[k]) for k, v in student.state_dict().items())
    # the student's checkpoint holds the student only
    from safetensors.torch import load_file
    saved = load_file(tmp_path / "run" / "model.safetensors")
    assert set(saved) <= set(student.state_dict()) and all(v.shape == student.state_dict()[k].shape
                                                             for k, v in saved.items())


def test_a_student_copied_whole_from_its_teacher_has_zero_soft_and_cosine_loss():
    teacher = GPT(GPT_CFG)
    student = student_from_teacher(teacher, tuple(range(6)))
    out = DistillObjective(teacher, student, DistillConfig(), "causal")(student, _gpt_batch())
    assert out["kl"].abs() < 1e-5 and out["cos"].abs() < 1e-5 and out["ce"] > 1


def test_objective_refuses_a_student_of_another_width_or_vocabulary():
    teacher = GPT(GPT_CFG)
    narrow = GPT(GPTConfig(vocab_size=40, max_seq_len=16, d_model=16, n_heads=4, n_layers=2))
    with pytest.raises(LmlabError, match="16 wide and the teacher 32"):
        DistillObjective(teacher, narrow, DistillConfig(), "causal")
    DistillObjective(teacher, narrow, DistillConfig(alpha_cos=0.0), "causal")   # soft + hard labels only: fine
    other_vocab = GPT(GPTConfig(vocab_size=41, max_seq_len=16, d_model=32, n_heads=4, n_layers=2))
    with pytest.raises(LmlabError, match="vocabularies differ"):
        DistillObjective(teacher, other_vocab, DistillConfig(), "causal")
