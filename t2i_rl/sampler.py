"""Which prompts each process renders: whole groups of k images per prompt, identical on every process.

Every process builds the same global batch from ``(seed, step, batch)`` alone (no communication, exact after a
resume): ``m = batch_size * num_processes / k`` distinct prompts, each repeated k times *contiguously*, and takes
its own ``batch_size`` slice. A group may straddle two processes; rewards are gathered before group statistics.

With ``same_noise`` every image of a group starts from the same initial noise (DanceGRPO's ``--init_same_noise``):
the images then differ only by the SDE noise of the trained steps, so the group's reward differences are credited
to the policy's own actions rather than to where each image started.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Slot:
    prompt_index: int  # index into the prompt list
    group_id: int  # unique per group within a training step
    seed: int  # initial-noise seed of this image


class GroupSampler:
    def __init__(
        self, num_prompts: int, images_per_prompt: int, batch_size: int, num_processes: int = 1,
        process_index: int = 0, seed: int = 0, same_noise: bool = False,
    ) -> None:
        if num_prompts < 1:
            raise ValueError("the prompt list is empty: give data.prompts (a .txt/.jsonl file) or data.inline_prompts")
        total = batch_size * num_processes
        if total % images_per_prompt:
            raise ValueError(
                f"rollout.batch_size ({batch_size}) x processes ({num_processes}) = {total} images per sampling "
                f"batch is not a multiple of rollout.images_per_prompt ({images_per_prompt}): groups would be cut. "
                f"Choose batch_size so that batch_size * processes is a multiple of images_per_prompt."
            )
        self.num_prompts = num_prompts
        self.k = images_per_prompt
        self.batch_size = batch_size
        self.num_processes = num_processes
        self.process_index = process_index
        self.seed = seed
        self.same_noise = same_noise
        self.prompts_per_batch = total // images_per_prompt

    def global_batch(self, step: int, batch: int) -> list[Slot]:
        """All processes' slots of sampling batch ``batch`` in training step ``step``."""
        gen = torch.Generator().manual_seed(mix_seed(self.seed, step, batch))
        order = torch.cat([torch.randperm(self.num_prompts, generator=gen) for _ in range(self._cycles())])
        chosen = order[: self.prompts_per_batch].tolist()
        slots = []
        for g, prompt_index in enumerate(chosen):
            group_id = batch * self.prompts_per_batch + g
            for j in range(self.k):
                noise_index = 0 if self.same_noise else j
                slots.append(Slot(prompt_index, group_id, mix_seed(self.seed, step, batch, group_id, noise_index) % 2**31))
        return slots

    def local_batch(self, step: int, batch: int) -> list[Slot]:
        start = self.process_index * self.batch_size
        return self.global_batch(step, batch)[start : start + self.batch_size]

    def _cycles(self) -> int:
        # Fewer prompts than groups per batch: prompts repeat (as distinct groups) rather than failing.
        return -(-self.prompts_per_batch // self.num_prompts)


def mix_seed(*values: int) -> int:
    """A deterministic 63-bit hash of integers (Python's hash() of ints is not mixed enough)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h ^= (v + 0x9E3779B97F4A7C15 + ((h << 6) & 0xFFFFFFFFFFFFFFFF) + (h >> 2)) & 0xFFFFFFFFFFFFFFFF
    return h & 0x7FFFFFFFFFFFFFFF
