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
