"""The flow-GRPO objective for one denoising step of a micro-batch."""

from __future__ import annotations

import torch


def grpo_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    clip_range: float,
    adv_clip_max: float,
    kl: torch.Tensor | None = None,
    beta: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO-clipped policy loss plus ``beta * KL`` (flow-GRPO, arXiv 2505.05470, Eq. 8; its ``train_sd3.py``).

    ``ratio = exp(logp - old_logp)``; ``A`` clipped to ``[-adv_clip_max, adv_clip_max]``;
    ``L = mean(max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps))) + beta * mean(KL)``.
    All inputs are ``[B]``. Returns the loss and detached metrics.
    """
    advantages = advantages.clamp(-adv_clip_max, adv_clip_max)
    ratio = torch.exp(log_prob - old_log_prob)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_range, 1.0 + clip_range)
    policy_loss = torch.maximum(unclipped, clipped).mean()
    loss = policy_loss
    kl_mean = torch.zeros((), device=log_prob.device)
    if kl is not None:
        kl_mean = kl.mean()
        loss = loss + beta * kl_mean
    metrics = {
        "policy_loss": policy_loss.detach(),
        "kl": kl_mean.detach(),
        "ratio": ratio.detach().mean(),
        "clipfrac": ((ratio - 1.0).abs() > clip_range).float().mean().detach(),
        "approx_kl": (0.5 * (log_prob - old_log_prob) ** 2).mean().detach(),
    }
    return loss, metrics
