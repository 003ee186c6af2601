"""The reward seam.

A reward maps a batch of images (plus their prompts and metadata) to a score matrix ``[B, K]``: one
column per concept or criterion, ``NaN`` where the column does not apply to that image's prompt (for
example a "count" column for a prompt without a count). A reward never aggregates: turning ``[B, K]``
into one number per image is :mod:`t2i_rl.aggregation`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import torch

#: Concept groups understood by the aggregators (CMO normalises weights within each group).
CONCEPT_GROUPS = ("object", "attribute", "relation", "quality", "other")


@dataclass
class RewardBatch:
    """What a reward sees: images in ``[0, 1]`` as ``[B, 3, H, W]`` float, prompts and per-prompt metadata."""

    images: torch.Tensor
    prompts: list[str]
    metadata: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"RewardBatch.images must be [B, 3, H, W], got {tuple(self.images.shape)}")
        if len(self.prompts) != self.images.shape[0]:
            raise ValueError(f"{len(self.prompts)} prompts for {self.images.shape[0]} images")
        if not self.metadata:
            self.metadata = [{} for _ in self.prompts]
        if len(self.metadata) != len(self.prompts):
            raise ValueError(f"{len(self.metadata)} metadata entries for {len(self.prompts)} prompts")


@dataclass
class RewardOutput:
    """Per-concept scores.

    scores:  ``[B, K]`` float32; ``NaN`` = not applicable to that image's prompt.
    names:   ``K`` column names, unique, e.g. ``"brightness"`` or ``"obj0/count"``.
    groups:  ``K`` concept groups (see :data:`CONCEPT_GROUPS`); defaults to ``"other"``.
    details: free-form per-image information (boxes, answers, ...) for logging and other components.
    """

    scores: torch.Tensor
    names: list[str]
    groups: list[str] | None = None
    details: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.scores.ndim != 2:
            raise ValueError(f"RewardOutput.scores must be [B, K], got shape {tuple(self.scores.shape)}")
        if self.scores.shape[1] != len(self.names):
            raise ValueError(f"{self.scores.shape[1]} score columns but {len(self.names)} names: {self.names}")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"reward column names must be unique, got {self.names}")
        if self.groups is None:
            self.groups = ["other"] * len(self.names)
        if len(self.groups) != len(self.names):
            raise ValueError(f"{len(self.groups)} groups for {len(self.names)} columns")
        unknown = sorted(set(self.groups) - set(CONCEPT_GROUPS))
        if unknown:
            raise ValueError(f"unknown concept groups {unknown}; use one of {CONCEPT_GROUPS}")
        self.scores = self.scores.detach().to(torch.float32)


class Reward(Protocol):
    """Anything with this call signature is a reward. Heavy imports belong in ``__init__``."""

    def __call__(self, batch: RewardBatch) -> RewardOutput: ...


def concat_outputs(outputs: Sequence[RewardOutput], prefixes: Sequence[str] | None = None) -> RewardOutput:
    """Join several rewards' columns side by side (same images), prefixing names to keep them unique."""
    if not outputs:
        raise ValueError("concat_outputs needs at least one RewardOutput")
    batch = outputs[0].scores.shape[0]
    names, groups, scores = [], [], []
    for i, out in enumerate(outputs):
        if out.scores.shape[0] != batch:
            raise ValueError(f"reward {i} scored {out.scores.shape[0]} images, expected {batch}")
        prefix = f"{prefixes[i]}/" if prefixes else ""
        names += [prefix + n for n in out.names]
        groups += list(out.groups)
        scores.append(out.scores)
    details = [
        {k: v for out in outputs if out.details for k, v in out.details[b].items()} for b in range(batch)
    ]
    return RewardOutput(torch.cat(scores, dim=1), names, groups, details)
