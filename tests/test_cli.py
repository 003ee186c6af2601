"""The command line end to end: train (tensorboard + wandb offline), export-lora, sample; errors exit with 2."""

import json

import pytest
from conftest import tiny_overrides
from safetensors.torch import load_file

from t2i_rl.cli import main


@pytest.mark.slow
def test_train_export_and_sample_through_the_cli(tiny_sd3_dir, tmp_path, capsys):
    run = tmp_path / "run"
    overrides = tiny_overrides("sd3", tiny_sd3_dir, run, train__num_steps=2, checkpoint__every=1)
    assert main(["train", "logging.log_with=tensorboard", *overrides]) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    assert list(run.rglob("events.out.tfevents.*")), "tensorboard wrote no event file"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("reward/brightness" in r and "concept_group/quality" in r and "train/kl" in r for r in rows)

    assert main(["export-lora", "--run", str(run), "--out", str(tmp_path / "exported")]) == 0
    exported = load_file(str(tmp_path / "exported" / "pytorch_lora_weights.safetensors"))
    final = load_file(str(run / "lora" / "pytorch_lora_weights.safetensors"))
    assert exported.keys() == final.keys()  # the newest checkpoint (EMA weights) equals the end-of-training export
    assert all((exported[k] - final[k]).abs().max() < 1e-6 for k in final)

    out = tmp_path / "samples"
    assert main(["sample", "--model", str(tiny_sd3_dir), "--lora", str(run / "lora"), "--prompt", "a red circle",
                 "--num", "2", "--steps", "4", "--resolution", "64", "--max-sequence-length", "16", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0001.png", "grid.png"]


def test_wandb_offline_tracker_logs(tiny_flux_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = tmp_path / "run"
    assert main(["train", "logging.log_with=wandb", *tiny_overrides("flux", tiny_flux_dir, run, train__num_steps=1)]) == 0
    assert list((run / "wandb").glob("offline-run-*/run-*.wandb"))


def test_cli_errors_exit_with_a_message(tmp_path, capsys):
    assert main(["train", "train.learnin_rate=1"]) == 2
    assert "unknown config key 'train.learnin_rate'" in capsys.readouterr().err
    assert main(["train", f"model.pretrained={tmp_path / 'missing'}", "data.inline_prompts=[a]"]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["demo", "--shapes-model", str(tmp_path / "missing"), "--out", str(tmp_path / "demo")]) == 2
    assert "no shapes model" in capsys.readouterr().err and not (tmp_path / "demo").exists()
    assert main(["demo", "--tiny", "--out", str(tmp_path / "demo"), "train.learning_rate=1"]) == 2
    assert "apply to the shapes demo" in capsys.readouterr().err and not (tmp_path / "demo").exists()


@pytest.mark.slow
def test_demo_tiny_runs_the_smoke_demo(tmp_path, capsys):
    assert main(["demo", "--tiny", "--steps", "2", "--out", str(tmp_path / "demo")]) == 0
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["reward"] == "brightness"
    assert (tmp_path / "demo" / "run" / "lora").is_dir() and "held-out-seed reward" in capsys.readouterr().out
