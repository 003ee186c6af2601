"""Strict GenEval accuracy per tag of a shapes model, without and with a LoRA, on held-out or training prompts.

    python scripts/shapes_accuracy.py --lora runs/demo/run/lora                  # held-out, as `make demo` measures it
    python scripts/shapes_accuracy.py --lora runs/demo/run/lora --split train    # training prompts, 6 per tag
    python scripts/shapes_accuracy.py --prompts "three squares" "a circle left of a triangle" --seeds $(seq 2000 2031)

The held-out figures repeat the demo's measurement (its seeds, sampler and images per tag); the training-prompt
figures show how much of what RL learned on its own prompts carries over to prompts it never saw. The training split
has 144 colour-attribute prompts, so ``--per-tag`` takes that many prompts per tag, evenly spread over the split.
Prints JSON: ``{"prompts": n, "base": {tag: accuracy}, "lora": {...}, "objects": {"base": {tag: {"objects",
"extra"}}, "lora": ...}}``: ``objects`` is the mean number of detected shapes per image and ``extra`` the fraction of
images with more shapes than the prompt names (GenEval's rules allow them; a policy that scatters shapes shows here);
``failures`` the fraction of images failing each rule on each class (``"missing square": 0.4``), so that a shape the
model cannot draw shows apart from a relation it cannot compose; ``per_prompt`` each prompt's accuracy; ``pass_at_k``
per tag the fraction of prompts with at least one correct image among their first ``k = len(seeds)`` seeds, the share
of prompts on which RL has any correct image to reinforce; with ``--lora``, ``gain`` (overall, LoRA minus base) and
``gain_stderr``, its standard error over the paired images (``t2i_rl.shapes.scoring.paired_gain_stderr``).
``--prompts`` measures the named shapes prompts instead of a split (the "a photo of" prefix is optional), e.g. before
and after RL on just those prompts (it replaces ``--split``; giving both is refused). ``--lora`` takes an exported
LoRA; to score a training checkpoint, export it first (``t2i-rl export-lora --run runs/demo/run --checkpoint
runs/demo/run/checkpoints/step-000040``).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def spread_per_tag(metadata: list[dict], per_tag: int) -> list[dict]:
    """Up to ``per_tag`` prompts of each tag, evenly spaced through the list (deterministic)."""
    by_tag: dict[str, list[dict]] = defaultdict(list)
    for item in metadata:
        by_tag[item["tag"]].append(item)
    chosen = []
    for items in by_tag.values():
        stride = max(1, len(items) // per_tag)
        chosen += items[::stride][:per_tag]
    return chosen


def correct_by_prompt(metadata: list[dict], correct: list[bool]) -> dict[str, list[bool]]:
    """Each prompt's per-image verdicts, in job order (so its first seeds come first)."""
    images: dict[str, list[bool]] = defaultdict(list)
    for meta, ok in zip(metadata, correct):
        images[meta["prompt"]].append(ok)
    return images


def pass_at_k(metadata: list[dict], correct: list[bool], k: int) -> dict[str, float]:
    """Per tag, the fraction of prompts with a correct image among their first ``k`` images (job order)."""
    tags = {meta["prompt"]: meta["tag"] for meta in metadata}
    solved: dict[str, list[bool]] = defaultdict(list)
    for prompt, oks in correct_by_prompt(metadata, correct).items():
        solved[tags[prompt]].append(any(oks[:k]))
    return {tag: sum(v) / len(v) for tag, v in solved.items()}


def per_prompt_accuracy(metadata: list[dict], correct: list[bool]) -> dict[str, float]:
    """Each prompt's fraction of correct images."""
    return {prompt: sum(oks) / len(oks) for prompt, oks in correct_by_prompt(metadata, correct).items()}


def main(argv: list[str] | None = None) -> dict:
    from t2i_rl import SHIPPED_SHAPES_MODEL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lora", help="an exported diffusers LoRA directory (e.g. runs/demo/run/lora); omit for the base only")
    parser.add_argument("--model", default=str(SHIPPED_SHAPES_MODEL), help="the shapes pipeline directory")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--split", choices=["heldout", "train"], default="heldout")
    which.add_argument("--prompts", nargs="+", default=None, help="measure these shapes prompts instead of --split")
    parser.add_argument("--per-tag", type=int, default=6, help="training-split prompts per tag (--split train)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="evaluation seeds (default: the demo's)")
    parser.add_argument("--overrides", nargs="*", default=[],
                        help="dotted overrides of configs/shapes_demo.yaml, e.g. sampling.guidance_scale=1.5")
    args = parser.parse_args(argv)

    from t2i_rl.config import load_config
    from t2i_rl.policies import SD3Policy
    from t2i_rl.shapes.model import evaluation_jobs, heldout_accuracy
    from t2i_rl.shapes.prompts import heldout_prompts, train_prompts
    from t2i_rl.shapes.scoring import evaluate_images, failure_breakdown, object_statistics, paired_gain_stderr
    from t2i_rl.shapes_demo import CONFIG, EVAL_SEEDS, evaluation_settings, load_tuned, missing_shapes_model

    if problem := missing_shapes_model(args.model):
        parser.error(f"{problem} as --model")
    if args.lora and not Path(args.lora).is_dir():
        parser.error(f"--lora {args.lora} is not a directory; give the exported LoRA folder, e.g. runs/demo/run/lora")

    config = load_config(CONFIG, [f"model.pretrained={args.model}", *args.overrides])
    evaluate = evaluation_settings(config, args.seeds or EVAL_SEEDS)
    if args.prompts:
        from t2i_rl.shapes.prompts import named_prompts

        try:
            prompts = named_prompts(args.prompts)
        except ValueError as error:
            parser.error(f"--prompts: {error}")
    else:
        prompts = heldout_prompts() if args.split == "heldout" else spread_per_tag(train_prompts(), args.per_tag)
    result: dict = {"split": "named" if args.prompts else args.split, "prompts": len(prompts)}
    # heldout_accuracy renders in evaluation_jobs order, so the images line up with this metadata
    metadata = [m for m, _ in evaluation_jobs(prompts, evaluate["seeds"], evaluate["min_images_per_tag"])]
    policies = {"base": lambda: SD3Policy.from_pretrained(args.model)}
    if args.lora:
        policies["lora"] = lambda: load_tuned(args.model, args.lora)
    result["objects"], result["failures"], result["per_prompt"], result["pass_at_k"] = {}, {}, {}, {}
    verdicts = {}
    for name, load in policies.items():
        result[name], images, correct = heldout_accuracy(load(), prompts, **evaluate)
        verdicts[name] = correct
        result["per_prompt"][name] = per_prompt_accuracy(metadata, correct)
        result["pass_at_k"][name] = pass_at_k(metadata, correct, len(evaluate["seeds"]))
        evaluations = evaluate_images(images, metadata)
        result["objects"][name] = object_statistics(evaluations, metadata)
        result["failures"][name] = failure_breakdown(evaluations, metadata)
    if args.lora:
        result["gain"] = result["lora"]["overall"] - result["base"]["overall"]
        result["gain_stderr"] = paired_gain_stderr([m["tag"] for m in metadata], verdicts["base"], verdicts["lora"])
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
