"""``t2i-rl eval``: generate | geneval | compbench | vqa | compare.

Paper-style GenEval for SD3.5-M on a GPU machine (GenEval / Flow-GRPO sampling: 4 images per prompt, 512 px,
40 steps, CFG 4.5, all 553 prompts), base and fine-tuned::

    t2i-rl eval generate --model stabilityai/stable-diffusion-3.5-medium --prompts geneval --out evals/sd35m \\
        --images-per-prompt 4 --resolution 512 --steps 40 --guidance-scale 4.5 --seed 0 --dtype bfloat16
    t2i-rl eval geneval evals/sd35m --detector mask2former          # or grounding-dino (default)
    t2i-rl eval generate --model stabilityai/stable-diffusion-3.5-medium --lora runs/x/lora --prompts geneval \\
        --out evals/sd35m-grpo --images-per-prompt 4 --resolution 512 --steps 40 --guidance-scale 4.5 --seed 0 \\
        --dtype bfloat16
    t2i-rl eval geneval evals/sd35m-grpo --detector mask2former --baseline evals/sd35m/geneval/summary.json
    t2i-rl eval compare evals/sd35m/geneval/summary.json evals/sd35m-grpo/geneval/summary.json

Published GenEval overall (official scorer, Mask2Former): SD3.5-M 0.63; after Flow-GRPO 0.95 (Liu et al., 2025).
For a number comparable with those, run GenEval's own ``evaluation/evaluate_images.py`` on the same folder;
this scorer applies the same rules with another detector (see docs/evaluation.md).

Shapes world on CPU::

    t2i-rl eval generate --model SHAPES_MODEL_DIR --prompts shapes --out evals/shapes --images-per-prompt 4
    t2i-rl eval geneval evals/shapes --detector shapes
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REFERENCE_SCORES = {"SD3.5-M": 0.63, "SD3.5-M + Flow-GRPO": 0.95}
#: Choices of ``eval geneval`` (the same as :data:`evals.geneval.DETECTORS` / ``COLOR_CLASSIFIERS``; repeated here so
#: that building the parser does not import torch).
DETECTOR_CHOICES = ("grounding-dino", "mask2former", "shapes")
COLOR_CHOICES = ("clip", "detected")


def _shapes(args: argparse.Namespace) -> bool:
    return args.prompts == "shapes"


def cmd_generate(args: argparse.Namespace) -> int:
    from evals.generate import (
        SHAPES_MAX_SEQUENCE_LENGTH,
        SHAPES_RESOLUTION,
        generate_folder,
        load_prompts,
        load_sampler,
    )

    resolution = args.resolution or (SHAPES_RESOLUTION if _shapes(args) else 512)
    max_len = args.max_sequence_length or (SHAPES_MAX_SEQUENCE_LENGTH if _shapes(args) else 128)
    metadata = load_prompts(args.prompts)
    if args.limit:
        metadata = metadata[: args.limit]
    settings = {"model": args.model, "backbone": args.backbone, "lora": args.lora, "prompts": args.prompts,
                "resolution": resolution, "num_steps": args.steps, "guidance_scale": args.guidance_scale,
                "max_sequence_length": max_len, "dtype": args.dtype}
    sampler = load_sampler(args.model, args.backbone, args.lora, args.device, args.dtype, resolution, args.steps,
                           args.guidance_scale, max_len)
    counts = generate_folder(sampler, metadata, args.out, args.images_per_prompt, args.seed, args.batch_size,
                             settings, progress=not args.no_progress)
    print(f"generated {counts['generated']} images, skipped {counts['skipped']} already on disk "
          f"({len(metadata)} prompts x {args.images_per_prompt}) in {args.out}")
    return 0


def cmd_geneval(args: argparse.Namespace) -> int:
    import torch

    from evals.geneval import (
        build_color_classifier,
        build_detector,
        default_thresholds,
        score_folder,
        summarize,
        write_results,
    )
    from evals.report import load_summary, write_report

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(args.out or Path(args.folder) / "geneval")
    baseline = load_summary(args.baseline) if args.baseline else None
    color = args.color or ("detected" if args.detector == "shapes" else "clip")
    detector = build_detector(args.detector, args.detector_model, device, args.batch_size)
    classifier = build_color_classifier(color, args.clip_model, args.clip_pretrained, device)
    threshold, counting_threshold = default_thresholds(args.detector)
    threshold = threshold if args.threshold is None else args.threshold
    counting_threshold = counting_threshold if args.counting_threshold is None else args.counting_threshold
    records = score_folder(args.folder, detector, classifier, args.batch_size, progress=not args.no_progress,
                           threshold=threshold, counting_threshold=counting_threshold)
    summary = summarize(records)
    summary.update({"folder": str(args.folder), "detector": args.detector, "detector_model": args.detector_model,
                    "color_classifier": color, "threshold": threshold,
                    "counting_threshold": counting_threshold})
    write_results(records, out / "results.jsonl")
    paths = write_report(out, summary, records, baseline, name=Path(args.folder).name or "model",
                         title=f"GenEval ({args.detector})")
    width = max(len(t) for t in summary["scores"])
    for tag, score in summary["scores"].items():
        ok, n = summary["counts"][tag]
        print(f"{tag:<{width}} = {score:.2%} ({ok} / {n})")
    print(f"overall (mean over tags) = {summary['overall']:.5f}; {summary['images']} images, "
          f"{summary['prompts']} prompts; report {paths['markdown']}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from evals.report import compare, format_comparison, load_summary

    a, b = load_summary(args.a), load_summary(args.b)
    rows = compare(a, b)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(format_comparison(rows, args.name_a or Path(args.a).parent.name or "A",
                                args.name_b or Path(args.b).parent.name or "B"))
    return 0


def cmd_compbench(args: argparse.Namespace) -> int:
    from evals.compbench import run_from_args

    run_from_args(args)
    return 0


def cmd_vqa(args: argparse.Namespace) -> int:
    from evals.vqa_bench import run_from_args

    run_from_args(args)
    return 0


def _run(func):
    """Clear one-line errors (exit status 2) for bad input instead of tracebacks."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (FileNotFoundError, ValueError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    return wrapped


def add_eval_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``eval`` (generate | geneval | compbench | vqa | compare) to the ``t2i-rl`` subcommands."""
    fmt = argparse.RawDescriptionHelpFormatter
    ev = sub.add_parser("eval", help="benchmarks: generate images, score GenEval, compare reports",
                        description=__doc__, formatter_class=fmt)
    esub = ev.add_subparsers(dest="eval_command", required=True)

    p = esub.add_parser("generate", help="N images per prompt with fixed seeds, GenEval folder layout, resumable",
                        description=__doc__, formatter_class=fmt)
    p.add_argument("--model", required=True, help="hub id or local diffusers directory (a shapes model too)")
    p.add_argument("--backbone", default="sd3", choices=["sd3", "flux"])
    p.add_argument("--lora", help="directory with pytorch_lora_weights.safetensors (t2i-rl export-lora)")
    p.add_argument("--prompts", required=True, help="'geneval' (553 prompts), 'shapes' (held-out shapes prompts) or "
                   "a .jsonl of GenEval records / a text file with one prompt per line")
    p.add_argument("--out", required=True, help="image folder (GenEval layout); rerun to resume")
    p.add_argument("--images-per-prompt", type=int, default=4)
    p.add_argument("--seed", type=int, default=0, help="image i of prompt k uses seed + k * images_per_prompt + i")
    p.add_argument("--batch-size", type=int, default=8, help="images per sampler call")
    p.add_argument("--resolution", type=int, default=None, help="default 512 (64 for --prompts shapes)")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--guidance-scale", type=float, default=4.5)
    p.add_argument("--max-sequence-length", type=int, default=None, help="T5 tokens; default 128 (16 for shapes)")
    p.add_argument("--limit", type=int, default=None, help="only the first N prompts (smoke tests)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run(cmd_generate))

    p = esub.add_parser("geneval", help="score a GenEval image folder with GenEval's rules; results.jsonl + report",
                        description=__doc__, formatter_class=fmt)
    p.add_argument("folder", help="image folder written by `t2i-rl eval generate` (or GenEval's generator)")
    p.add_argument("--detector", default="grounding-dino", choices=list(DETECTOR_CHOICES))
    p.add_argument("--detector-model", default=None, help="hub id or local directory of the detector")
    p.add_argument("--color", default=None, choices=list(COLOR_CHOICES),
                   help="colour classifier; default clip (detected for --detector shapes)")
    p.add_argument("--clip-model", default="ViT-L-14", help="open_clip architecture or local directory (GenEval: ViT-L-14)")
    p.add_argument("--clip-pretrained", default="openai", help="open_clip weights tag or file")
    p.add_argument("--threshold", type=float, default=None,
                   help="detection threshold; default GenEval's 0.3 (0 for --detector shapes)")
    p.add_argument("--counting-threshold", type=float, default=None,
                   help="threshold for counting prompts; default GenEval's 0.9 (0 for --detector shapes)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--baseline", help="summary.json of a base model: deltas and base-vs-this bars in the report")
    p.add_argument("--out", help="report folder; default <folder>/geneval")
    p.add_argument("--device", default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run(cmd_geneval))

    p = esub.add_parser("compare", help="per-category deltas of B against A (any benchmark's summary.json)")
    p.add_argument("a", help="summary.json (or its report folder) of the reference, e.g. the base model")
    p.add_argument("b", help="summary.json (or its report folder) to compare, e.g. the fine-tuned model")
    p.add_argument("--name-a")
    p.add_argument("--name-b")
    p.add_argument("--json", action="store_true", help="print the deltas as JSON")
    p.set_defaults(func=_run(cmd_compare))

    from evals.compbench import add_arguments as add_compbench_arguments
    from evals.vqa_bench import add_arguments as add_vqa_arguments

    p = esub.add_parser("compbench", help="T2I-CompBench per-category scores (BLIP-VQA, detector, CLIP, 3-in-1)")
    add_compbench_arguments(p)
    p.set_defaults(func=_run(cmd_compbench))

    p = esub.add_parser("vqa", help="VQA benchmarks: Soft-TIFA means and ConceptMix pass rate")
    add_vqa_arguments(p)
    p.set_defaults(func=_run(cmd_vqa))
    return ev
