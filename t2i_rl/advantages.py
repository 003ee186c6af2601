"""Group-relative advantages (GRPO): rewards standardised within each prompt's group of images."""

from __future__ import annotations

import torch


def _group_index(rewards: torch.Tensor, group_ids: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Each image's group number in ``0 .. num_groups - 1``, and ``num_groups``; both inputs must be ``[B]``."""
    if rewards.ndim != 1 or rewards.shape != group_ids.shape:
        raise ValueError(f"rewards {tuple(rewards.shape)} and group_ids {tuple(group_ids.shape)} must both be [B]")
    _, inverse = torch.unique(group_ids, return_inverse=True)
    return inverse, int(inverse.max()) + 1


def group_advantages(
    rewards: torch.Tensor, group_ids: torch.Tensor, global_std: bool = False, eps: float = 1e-4
) -> torch.Tensor:
    """``A_i = (r_i - mean_{g(i)}) / (std + eps)`` as flow-GRPO's ``PerPromptStatTracker``.

    ``mean_g`` is the mean reward of image i's group; ``std`` is the population std (ddof 0, as numpy) of that
    group, or of the whole batch when ``global_std``. Advantages are zero-mean within every group.
    """
    inverse, num_groups = _group_index(rewards, group_ids)
    if not torch.isfinite(rewards).all():
        raise FloatingPointError("non-finite rewards reached the advantage computation")
    rewards = rewards.double()
    count = torch.zeros(num_groups, dtype=rewards.dtype).index_add_(0, inverse, torch.ones_like(rewards))
    mean = torch.zeros(num_groups, dtype=rewards.dtype).index_add_(0, inverse, rewards) / count
    centred = rewards - mean[inverse]
    if global_std:
        std = rewards.std(unbiased=False).expand_as(rewards)
    else:
        var = torch.zeros(num_groups, dtype=rewards.dtype).index_add_(0, inverse, centred**2) / count
        std = var.sqrt()[inverse]
    return (centred / (std + eps)).float()


def flat_group_fraction(rewards: torch.Tensor, group_ids: torch.Tensor, tol: float = 1e-6) -> float:
    """Fraction of groups whose rewards are all equal (spread <= ``tol``).

    Their advantages are all zero, so they give the policy no gradient, only KL; DAPO (Yu et al. 2025,
    arXiv 2503.14476) filters such groups ("dynamic sampling"). A high fraction means the rollouts' noise barely
    changes the outcome (e.g. a stochastic step placed where the layout is already decided).
    """
    inverse, num_groups = _group_index(rewards, group_ids)
    rewards = rewards.double()
    high = torch.full((num_groups,), -torch.inf, dtype=rewards.dtype).scatter_reduce(0, inverse, rewards, "amax")
    low = torch.full((num_groups,), torch.inf, dtype=rewards.dtype).scatter_reduce(0, inverse, rewards, "amin")
    return ((high - low) <= tol).double().mean().item()
