"""DiffusionNFT: online RL on the forward process (Zheng et al., arXiv 2509.16117), the trainer's ``train.algorithm=nft``.

Instead of flow-GRPO's per-step Gaussian likelihoods, DiffusionNFT trains the velocity with a flow-matching loss on
the policy's own clean samples ``x0``, re-noised by the forward process ``x_t = (1 - t) x0 + t eps``. Each sample's
advantage becomes an optimality probability ``r`` in [0, 1]; the loss pulls an *implicit positive* policy
``v+ = beta v_theta + (1 - beta) v_old`` towards the sample with weight ``r`` and an *implicit negative* policy
``v- = (1 + beta) v_old - beta v_theta`` with weight ``1 - r`` (the paper's Eq. 6-8). Its minimiser moves ``v_theta``
from ``v_old`` along ``v+ - v_old``, i.e. towards good and away from bad samples, with supervised-regression variance
instead of a score-function estimator's. Sampling uses the slowly updated ``v_old`` with any solver (here the ODE).

What follows the official implementation (``NVlabs/DiffusionNFT``, ``scripts/train_nft_sd3.py`` and
``config/nft.py``) exactly: ``r = clip((clip(A, -m, m) / m) / 2 + 1/2, 0, 1)``; both regression terms in x0-space
(``x_t - t v``) with the adaptive per-sample weight ``1 / mean|x0_hat - x0|`` (stop-gradient, floored at 1e-5);
``loss = m * mean((r L+ + (1 - r) L-) / beta) + kl_beta * mean((v_theta - v_ref)^2)``; the old policy's soft update
``theta_old <- eta theta_old + (1 - eta) theta`` with ``eta = min(rate * step, eta_max)`` (``return_decay``,
``decay_type`` 1: rate 0.001, max 0.5). Differences, chosen for this toolkit and marked in the config:
``v`` is the *guided* velocity at ``sampling.guidance_scale`` (``1.0`` gives the paper's CFG-free recipe), so that
the trained policy is the one evaluated; and each image trains on ``train.nft_timesteps`` of the schedule's
timesteps drawn at random (the official loop visits all of them), which keeps the same expectation at a CPU's cost.
"""

from __future__ import annotations

import torch

from t2i_rl.policies.base import FlowPolicy


def optimality_probability(advantages: torch.Tensor, adv_clip_max: float) -> torch.Tensor:
    """``r = clip((clip(A, -m, m) / m) / 2 + 1/2, 0, 1)``: advantage ``-m`` -> 0, ``0`` -> 1/2, ``+m`` -> 1."""
    clipped = advantages.clamp(-adv_clip_max, adv_clip_max)
    return ((clipped / adv_clip_max) / 2 + 0.5).clamp(0, 1)


def _adaptive_x0_loss(x0_hat: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """``mean((x0_hat - x0)^2) / sg(mean|x0_hat - x0|)`` per sample -> ``[B]``."""
    dims = tuple(range(1, x0.ndim))
    with torch.no_grad():
        weight = (x0_hat.double() - x0.double()).abs().mean(dim=dims, keepdim=True).clamp(min=1e-5)
    return ((x0_hat - x0) ** 2 / weight).mean(dim=dims)


def nft_loss(
    v_theta: torch.Tensor,
    v_old: torch.Tensor,
    x_t: torch.Tensor,
    x0: torch.Tensor,
    t: torch.Tensor,
    advantages: torch.Tensor,
    beta: float,
    adv_clip_max: float,
    v_ref: torch.Tensor | None = None,
    kl_beta: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """DiffusionNFT's loss for one micro-batch at noise levels ``t`` (``[B]``); velocities and latents ``[B, ...]``.

    Returns the loss and detached metrics (``policy_loss``, ``kl`` to the reference, ``old_deviation``).
    """
    if beta <= 0:
        raise ValueError(f"train.nft_beta must be > 0, got {beta}")
    v_theta, v_old, x_t, x0 = v_theta.float(), v_old.detach().float(), x_t.float(), x0.float()
    t = t.float().reshape(-1, *([1] * (x0.ndim - 1))).to(x0.device)
    r = optimality_probability(advantages.float().to(x0.device), adv_clip_max)
    positive = beta * v_theta + (1 - beta) * v_old
    negative = (1 + beta) * v_old - beta * v_theta
    positive_loss = _adaptive_x0_loss(x_t - t * positive, x0)
    negative_loss = _adaptive_x0_loss(x_t - t * negative, x0)
    per_sample = (r * positive_loss + (1 - r) * negative_loss) / beta
    policy_loss = (per_sample * adv_clip_max).mean()
    dims = tuple(range(1, x0.ndim))
    kl = torch.zeros((), device=x0.device)
    if v_ref is not None:
        kl = ((v_theta - v_ref.detach().float()) ** 2).mean(dim=dims).mean()
    loss = policy_loss + kl_beta * kl
    metrics = {
        "policy_loss": policy_loss.detach(),
        "kl": kl.detach(),
        "old_deviation": ((v_theta - v_old) ** 2).mean().detach(),
    }
    return loss, metrics


def old_policy_decay(step: int, rate: float, max_decay: float) -> float:
    """``eta = min(rate * step, max_decay)``, the weight the old policy keeps in its soft update after ``step``
    (the official ``return_decay`` with ``flat = 0``; ``decay_type`` 1 is rate 0.001, max 0.5)."""
    return min(rate * step, max_decay)


class OldPolicy:
    """The sampling policy ``theta_old``: a copy of the LoRA weights, soft-updated after every training step."""

    def __init__(self, params: list[torch.nn.Parameter]) -> None:
        self.params = params
        self.weights = [p.detach().clone() for p in params]

    @torch.no_grad()
    def update(self, decay: float) -> None:
        """``theta_old <- decay * theta_old + (1 - decay) * theta``."""
        for old, p in zip(self.weights, self.params):
            old.mul_(decay).add_(p.detach(), alpha=1 - decay)

    def swapped_in(self) -> "_Swap":
        """Context in which the LoRA parameters hold ``theta_old`` (the trained weights are restored after)."""
        return _Swap(self)

    def state_dict(self) -> list[torch.Tensor]:
        return [w.clone() for w in self.weights]

    def load_state_dict(self, weights: list[torch.Tensor]) -> None:
        if len(weights) != len(self.weights) or any(a.shape != b.shape for a, b in zip(weights, self.weights)):
            raise ValueError("the checkpoint's DiffusionNFT old policy does not match this model's LoRA parameters")
        self.weights = [w.clone().to(p.device) for w, p in zip(weights, self.params)]


class _Swap:
    def __init__(self, old: OldPolicy) -> None:
        self.old = old

    @torch.no_grad()
    def __enter__(self) -> None:
        self.saved = [p.detach().clone() for p in self.old.params]
        for p, w in zip(self.old.params, self.old.weights):
            p.copy_(w)

    @torch.no_grad()
    def __exit__(self, *exc) -> None:
        for p, w in zip(self.old.params, self.saved):
            p.copy_(w)


def forward_noised(x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The forward process ``x_t = (1 - t) x0 + t eps`` at per-sample noise levels ``t`` (``[B]``)."""
    eps = torch.randn(x0.shape, generator=generator, dtype=torch.float32).to(x0.device)
    t = t.float().reshape(-1, *([1] * (x0.ndim - 1))).to(x0.device)
    return (1 - t) * x0.float() + t * eps


def nft_velocities(
    policy: FlowPolicy, x_t: torch.Tensor, t: torch.Tensor, cond, guidance_scale: float, old: OldPolicy,
    with_reference: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(v_theta, v_old, v_ref)`` at ``(x_t, t)``; only ``v_theta`` carries gradients."""
    with torch.no_grad():
        with old.swapped_in():
            v_old = policy.shared_velocity(x_t, t, cond, guidance_scale)
        v_ref = None
        if with_reference:
            with policy.reference():
                v_ref = policy.shared_velocity(x_t, t, cond, guidance_scale)
    v_theta = policy.shared_velocity(x_t, t, cond, guidance_scale)
    return v_theta, v_old, v_ref
