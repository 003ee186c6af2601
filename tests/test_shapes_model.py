"""The shapes model: SD3 component classes, loads with StableDiffusion3Pipeline.from_pretrained, pretrain script runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from diffusers import StableDiffusion3Pipeline

from t2i_rl.policies import SD3Policy
from t2i_rl.shapes.model import RESOLUTION, accuracy_table, build_shapes_pipeline, evaluation_jobs, heldout_accuracy

ROOT = Path(__file__).resolve().parents[1]


def test_shapes_pipeline_is_sd3_and_round_trips(tmp_path):
    build_shapes_pipeline(seed=0).save_pretrained(tmp_path)
    pipe = StableDiffusion3Pipeline.from_pretrained(tmp_path)
    assert type(pipe.transformer).__name__ == "SD3Transformer2DModel" and pipe.vae.config.latent_channels == 16
    assert pipe.vae_scale_factor == 4
    size_mb = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) / 2**20
    assert size_mb <= 30
    policy = SD3Policy(pipe)
    policy.add_lora(rank=4, alpha=4)
    acc, images, correct = heldout_accuracy(policy, [{"tag": "single_object", "prompt": "a photo of a circle",
                                                      "include": [{"class": "circle", "count": 1}]}], [0, 1], num_steps=2)
    assert images.shape == (2, 3, RESOLUTION, RESOLUTION) and len(correct) == 2
    assert set(acc) == {"single_object", "overall"} and 0 <= acc["overall"] <= 1
    assert "| a | " in accuracy_table({"a": acc})


def test_shapes_pipeline_with_a_smaller_latent_samples_through_the_policy(tmp_path):
    build_shapes_pipeline(seed=0, width=32, layers=1, patch_size=1, latent_channels=4,
                          vae_downsample=8).save_pretrained(tmp_path)
    policy = SD3Policy.from_pretrained(str(tmp_path))
    assert policy.pipeline.vae_scale_factor == 8 and policy.transformer.config.in_channels == 4
    latents = policy.initial_noise(2, RESOLUTION, torch.Generator().manual_seed(0))
    assert latents.shape == (2, 4, RESOLUTION // 8, RESOLUTION // 8)  # 256 Gaussian actions per step, not 4,096
    _, images, _ = heldout_accuracy(policy, [{"tag": "single_object", "prompt": "a photo of a circle",
                                              "include": [{"class": "circle", "count": 1}]}], [0], num_steps=2)
    assert images.shape == (1, 3, RESOLUTION, RESOLUTION)
    with pytest.raises(ValueError, match="downsamples 4x or 8x"):
        build_shapes_pipeline(vae_downsample=2)


def test_evaluation_jobs_give_small_tags_more_seeds_seed_major():
    one = {"tag": "single_object", "prompt": "a photo of a square"}
    many = [{"tag": "color_attr", "prompt": f"p{i}"} for i in range(3)]
    jobs = evaluation_jobs([one, *many], seeds=[10, 11], min_images_per_tag=5)
    square = [s for m, s in jobs if m is one]
    assert square == [10, 11, 12, 13, 14]  # one prompt: 5 seeds; the seeds continue after the given ones
    assert all(sorted(s for m, s in jobs if m is p) == [10, 11] for p in many)  # 3 prompts x 2 seeds >= 5
    assert [m["prompt"] for m, _ in jobs[:4]] == ["a photo of a square", "p0", "p1", "p2"]  # first seeds first
    assert all(s == 10 for _, s in jobs[:4])
    assert evaluation_jobs([one, *many], seeds=[10, 11]) == [(m, s) for s in (10, 11) for m in [one, *many]]


def test_heldout_accuracy_verdicts_follow_evaluation_jobs_order(monkeypatch):
    """Callers pair the verdicts with ``evaluation_jobs`` (the demo's gain_stderr, shapes_accuracy's per-prompt
    figures), so the order is part of the contract: right scenes for seeds 0 and 3, empty canvases for the others."""
    import t2i_rl.rollout
    from t2i_rl.shapes.prompts import heldout_prompts
    from t2i_rl.shapes.render import render_tensor
    from t2i_rl.shapes.world import BACKGROUND

    by_prompt = {m["prompt"]: m for m in heldout_prompts()}
    blank = torch.tensor(BACKGROUND, dtype=torch.float32).div(255).view(3, 1, 1).expand(3, RESOLUTION, RESOLUTION)

    def fake_generate(policy, prompts, resolution, num_steps, guidance_scale, seeds, **kwargs):
        return torch.stack([render_tensor(by_prompt[p], s) if s % 3 == 0 else blank for p, s in zip(prompts, seeds)])

    monkeypatch.setattr(t2i_rl.rollout, "generate", fake_generate)
    metadata = [next(m for m in heldout_prompts() if m["tag"] == tag) for tag in ("single_object", "colors", "counting")]
    acc, images, correct = heldout_accuracy(None, metadata, [0, 1, 2], batch_size=4, min_images_per_tag=5)
    jobs = evaluation_jobs(metadata, [0, 1, 2], min_images_per_tag=5)
    assert correct == [s % 3 == 0 for _, s in jobs] and len(images) == len(jobs) == 15
    assert acc["overall"] == pytest.approx(2 / 5)


@pytest.mark.slow
def test_pretrain_script_smoke(tmp_path):
    out = tmp_path / "model"
    cmd = [sys.executable, str(ROOT / "scripts" / "pretrain_shapes.py"), "--out", str(out), "--vae-steps", "2",
           "--renders-per-prompt", "1", "--minutes", "0.02", "--eval-seeds", "0", "--batch", "4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "TQDM_DISABLE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = json.loads((out / "pretrain_log.json").read_text())
    assert log["transformer_steps"] >= 1 and log["vae_loss"]["last_100"] > 0 and log["size_MB"] <= 30
    pipe = StableDiffusion3Pipeline.from_pretrained(out)
    assert pipe.vae.config.scaling_factor == pytest.approx(log["vae_latent_shift_scale"][1])
    assert torch.isfinite(next(pipe.transformer.parameters())).all()

    # a second stage continues it: same VAE and latent scaling, a trained transformer, the first log kept
    again = tmp_path / "continued"
    proc = subprocess.run([*cmd[:3], str(again), "--init", str(out), *cmd[4:], "--seed", "1"], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "TQDM_DISABLE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    log2 = json.loads((again / "pretrain_log.json").read_text())
    assert log2["init"] == {"model": str(out), "log": log} and "vae_loss" not in log2 and log2["transformer_steps"] >= 1
    pipe2 = StableDiffusion3Pipeline.from_pretrained(again)
    assert pipe2.vae.config.scaling_factor == pipe.vae.config.scaling_factor
    assert all(torch.equal(a, b) for a, b in zip(pipe.vae.parameters(), pipe2.vae.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(pipe.transformer.parameters(), pipe2.transformer.parameters()))


@pytest.mark.slow
def test_pretrain_script_bench_mode_prints_a_step_rate(tmp_path):
    cmd = [sys.executable, str(ROOT / "scripts" / "pretrain_shapes.py"), "--bench-steps", "1", "--batch", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "TQDM_DISABLE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["steps_per_s"] > 0 and (figures["width"], figures["layers"], figures["batch"]) == (128, 4, 2)


def test_pretrain_script_rejects_a_bad_size_range(tmp_path):
    cmd = [sys.executable, str(ROOT / "scripts" / "pretrain_shapes.py"), "--out", str(tmp_path), "--size-range", "0.4,0.2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "--size-range" in proc.stderr


def test_pretrain_script_rejects_a_caption_noise_outside_zero_one(tmp_path):
    cmd = [sys.executable, str(ROOT / "scripts" / "pretrain_shapes.py"), "--out", str(tmp_path), "--caption-noise", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "--caption-noise 1.0: give a fraction in [0, 1)" in proc.stderr


def test_pretrain_script_rejects_unknown_caption_noise_tags(tmp_path):
    cmd = [sys.executable, str(ROOT / "scripts" / "pretrain_shapes.py"), "--out", str(tmp_path), "--caption-noise",
           "0.5", "--caption-noise-tags", "colors,landscape"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "--caption-noise-tags: unknown tags ['landscape']" in proc.stderr


def test_pretrain_script_rejects_a_bad_init(tmp_path):
    script = str(ROOT / "scripts" / "pretrain_shapes.py")
    proc = subprocess.run([sys.executable, script, "--init", str(tmp_path / "none"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "no shapes model at" in proc.stderr and "--init" in proc.stderr
    build_shapes_pipeline(seed=0, width=32, layers=1).save_pretrained(tmp_path / "m")
    proc = subprocess.run([sys.executable, script, "--init", str(tmp_path / "m"), "--out", str(tmp_path / "m")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "same directory" in proc.stderr


def pretrain_script():
    """scripts/pretrain_shapes.py as a module (scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pretrain_shapes", ROOT / "scripts" / "pretrain_shapes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pretrain_cosine_runs_over_steps_or_over_the_wall_clock_budget():
    module = pretrain_script()
    lr, progress = module.learning_rate, module.schedule_progress
    assert lr(0, 1.0, 200, 0.0) == pytest.approx(1 / 200) and lr(200, 1.0, 200, 0.0) == pytest.approx(1.0)
    assert lr(500, 1.0, 200, 0.5) == pytest.approx(0.55) and lr(500, 1.0, 200, 1.0) == pytest.approx(0.1)
    assert progress(1100, 200, 2000, elapsed_s=1.0, budget_s=10.0) == pytest.approx(0.5)  # steps given: they decide
    assert progress(1100, 200, None, elapsed_s=3.0, budget_s=10.0) == pytest.approx(0.3)  # else the clock does


def test_pretrain_noise_location_is_fixed_or_moves_with_the_schedule():
    mean = pretrain_script().sigma_mean_at
    assert mean(0.7, 1.0, None) == 1.0  # a fixed location
    assert mean(0.0, 0.0, 1.5) == 0.0 and mean(0.5, 0.0, 1.5) == pytest.approx(0.75)
    assert mean(1.2, 0.0, 1.5) == pytest.approx(1.5) and mean(-0.1, 0.0, 1.5) == 0.0  # warm-up / overrun: clamped
