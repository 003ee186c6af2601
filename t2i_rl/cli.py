"""``t2i-rl``: train | sample | export-lora | make-tiny | demo | refine.

Examples::

    t2i-rl train --config configs/sd35m_geneval.yaml train.learning_rate=1e-4 checkpoint.resume=auto
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m t2i_rl.cli train --config ...
    t2i-rl sample --model stabilityai/stable-diffusion-3.5-medium --lora runs/x/lora --prompt "a red cube" --out out/
    t2i-rl export-lora --run runs/x --out runs/x/lora-step-100
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from t2i_rl import SHIPPED_SHAPES_MODEL


def _quiet_libraries() -> None:
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def cmd_train(args: argparse.Namespace) -> int:
    from t2i_rl.config import load_config
    from t2i_rl.trainer import Trainer

    overrides = list(args.overrides)
    if args.resume:
        overrides.append(f"checkpoint.resume={args.resume}")
    config = load_config(args.config, overrides)
    history = Trainer(config).train()
    if history:
        first, last = history[0]["reward/aggregate"], history[-1]["reward/aggregate"]
        print(f"trained {len(history)} steps in this run: reward {first:.4f} -> {last:.4f}; outputs in {config.output_dir}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from t2i_rl.policies import load_policy
    from t2i_rl.rollout import generate
    from t2i_rl.visualize import save_grid, to_pil

    policy = load_policy(args.backbone, args.model, "cuda" if torch.cuda.is_available() else "cpu", args.dtype)
    if args.lora:
        policy.pipeline.load_lora_weights(args.lora, adapter_name="t2i_rl")
    prompts = [p for p in args.prompt for _ in range(args.num)]
    seeds = [args.seed + i for i in range(args.num)] * len(args.prompt)
    images = generate(policy, prompts, args.resolution, args.steps, args.guidance_scale, seeds,
                      max_sequence_length=args.max_sequence_length)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for n, image in enumerate(to_pil(images)):
        image.save(out / f"{n:04d}.png")
    save_grid(images, prompts, out / "grid.png")
    print(f"wrote {len(prompts)} images and grid.png to {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from t2i_rl import checkpoint as ckpt
    from t2i_rl.config import load_config
    from t2i_rl.export import export_lora
    from t2i_rl.policies import build_policy

    run = Path(args.run)
    config = load_config(run / "config.yaml")
    path = Path(args.checkpoint) if args.checkpoint else ckpt.find_resumable(run)
    if path is None or ckpt.verify(path):
        raise SystemExit(f"no intact checkpoint found in {run / 'checkpoints'}" if path is None else f"{path}: {ckpt.verify(path)}")
    lora, state, _ = ckpt.load_checkpoint(path, 0)
    policy = build_policy(config.model, "cpu")
    policy.load_lora_state_dict(lora)
    if state.get("ema") is not None and not args.no_ema:
        from diffusers.training_utils import EMAModel

        ema = EMAModel(policy.lora_parameters())
        ema.load_state_dict(state["ema"])
        ema.copy_to(policy.lora_parameters())
    out = export_lora(policy, args.out or run / f"lora-{path.name}")
    print(f"exported {path} ({'EMA' if state.get('ema') is not None and not args.no_ema else 'raw'} weights) to {out}")
    return 0


def cmd_make_tiny(args: argparse.Namespace) -> int:
    from t2i_rl.tiny import save_tiny_pipeline

    print(save_tiny_pipeline(args.backbone, args.out, seed=args.seed))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.tiny and (args.shapes_model or args.overrides):
        print("error: --shapes-model and config overrides apply to the shapes demo (drop --tiny)", file=sys.stderr)
        return 2
    if not args.tiny:
        from t2i_rl.shapes_demo import missing_shapes_model, run_shapes_demo

        model = args.shapes_model or str(SHIPPED_SHAPES_MODEL)
        if problem := missing_shapes_model(model):
            print(f"error: {problem} as --shapes-model", file=sys.stderr)
            return 2
        overrides = [*([f"train.num_steps={args.steps}"] if args.steps else []), *args.overrides]
        summary = run_shapes_demo(args.out, model=model, overrides=overrides)
        print(f"held-out strict accuracy {summary['base_accuracy']:.3f} -> {summary['final_accuracy']:.3f} "
              f"(gain {summary['gain']:+.3f} +- {summary['gain_stderr']:.3f} "
              f"s.e. over {summary['eval_images']} paired images) in {summary['minutes']:.1f} min; "
              f"report: {Path(args.out) / 'report.html'}")
        return 0
    from t2i_rl.demo import run_demo

    summary = run_demo(args.out, num_steps=args.steps)
    print(json.dumps(summary, indent=1))
    print(
        f"flow-GRPO fine-tuned a LoRA on {summary['backbone']} for {summary['steps']} steps against the "
        f"'{summary['reward']}' reward in {summary['minutes']:.1f} min: held-out-seed reward "
        f"{summary['base_eval_reward']:.4f} -> {summary['final_eval_reward']:.4f}. Grids: {summary['grids']}"
    )
    return 0


def cmd_refine(args: argparse.Namespace) -> int:
    import torch

    from reward_models.critique import build_critic
    from reward_models.openai_client import EndpointError
    from t2i_rl.policies import load_policy
    from t2i_rl.refine import refine

    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        critic = build_critic(args.critic, args.critic_model, args.base_url, args.api_key, device=device,
                              timeout=args.timeout, max_retries=args.retries)
        policy = load_policy(args.backbone, args.model, device, args.dtype)
        if args.lora:
            policy.pipeline.load_lora_weights(args.lora, adapter_name="t2i_rl")
        summary = refine(policy, critic, args.prompt, args.out, seed=args.seed, rounds=args.rounds,
                         threshold=args.threshold, resolution=args.resolution, num_steps=args.steps,
                         guidance_scale=args.guidance_scale, max_sequence_length=args.max_sequence_length)
    except (EndpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for r in summary["rounds"]:
        print(f"round {r['round']}: critique {r['critique']:.3f} {r['scores']} prompt={r['prompt']!r}")
    print(f"stopped ({summary['stop_reason']}) after {len(summary['rounds'])} round(s); best round "
          f"{summary['best_round']}; images and critiques in {args.out}")
    return 0


def add_generation_arguments(p: argparse.ArgumentParser) -> None:
    """Seed and sampling settings shared by ``sample`` and ``refine``."""
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--resolution", type=int, default=512)
    p.add_argument("--guidance-scale", type=float, default=4.5)
    p.add_argument("--max-sequence-length", type=int, default=128)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--out", required=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t2i-rl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="flow-GRPO fine-tuning from a YAML config plus key=value overrides")
    p.add_argument("--config", help="YAML file (see configs/); omitted keys keep their defaults")
    p.add_argument("--resume", help="'auto' (newest intact checkpoint in output_dir) or a checkpoint directory")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.learning_rate=1e-4")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="deterministic images from a model (+ an exported LoRA)")
    p.add_argument("--model", required=True, help="hub id or local diffusers directory")
    p.add_argument("--backbone", default="sd3", choices=["sd3", "flux"])
    p.add_argument("--lora", help="directory with pytorch_lora_weights.safetensors")
    p.add_argument("--prompt", action="append", required=True, help="repeatable")
    p.add_argument("--num", type=int, default=1, help="images per prompt")
    add_generation_arguments(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("export-lora", help="export a checkpoint's LoRA (EMA weights if present) for diffusers and ComfyUI")
    p.add_argument("--run", required=True, help="a training output_dir (holds config.yaml and checkpoints/)")
    p.add_argument("--checkpoint", help="a checkpoint directory; default: the newest intact one")
    p.add_argument("--out", help="output directory; default <run>/lora-<checkpoint>")
    p.add_argument("--no-ema", action="store_true", help="export the raw LoRA weights instead of their EMA")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("make-tiny", help="save a tiny random SD3/FLUX pipeline (for tests and dry runs)")
    p.add_argument("--backbone", default="sd3", choices=["sd3", "flux"])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_make_tiny)

    p = sub.add_parser("demo", help="the embedded demo: flow-GRPO + CMO on the shipped shapes model on CPU, with a report")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--shapes", action="store_true", help="the shapes-world demo (the default; kept for old commands)")
    p.add_argument("--shapes-model", default=None, help="run the shapes-world demo on this shapes model instead")
    p.add_argument("--tiny", action="store_true",
                   help="instead, the 1-minute smoke demo: a tiny random FLUX model learns a brightness reward")
    p.add_argument("overrides", nargs="*", help="dotted overrides of configs/shapes_demo.yaml (shapes demo only)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("refine", help="test-time generate -> critique -> refine the prompt -> regenerate (same seed)")
    p.add_argument("--model", required=True, help="hub id or local diffusers directory")
    p.add_argument("--backbone", default="sd3", choices=["sd3", "flux"])
    p.add_argument("--lora", help="directory with pytorch_lora_weights.safetensors")
    p.add_argument("--prompt", required=True)
    p.add_argument("--rounds", type=int, default=3, help="refinement rounds after the first image")
    p.add_argument("--threshold", type=float, default=3.0, help="accept when faithfulness and quality are >= this (1-4)")
    p.add_argument("--critic", default="transformers", choices=["transformers", "openai"])
    p.add_argument("--critic-model", default="Qwen/Qwen2.5-VL-7B-Instruct", help="VLM dir/hub id, or the served model name")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for --critic openai, e.g. http://localhost:8000/v1")
    p.add_argument("--api-key", help="default: $OPENAI_API_KEY (local vLLM/SGLang servers need none)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per critique request")
    p.add_argument("--retries", type=int, default=2, help="retries of a failed critique request (connection, 429, 5xx)")
    add_generation_arguments(p)
    p.set_defaults(func=cmd_refine)
    __import__("evals.cli", fromlist=["add_eval_parser"]).add_eval_parser(sub)  # t2i-rl eval generate|geneval|compare
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    from t2i_rl.config import ConfigError

    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
