"""lmlab.data.bert_pretraining: a corpus becomes documents; the example batches resume where they left off."""

from lmlab.data.bert_pretraining import ExampleBatches, documents


def test_documents_split_at_blank_lines():
    assert documents("a\nb\n\n\nc\n\n  \n") == [["a", "b"], ["c"]]


def test_batches_resume_where_they_left_off():
    from lmlab.data.mlm import MaskingConfig, MLMCollator
    examples = [{"input_ids": [2, 10 + i, 11 + i, 12, 3], "index": i} for i in range(50)]
    make = lambda: ExampleBatches(examples, MLMCollator(MaskingConfig(), 40, 4, 0, [0, 1, 2, 3, 4]), 4, seed=1)
    a, b = make(), make()
    a.next()
    b.load_state_dict(a.state_dict())
    x, y = a.next(), b.next()
    assert all((x[k] == y[k]).all() for k in x)
