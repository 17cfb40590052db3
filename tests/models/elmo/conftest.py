"""Small models on a shared CPU: one thread avoids the oversubscription that makes tiny ops crawl."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
