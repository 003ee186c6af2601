"""Parser quality measures shared by ``scripts/measure_parser.py`` and the tests.

* :func:`gold_match`: exact-match rates of parses against gold rows (``*_gold_concepts.jsonl``): per field
  (objects, counts, colours, relations) and all together. Objects are compared as multisets (order-free:
  GenEval's gold lists a position prompt's reference object first), relations as sets.
* :func:`category_recovery`: how often :func:`concept_parsers.category` of the parse equals a T2I-CompBench
  file's category, plus how often that category is at least among the parse's aspects.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .categories import aspects, category
from .graph import ConceptGraph

FIELDS = ("objects", "counts", "colours", "relations", "all")
#: T2I-CompBench training files and the category each one is about.
COMPBENCH_FILES = {
    "color_train.txt": "color",
    "shape_train.txt": "shape",
    "texture_train.txt": "texture",
    "spatial_train.txt": "spatial",
    "3d_spatial_train.txt": "3d_spatial",
    "non_spatial_train.txt": "non_spatial",
    "numeracy_train.txt": "numeracy",
    "complex_train.txt": "complex",
    "complex_train_action.txt": "complex",
    "complex_train_spatial.txt": "complex",
    "complex_train_spatialaction.txt": "complex",
}


def default_data_dir() -> Path:
    """``../shared/benchmark_data`` next to the repository (where the benchmark files live, uncommitted)."""
    return Path(__file__).resolve().parents[2] / "shared" / "benchmark_data"


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_lines(path: str | Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def field_keys(d: Mapping[str, Any]) -> dict[str, Any]:
    """Comparable (order-free) summaries of a gold-schema dict, one per field of :data:`FIELDS`."""
    objs = d.get("objects", [])
    rels = d.get("relations", [])
    nouns = sorted(o["noun"] for o in objs)
    counts = sorted((o["noun"], o["count"], bool(o.get("exact", False))) for o in objs)
    colours = sorted((o["noun"], tuple(o.get("attributes", []))) for o in objs)
    relations = sorted({(r["subject"], r["relation"], r["object"], r["kind"]) for r in rels})
    return {"objects": nouns, "counts": counts, "colours": colours, "relations": relations,
            "all": (counts, colours, relations)}


def gold_match(rows: Iterable[Mapping[str, Any]], parser: Callable[[str], ConceptGraph]) -> dict[str, Any]:
    """Exact-match rates of ``parser(row["prompt"])`` against gold rows, overall and per ``tag``."""
    hits: Counter = Counter()
    per_tag: dict[str, Counter] = {}
    n_tag: Counter = Counter()
    errors: list[dict[str, Any]] = []
    n = 0
    partial = 0
    for row in rows:
        n += 1
        g = parser(row["prompt"])
        partial += bool(g.partial)
        got, want = field_keys(g.to_dict()), field_keys(row)
        tag = row.get("tag", "all")
        n_tag[tag] += 1
        tag_hits = per_tag.setdefault(tag, Counter())
        for f in FIELDS:
            ok = got[f] == want[f]
            hits[f] += ok
            tag_hits[f] += ok
        if got["all"] != want["all"]:
            errors.append({"prompt": row["prompt"], "got": g.to_dict(), "want": {k: row[k] for k in
                                                                                 ("objects", "relations")}})
    rates = {f: hits[f] / n if n else 0.0 for f in FIELDS}
    return {"n": n, "rates": rates, "hits": dict(hits), "partial_rate": partial / n if n else 0.0,
            "per_tag": {t: {f: per_tag[t][f] / n_tag[t] for f in FIELDS} for t in sorted(per_tag)},
            "n_tag": dict(n_tag), "errors": errors}


def category_recovery(prompts: list[str], expected: str, parser: Callable[[str], ConceptGraph]) -> dict[str, Any]:
    """Share of prompts whose parsed category is ``expected`` (top-1) and whose aspects include it."""
    top1 = present = partial = 0
    confusion: Counter = Counter()
    for p in prompts:
        g = parser(p)
        c = category(g)
        a = aspects(g)
        confusion[c] += 1
        top1 += c == expected
        partial += bool(g.partial)
        if expected == "complex":
            present += len(a - {"numeracy"}) >= 2
        elif expected == "3d_spatial":
            present += c == "3d_spatial" or any(
                r.kind == "position" and r.predicate in ("in front of", "behind", "hidden by") for r in g.relations)
        else:
            present += expected in a
    n = len(prompts)
    return {"n": n, "top1": top1 / n if n else 0.0, "present": present / n if n else 0.0,
            "partial_rate": partial / n if n else 0.0, "confusion": dict(confusion.most_common())}
