"""Test-time generate -> critique -> refine (after RationalRewards' test-time prompt refinement).

Round 0 generates an image for the user's prompt. The rationale judge (:mod:`reward_models.critique`) critiques
it *against the user's original prompt*; if both text faithfulness and physical/visual quality are at least
``threshold`` (default 3 on the 1-4 scale) the image is accepted. Otherwise the critique's "Refined Request"
becomes the generation prompt of the next round, regenerated with the *same seed*, for at most ``rounds``
refinement rounds (so at most ``rounds + 1`` images). The loop also stops when the critique has no refined
request or repeats the current prompt (the same prompt and seed would give the same image).

Every round is saved: ``round_{k}.png`` and ``round_{k}.json`` (generation prompt, critique text, parsed
scores, refined request), plus ``summary.json`` (all rounds, stop reason, final and best round).
Works with any policy :func:`t2i_rl.policies.load_policy` loads; the critic is any
``(images, prompts) -> texts`` callable (:func:`reward_models.critique.build_critic`, or a scripted one).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

Critic = Callable[[Sequence[Any], Sequence[str]], list[str]]
STOP_REASONS = ("accepted", "max_rounds", "no_refined_request", "unchanged_request")


def accepted(scores: dict[str, float], threshold: float = 3.0) -> bool:
    """Both faithfulness and quality are readable and at least ``threshold``."""
    values = [scores.get("faithfulness", math.nan), scores.get("quality", math.nan)]
    return all(not math.isnan(v) and v >= threshold for v in values)


def generate_image(policy, prompt: str, seed: int, resolution: int, num_steps: int, guidance_scale: float,
                   max_sequence_length: int) -> torch.Tensor:
    """One deterministic ``[3, H, W]`` image in ``[0, 1]``."""
    from t2i_rl.rollout import generate

    return generate(policy, [prompt], resolution, num_steps, guidance_scale, [seed],
                    max_sequence_length=max_sequence_length)[0]


def next_prompt(critique, current: str) -> tuple[str | None, str | None]:
    """``(prompt, None)`` for the next round, or ``(None, stop_reason)``."""
    refined = critique.refined_request
    if not refined:
        return None, "no_refined_request"
    if " ".join(refined.lower().split()) == " ".join(current.lower().split()):
        return None, "unchanged_request"
    return refined, None


def refine(
    policy,
    critic: Critic,
    prompt: str,
    out_dir: str | Path,
    seed: int = 0,
    rounds: int = 3,
    threshold: float = 3.0,
    resolution: int = 512,
    num_steps: int = 40,
    guidance_scale: float = 4.5,
    max_sequence_length: int = 128,
) -> dict[str, Any]:
    """Run the loop (see the module docstring) and return the summary that is also written to ``summary.json``."""
    from reward_models.critique import parse_critique
    from t2i_rl.visualize import to_pil

    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    if not prompt.strip():
        raise ValueError("refine needs a non-empty prompt")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, Any]] = []
    current, stop_reason = prompt, "max_rounds"
    for k in range(rounds + 1):
        image = generate_image(policy, current, seed, resolution, num_steps, guidance_scale, max_sequence_length)
        pil = to_pil(image[None])[0]
        pil.save(out / f"round_{k}.png")
        texts = critic([pil], [prompt])
        if len(texts) != 1:
            raise ValueError(f"critic returned {len(texts)} critiques for 1 image")
        critique = parse_critique(texts[0])
        record = {
            "round": k, "original_prompt": prompt, "prompt": current, "seed": seed, "image": f"round_{k}.png",
            "accepted": accepted(critique.scores, threshold), **critique.to_dict(),
        }
        (out / f"round_{k}.json").write_text(json.dumps(record, indent=1, ensure_ascii=False))
        history.append(record)
        if record["accepted"]:
            stop_reason = "accepted"
            break
        if k == rounds:
            break
        current, reason = next_prompt(critique, current)
        if current is None:
            stop_reason = reason
            break
    best = max(history, key=lambda r: (r["critique"], -r["round"]))
    summary = {
        "prompt": prompt, "seed": seed, "threshold": threshold, "max_rounds": rounds, "stop_reason": stop_reason,
        "final_round": history[-1]["round"], "final_prompt": history[-1]["prompt"], "best_round": best["round"],
        "rounds": [{key: r[key] for key in ("round", "prompt", "image", "scores", "critique", "parsed", "accepted",
                                            "refined_request")} for r in history],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    return summary
