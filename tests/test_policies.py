import pytest
import torch

from t2i_rl.grpo import step_log_prob
from t2i_rl.losses import grpo_loss
from t2i_rl.policies import SD3Policy, load_policy
from t2i_rl.rollout import sample_trajectory
from t2i_rl.sde import ode_step

PROMPTS = ["a red circle", "two blue squares"]


@pytest.fixture(params=["sd3", "flux"])
def policy(request, tiny_dirs):
    policy = load_policy(request.param, str(tiny_dirs[request.param]))
    policy.add_lora(rank=4, alpha=8)
    return policy


def test_ode_sampling_reproduces_the_diffusers_pipeline_exactly(policy):
    cond = policy.encode(PROMPTS, max_sequence_length=16)
    noise = policy.initial_noise(2, 64, torch.Generator().manual_seed(0))
    sigmas = policy.sigmas(6, 64)
    x = noise
    for i in range(6):
        x = ode_step(policy.velocity(x, sigmas[i], cond, 4.5), x, sigmas[i], sigmas[i + 1])
    ours = policy.decode(x, 64)
    theirs = policy.pipeline(PROMPTS, latents=noise, num_inference_steps=6, guidance_scale=4.5, height=64, width=64,
                             max_sequence_length=16, output_type="pt").images
    assert torch.equal(ours, theirs)


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_policy("sd3", str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="unknown backbone"):
        load_policy("sdxl", str(tmp_path))


def test_default_lora_matches_flow_grpo_and_is_a_no_op_at_start(tiny_dirs):
    policy = load_policy("sd3", str(tiny_dirs["sd3"]))
    policy.add_lora()
    assert (policy.lora_config.r, policy.lora_config.lora_alpha) == (32, 64)
    assert all(p.requires_grad for p in policy.lora_parameters())
    assert not any(p.requires_grad for n, p in policy.transformer.named_parameters() if "lora_" not in n)


def _rollout(policy):
    cond = policy.encode(PROMPTS * 2, max_sequence_length=16)
    noise = policy.initial_noise(4, 64, torch.Generator().manual_seed(1))
    return sample_trajectory(policy, cond, noise, policy.sigmas(4, 64), 4.5, 0.7, 64, None,
                             torch.Generator().manual_seed(2))


def test_on_policy_ratio_is_one_gradient_reaches_lora_only_and_kl_is_zero(policy):
    traj = _rollout(policy)
    steps = torch.tensor([0, 1, 2, 3])
    out = step_log_prob(policy, traj, steps, 4.5, 0.7, with_reference=True)
    assert torch.equal(out.log_prob.detach(), out.old_log_prob)  # same weights, same batch: ratio exactly 1
    assert torch.equal(out.kl, torch.zeros(4))  # LoRA B = 0: policy == reference before the first update
    loss, metrics = grpo_loss(out.log_prob, out.old_log_prob, torch.tensor([1.0, -1.0, 0.5, -0.5]), 1e-4, 5.0, out.kl, 0.04)
    assert metrics["ratio"].item() == 1.0
    loss.backward()
    lora_grads = [p.grad for p in policy.lora_parameters()]
    assert all(g is not None for g in lora_grads) and sum(g.abs().sum() for g in lora_grads) > 0
    frozen = [n for n, p in policy.transformer.named_parameters() if "lora_" not in n and p.grad is not None]
    frozen += [n for m in policy.frozen_modules() for n, p in m.named_parameters() if p.grad is not None]
    assert frozen == []


def test_block_noise_rollout_is_block_constant_and_scored_on_policy(tiny_dirs):
    policy = load_policy("sd3", str(tiny_dirs["sd3"]))
    policy.add_lora(rank=4, alpha=8)
    cond = policy.encode(PROMPTS * 2, max_sequence_length=16)
    noise = policy.initial_noise(4, 64, torch.Generator().manual_seed(1))
    traj = sample_trajectory(policy, cond, noise, policy.sigmas(4, 64), 4.5, 0.7, 64, [1, 2],
                             torch.Generator().manual_seed(2), noise_block=2)
    steps = torch.tensor([1, 2, 1, 2])
    out = step_log_prob(policy, traj, steps, 4.5, 0.7, with_reference=False, noise_block=2)
    assert torch.equal(out.log_prob.detach(), out.old_log_prob)  # the rollout's log-probs are the update's
    isotropic = step_log_prob(policy, traj, steps, 4.5, 0.7, with_reference=False)
    assert not torch.allclose(isotropic.log_prob, out.old_log_prob)  # the block density is a different one
    rows = torch.arange(4)
    x, x_next = traj.latents[rows, steps], traj.latents[rows, steps + 1]
    ode_next = ode_step(policy.velocity(x, traj.sigmas[steps], cond, 4.5), x, traj.sigmas[steps], traj.sigmas[steps + 1])
    detail = x_next - ode_next - torch.nn.functional.interpolate(
        torch.nn.functional.avg_pool2d(x_next - ode_next, 2), scale_factor=2, mode="nearest")
    assert detail.abs().max() < 1e-4  # noise and drift correction are constant on 2x2 blocks: no detail changes


def test_reference_differs_after_an_update_and_adapter_comes_back(policy):
    traj = _rollout(policy)
    with torch.no_grad():
        for p in policy.lora_parameters():
            p.add_(0.05 * torch.randn_like(p))
    steps = torch.tensor([1, 1, 2, 2])
    out = step_log_prob(policy, traj, steps, 4.5, 0.7, with_reference=True)
    assert (out.kl > 0).all()
    again = step_log_prob(policy, traj, steps, 4.5, 0.7, with_reference=False)
    assert torch.equal(out.log_prob, again.log_prob)  # the reference context restored the adapter


def _count_transformer_rows(policy):
    rows = []
    handle = policy.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: rows.append(kwargs["hidden_states"].shape[0]), with_kwargs=True
    )
    return rows, handle


def test_shared_velocity_evaluates_each_distinct_row_once_and_equals_velocity(policy):
    # Two groups of three copies (one start noise per group) and one row whose prompt differs from its noise twin.
    prompts = ["a red circle"] * 3 + ["two blue squares"] * 3 + ["two blue squares"]
    noise = torch.cat([policy.initial_noise(1, 64, torch.Generator().manual_seed(s)) for s in (0, 0, 0, 1, 1, 1, 0)])
    cond = policy.encode_distinct(prompts, max_sequence_length=16)
    rows, handle = _count_transformer_rows(policy)
    try:
        shared = policy.shared_velocity(noise, torch.tensor(0.7), cond, 4.5)
    finally:
        handle.remove()
    cfg_batch = 2 if isinstance(policy, SD3Policy) else 1  # SD3 stacks the unconditional and conditional rows
    assert sum(rows) == 3 * cfg_batch  # 3 distinct rows
    torch.testing.assert_close(shared, policy.velocity(noise, torch.tensor(0.7), cond, 4.5), rtol=1e-5, atol=1e-5)
    per_row_sigma = torch.tensor([0.7, 0.7, 0.5, 0.7, 0.7, 0.7, 0.7])  # a differing sigma makes a row distinct
    torch.testing.assert_close(policy.shared_velocity(noise, per_row_sigma, cond, 4.5),
                               policy.velocity(noise, per_row_sigma, cond, 4.5), rtol=1e-5, atol=1e-5)


def test_shared_velocity_gives_every_copy_its_gradient(policy):
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in policy.lora_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    noise = torch.cat([policy.initial_noise(1, 64, torch.Generator().manual_seed(0))] * 3)
    cond = policy.encode_distinct(["a red circle"] * 3, max_sequence_length=16)
    weights = torch.tensor([1.0, -2.0, 0.5]).reshape(3, *([1] * (noise.ndim - 1)))
    grads = []
    for fn in (policy.shared_velocity, policy.velocity):
        for p in policy.lora_parameters():
            p.grad = None
        (fn(noise, torch.tensor(0.6), cond, 4.5) * weights).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in policy.lora_parameters()]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-5)  # summation order differs
    assert grads[0].abs().sum() > 0


def test_encode_distinct_matches_encode_with_bitwise_equal_repeats(policy):
    prompts = ["a red circle", "two blue squares", "a red circle"]
    distinct, plain = policy.encode_distinct(prompts, max_sequence_length=16), policy.encode(prompts, max_sequence_length=16)
    for key, value in distinct.batched.items():
        torch.testing.assert_close(value, plain.batched[key], rtol=1e-5, atol=1e-5)
        assert torch.equal(value[0], value[2])
    assert distinct.shared.keys() == plain.shared.keys()
