"""The per-step pieces of flow-GRPO's update: recompute a step's log-prob (and the reference's mean)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from t2i_rl.policies.base import FlowPolicy
from t2i_rl.rollout import Trajectory
from t2i_rl.sde import kl_to_reference, sde_step


@dataclass
class StepLogProb:
    log_prob: torch.Tensor  # [B], differentiable w.r.t. the LoRA weights
    old_log_prob: torch.Tensor  # [B], from the rollout
    kl: torch.Tensor | None  # [B], to the reference policy, or None when not requested


def step_log_prob(
    policy: FlowPolicy,
    traj: Trajectory,
    steps: torch.Tensor,
    guidance_scale: float,
    noise_level: float,
    with_reference: bool,
    noise_block: int = 1,
) -> StepLogProb:
    """Log-prob of each trajectory's recorded transition at its own step ``steps[b]`` under the current policy."""
    rows = torch.arange(len(traj), device=traj.latents.device)
    steps = steps.to(traj.latents.device)
    x, x_next = traj.latents[rows, steps], traj.latents[rows, steps + 1]
    sigma, sigma_next = traj.sigmas.to(x.device)[steps], traj.sigmas.to(x.device)[steps + 1]
    v = policy.shared_velocity(x, sigma, traj.cond, guidance_scale)
    _, log_prob, mean, std_dev_t = sde_step(v, x, sigma, sigma_next, noise_level, prev_sample=x_next, noise_block=noise_block)
    kl = None
    if with_reference:
        with torch.no_grad(), policy.reference():
            v_ref = policy.shared_velocity(x, sigma, traj.cond, guidance_scale)
            _, _, mean_ref, _ = sde_step(v_ref, x, sigma, sigma_next, noise_level, prev_sample=x_next,
                                         noise_block=noise_block)
        kl = kl_to_reference(mean, mean_ref, std_dev_t, noise_block)
    return StepLogProb(log_prob, traj.log_probs[rows, steps], kl)


def train_timesteps(sde_steps: list[int], batch: int, fraction: float) -> torch.Tensor:
    """The SDE steps each image trains on: the first ``max(1, int(len(sde_steps) * fraction))`` in time order, ``[B, n]``.

    As flow-GRPO's ``train_sd3.py`` (``train_timesteps = range(num_train_timesteps)`` over time-ordered latents,
    ``timestep_fraction = 0.99``): the default drops the last step, whose noise ``sigma_t * sqrt(|dt|)`` is near 0
    (``sigma = 1/1000 -> 0``), so its log-prob ratio swings wildly while it can barely change the image. DDPO's
    random per-image subsets would train that step in ``n / T`` of the images.
    """
    count = max(1, int(len(sde_steps) * fraction))
    return torch.tensor(sorted(sde_steps)[:count]).expand(batch, count)
