"""VQA benchmarks: questions from the concept graph, answered by a VLM judge (:mod:`reward_models.vqa`).

Each prompt's concept graph (:func:`reward_models.vqa.graph_for`: metadata's graph, GenEval metadata, else
:func:`concept_parsers.parse`) becomes one yes/no question per concept (object presence, count, each attribute,
each relation; :func:`reward_models.vqa.questions_for_graph`). The judge's answer to a question is
``P("Yes")`` at the first generated position (VQAScore, Lin et al., 2024, arXiv:2404.01291), turned into
"the concept holds" (``1 - P`` for an object asked for with count 0). Two benchmark styles:

* **Soft-TIFA** (GenEval 2 style; after TIFA, Hu et al., 2023, ICCV, arXiv:2303.11897, with soft VQA
  probabilities instead of exact answers): per prompt-image, the *arithmetic mean* (``soft_tifa_am``,
  atom-level) and the *geometric mean* (``soft_tifa_gm``, prompt-level: near 0 as soon as one concept fails)
  of the per-question probabilities; the benchmark reports the mean of each over images.
* **ConceptMix** style (Wu et al., 2024, "ConceptMix: A Compositional Image Generation Benchmark with
  Controllable Difficulty", NeurIPS 2024 D&B, arXiv:2408.14339): an image passes when *every* concept question
  is answered yes (probability ``> 0.5``); the benchmark reports the pass rate (``conceptmix_pass_rate``), also
  per number of concepts ``k`` (``conceptmix_pass_rate/k=3``; ConceptMix reports by k).

Reconstructed, not copied: GenEval 2's exact Soft-TIFA question set and judge, and ConceptMix's GPT-4o
questions, are replaced by this project's concept-graph questions and VLM judge (default
``Qwen/Qwen2.5-VL-7B-Instruct``, ``template="per_kind"``: one atomic question per concept kind). ``P(yes)`` is
the full-vocabulary probability of "Yes" (VQAScore), not renormalised against "No".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.compbench import BenchmarkResult, json_number, mean_ignoring_nan, read_samples, write_or_print

if TYPE_CHECKING:  # torch and the VLM load lazily, so building the CLI parser stays light
    from reward_models.vqa import VQAReward

#: The default judge (:data:`reward_models.vqa.DEFAULT_VLM`, repeated so that importing this module needs no torch).
DEFAULT_VLM = "Qwen/Qwen2.5-VL-7B-Instruct"

#: A question counts as answered "yes" when its probability is above this (ConceptMix's binary verdict).
PASS_THRESHOLD = 0.5


def arithmetic_mean(probs: Sequence[float]) -> float:
    """Soft-TIFA's atom-level score: the mean of the per-question probabilities (NaN with none)."""
    _check_probs(probs)
    return sum(probs) / len(probs) if probs else math.nan


def geometric_mean(probs: Sequence[float]) -> float:
    """Soft-TIFA's prompt-level score: ``(prod p_i)^(1/n)``; 0 as soon as one probability is 0 (NaN with none)."""
    _check_probs(probs)
    if not probs:
        return math.nan
    if min(probs) <= 0.0:
        return 0.0
    return math.exp(sum(math.log(p) for p in probs) / len(probs))


def all_concepts_pass(probs: Sequence[float], threshold: float = PASS_THRESHOLD) -> bool | None:
    """ConceptMix's verdict: every question answered yes (``p > threshold``); None with no question."""
    _check_probs(probs)
    return all(p > threshold for p in probs) if probs else None


def _check_probs(probs: Sequence[float]) -> None:
    bad = [p for p in probs if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0)]
    if bad:
        raise ValueError(f"probabilities must be numbers in [0, 1], got {bad[:3]}")


@dataclass
class AnsweredQuestion:
    slot: str
    concept: str
    question: str
    p_yes: float  # the judge's P("Yes")
    p_holds: float  # the concept holds: p_yes, or 1 - p_yes for a count-0 object

    def to_dict(self) -> dict[str, Any]:
        return {"slot": self.slot, "concept": self.concept, "question": self.question, "p_yes": self.p_yes,
                "p_holds": self.p_holds}


class VQABenchmark:
    """Soft-TIFA and ConceptMix-style scores of prompt-image pairs (see the module docstring).

    Args:
        reward: a :class:`reward_models.vqa.VQAReward` with ``score="probability"`` (its judge and question
            generation are used); else one is built from ``judge`` / ``model`` with ``template``.
        threshold: ConceptMix's yes threshold on the per-question probability.
        max_objects, max_relations: question slots; concepts beyond them are dropped and listed per record.
        batch_size: samples per judge call (each sample asks several questions).
    """

    def __init__(self, reward: VQAReward | None = None, model: str = DEFAULT_VLM, judge: Any = None,
                 template: str = "per_kind", threshold: float = PASS_THRESHOLD, max_objects: int = 8,
                 max_relations: int = 8, device: str | None = None, dtype: str = "auto", batch_size: int = 8) -> None:
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {threshold}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if reward is None:
            from reward_models.vqa import VQAReward

            reward = VQAReward(model=model, judge=judge, template=template, max_objects=max_objects,
                               max_relations=max_relations, device=device, dtype=dtype)
        if reward.score != "probability":
            raise ValueError(f"the VQA benchmarks need P(yes): build the VQAReward with score='probability', "
                             f"not {reward.score!r}")
        self.reward, self.threshold, self.batch_size = reward, float(threshold), int(batch_size)

    def answer(self, images: Sequence[Any], prompts: Sequence[str],
               metadata: Sequence[dict[str, Any]]) -> list[tuple[list[AnsweredQuestion], list[str]]]:
        """Per image: its answered questions and the concepts without a slot."""
        rows, per_image = [], []
        for b, (prompt, meta) in enumerate(zip(prompts, metadata)):
            questions, dropped = self.reward.questions(prompt, meta)
            rows += [(b, q) for q in questions]
            per_image.append(([], dropped))
        if rows:
            log_probs = self.reward.judge.first_token_log_probs([images[b] for b, _ in rows],
                                                                [q.question for _, q in rows])
            if log_probs.shape[0] != len(rows):
                raise ValueError(f"the judge answered {log_probs.shape[0]} of {len(rows)} questions")
            import torch

            negate = torch.tensor([q.negate for _, q in rows], dtype=torch.bool)
            holds, p_yes = self.reward.row_scores(log_probs, negate)
            for (b, q), h, p in zip(rows, holds.tolist(), p_yes.tolist()):
                per_image[b][0].append(AnsweredQuestion(q.slot, q.text, q.question, float(p), float(h)))
        return per_image

    def evaluate(self, source: Any, prompts_file: str | Path | None = None) -> BenchmarkResult:
        """Score samples (see :func:`evals.compbench.read_samples`). Summary: ``soft_tifa_am``, ``soft_tifa_gm``,
        ``conceptmix_pass_rate`` and ``conceptmix_pass_rate/k=<n>``; images without any question are left out
        (counted in ``counts["no_questions"]``)."""
        samples = read_samples(source, prompts_file)
        if not samples:
            raise ValueError("no samples to evaluate")
        records: list[dict[str, Any]] = []
        for start in range(0, len(samples), self.batch_size):
            chunk = samples[start : start + self.batch_size]
            answered = self.answer([s.load_image() for s in chunk], [s.prompt for s in chunk],
                                   [s.metadata for s in chunk])
            for sample, (questions, dropped) in zip(chunk, answered):
                probs = [q.p_holds for q in questions]
                verdict = all_concepts_pass(probs, self.threshold)
                records.append({
                    "index": sample.index, "sample": sample.sample, "prompt": sample.prompt, "path": sample.path,
                    "num_concepts": len(questions), "soft_tifa_am": json_number(arithmetic_mean(probs)),
                    "soft_tifa_gm": json_number(geometric_mean(probs)),
                    "conceptmix_pass": verdict, "questions": [q.to_dict() for q in questions], "dropped": dropped})
        return summarize(records)


def summarize(records: Sequence[dict[str, Any]]) -> BenchmarkResult:
    """Benchmark means over the records that asked at least one question."""
    scored = [r for r in records if r["num_concepts"] > 0]
    summary: dict[str, float] = {}
    counts: dict[str, int] = {"no_questions": len(records) - len(scored)}
    for key in ("soft_tifa_am", "soft_tifa_gm"):
        summary[key], counts[key] = mean_ignoring_nan(r[key] for r in scored)
    verdicts = [r["conceptmix_pass"] for r in scored]
    summary["conceptmix_pass_rate"] = sum(verdicts) / len(verdicts) if verdicts else math.nan
    counts["conceptmix_pass_rate"] = len(verdicts)
    for k in sorted({r["num_concepts"] for r in scored}):
        group = [r["conceptmix_pass"] for r in scored if r["num_concepts"] == k]
        summary[f"conceptmix_pass_rate/k={k}"] = sum(group) / len(group)
        counts[f"conceptmix_pass_rate/k={k}"] = len(group)
    return BenchmarkResult(summary, counts, list(records), benchmark="vqa")


def evaluate_vqa(source: Any, prompts_file: str | Path | None = None, **kwargs: Any) -> BenchmarkResult:
    """One call: :class:`VQABenchmark` ``(**kwargs).evaluate(source, prompts_file)``."""
    return VQABenchmark(**kwargs).evaluate(source, prompts_file)


# ============================================================================================ CLI hook
def add_arguments(parser) -> None:
    """Arguments of ``t2i-rl eval vqa DIR`` (for the ``evals.cli`` sub-parser)."""
    parser.add_argument("images", help="image folder (GenEval layout, or PNGs with --prompts)")
    parser.add_argument("--prompts", default=None, help="prompts file for a flat PNG folder (one line per PNG)")
    parser.add_argument("--model", default=DEFAULT_VLM, help="VLM judge: hub id or local directory")
    parser.add_argument("--template", default="per_kind", choices=("per_kind", "vqascore"))
    parser.add_argument("--threshold", type=float, default=PASS_THRESHOLD, help="ConceptMix yes threshold")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", default=None, help="write the result JSON here (default: print the summary)")


def run_from_args(args) -> BenchmarkResult:
    """Run ``t2i-rl eval vqa`` from parsed :func:`add_arguments` arguments; writes ``--out`` if given."""
    result = evaluate_vqa(args.images, args.prompts, model=args.model, template=args.template,
                          threshold=args.threshold, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    write_or_print(result.to_dict(), args.out)
    return result
