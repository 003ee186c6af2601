"""A plain dict registry: ``name -> factory(**kwargs) -> Reward``. Add your own with :func:`register_reward`."""

from __future__ import annotations

from typing import Any, Callable

from reward_models.base import Reward
from reward_models.image_stats import ImageStatsReward


def _shapes_reward(**kwargs: Any) -> Reward:
    """The shapes world's exact detector + GenEval rules (t2i_rl.shapes), imported only when used."""
    from t2i_rl.shapes.reward import ShapesReward

    return ShapesReward(**kwargs)


REWARDS: dict[str, Callable[..., Reward]] = {
    "image_stats": ImageStatsReward,
    "shapes": _shapes_reward,
}


def register_reward(name: str, factory: Callable[..., Reward]) -> None:
    if name in REWARDS:
        raise ValueError(f"reward {name!r} is already registered")
    REWARDS[name] = factory


def build_reward(name: str, **kwargs: Any) -> Reward:
    if name not in REWARDS:
        raise ValueError(f"unknown reward {name!r}; registered rewards: {sorted(REWARDS)}")
    return REWARDS[name](**kwargs)
