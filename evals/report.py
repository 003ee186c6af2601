"""Benchmark reports, generic over a summary ``{"benchmark": name, "scores": {category: score}, "overall": x}``
(GenEval's per-tag accuracy, T2I-CompBench's per-category scores, VQA scores: anything that maps a category to a
number).

* :func:`write_summary` / :func:`load_summary`: the JSON for machines.
* :func:`markdown_table`: one row per model, one column per category (+ overall).
* :func:`bar_chart`: grouped bars per category, e.g. base vs fine-tuned.
* :func:`failure_grid`: the worst-scored images per category, captioned with prompt and reason.
* :func:`compare` / :func:`format_comparison`: per-category deltas of B against A (``t2i-rl eval compare``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Summary = dict[str, Any]


def scores_of(summary: Mapping[str, Any]) -> dict[str, float]:
    """``{category: score}`` of a summary, ``overall`` last (computed as the mean of the categories if absent).
    A bare ``{category: score}`` mapping is accepted too."""
    if not isinstance(summary, Mapping):
        raise ValueError(f"a summary must be a JSON object, got {type(summary).__name__}")  # noqa: TRY004
    scores = summary.get("scores", summary)
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("a summary needs a non-empty 'scores' object {category: score}")
    out = {str(k): float(v) for k, v in scores.items() if k != "overall" and isinstance(v, (int, float))}
    if not out:
        raise ValueError("a summary's 'scores' has no numeric category")
    overall = summary.get("overall", scores.get("overall"))
    out["overall"] = float(overall) if isinstance(overall, (int, float)) else sum(out.values()) / len(out)
    return out


def write_summary(summary: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")
    return path


def load_summary(path: str | Path) -> Summary:
    """A summary JSON (or a report folder holding ``summary.json``), validated by :func:`scores_of`."""
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"summary file {str(path)!r} does not exist")
    try:
        summary = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err})") from err
    scores_of(summary)
    return summary


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown_table(rows: Mapping[str, Mapping[str, Any]], digits: int = 3) -> str:
    """One row per name (a summary or a ``{category: score}``), the union of categories as columns (first-seen
    order), ``overall`` last."""
    scores = {name: scores_of(s) for name, s in rows.items()}
    columns = list(dict.fromkeys(c for s in scores.values() for c in s if c != "overall")) + ["overall"]
    lines = ["| model | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, s in scores.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(s.get(c), digits) for c in columns) + " |")
    return "\n".join(lines)


def bar_chart(rows: Mapping[str, Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Grouped bars: one group per category (+ overall), one bar per name (e.g. ``{"base": ..., "tuned": ...}``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = {name: scores_of(s) for name, s in rows.items()}
    columns = list(dict.fromkeys(c for s in scores.values() for c in s if c != "overall")) + ["overall"]
    width = 0.8 / max(len(scores), 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(columns) + 1), 3.5))
    for k, (name, s) in enumerate(scores.items()):
        xs = [c + (k - (len(scores) - 1) / 2) * width for c in range(len(columns))]
        ax.bar(xs, [s.get(c, float("nan")) for c in columns], width, label=name)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05 if all(v <= 1 for s in scores.values() for v in s.values()) else None)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def worst_records(records: Sequence[Mapping[str, Any]], per_category: int = 4, category_key: str = "tag",
                  score_key: str = "correct") -> dict[str, list[Mapping[str, Any]]]:
    """Per category, the ``per_category`` lowest-scored records below the best possible (failures only for a
    boolean score), the ones with the most reason lines first among ties, then file order."""
    per: dict[str, list[tuple[float, int, int, Mapping[str, Any]]]] = {}
    for n, r in enumerate(records):
        score = float(r[score_key])
        if score >= 1.0:
            continue
        lines = len([x for x in str(r.get("reason", "")).splitlines() if x.strip()])
        per.setdefault(str(r[category_key]), []).append((score, -lines, n, r))
    return {cat: [r for *_, r in sorted(items, key=lambda t: t[:3])[:per_category]] for cat, items in per.items()}


def failure_grid(records: Sequence[Mapping[str, Any]], path: str | Path, per_category: int = 4, cell: int = 160,
                 category_key: str = "tag", score_key: str = "correct") -> Path | None:
    """One row per category with its worst images (:func:`worst_records`), captioned ``category: prompt`` and the
    first reason line. ``None`` (nothing written) when nothing failed."""
    import torch
    from PIL import Image

    from t2i_rl.shapes.render import pil_to_tensor
    from t2i_rl.visualize import save_grid

    worst = worst_records(records, per_category, category_key, score_key)
    if not worst:
        return None
    images, captions = [], []
    blank = torch.ones(3, cell, cell)
    for cat, rows in worst.items():
        for k in range(per_category):
            if k < len(rows):
                r = rows[k]
                images.append(pil_to_tensor(Image.open(r["filename"]).convert("RGB").resize((cell, cell))))
                reason = str(r.get("reason", "")).splitlines()
                captions.append(f"{cat}: {r.get('prompt', '')}" + (f" | {reason[0]}" if reason else ""))
            else:
                images.append(blank)
                captions.append("")
    return save_grid(torch.stack(images), captions, path, columns=per_category, cell=cell)


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per category (union, ``overall`` last): ``{"a": score, "b": score, "delta": b - a}`` (``None`` where one
    side lacks the category)."""
    sa, sb = scores_of(a), scores_of(b)
    columns = list(dict.fromkeys([c for c in sa if c != "overall"] + [c for c in sb if c != "overall"])) + ["overall"]
    return {c: {"a": sa.get(c), "b": sb.get(c),
                "delta": sb[c] - sa[c] if c in sa and c in sb else None} for c in columns}


def format_comparison(rows: Mapping[str, Mapping[str, float | None]], name_a: str = "A", name_b: str = "B") -> str:
    """A markdown table of :func:`compare`'s output."""
    lines = [f"| category | {name_a} | {name_b} | delta |", "|---|---:|---:|---:|"]
    for cat, r in rows.items():
        delta = r["delta"]
        lines.append(f"| {cat} | {_fmt(r['a'])} | {_fmt(r['b'])} | {'–' if delta is None else f'{delta:+.3f}'} |")
    return "\n".join(lines)


def write_report(out: str | Path, summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]] = (),
                 baseline: Mapping[str, Any] | None = None, name: str = "model", baseline_name: str = "base",
                 title: str = "") -> dict[str, str]:
    """``summary.json``, ``report.md`` (table, + deltas against ``baseline``), ``scores.png`` (bars, with the
    baseline when given) and ``failures.png`` (when ``records`` hold failures). Returns the written paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {baseline_name: baseline, name: summary} if baseline is not None else {name: summary}
    paths = {"summary": str(write_summary(summary, out / "summary.json"))}
    title = title or str(summary.get("benchmark", "benchmark"))
    md = [f"# {title}", "", markdown_table(rows)]
    if baseline is not None:
        md += ["", f"## {name} vs {baseline_name}", "", format_comparison(compare(baseline, summary), baseline_name, name)]
    for key in ("images", "prompts", "correct_images", "correct_prompts"):
        if key in summary:
            md.append(f"\n{key.replace('_', ' ')}: {summary[key]:.4g}" if isinstance(summary[key], float)
                      else f"\n{key}: {summary[key]}")
    paths["chart"] = str(bar_chart(rows, out / "scores.png", title))
    md += ["", "![scores](scores.png)"]
    if records:
        grid = failure_grid(records, out / "failures.png")
        if grid is not None:
            paths["failures"] = str(grid)
            md += ["", "## Worst failures per category", "", "![failures](failures.png)"]
    paths["markdown"] = str(out / "report.md")
    Path(paths["markdown"]).write_text("\n".join(md) + "\n")
    return paths
