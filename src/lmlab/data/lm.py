"""Language-model data: a token stream, a deterministic train/validation split, random windows.

The validation split is the last `val_fraction` of the stream (nanoGPT's convention), so figures
compare across tools. Training batches are windows at random offsets drawn from a seeded
torch.Generator whose state is saved with the run: a resumed run sees the same batches.
Under data parallelism every process draws the *global* batch and keeps its own slice, so
N processes compute exactly what one process computes with the same global batch.
"""

from __future__ import annotations

import torch

from lmlab.errors import LmlabError


def split_tokens(ids: torch.Tensor, val_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    n_val = int(len(ids) * val_fraction)
    return ids[: len(ids) - n_val], ids[len(ids) - n_val:]


def windows(ids: torch.Tensor, offsets: torch.Tensor, seq_len: int) -> dict[str, torch.Tensor]:
    """Inputs ids[o : o+T] and next-token labels ids[o+1 : o+T+1] for each offset: (B, T) each."""
    idx = offsets[:, None] + torch.arange(seq_len + 1)[None, :]  # (B, T+1)
    chunk = ids[idx].long()
    return {"input_ids": chunk[:, :-1], "labels": chunk[:, 1:]}


class RandomWindows:
    """An endless, resumable source of (B, T) next-token batches from one token split."""

    def __init__(self, ids: torch.Tensor, seq_len: int, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1, name: str = "train"):
        if len(ids) < seq_len + 1:
            raise LmlabError(f"the {name} split has {len(ids)} tokens, fewer than one window of "
                             f"max_seq_len + 1 = {seq_len + 1}; use more text or a shorter --max_seq_len")
        if batch_size % world_size:
            raise LmlabError(f"batch_size {batch_size} is not divisible by the {world_size} processes")
        self.ids, self.seq_len, self.batch_size = ids, seq_len, batch_size
        self.rank, self.world_size = rank, world_size
        self.gen = torch.Generator().manual_seed(seed)

    def next(self) -> dict[str, torch.Tensor]:
        offsets = torch.randint(len(self.ids) - self.seq_len, (self.batch_size,), generator=self.gen)
        per = self.batch_size // self.world_size
        return windows(self.ids, offsets[self.rank * per:(self.rank + 1) * per], self.seq_len)

    def state_dict(self) -> dict:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["generator"])


def eval_batches(ids: torch.Tensor, seq_len: int, batch_size: int, n_batches: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1) -> list[dict[str, torch.Tensor]]:
    """The same `n_batches` random windows at every evaluation, so validation curves are comparable."""
    source = RandomWindows(ids, seq_len, batch_size, seed, rank, world_size, name="validation")
    return [source.next() for _ in range(n_batches)]


def causal_lm_batches(text: str, tok, model_cfg, data_cfg, batch_size: int, seed: int, n_eval: int,
                      rank: int = 0, world_size: int = 1) -> tuple[RandomWindows, list[dict], torch.Tensor]:
    """A causal LM's pretraining data from a corpus: random training windows of max_seq_len tokens, the
    same `n_eval` validation windows at every evaluation, and the validation ids (their start: a prompt)."""
    ids = torch.tensor(tok.encode(text), dtype=torch.int32)
    train_ids, val_ids = split_tokens(ids, data_cfg.val_fraction)
    T = model_cfg.max_seq_len
    train = RandomWindows(train_ids, T, batch_size, seed, rank, world_size)
    val = eval_batches(val_ids, T, batch_size, n_eval, seed=0, rank=rank, world_size=world_size)
    return train, val, val_ids
