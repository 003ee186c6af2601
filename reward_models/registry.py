"""A plain dict registry: ``name -> factory(**kwargs) -> Reward``. Add your own with :func:`register_reward`."""

from __future__ import annotations

from typing import Any, Callable

from reward_models.base import Reward
from reward_models.image_stats import ImageStatsReward


def _shapes_reward(**kwargs: Any) -> Reward:
    """The shapes world's exact detector + GenEval rules (t2i_rl.shapes), imported only when used."""
    from t2i_rl.shapes.reward import ShapesReward

    return ShapesReward(**kwargs)


def _detector_reward(**kwargs: Any) -> Reward:
    """Grounding DINO + GenEval's rules (presence, count, position), imported only when used."""
    from reward_models.detector import DetectorReward

    return DetectorReward(**kwargs)


def _attribute_reward(**kwargs: Any) -> Reward:
    """CLIP attribute (GenEval colour) classification of object crops, imported only when used."""
    from reward_models.attribute import AttributeReward

    return AttributeReward(**kwargs)


def _vqa_reward(**kwargs: Any) -> Reward:
    """VQAScore-style per-concept VLM judge, imported only when used."""
    from reward_models.vqa import VQAReward

    return VQAReward(**kwargs)


def _critique_reward(**kwargs: Any) -> Reward:
    """Rationale-critique VLM judge (local transformers or OpenAI-compatible endpoint), imported only when used."""
    from reward_models.critique import CritiqueReward

    return CritiqueReward(**kwargs)


def _pickscore_reward(**kwargs: Any) -> Reward:
    """PickScore (Kirstain et al., 2023), transformers CLIP-H/14, imported only when used."""
    from reward_models.preference import PickScoreReward

    return PickScoreReward(**kwargs)


def _hpsv2_reward(**kwargs: Any) -> Reward:
    """HPSv2 (Wu et al., 2023), open_clip ViT-H-14 + a local HPS_v2.1_compressed.pt, imported only when used."""
    from reward_models.preference import HPSv2Reward

    return HPSv2Reward(**kwargs)


REWARDS: dict[str, Callable[..., Reward]] = {
    "image_stats": ImageStatsReward,
    "shapes": _shapes_reward,
    "detector": _detector_reward,
    "attribute": _attribute_reward,
    "vqa": _vqa_reward,
    "critique": _critique_reward,
    "pickscore": _pickscore_reward,
    "hpsv2": _hpsv2_reward,
}


def register_reward(name: str, factory: Callable[..., Reward]) -> None:
    if name in REWARDS:
        raise ValueError(f"reward {name!r} is already registered")
    REWARDS[name] = factory


def build_reward(name: str, **kwargs: Any) -> Reward:
    if name not in REWARDS:
        raise ValueError(f"unknown reward {name!r}; registered rewards: {sorted(REWARDS)}")
    return REWARDS[name](**kwargs)
