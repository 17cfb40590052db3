"""`lmlab hf import/export`: a trained run goes out to transformers and comes back with the same logits."""

import torch

from lmlab.cli import main
from lmlab.recipes.pretrain_gpt import load_run_model


def test_export_then_import_round_trip(shakespeare_small, tmp_path, capsys):
    from transformers import GPT2LMHeadModel
    run = tmp_path / "run"
    assert main(["train", "gpt", "--data", str(shakespeare_small), "--preset", "tiny", "--max_steps", "2",
                 "--eval_every", "2", "--eval_batches", "1", "--batch_size", "2", "--out", str(run), "--quiet"]) == 0
    assert main(["hf", "export", str(run), "--out", str(tmp_path / "hf")]) == 0
    assert (tmp_path / "hf" / "tokenizer.json").is_file()
    hf = GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    ours, _, _ = load_run_model(run)
    x = torch.randint(0, ours.cfg.vocab_size, (2, 16))
    torch.testing.assert_close(hf(x).logits, ours.eval()(x), atol=1e-5, rtol=0)  # fp32 ≤ 1e-5

    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "back")]) == 0
    back, tok, _ = load_run_model(tmp_path / "back")
    assert torch.equal(back.eval()(x), ours(x))
    assert main(["generate", str(tmp_path / "back"), "--prompt", "First", "--max-new-tokens", "5"]) == 0
    # never overwrite silently
    assert main(["hf", "export", str(run), "--out", str(tmp_path / "hf")]) == 2
    assert "--overwrite" in capsys.readouterr().err
