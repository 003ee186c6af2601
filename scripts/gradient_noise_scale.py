"""Measure how many images a flow-GRPO update needs before its gradient is more signal than noise.

    python scripts/gradient_noise_scale.py --shapes                       # the shapes demo's recipe, 8 batches
    python scripts/gradient_noise_scale.py --shapes rollout.same_noise=true sampling.sde_window=1
    python scripts/gradient_noise_scale.py --config configs/my.yaml --batches 16 train.num_steps=1

Draws ``--batches`` independent rollout batches (the config's ``rollout.batch_size``) at the starting weights,
computes each batch's policy gradient exactly as a training step would (no update), and prints, as JSON, the
simple noise scale ``B_simple`` of McCandlish et al. (2018) (``t2i_rl.noise_scale``): updates on far fewer images
than ``B_simple`` are mostly noise. ``b_simple: inf`` means no signal was measurable with ``batches x batch_size``
images. On 2 CPU cores, 8 batches of 64 shapes images take 1-2 minutes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--shapes", action="store_true", help="configs/shapes_demo.yaml on the shipped shapes model")
    source.add_argument("--config", help="a training YAML config")
    parser.add_argument("--batches", type=int, default=8, help="independent rollout batches (>= 2)")
    parser.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. rollout.batch_size=64")
    args = parser.parse_args(argv)
    if args.batches < 2:
        parser.error("--batches must be >= 2: the noise scale compares one batch with the mean of several")

    from t2i_rl.config import load_config
    from t2i_rl.noise_scale import gradient_noise_scale
    from t2i_rl.trainer import Trainer

    work = Path(tempfile.mkdtemp(prefix="noise-scale-"))
    overrides = [f"output_dir={work / 'run'}", *args.overrides]
    if args.shapes:
        from t2i_rl import SHIPPED_SHAPES_MODEL
        from t2i_rl.shapes_demo import CONFIG, write_prompt_files

        train_file, heldout_file = write_prompt_files(work)
        config_path = CONFIG
        overrides = [f"model.pretrained={SHIPPED_SHAPES_MODEL}", f"data.prompts={train_file}",
                     f"data.eval_prompts={heldout_file}", *overrides]
    else:
        config_path = args.config
    config = load_config(config_path, overrides)
    trainer = Trainer(config)
    start = time.perf_counter()
    grads = torch.stack([trainer.policy_gradient(step) for step in range(1, args.batches + 1)])
    result = gradient_noise_scale(grads, config.rollout.batch_size)
    result.update({
        "batches": args.batches,
        "images_per_batch": config.rollout.batch_size,
        "groups_per_batch": config.rollout.batch_size // config.rollout.images_per_prompt,
        "overrides": list(args.overrides),
        "seconds": round(time.perf_counter() - start, 1),
    })
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
