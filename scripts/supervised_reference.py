"""What does supervision achieve in an RL run's budget? The demo's LoRA fine-tuned on correct renders instead.

    python scripts/supervised_reference.py --out runs/sft3-60 --steps 60 \\
        --prompts "a circle left of a triangle" "a red circle and a yellow square" "three squares"
    python scripts/shapes_accuracy.py --lora runs/sft3-60 --seeds $(seq 2000 2031) \\
        --prompts "a circle left of a triangle" "a red circle and a yellow square" "three squares"
    python scripts/supervised_reference.py --out runs/sft-train --steps 600     # the whole training split, tags balanced

Adds the LoRA of ``configs/shapes_demo.yaml`` (its rank, alpha, target modules and learning rate) to a shapes model
and trains it with SD3's rectified-flow loss (``t2i_rl.shapes.model.flow_matching_step``, the pretraining loss) on
fresh renders of the named prompts, or of the training split with every GenEval tag drawn equally often, in batches
of ``--batch`` images (the demo's rollout batch), then exports the LoRA where ``scripts/shapes_accuracy.py --lora``
and ``load_lora_weights`` read it. Every render is a correct image of its prompt, so this is a reference point for
an RL run that sees as many images through the same adapter and optimiser but learns from a reward on its own
samples. It is not a strict bound: RL can concentrate on a model's failures, where this loss weights every image and
noise level alike, and the learning rate is the RL recipe's, not tuned for supervision (docs/shapes_world.md, "Block
noise and a supervised reference"). Prints JSON: steps, images, seconds and the loss by tenth of training.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    from t2i_rl import SHIPPED_SHAPES_MODEL
    from t2i_rl.shapes_demo import CONFIG, missing_shapes_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory for the exported LoRA and sft_log.json")
    parser.add_argument("--model", default=str(SHIPPED_SHAPES_MODEL), help="the shapes pipeline directory")
    parser.add_argument("--prompts", nargs="+", default=None,
                        help="train on these shapes prompts (default: the training split, tags balanced)")
    parser.add_argument("--steps", type=int, default=60, help="optimiser steps")
    parser.add_argument("--batch", type=int, default=None, help="renders per step (default: the demo's rollout batch)")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the demo's train.learning_rate")
    parser.add_argument("--sigma-mean", type=float, default=1.0,
                        help="mean of the logit-normal noise levels (1.0: the caption-noise builds' continuation)")
    parser.add_argument("--size-range", default="0.24,0.38", help="object sides as fractions of the image")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if problem := missing_shapes_model(args.model):
        parser.error(f"{problem} as --model")
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    if args.batch is not None and args.batch < 1:
        parser.error("--batch must be >= 1")
    if args.learning_rate is not None and not args.learning_rate > 0:
        parser.error("--learning-rate must be > 0")
    try:
        low, high = (float(v) for v in args.size_range.split(","))
    except ValueError:
        parser.error(f"--size-range must be two fractions LOW,HIGH (e.g. 0.24,0.38), got {args.size_range!r}")
    size_range = (low, high)

    import torch
    from tqdm.auto import tqdm

    from t2i_rl.config import load_config
    from t2i_rl.export import export_lora
    from t2i_rl.policies import SD3Policy
    from t2i_rl.shapes.model import flow_matching_step
    from t2i_rl.shapes.prompts import train_prompts
    from t2i_rl.shapes.render import render_batch

    if args.prompts:
        from t2i_rl.shapes.prompts import named_prompts

        try:
            metadata = named_prompts(args.prompts)
        except ValueError as error:
            parser.error(f"--prompts: {error}")
    else:
        metadata = train_prompts()
    config = load_config(CONFIG, [])
    batch = config.rollout.batch_size if args.batch is None else args.batch
    lr = config.train.learning_rate if args.learning_rate is None else args.learning_rate

    policy = SD3Policy.from_pretrained(str(args.model))
    policy.add_lora(rank=config.model.lora_rank, alpha=config.model.lora_alpha,
                    target_modules=config.model.lora_target_modules, init=config.model.lora_init)
    params = policy.lora_parameters()
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(config.train.adam_beta1, config.train.adam_beta2),
                                  weight_decay=config.train.adam_weight_decay)
    vae, pipe = policy.pipeline.vae, policy.pipeline
    tag_sizes = Counter(m["tag"] for m in metadata)
    weights = torch.tensor([1.0 / tag_sizes[m["tag"]] for m in metadata])  # every tag equally often
    gen = torch.Generator().manual_seed(args.seed)
    losses = []
    policy.transformer.train()
    start = time.perf_counter()
    for step in tqdm(range(args.steps), desc="supervised LoRA", unit="step"):
        picks = torch.multinomial(weights, batch, replacement=True, generator=gen).tolist()
        with torch.no_grad():
            images = render_batch([metadata[i] for i in picks], rng=args.seed * 100_003 + step, size_range=size_range)
            x0 = vae.encode(images * 2 - 1).latent_dist.mean
            x0 = (x0 - vae.config.shift_factor) * vae.config.scaling_factor
        texts = [metadata[i]["prompt"] for i in picks]
        losses.append(flow_matching_step(pipe, optimizer, params, x0, texts, args.sigma_mean, gen))
    seconds = time.perf_counter() - start
    policy.transformer.eval()
    out = Path(args.out)
    export_lora(policy, out)
    tenths = torch.tensor(losses).tensor_split(min(10, len(losses)))
    log = {
        "model": args.model, "prompts": len(metadata), "steps": args.steps, "images": args.steps * batch,
        "learning_rate": lr, "seconds": round(seconds, 1),
        "loss_by_tenth": [round(chunk.mean().item(), 4) for chunk in tenths],
        "lora": str(out),
    }
    (out / "sft_log.json").write_text(json.dumps(log, indent=1))
    print(json.dumps(log, indent=1))
    return log


if __name__ == "__main__":
    main()
