import math

import pytest
import torch

from t2i_rl.sde import gaussian_log_prob, kl_to_reference, ode_step, sde_std_dev, sde_step, sde_window


def _hand(v, x, s, s_next, a):
    """flow-GRPO's formulas written out independently (scalars broadcast)."""
    s_prime = s_next if s == 1.0 else s
    std_t = a * math.sqrt(s / (1 - s_prime))
    dt = s_next - s
    mean = x + v * dt + (std_t**2 / (2 * s)) * (x + (1 - s) * v) * dt
    return mean, std_t, std_t * math.sqrt(-dt)


@pytest.mark.parametrize("sigma,sigma_next", [(1.0, 0.9), (0.6, 0.45), (0.1, 0.0)], ids=["first", "middle", "last"])
def test_sde_step_mean_std_and_log_prob_match_hand_computation(sigma, sigma_next):
    gen = torch.Generator().manual_seed(0)
    v, x = torch.randn(3, 4, 5, 5, generator=gen), torch.randn(3, 4, 5, 5, generator=gen)
    prev, log_prob, mean, std_t = sde_step(v, x, sigma, sigma_next, 0.7, generator=gen)
    hand_mean, hand_std_t, noise_std = _hand(v, x, sigma, sigma_next, 0.7)
    torch.testing.assert_close(mean, hand_mean, rtol=1e-6, atol=1e-6)
    assert float(std_t) == pytest.approx(hand_std_t, rel=1e-6)
    expected = torch.distributions.Normal(hand_mean, noise_std).log_prob(prev).mean(dim=(1, 2, 3))
    torch.testing.assert_close(log_prob, expected, rtol=1e-5, atol=1e-5)
    assert log_prob.shape == (3,) and log_prob.dtype == torch.float32


def test_first_step_uses_next_sigma_in_the_denominator():
    std = sde_std_dev(torch.tensor(1.0), torch.tensor(0.96), 0.7)
    assert float(std) == pytest.approx(0.7 * math.sqrt(1 / 0.04))


def test_sampled_noise_has_the_step_variance_and_given_prev_sample_is_scored():
    x = torch.zeros(1, 200_000)
    v = torch.zeros_like(x)
    prev, _, mean, std_t = sde_step(v, x, 0.5, 0.4, 0.7, generator=torch.Generator().manual_seed(1))
    assert (prev - mean).std().item() == pytest.approx(float(std_t) * math.sqrt(0.1), rel=0.01)
    given = torch.full_like(x, 0.3)
    out, lp, _, _ = sde_step(v, x, 0.5, 0.4, 0.7, prev_sample=given)
    assert torch.equal(out, given)
    assert lp.item() == pytest.approx(gaussian_log_prob(given, mean, std_t * math.sqrt(0.1)).item())


def test_per_sample_sigmas_equal_separate_calls():
    gen = torch.Generator().manual_seed(0)
    v, x, prev = (torch.randn(2, 3, 4, generator=gen) for _ in range(3))
    sig, nxt = torch.tensor([0.8, 0.3]), torch.tensor([0.7, 0.2])
    _, lp, mean, _ = sde_step(v, x, sig, nxt, 0.7, prev_sample=prev)
    for b in range(2):
        _, lp_b, mean_b, _ = sde_step(v[b : b + 1], x[b : b + 1], sig[b].item(), nxt[b].item(), 0.7, prev_sample=prev[b : b + 1])
        torch.testing.assert_close(lp[b : b + 1], lp_b)
        torch.testing.assert_close(mean[b : b + 1], mean_b)


def test_log_prob_gradient_flows_through_velocity_not_prev_sample():
    v = torch.randn(2, 8, requires_grad=True)
    prev = torch.randn(2, 8, requires_grad=True)
    _, lp, _, _ = sde_step(v, torch.randn(2, 8), 0.5, 0.4, 0.7, prev_sample=prev)
    lp.sum().backward()
    assert v.grad is not None and v.grad.abs().sum() > 0
    assert prev.grad is None


def test_ode_step_is_euler_and_zero_noise_sde_equals_ode():
    v, x = torch.randn(2, 4), torch.randn(2, 4)
    torch.testing.assert_close(ode_step(v, x, 0.6, 0.5), x - 0.1 * v)
    prev, _, _, _ = sde_step(v, x, 0.6, 0.5, noise_level=1e-12, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(prev, ode_step(v, x, 0.6, 0.5))


def test_kl_to_reference_is_flow_grpo_formula_and_zero_for_equal_means():
    mean, ref = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    std = torch.tensor([[[0.5]], [[2.0]]])
    expected = ((mean - ref) ** 2).mean(dim=(1, 2)) / (2 * std.flatten() ** 2)
    torch.testing.assert_close(kl_to_reference(mean, ref, std), expected)
    assert torch.equal(kl_to_reference(mean, mean, std), torch.zeros(2))


def test_block_kl_is_the_formula_on_block_means_with_their_smaller_std():
    mean, ref = torch.zeros(1, 1, 2, 4), torch.zeros(1, 1, 2, 4)
    mean[0, 0, :, :2] = torch.tensor([[1.0, 3.0], [0.0, 0.0]])  # block means 1 and 0 against 0 and 0
    detail = torch.tensor([[[[1.0, -1.0, 2.0, -2.0], [-1.0, 1.0, -2.0, 2.0]]]])  # zero block means
    std = torch.tensor([[[[0.5]]]])
    # k^2 * mean over blocks of (1^2, 0^2) / (2 * 0.25) = 4 * 0.5 / 0.5 = 4
    assert kl_to_reference(mean, ref, std, noise_block=2).item() == pytest.approx(4.0)
    assert kl_to_reference(mean + detail, ref, std, noise_block=2).item() == pytest.approx(4.0)  # detail: no KL


def test_sde_window_is_contiguous_and_within_range():
    assert sde_window(10, None) == list(range(10))
    gen = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(50):
        w = sde_window(10, 3, gen)
        assert len(w) == 3 and w == list(range(w[0], w[0] + 3)) and 0 <= w[0] <= 7
        starts.add(w[0])
    assert len(starts) > 3
    with pytest.raises(ValueError):
        sde_window(10, 0)


def test_sde_window_max_start_keeps_the_window_early():
    gen = torch.Generator().manual_seed(0)
    starts = {sde_window(8, 1, gen, max_start=3)[0] for _ in range(100)}
    assert starts == {0, 1, 2, 3}  # flow-GRPO-Fast's sde_window_range: the first half only, every start drawn
    assert sde_window(8, 2, gen, max_start=0) == [0, 1]
    with pytest.raises(ValueError, match="sde_window_max_start"):
        sde_window(8, 2, gen, max_start=7)


def test_block_noise_step_matches_hand_computation():
    gen = torch.Generator().manual_seed(3)
    v, x = torch.randn(2, 3, 4, 6, generator=gen), torch.randn(2, 3, 4, 6, generator=gen)
    prev, log_prob, mean, std_t = sde_step(v, x, 0.6, 0.45, 0.7, generator=gen, noise_block=2)
    s, dt = 0.6, -0.15
    std_hand = 0.7 * math.sqrt(s / (1 - s))
    correction = (std_hand**2 / (2 * s)) * (x + (1 - s) * v) * dt
    # Block means written out with reshapes, independently of avg_pool2d / interpolate.
    def block_means(t):
        return t.reshape(2, 3, 2, 2, 3, 2).mean(dim=(3, 5))
    def upsample(t):
        return t.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(mean, x + v * dt + upsample(block_means(correction)), rtol=1e-6, atol=1e-6)
    residual = prev - mean
    torch.testing.assert_close(residual, upsample(block_means(residual)), rtol=0, atol=1e-6)  # constant on blocks
    noise_std = std_hand * math.sqrt(-dt)
    expected = torch.distributions.Normal(block_means(mean), noise_std / 2).log_prob(block_means(prev)).mean(dim=(1, 2, 3))
    torch.testing.assert_close(log_prob, expected, rtol=1e-5, atol=1e-5)
    assert float(std_t) == pytest.approx(std_hand, rel=1e-6)


def test_block_noise_of_one_is_flow_grpos_step_bitwise_on_any_latent_shape():
    # flow-GRPO's step written out with the same torch operations as before block noise existed; packed [B, N, C]
    # latents (FLUX) must still work, since only k > 1 needs [B, C, H, W].
    gen = torch.Generator().manual_seed(4)
    v, x, prev = (torch.randn(2, 16, 12, generator=gen) for _ in range(3))
    sigma, sigma_next = torch.tensor(0.5), torch.tensor(0.4)
    dt = sigma_next - sigma
    std_t = sde_std_dev(sigma, sigma_next, 0.7)
    mean = x + v * dt + (std_t**2 / (2 * sigma)) * (x + (1 - sigma) * v) * dt
    expected = gaussian_log_prob(prev, mean, std_t * torch.sqrt(-dt))
    _, log_prob, ours, _ = sde_step(v, x, 0.5, 0.4, 0.7, prev_sample=prev, noise_block=1)
    assert torch.equal(ours, mean) and torch.equal(log_prob, expected)


@pytest.mark.parametrize("block", [1, 2, 4])
def test_block_noise_sde_keeps_the_ode_marginals(block):
    # Data x0 ~ N(0, s0^2) per element: the exact velocity is linear, v = x (sigma - (1 - sigma) s0^2) / var(sigma)
    # with var(sigma) = (1 - sigma)^2 s0^2 + sigma^2. Integrating the SDE from pure noise must give back var s0^2
    # in the block means and in the within-block detail alike (the score correction is projected with the noise).
    s0 = 0.5
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(512, 2, 8, 8, generator=gen)
    sigmas = torch.linspace(1, 0, 401)
    for i in range(400):
        s = sigmas[i].item()
        v = x * (s - (1 - s) * s0**2) / ((1 - s) ** 2 * s0**2 + s**2)
        x, _, _, _ = sde_step(v, x, s, sigmas[i + 1].item(), 0.7, generator=gen, noise_block=block)
    coarse = torch.nn.functional.avg_pool2d(x, block)
    detail = x - coarse.repeat_interleave(block, 2).repeat_interleave(block, 3)
    assert coarse.var().item() * block**2 == pytest.approx(s0**2, rel=0.06)
    if block > 1:
        assert detail.var().item() / (1 - 1 / block**2) == pytest.approx(s0**2, rel=0.06)


def test_block_noise_rejects_shapes_it_cannot_tile():
    v = x = torch.zeros(1, 2, 6, 6)
    with pytest.raises(ValueError, match="does not divide the 6x6"):
        sde_step(v, x, 0.5, 0.4, 0.7, noise_block=4)
    with pytest.raises(ValueError, match=r"needs \[B, C, H, W\] latents"):
        sde_step(torch.zeros(1, 16, 8), torch.zeros(1, 16, 8), 0.5, 0.4, 0.7, noise_block=2)
