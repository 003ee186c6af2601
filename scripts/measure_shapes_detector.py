"""Strict GenEval correctness of the exact shapes detector on rendered images, clean and degraded.

    python scripts/measure_shapes_detector.py [--repeats 12]     # 240 prompts x repeats images per condition
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from t2i_rl.shapes.prompts import all_prompts
from t2i_rl.shapes.render import render_batch
from t2i_rl.shapes.scoring import evaluate_images


def blur(images: torch.Tensor, k: int) -> torch.Tensor:
    kernel = torch.ones(3, 1, k, k) / (k * k)
    return F.conv2d(F.pad(images, [k // 2] * 4, mode="replicate"), kernel, groups=3)


def degrade(images: torch.Tensor, condition: str, gen: torch.Generator) -> torch.Tensor:
    if condition == "clean":
        return images
    if condition == "5x5 blur":
        return blur(images, 5)
    sigma = {"3x3 blur + noise 0.03": 0.03, "3x3 blur + noise 0.05": 0.05}[condition]
    return (blur(images, 3) + sigma * torch.randn(images.shape, generator=gen)).clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=12)
    args = parser.parse_args()
    metas = all_prompts() * args.repeats
    conditions = ["clean", "3x3 blur + noise 0.03", "3x3 blur + noise 0.05", "5x5 blur"]
    print(f"| renders | {' | '.join(conditions)} |\n|---|{'---|' * len(conditions)}")
    for antialias in (False, True):
        images = render_batch(metas, rng=0, antialias=antialias)
        cells = []
        for condition in conditions:
            degraded = degrade(images, condition, torch.Generator().manual_seed(1))
            correct = [e.correct for e in evaluate_images(degraded, metas)]
            cells.append(f"{100 * sum(correct) / len(correct):.2f} % of {len(correct)}")
        print(f"| {'anti-aliased' if antialias else 'hard edges'} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
