"""The gradient noise scale (McCandlish et al. 2018) and the trainer's per-batch policy gradient."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides

from t2i_rl.config import load_config
from t2i_rl.noise_scale import gradient_noise_scale
from t2i_rl.trainer import Trainer

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gradient_noise_scale.py"


def test_hand_computed_values():
    # g = [3, 1], [1, 3], b = 2: |g_small|^2 = 10, mean [2, 2] -> |g_big|^2 = 8 at B_big = 4
    # |G|^2 = (4 * 8 - 2 * 10) / 2 = 6; tr(Sigma) = (10 - 8) / (1/2 - 1/4) = 8; B_simple = 4/3; cos = 6/10
    out = gradient_noise_scale(torch.tensor([[3.0, 1.0], [1.0, 3.0]]), batch_size=2)
    assert out["grad_sq"] == pytest.approx(6) and out["trace_sigma"] == pytest.approx(8)
    assert out["b_simple"] == pytest.approx(4 / 3) and out["mean_pairwise_cosine"] == pytest.approx(0.6)
    assert out["signal_fraction_per_batch"] == pytest.approx(0.6)
    # orthogonal gradients of equal norm: no measurable signal
    none = gradient_noise_scale(torch.eye(2), batch_size=1)
    assert none["grad_sq"] == pytest.approx(0) and none["b_simple"] == math.inf


def test_recovers_a_known_noise_scale():
    # per-example gradients G + N(0, I) in D dims: tr(Sigma) = D, |G|^2 = D * 0.1^2, so B_simple = 100
    gen = torch.Generator().manual_seed(0)
    dims, batch, k = 2000, 10, 200
    true_grad = torch.full((dims,), 0.1)
    grads = true_grad + torch.randn(k, dims, generator=gen) / batch**0.5
    out = gradient_noise_scale(grads, batch_size=batch)
    assert out["trace_sigma"] == pytest.approx(dims, rel=0.02)
    assert out["b_simple"] == pytest.approx(100, rel=0.15)
    # a batch of 10 << 100: its gradient is ~9 % signal, and two batches barely agree
    assert out["signal_fraction_per_batch"] == pytest.approx(10 / 110, abs=0.03)


def test_rejects_a_single_batch():
    with pytest.raises(ValueError, match="K >= 2"):
        gradient_noise_scale(torch.ones(1, 3), batch_size=4)


def test_policy_gradient_is_one_batch_gradient_and_leaves_the_weights(tiny_dirs, tmp_path):
    trainer = Trainer(load_config(None, tiny_overrides("sd3", tiny_dirs["sd3"], tmp_path, train__beta=0.0)))
    before = [p.detach().clone() for p in trainer.policy.lora_parameters()]
    g1, g1_again, g2 = trainer.policy_gradient(1), trainer.policy_gradient(1), trainer.policy_gradient(2)
    assert g1.shape == (sum(p.numel() for p in before),) and g1.norm() > 0
    assert torch.allclose(g1, g1_again) and not torch.allclose(g1, g2)  # deterministic per step, new batch per step
    assert all(torch.equal(a, p) for a, p in zip(before, trainer.policy.lora_parameters()))
    assert all(p.grad is None for p in trainer.policy.lora_parameters())


def test_script_prints_the_noise_scale_of_a_config(tiny_dirs, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gradient_noise_scale", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    overrides = tiny_overrides("sd3", tiny_dirs["sd3"], tmp_path / "unused", train__beta=0.0)
    config = tmp_path / "c.yaml"
    config.write_text("{}\n")
    result = script.main(["--config", str(config), "--batches", "3", *overrides])
    assert result["batches"] == 3 and result["images_per_batch"] == 8 and result["trace_sigma"] > 0
    assert '"b_simple"' in capsys.readouterr().out
