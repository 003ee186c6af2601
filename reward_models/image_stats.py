"""Image-statistic rewards: cheap, exact and differentiable-free signals for tests, demos and sanity checks.

They are real rewards (a brighter image scores higher on ``brightness``), which makes them the right tool to
prove that a trainer raises a reward before spending GPU hours on learned judges.
"""

from __future__ import annotations

from typing import Callable

import torch

from reward_models.base import RewardBatch, RewardOutput

# ITU-R BT.601 luma weights.
_LUMA = torch.tensor([0.299, 0.587, 0.114])


def _brightness(images: torch.Tensor) -> torch.Tensor:
    return (images * _LUMA.to(images).view(1, 3, 1, 1)).sum(1).mean(dim=(1, 2))


def _contrast(images: torch.Tensor) -> torch.Tensor:
    return (images * _LUMA.to(images).view(1, 3, 1, 1)).sum(1).flatten(1).std(dim=1)


def _channel_excess(channel: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def score(images: torch.Tensor) -> torch.Tensor:
        others = [c for c in range(3) if c != channel]
        return (images[:, channel] - images[:, others].mean(1)).mean(dim=(1, 2))

    return score


def _center_focus(images: torch.Tensor) -> torch.Tensor:
    """Mean luma of the central quarter of the image minus that of the rest: a subject-centred composition."""
    luma = (images * _LUMA.to(images).view(1, 3, 1, 1)).sum(1)
    h, w = luma.shape[-2:]
    mask = torch.zeros(h, w, dtype=torch.bool, device=images.device)
    mask[h // 4 : h - h // 4, w // 4 : w - w // 4] = True
    return luma[:, mask].mean(1) - luma[:, ~mask].mean(1)


STATISTICS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "brightness": _brightness,
    "contrast": _contrast,
    "center_focus": _center_focus,
    "redness": _channel_excess(0),
    "greenness": _channel_excess(1),
    "blueness": _channel_excess(2),
}


class ImageStatsReward:
    """One column per requested statistic of the ``[0, 1]`` image; ``group`` is ``"quality"``."""

    def __init__(self, statistics: list[str] | tuple[str, ...] = ("brightness",)) -> None:
        unknown = [s for s in statistics if s not in STATISTICS]
        if unknown or not statistics:
            raise ValueError(f"unknown image statistics {unknown}; choose from {sorted(STATISTICS)}")
        self.statistics = list(statistics)

    def __call__(self, batch: RewardBatch) -> RewardOutput:
        images = batch.images.float()
        scores = torch.stack([STATISTICS[s](images) for s in self.statistics], dim=1)
        return RewardOutput(scores, list(self.statistics), ["quality"] * len(self.statistics))
