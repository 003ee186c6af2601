"""Rewards: callables that score images per concept and return a :class:`RewardOutput`."""

from reward_models.base import Reward, RewardBatch, RewardOutput, concat_outputs
from reward_models.registry import REWARDS, build_reward, register_reward

__all__ = [
    "REWARDS",
    "Reward",
    "RewardBatch",
    "RewardOutput",
    "build_reward",
    "concat_outputs",
    "register_reward",
]
