"""Sampling trajectories with per-step log-probabilities (training) or deterministic ODE sampling (evaluation)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from t2i_rl.policies.base import Conditioning, FlowPolicy
from t2i_rl.sde import ode_step, sde_step


@dataclass
class Trajectory:
    """One batch of rollouts. ``latents[:, i]`` is the input of step ``i``; ``latents[:, -1]`` the final latents."""

    latents: torch.Tensor  # [B, T + 1, ...]
    log_probs: torch.Tensor  # [B, T]; 0 at ODE steps
    sigmas: torch.Tensor  # [T + 1]
    sde_steps: list[int]  # steps that were stochastic, hence trainable
    cond: Conditioning
    images: torch.Tensor  # [B, 3, H, W] in [0, 1]

    def __len__(self) -> int:
        return self.latents.shape[0]

    def select(self, index: torch.Tensor) -> "Trajectory":
        return Trajectory(
            self.latents[index], self.log_probs[index], self.sigmas, self.sde_steps, self.cond.select(index),
            self.images[index],
        )

    @staticmethod
    def cat(parts: list["Trajectory"]) -> "Trajectory":
        if any(p.sde_steps != parts[0].sde_steps for p in parts):
            raise ValueError("trajectories with different SDE windows cannot be batched together")
        return Trajectory(
            torch.cat([p.latents for p in parts]), torch.cat([p.log_probs for p in parts]), parts[0].sigmas,
            parts[0].sde_steps, Conditioning.cat([p.cond for p in parts]), torch.cat([p.images for p in parts]),
        )


@torch.no_grad()
def sample_trajectory(
    policy: FlowPolicy,
    cond: Conditioning,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    guidance_scale: float,
    noise_level: float,
    resolution: int,
    sde_steps: list[int] | None = None,
    generator: torch.Generator | None = None,
    noise_block: int = 1,
) -> Trajectory:
    """Denoise ``noise`` along ``sigmas``: SDE (with log-probs) at ``sde_steps``, ODE elsewhere.

    ``sde_steps=None`` means every step is stochastic; ``[]`` gives the deterministic ODE sample.
    """
    num_steps = len(sigmas) - 1
    sde_steps = list(range(num_steps)) if sde_steps is None else list(sde_steps)
    latents = [noise.float()]
    log_probs = torch.zeros(noise.shape[0], num_steps, device=noise.device)
    x = latents[0]
    for i in range(num_steps):
        v = policy.shared_velocity(x, sigmas[i], cond, guidance_scale)
        if i in sde_steps:
            x, log_probs[:, i], _, _ = sde_step(v, x, sigmas[i], sigmas[i + 1], noise_level, generator=generator,
                                                 noise_block=noise_block)
        else:
            x = ode_step(v, x, sigmas[i], sigmas[i + 1])
        latents.append(x)
    images = policy.decode(x, resolution)
    return Trajectory(torch.stack(latents, dim=1), log_probs, sigmas, sde_steps, cond, images)


@torch.no_grad()
def generate(
    policy: FlowPolicy,
    prompts: list[str],
    resolution: int,
    num_steps: int,
    guidance_scale: float,
    seeds: list[int],
    negative_prompt: str = "",
    max_sequence_length: int = 128,
) -> torch.Tensor:
    """Deterministic (ODE) images for evaluation, one seed per prompt: ``[B, 3, H, W]`` in ``[0, 1]``."""
    if len(seeds) != len(prompts):
        raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
    cond = policy.encode(prompts, negative_prompt, max_sequence_length)
    noise = torch.cat([policy.initial_noise(1, resolution, torch.Generator().manual_seed(s)) for s in seeds])
    sigmas = policy.sigmas(num_steps, resolution)
    return sample_trajectory(policy, cond, noise, sigmas, guidance_scale, 0.0, resolution, sde_steps=[]).images
