import torch

from lmlab.data.lm import RandomWindows, eval_batches, split_tokens


def test_split_is_last_fraction():
    ids = torch.arange(1000)
    train, val = split_tokens(ids, 0.1)
    assert len(val) == 100 and val[0] == 900 and train[-1] == 899


def test_windows_are_shifted_by_one():
    ids = torch.arange(500)
    batch = RandomWindows(ids, 8, 4, seed=0).next()
    assert batch["input_ids"].shape == (4, 8)
    assert torch.equal(batch["labels"], batch["input_ids"] + 1)


def test_state_restores_data_order():
    ids = torch.arange(5000)
    a = RandomWindows(ids, 8, 4, seed=1)
    a.next()
    state = a.state_dict()
    expected = a.next()
    b = RandomWindows(ids, 8, 4, seed=1)
    b.load_state_dict(state)
    assert torch.equal(b.next()["input_ids"], expected["input_ids"])


def test_ranks_take_slices_of_the_global_batch():
    ids = torch.arange(5000)
    full = RandomWindows(ids, 8, 4, seed=3).next()["input_ids"]
    parts = [RandomWindows(ids, 8, 4, seed=3, rank=r, world_size=2).next()["input_ids"] for r in range(2)]
    assert torch.equal(torch.cat(parts), full)


def test_eval_batches_are_fixed():
    ids = torch.arange(5000)
    a, b = eval_batches(ids, 8, 2, 3), eval_batches(ids, 8, 2, 3)
    assert all(torch.equal(x["input_ids"], y["input_ids"]) for x, y in zip(a, b))
