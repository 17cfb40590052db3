"""`lmlab generate --dtype`: fp32 as trained, bf16, or auto (the faster here; the hardware's default with
LMLAB_AUTOTUNE=0, as in the tests), on a tiny trained run."""

from __future__ import annotations

import pytest

from lmlab.cli import main
from lmlab.ops.cpu import cpu_info

QUICK = ["--preset", "tiny", "--max_steps", "2", "--eval_every", "2", "--eval_batches", "1",
         "--batch_size", "2", "--quiet"]
pytestmark = pytest.mark.usefixtures("short_samples")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shakespeare_small):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", "gpt", "--data", str(shakespeare_small), *QUICK, "--out", str(out)]) == 0
    return out


def generate(run, *options) -> list[str]:
    return ["generate", str(run), "--prompt", "ROMEO:", "--max-new-tokens", "12", "--temperature", "0", *options]


def test_dtype_auto_and_bf16(trained, capsys):
    assert main(generate(trained)) == 0
    fp32 = capsys.readouterr()
    assert fp32.out.startswith("ROMEO:") and "decoding in" not in fp32.err
    assert main(generate(trained, "--dtype", "auto")) == 0
    auto = capsys.readouterr()
    want = "bf16" if cpu_info().bf16 else "fp32"
    assert f"decoding in {want} (--dtype auto)" in auto.err
    assert main(generate(trained, "--dtype", "bf16")) == 0
    bf16 = capsys.readouterr()
    assert bf16.out.startswith("ROMEO:") and len(bf16.out) > len("ROMEO:\n")
    assert ("no native bf16" in bf16.err) == (not cpu_info().bf16)


def test_bad_dtype(trained, cli_fails):
    cli_fails(generate(trained, "--dtype", "fp16"), "--dtype", "fp32", "bf16", "auto")
