"""Flow-matching ODE -> SDE sampling with per-step Gaussian log-probabilities (flow-GRPO).

Pure tensor maths, no model code. Conventions follow diffusers' ``FlowMatchEulerDiscreteScheduler``:
``x_sigma = (1 - sigma) * x_0 + sigma * noise``, the model predicts the velocity ``v = noise - x_0``, and a
denoising step goes from ``sigma`` to ``sigma_next < sigma`` with ``dt = sigma_next - sigma < 0``.

Reference: Liu et al., "Flow-GRPO: Training Flow Matching Models via Online RL" (arXiv 2505.05470), Eq. 9-10,
and its code ``flow_grpo/diffusers_patch/sd3_sde_with_logprob.py::sde_step_with_logprob``. The SDE

    dx = [v + sigma_t^2 / (2 sigma) * (x + (1 - sigma) v)] dt + sigma_t dw,   sigma_t = a * sqrt(sigma / (1 - sigma))

has the same marginals as the probability-flow ODE ``dx = v dt``; ``a`` is the noise level.

Block noise (``noise_block = k > 1``; ours, not from a paper): the noise ``dw`` and the drift's score correction
are both projected onto latents that are constant on ``k x k`` blocks of each channel (``block_project``). By the
Fokker-Planck equation an SDE ``dx = [v + 1/2 G G^T (-score)] dt + G dw`` keeps the ODE's marginals for any
diffusion matrix ``G``; with ``G = sigma_t P`` (``P`` the orthogonal block projection) the correction is the
projection of flow-GRPO's. The step's action is then the ``D / k^2`` block means of its result, Gaussian with the
projected mean and standard deviation ``sigma_t sqrt(|dt|) / k``, and the rest of the result is a deterministic
function of the state, like the ODE steps outside an SDE window. Why: the score-function gradient of flow-GRPO
carries one unit of noise per Gaussian action, and a reward decided by the layout (which objects, where, what
colour) depends on the low-frequency noise only; ``D / k^2`` actions keep that signal with ``k^2`` times fewer noise
terms (docs/training.md, "Block noise").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _as_batch_column(value: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or per-sample ``[B]`` value against ``like`` (``[B, ...]``), in fp32."""
    value = torch.as_tensor(value, dtype=torch.float32, device=like.device)
    if value.ndim == 0:
        return value
    return value.reshape(-1, *([1] * (like.ndim - 1)))


def sde_std_dev(sigma: torch.Tensor, sigma_next: torch.Tensor, noise_level: float) -> torch.Tensor:
    """``std_dev_t = noise_level * sqrt(sigma / (1 - sigma'))`` with ``sigma' = sigma_next`` where ``sigma == 1``.

    At ``sigma = 1`` (the first step of an unshifted schedule) ``1 - sigma`` vanishes; flow-GRPO substitutes the
    next sigma there, exactly as done here.
    """
    sigma_safe = torch.where(sigma == 1, sigma_next, sigma)
    return noise_level * torch.sqrt(sigma / (1 - sigma_safe))


def sde_step(
    velocity: torch.Tensor,
    sample: torch.Tensor,
    sigma: torch.Tensor | float,
    sigma_next: torch.Tensor | float,
    noise_level: float,
    prev_sample: torch.Tensor | None = None,
    generator: torch.Generator | list[torch.Generator] | None = None,
    noise_block: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One stochastic denoising step and the log-probability of its result.

    Args:
        velocity: model output ``v`` at ``(sample, sigma)``, shape ``[B, ...]``.
        sample: current latents ``x`` at noise level ``sigma``, shape ``[B, ...]``.
        sigma, sigma_next: current and next noise levels, scalars or ``[B]``; ``sigma_next < sigma``.
        noise_level: the SDE noise scale ``a`` (flow-GRPO uses 0.7).
        prev_sample: if given, the step's result whose log-prob is wanted (training); else it is sampled.
        generator: torch generator(s) for the sampled noise (one per batch element, or one for all).
        noise_block: ``k``: noise and score correction constant on ``k x k`` latent blocks, log-prob over the block
            means (module docstring); 1 is flow-GRPO's step. ``k > 1`` needs ``[B, C, H, W]`` latents.

    Returns:
        ``(prev_sample, log_prob[B], mean, std_dev_t)``, where ``mean`` is the Gaussian mean of the step (used
        for the KL to the reference) and ``std_dev_t`` is ``sigma_t`` broadcastable to ``sample``. Everything is
        fp32. The noise standard deviation of the step is ``std_dev_t * sqrt(-dt)``.
    """
    velocity = velocity.float()
    sample = sample.float()
    sigma = _as_batch_column(sigma, sample)
    sigma_next = _as_batch_column(sigma_next, sample)
    dt = sigma_next - sigma
    std_dev_t = sde_std_dev(sigma, sigma_next, noise_level)
    correction = (std_dev_t**2 / (2 * sigma)) * (sample + (1 - sigma) * velocity) * dt
    noise_std = std_dev_t * torch.sqrt(-dt)
    if noise_block != 1:
        _check_blocks(sample, noise_block)
    mean = sample + velocity * dt + block_project(correction, noise_block)
    if prev_sample is None:
        prev_sample = mean + noise_std * block_project(_randn_like(sample, generator), noise_block)
    prev_sample = prev_sample.float()
    log_prob = gaussian_log_prob(
        block_means(prev_sample.detach(), noise_block), block_means(mean, noise_block), noise_std / noise_block
    )
    return prev_sample, log_prob, mean, std_dev_t


def block_means(x: torch.Tensor, block: int) -> torch.Tensor:
    """The means of ``[B, C, H, W]`` over ``block x block`` squares; ``x`` itself (any shape) for ``block = 1``."""
    return x if block == 1 else F.avg_pool2d(x, block)


def block_project(x: torch.Tensor, block: int) -> torch.Tensor:
    """Orthogonal projection of ``[B, C, H, W]`` onto tensors constant on ``block x block`` squares: block means."""
    return x if block == 1 else F.interpolate(F.avg_pool2d(x, block), scale_factor=block, mode="nearest")


def _check_blocks(sample: torch.Tensor, block: int) -> None:
    if block < 1:
        raise ValueError(f"sampling.noise_block must be >= 1, got {block}")
    if sample.ndim != 4:
        raise ValueError(f"sampling.noise_block > 1 needs [B, C, H, W] latents (SD3), got shape {tuple(sample.shape)}; "
                         "use noise_block=1 for packed latents (FLUX)")
    if sample.shape[-1] % block or sample.shape[-2] % block:
        raise ValueError(f"sampling.noise_block={block} does not divide the {sample.shape[-2]}x{sample.shape[-1]} "
                         "latent; pick a divisor of the latent side")


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Log-density of ``x`` under ``N(mean, std^2)`` per element, averaged over all non-batch dims -> ``[B]``."""
    std = torch.as_tensor(std, dtype=mean.dtype, device=mean.device).expand_as(mean)
    log_density = -((x - mean) ** 2) / (2 * std**2) - torch.log(std) - 0.5 * math.log(2 * math.pi)
    return log_density.mean(dim=tuple(range(1, log_density.ndim)))


def ode_step(
    velocity: torch.Tensor, sample: torch.Tensor, sigma: torch.Tensor | float, sigma_next: torch.Tensor | float
) -> torch.Tensor:
    """Deterministic Euler step of the probability-flow ODE, ``x + v * dt`` (as the diffusers scheduler)."""
    sample32 = sample.float()
    dt = _as_batch_column(sigma_next, sample32) - _as_batch_column(sigma, sample32)
    return sample32 + velocity.float() * dt


def kl_to_reference(
    mean: torch.Tensor, mean_ref: torch.Tensor, std_dev_t: torch.Tensor, noise_block: int = 1
) -> torch.Tensor:
    """flow-GRPO's KL on the step means: ``mean_dims((mean - mean_ref)^2) / (2 std_dev_t^2)`` -> ``[B]``.

    With ``noise_block = k > 1`` the action is the block means, whose standard deviation is ``1/k`` of the
    isotropic step's, so the same formula is taken over them: ``k^2 mean_blocks((pool(mean) - pool(mean_ref))^2) /
    (2 std_dev_t^2)``. The detail within blocks is deterministic and, like an ODE step, carries no KL.

    As in flow-GRPO's code, the squared distance is averaged over latent dims and divided by ``sigma_t^2``, not
    by the step variance ``sigma_t^2 * |dt|``; this is the quantity flow-GRPO weights by ``beta``.
    """
    if noise_block != 1:
        _check_blocks(mean, noise_block)
    mean, mean_ref = block_means(mean, noise_block), block_means(mean_ref, noise_block)
    sq = ((mean - mean_ref) ** 2).mean(dim=tuple(range(1, mean.ndim))) * noise_block**2
    std = std_dev_t.reshape(std_dev_t.shape[0], -1)[:, 0] if std_dev_t.ndim > 0 else std_dev_t
    return sq / (2 * std**2)


def sde_window(
    num_steps: int, window: int | None, generator: torch.Generator | None = None, max_start: int | None = None
) -> list[int]:
    """Indices of the stochastic (and trained) steps.

    ``window=None`` makes every step stochastic (flow-GRPO). Otherwise ``window`` consecutive steps starting at
    a position drawn uniformly from ``[0, max_start]`` are stochastic and the others are ODE steps (MixGRPO,
    arXiv 2507.21802; flow-GRPO-Fast, whose ``sde_window_range`` keeps the window in the first half of the
    schedule, where the layout is decided). ``max_start=None`` allows every start, ``num_steps - window``.
    The same window is used for the whole batch.
    """
    if window is None or window >= num_steps:
        return list(range(num_steps))
    if window < 1:
        raise ValueError(f"sampling.sde_window must be >= 1 or null, got {window}")
    last = num_steps - window if max_start is None else max_start
    if not 0 <= last <= num_steps - window:
        raise ValueError(f"sampling.sde_window_max_start must be in [0, {num_steps - window}] for {num_steps} steps "
                         f"and a window of {window}, got {max_start}")
    start = int(torch.randint(0, last + 1, (1,), generator=generator).item())
    return list(range(start, start + window))


def _randn_like(sample: torch.Tensor, generator: torch.Generator | list[torch.Generator] | None) -> torch.Tensor:
    if isinstance(generator, list):
        if len(generator) != sample.shape[0]:
            raise ValueError(f"{len(generator)} generators for a batch of {sample.shape[0]}")
        return torch.cat(
            [torch.randn(sample.shape[1:], generator=g, dtype=torch.float32, device=g.device).unsqueeze(0) for g in generator]
        ).to(sample.device)
    device = generator.device if generator is not None else sample.device
    return torch.randn(sample.shape, generator=generator, dtype=torch.float32, device=device).to(sample.device)
