#!/usr/bin/env python
"""Measure a concept parser on the benchmark prompt files.

* GenEval (553 prompts) and flow_grpo's unseen-object GenEval split (256 prompts): exact-match rate of the
  parse against the gold concept files, per field (objects, counts, colours, relation) and all together.
* T2I-CompBench training files: how often each file's category is recovered by ``category(parse(prompt))``
  (top-1), and how often it is at least among the parse's aspects.

Usage::

    python scripts/measure_parser.py                      # rule-based parser, data in ../shared/benchmark_data
    python scripts/measure_parser.py --errors 20          # also print the first 20 GenEval mismatches
    python scripts/measure_parser.py --parser llm --model Qwen/Qwen2.5-1.5B-Instruct --cache runs/llm_cache.jsonl
    python scripts/measure_parser.py --json runs/parser_metrics.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from concept_parsers import parse  # noqa: E402
from concept_parsers.evaluation import (  # noqa: E402
    COMPBENCH_FILES,
    FIELDS,
    category_recovery,
    default_data_dir,
    gold_match,
    read_jsonl,
    read_lines,
)

GOLD_FILES = {
    "geneval": "geneval/geneval_gold_concepts.jsonl",
    "geneval_unseen": "flow_grpo_geneval/unseen_objects_gold_concepts.jsonl",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=default_data_dir())
    ap.add_argument("--parser", choices=("rule", "llm"), default="rule")
    ap.add_argument("--model", default="Qwen/Qwen2.5-1.5B-Instruct")
    ap.add_argument("--cache", default=None, help="JSONL cache file for the LLM parser")
    ap.add_argument("--device", default=None)
    ap.add_argument("--errors", type=int, default=0, help="print this many GenEval mismatches")
    ap.add_argument("--json", type=Path, default=None, help="also write all figures to this JSON file")
    args = ap.parse_args(argv)

    if not args.data_dir.is_dir():
        print(f"benchmark data not found at {args.data_dir} (pass --data-dir)", file=sys.stderr)
        return 2
    if args.parser == "llm":
        from concept_parsers.llm import LLMParser

        parser = LLMParser(model_name=args.model, cache_path=args.cache, device=args.device)
    else:
        parser = parse

    out: dict = {"parser": args.parser, "gold": {}, "compbench": {}}
    t0 = time.time()
    print(f"parser: {args.parser}    data: {args.data_dir}\n")
    print("GenEval gold exact match (share of prompts whose parse equals the gold row)")
    header = f"{'file':<16}{'n':>5}" + "".join(f"{f:>11}" for f in FIELDS) + f"{'flagged':>9}"
    print(header)
    print("-" * len(header))
    for name, rel in GOLD_FILES.items():
        path = args.data_dir / rel
        if not path.exists():
            print(f"{name:<16} missing: {path}")
            continue
        res = gold_match(read_jsonl(path), parser)
        out["gold"][name] = {k: v for k, v in res.items() if k != "errors"}
        print(f"{name:<16}{res['n']:>5}" + "".join(f"{100 * res['rates'][f]:>10.1f}%" for f in FIELDS)
              + f"{100 * res['partial_rate']:>8.1f}%")
        for tag, rates in res["per_tag"].items():
            print(f"  {tag:<14}{res['n_tag'][tag]:>5}" + "".join(f"{100 * rates[f]:>10.1f}%" for f in FIELDS))
        for e in res["errors"][: args.errors]:
            print("    MISMATCH", e["prompt"])
            print("      got ", json.dumps(e["got"]))
            print("      want", json.dumps(e["want"]))

    print("\nT2I-CompBench category recovery (category(parse(p)) == the file's category)")
    header = f"{'file':<34}{'n':>5}{'expected':>12}{'top-1':>9}{'present':>9}{'flagged':>9}  most common"
    print(header)
    print("-" * len(header))
    comp_dir = args.data_dir / "t2i_compbench"
    for fname, expected in COMPBENCH_FILES.items():
        path = comp_dir / fname
        if not path.exists():
            continue
        res = category_recovery(read_lines(path), expected, parser)
        out["compbench"][fname] = {"expected": expected, **res}
        common = ", ".join(f"{k} {v}" for k, v in list(res["confusion"].items())[:3])
        print(f"{fname:<34}{res['n']:>5}{expected:>12}{100 * res['top1']:>8.1f}%{100 * res['present']:>8.1f}%"
              f"{100 * res['partial_rate']:>8.1f}%  {common}")
    out["seconds"] = round(time.time() - t0, 1)
    print(f"\n{out['seconds']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
