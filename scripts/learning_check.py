"""Print the learning figures of tests/test_training.py::test_flow_grpo_raises_the_reward_beyond_seed_noise
(and, with --nft, of tests/test_nft.py::test_nft_raises_the_reward_beyond_seed_noise).

    python scripts/learning_check.py                       # tiny SD3 and FLUX, 30 steps each, about a minute on 2 cores
    python scripts/learning_check.py --seeds 42 1 2        # the spread over training seeds (docs/training.md)
    python scripts/learning_check.py --nft --backbones sd3  # DiffusionNFT on the same task
    python scripts/learning_check.py sampling.sde_window=null rollout.same_noise=false rollout.batch_size=8 \\
        train.gradient_accumulation_steps=1 train.timestep_fraction=0.99 --seeds 42 1 2 --backbones flux
                                                           # the settings before t2i_rl.tiny.TINY_LEARNING
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import diffusers
import torch

from t2i_rl.config import load_config
from t2i_rl.tiny import TINY_LEARNING, TINY_NFT_LEARNING, save_tiny_pipeline, tiny_training_overrides
from t2i_rl.trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42], help="training seeds (42 is the test's)")
    parser.add_argument("--backbones", nargs="+", default=["sd3", "flux"], choices=["sd3", "flux"])
    parser.add_argument("--nft", action="store_true", help="DiffusionNFT's settings (TINY_NFT_LEARNING)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides on top of TINY_LEARNING (before the options)")
    args = parser.parse_args()
    diffusers.utils.logging.set_verbosity_error()
    for backbone in args.backbones:
        work = Path(tempfile.mkdtemp())
        save_tiny_pipeline(backbone, work / "model")
        for seed in args.seeds:
            overrides = tiny_training_overrides(backbone, work / "model", work / f"run-{seed}",
                                                **(TINY_NFT_LEARNING if args.nft else TINY_LEARNING))
            config = load_config(None, [*overrides, f"seed={seed}", "logging.progress_bar=false", *args.overrides])
            rewards = torch.tensor([h["reward/aggregate"] for h in Trainer(config).train()])
            first, last, noise = rewards[:5].mean(), rewards[-5:].mean(), rewards[:5].std()
            print(f"{backbone} seed {seed}: first 5 {first:.4f}  last 5 {last:.4f}  noise {noise:.4f}  "
                  f"gain/noise {(last - first) / noise:.1f}", flush=True)


if __name__ == "__main__":
    main()
