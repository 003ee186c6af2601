"""Every aggregator's group advantages favour the right images on the real per-concept shapes reward (NaN-heavy
matrices), not only on synthetic matrices: the sign the policy gradient follows."""

import random

import pytest
import torch

from reward_models.base import RewardBatch
from t2i_rl.advantages import group_advantages
from t2i_rl.aggregation import build_aggregator
from t2i_rl.shapes.prompts import train_prompts
from t2i_rl.shapes.render import render_batch
from t2i_rl.shapes.reward import ShapesReward


@pytest.mark.parametrize("name", ["weighted_sum", "gdpo", "lsc", "cmo"])
def test_advantages_rank_right_renders_above_renders_of_other_prompts(name):
    rng, reward, aggregator = random.Random(0), ShapesReward(), build_aggregator(name)
    metas = train_prompts()
    for trial in range(12):
        meta = rng.choice(metas)
        others = [m for m in rng.sample(metas, 8) if m["prompt"] != meta["prompt"]][:4]
        images = render_batch([meta] * 4 + others, rng=trial)  # 4 right images, then 4 of other prompts
        out = reward(RewardBatch(images, [meta["prompt"]] * 8, [meta] * 8))
        groups = torch.zeros(8, dtype=torch.long)
        aggregated = aggregator(out.scores, out.names, out.groups, groups)
        adv = group_advantages(aggregated.rewards, groups, False)
        assert torch.isfinite(adv).all()
        assert adv[:4].min() >= adv[4:].max() - 1e-6, (meta["prompt"], adv.tolist())
        assert adv[:4].mean() > adv[4:].mean(), (meta["prompt"], adv.tolist())
