"""DiffusionNFT (t2i_rl/nft.py): the loss against hand-computed values, its gradient's direction, the old policy,
and the trainer's ``train.algorithm=nft`` end to end (learning, exact resume, bad configurations)."""

import pytest
import torch
from conftest import tiny_overrides

from t2i_rl import checkpoint as ckpt
from t2i_rl.config import ConfigError, load_config
from t2i_rl.nft import OldPolicy, forward_noised, nft_loss, old_policy_decay, optimality_probability
from t2i_rl.tiny import TINY_NFT_LEARNING
from t2i_rl.trainer import Trainer


def test_optimality_probability_maps_clipped_advantages_to_0_1():
    a = torch.tensor([-10.0, -5.0, -2.5, 0.0, 2.5, 5.0, 10.0])
    assert optimality_probability(a, 5.0).tolist() == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]


def _one_sample():
    # x0 = [1, 0], t = 0.5, x_t = [0.5, 0.5] (eps = [0, 1]); advantage 2.5 of max 5 -> r = 0.75
    return dict(v_theta=torch.tensor([[0.2, 0.8]]), v_old=torch.tensor([[0.0, 1.0]]), x_t=torch.tensor([[0.5, 0.5]]),
                x0=torch.tensor([[1.0, 0.0]]), t=torch.tensor([0.5]), advantages=torch.tensor([2.5]))


def test_nft_loss_matches_hand_computed_values_beta_1():
    # v+ = v_theta = [0.2, 0.8]: x0+ = x_t - t v+ = [0.4, 0.1], error [-0.6, 0.1], weight mean|.| = 0.35,
    #   L+ = mean(0.36, 0.01) / 0.35 = 0.185 / 0.35
    # v- = 2 v_old - v_theta = [-0.2, 1.2]: x0- = [0.6, -0.1], error [-0.4, -0.1], weight 0.25, L- = 0.085 / 0.25
    # loss = m * (r L+ + (1 - r) L-) / beta = 5 * (0.75 * 0.185 / 0.35 + 0.25 * 0.34)
    loss, metrics = nft_loss(**_one_sample(), beta=1.0, adv_clip_max=5.0)
    assert loss.item() == pytest.approx(5 * (0.75 * 0.185 / 0.35 + 0.25 * 0.34), rel=1e-6)
    assert metrics["kl"].item() == 0.0
    assert metrics["old_deviation"].item() == pytest.approx((0.2**2 + 0.2**2) / 2)


def test_nft_loss_matches_hand_computed_values_beta_half_with_kl():
    # beta 0.5: v+ = 0.5 v_theta + 0.5 v_old = [0.1, 0.9] -> x0+ = [0.45, 0.05], error [-0.55, 0.05], weight 0.3,
    #   L+ = mean(0.3025, 0.0025) / 0.3 = 0.1525 / 0.3
    # v- = 1.5 v_old - 0.5 v_theta = [-0.1, 1.1] -> x0- = [0.55, -0.05], error [-0.45, -0.05], weight 0.25,
    #   L- = mean(0.2025, 0.0025) / 0.25 = 0.1025 / 0.25
    # KL to v_ref = [0, 0]: mean(0.04, 0.64) = 0.34, weighted by 0.1
    loss, metrics = nft_loss(**_one_sample(), beta=0.5, adv_clip_max=5.0, v_ref=torch.zeros(1, 2), kl_beta=0.1)
    expected = 5 * (0.75 * 0.1525 / 0.3 + 0.25 * 0.1025 / 0.25) / 0.5 + 0.1 * 0.34
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert metrics["kl"].item() == pytest.approx(0.34)


@pytest.mark.parametrize("advantage, closer", [(5.0, True), (-5.0, False)])
def test_a_gradient_step_moves_the_prediction_towards_good_and_away_from_bad_samples(advantage, closer):
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, 8, generator=gen)
    t = torch.tensor([0.6])
    x_t = forward_noised(x0, t, gen)
    v_old = torch.randn(1, 8, generator=gen)
    v = v_old.clone().requires_grad_(True)  # at the start of an update v_theta == v_old
    loss, _ = nft_loss(v, v_old, x_t, x0, t, torch.tensor([advantage]), beta=1.0, adv_clip_max=5.0)
    loss.backward()
    stepped = (v - 1e-2 * v.grad).detach()
    before = (x_t - 0.6 * v_old - x0).norm()
    after = (x_t - 0.6 * stepped - x0).norm()
    assert (after < before) == closer


def test_nft_loss_rejects_a_non_positive_beta():
    with pytest.raises(ValueError, match="nft_beta"):
        nft_loss(**_one_sample(), beta=0.0, adv_clip_max=5.0)


def test_forward_noised_interpolates_between_data_and_noise():
    x0 = torch.ones(2, 3)
    gen = torch.Generator().manual_seed(1)
    eps = torch.randn(2, 3, generator=torch.Generator().manual_seed(1))
    x_t = forward_noised(x0, torch.tensor([0.0, 1.0]), gen)
    assert torch.equal(x_t[0], x0[0]) and torch.allclose(x_t[1], eps[1])


def test_old_policy_soft_update_swap_and_state():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    old = OldPolicy([p])
    with torch.no_grad():
        p.copy_(torch.tensor([3.0, 6.0]))
    old.update(0.25)  # 0.25 * [1, 2] + 0.75 * [3, 6]
    assert old.weights[0].tolist() == [2.5, 5.0]
    with old.swapped_in():
        assert p.tolist() == [2.5, 5.0]
    assert p.tolist() == [3.0, 6.0]
    restored = OldPolicy([p])
    restored.load_state_dict(old.state_dict())
    assert restored.weights[0].tolist() == [2.5, 5.0]
    with pytest.raises(ValueError, match="old policy"):
        restored.load_state_dict([torch.zeros(3)])
    assert [old_policy_decay(s, 0.001, 0.5) for s in (0, 10, 499, 500, 10_000)] == [0.0, 0.01, 0.499, 0.5, 0.5]


NFT = dict(train__algorithm="nft", rollout__same_noise=False)


def _trainer(tiny_dirs, out, **extra):
    return Trainer(load_config(None, tiny_overrides("sd3", tiny_dirs["sd3"], out, **{**NFT, **extra})))


def test_bad_nft_configurations_are_clear_errors(tiny_dirs, tmp_path):
    with pytest.raises(ConfigError, match="same_noise"):
        load_config(None, tiny_overrides("sd3", tiny_dirs["sd3"], tmp_path, train__algorithm="nft",
                                         rollout__same_noise=True))
    with pytest.raises(ConfigError, match="train.algorithm"):
        load_config(None, tiny_overrides("sd3", tiny_dirs["sd3"], tmp_path, train__algorithm="ppo"))
    with pytest.raises(ConfigError, match="nft_timesteps"):
        load_config(None, tiny_overrides("sd3", tiny_dirs["sd3"], tmp_path, train__nft_timesteps=0, **NFT))


def test_nft_trains_each_image_on_distinct_random_timesteps_and_samples_with_the_ode(tiny_dirs, tmp_path):
    trainer = _trainer(tiny_dirs, tmp_path, train__nft_timesteps=2, train__timestep_fraction=0.75)
    traj, _, _ = trainer.rollout(0)
    assert traj.sde_steps == [] and torch.equal(traj.log_probs, torch.zeros_like(traj.log_probs))
    steps = trainer.trained_steps(traj, torch.Generator().manual_seed(0))
    assert steps.shape == (len(traj), 2) and int(steps.max()) < 3  # int(4 * 0.75) = 3 trainable indices
    assert all(len(set(row.tolist())) == 2 for row in steps)


def test_nft_resume_after_a_checkpoint_equals_the_uninterrupted_run(tiny_dirs, tmp_path):
    extra = dict(train__num_steps=4, checkpoint__every=2)
    full = _trainer(tiny_dirs, tmp_path / "full", **extra)
    full_history = full.train()
    first = _trainer(tiny_dirs, tmp_path / "split", **{**extra, "train__num_steps": 2})
    first.train()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "split" / "checkpoints")] == ["step-000002"]
    resumed = _trainer(tiny_dirs, tmp_path / "split", **extra, checkpoint__resume="auto")
    resumed_history = resumed.train()
    assert [h["reward/aggregate"] for h in resumed_history] == [h["reward/aggregate"] for h in full_history]
    a, b = full.policy.lora_state_dict(), resumed.policy.lora_state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(x, y) for x, y in zip(full.old_policy.weights, resumed.old_policy.weights))


def test_a_grpo_checkpoint_does_not_resume_as_nft(tiny_dirs, tmp_path):
    Trainer(load_config(None, tiny_overrides("sd3", tiny_dirs["sd3"], tmp_path, train__num_steps=1))).train()
    with pytest.raises(ValueError, match="train.algorithm=grpo"):
        _trainer(tiny_dirs, tmp_path, train__num_steps=2, checkpoint__resume="auto").train()


@pytest.mark.slow
def test_nft_raises_the_reward_beyond_seed_noise(tiny_dirs, tmp_path):
    """The tiny brightness task of tests/test_training.py, learnt by DiffusionNFT instead of flow-GRPO
    (``python scripts/learning_check.py --nft`` prints the figures)."""
    history = _trainer(tiny_dirs, tmp_path, **TINY_NFT_LEARNING).train()
    rewards = torch.tensor([h["reward/aggregate"] for h in history])
    first, last, noise = rewards[:5].mean(), rewards[-5:].mean(), rewards[:5].std()
    assert last - first > 4 * noise, (first.item(), last.item(), noise.item(), rewards.tolist())
