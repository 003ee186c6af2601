"""Compare reward aggregators on the shapes world: the same budget, prompts and seeds for each.

    python scripts/compare_aggregators.py --out runs/compare --seeds 0 1 2 --steps 90 --eval-every 30

For every aggregator (weighted_sum, gdpo, lsc, cmo) and training seed, fine-tunes the shapes model with flow-GRPO
(configs/shapes_demo.yaml, the demo's recipe) and measures held-out strict GenEval accuracy of the checkpoint LoRA
every ``--eval-every`` steps (ODE samples, fixed evaluation seeds, the same for every run). Reports, per aggregator,
the final accuracy (mean and standard deviation over training seeds), the mean accuracy curve, and the number of
steps to first reach ``--target`` accuracy (``-`` when a run never does). Writes ``<out>/results.json`` and
``<out>/results.md``; whether CMO wins is what the table says, nothing is tuned per aggregator.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from pathlib import Path

AGGREGATORS = ("weighted_sum", "gdpo", "lsc", "cmo")


def held_out_curve(run_dir: Path, model: str, eval_seeds: list[int], config,
                   base_cache: Path) -> dict[int, dict[str, float]]:
    """Held-out accuracy per tag at step 0 (the base model) and at every checkpoint of a finished run.

    The base model's accuracy is the same for every run of a comparison; ``base_cache`` (a JSON file keyed by the
    model and evaluation settings) keeps it so that it is measured once.
    """
    from t2i_rl import checkpoint as ckpt
    from t2i_rl.policies import SD3Policy, prepare_for_training
    from t2i_rl.shapes.model import heldout_accuracy
    from t2i_rl.shapes.prompts import heldout_prompts
    from t2i_rl.shapes_demo import evaluation_settings

    evaluate = evaluation_settings(config, eval_seeds)
    policy = prepare_for_training(SD3Policy.from_pretrained(model), config.model)
    curve = {}
    key = json.dumps({"model": str(model), **evaluate}, sort_keys=True)
    cached = json.loads(base_cache.read_text()) if base_cache.exists() else {}
    if key not in cached:
        with policy.reference():
            cached[key] = heldout_accuracy(policy, heldout_prompts(), **evaluate)[0]
        base_cache.write_text(json.dumps(cached, indent=1))
    curve[0] = cached[key]
    for path in ckpt.list_checkpoints(ckpt.checkpoint_dir(run_dir)):
        lora, _, _ = ckpt.load_checkpoint(path, 0)
        policy.load_lora_state_dict(lora)
        step = int(path.name.rsplit("-", 1)[-1])
        curve[step] = heldout_accuracy(policy, heldout_prompts(), **evaluate)[0]
    return curve


def run_one(out: Path, model: str, aggregator: str, seed: int, steps: int, eval_every: int, eval_seeds: list[int],
            overrides: list[str]) -> dict:
    from t2i_rl.config import load_config
    from t2i_rl.shapes_demo import CONFIG, EVAL_MIN_IMAGES_PER_TAG, write_prompt_files
    from t2i_rl.trainer import Trainer

    run_dir = out / aggregator / f"seed{seed}"
    result_path = run_dir / "result.json"
    train_file, heldout_file = write_prompt_files(out)
    setup = {"model": str(model), "steps": steps, "eval_every": eval_every, "eval_seeds": list(eval_seeds),
             "eval_min_images_per_tag": EVAL_MIN_IMAGES_PER_TAG,
             "overrides": list(overrides), "prompts_sha256": hashlib.sha256(train_file.read_bytes()).hexdigest()}
    if result_path.exists():  # resumable: finished runs are kept, if they ran the same comparison
        result = json.loads(result_path.read_text())
        if result.get("setup") != setup:
            raise SystemExit(f"{result_path} was made with other settings ({result.get('setup')}, now {setup}); "
                             "use a fresh --out, or delete that run to redo it")
        return result
    run_dir.mkdir(parents=True, exist_ok=True)
    config = load_config(CONFIG, [
        f"output_dir={run_dir}", f"model.pretrained={model}", f"data.prompts={train_file}",
        f"data.eval_prompts={heldout_file}", f"aggregator.name={aggregator}", f"seed={seed}",
        f"train.num_steps={steps}", f"checkpoint.every={eval_every}", "checkpoint.keep_last=1000",
        *overrides,
    ])
    start = time.perf_counter()
    Trainer(config).train()
    train_minutes = (time.perf_counter() - start) / 60
    curve = held_out_curve(run_dir, model, eval_seeds, config, base_cache=out / "base_accuracy.json")
    result = {"aggregator": aggregator, "seed": seed, "setup": setup, "train_minutes": train_minutes,
              "curve": {str(k): v for k, v in sorted(curve.items())}}
    result_path.write_text(json.dumps(result, indent=1))
    return result


def steps_to_reach(curve: dict[str, dict[str, float]], target: float) -> int | None:
    for step, acc in sorted(curve.items(), key=lambda kv: int(kv[0])):
        if acc["overall"] >= target:
            return int(step)
    return None


def summarize(results: list[dict], target: float) -> tuple[dict, str]:
    """Per aggregator: final accuracy mean/std over seeds, steps to ``target`` per seed, the mean curve."""
    table: dict[str, dict] = {}
    for agg in dict.fromkeys(r["aggregator"] for r in results):
        runs = [r for r in results if r["aggregator"] == agg]
        finals = [r["curve"][max(r["curve"], key=int)]["overall"] for r in runs]
        reach = [steps_to_reach(r["curve"], target) for r in runs]
        steps = sorted({int(s) for r in runs for s in r["curve"]})
        table[agg] = {
            "final_mean": statistics.fmean(finals), "final_std": statistics.pstdev(finals), "finals": finals,
            "base": statistics.fmean(r["curve"]["0"]["overall"] for r in runs),
            "steps_to_target": reach,
            "curve": {s: statistics.fmean(r["curve"][str(s)]["overall"] for r in runs if str(s) in r["curve"])
                      for s in steps},
            "train_minutes": statistics.fmean(r["train_minutes"] for r in runs),
        }
    # The seed count per row, not one for the table: a comparison read while it is still running has uneven rows.
    lines = [f"| aggregator | base | final (mean ± std over seeds) | per seed | steps to {target:.2f} | "
             "minutes/run |", "|---|---|---|---|---|---|"]
    for agg, row in table.items():
        reach = ", ".join("-" if s is None else str(s) for s in row["steps_to_target"])
        lines.append(f"| {agg} | {row['base']:.3f} | {row['final_mean']:.3f} ± {row['final_std']:.3f} | "
                     f"{', '.join(f'{v:.3f}' for v in row['finals'])} | {reach} | {row['train_minutes']:.1f} |")
    return table, "\n".join(lines)


def main() -> None:
    from t2i_rl import SHIPPED_SHAPES_MODEL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/compare")
    parser.add_argument("--model", default=str(SHIPPED_SHAPES_MODEL))
    parser.add_argument("--aggregators", nargs="+", default=list(AGGREGATORS), choices=AGGREGATORS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=90)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--eval-seeds", nargs="+", type=int, default=[1000, 1001])
    parser.add_argument("--target", type=float, default=0.3, help="held-out overall accuracy for 'steps to reach'")
    parser.add_argument("--overrides", nargs="*", default=[],
                        help="dotted config overrides for every run, e.g. train.learning_rate=1e-3")
    args = parser.parse_args()
    from t2i_rl.shapes_demo import missing_shapes_model

    if problem := missing_shapes_model(args.model):
        raise SystemExit(f"{problem} as --model")
    out = Path(args.out)
    results = [run_one(out, args.model, agg, seed, args.steps, args.eval_every, args.eval_seeds, args.overrides)
               for seed in args.seeds for agg in args.aggregators]
    table, markdown = summarize(results, args.target)
    (out / "results.json").write_text(json.dumps({"args": vars(args), "table": table, "runs": results}, indent=1))
    (out / "results.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
