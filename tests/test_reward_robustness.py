"""Judge robustness probes (Zhao et al., 2025): a gullible judge is caught, a sensible one is not."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from reward_models.base import RewardBatch, RewardOutput
from reward_models.image_stats import ImageStatsReward
from reward_models.robustness import (
    MASTER_KEYS,
    JudgeRobustnessWarning,
    probe_images,
    probe_report_markdown,
    probe_text_judge,
    render_text,
    run_probes,
    stack_probes,
)

PROMPTS = ["a red ball", "a red car on a street", "a red apple"]


def _redness(images: torch.Tensor) -> torch.Tensor:
    return (images[:, 0] - images[:, 1:].mean(1)).clamp(min=0).mean(dim=(1, 2))


def _has_text(images: torch.Tensor) -> torch.Tensor:
    """Dark strokes on a mostly white page, the way rendered text looks."""
    luma = images.mean(1)
    return ((luma < 0.2).float().mean(dim=(1, 2)) > 0.0005) & ((luma > 0.9).float().mean(dim=(1, 2)) > 0.5)


class SensibleJudge:
    """Scores only red content for 'a red ...' prompts; a column that does not apply is NaN."""

    def __call__(self, batch: RewardBatch) -> RewardOutput:
        red = _redness(batch.images)
        applies = torch.tensor([" red " in f" {p} " for p in batch.prompts])
        score = torch.where(applies, red, torch.full_like(red, float("nan")))
        never = torch.full_like(red, float("nan"))
        return RewardOutput(torch.stack([score, never], 1), ["red_object", "count"], ["attribute", "object"])


class GullibleJudge:
    """Like SensibleJudge, but any image with text in it gets full marks (it 'reads' the answer)."""

    def __call__(self, batch: RewardBatch) -> RewardOutput:
        score = torch.where(_has_text(batch.images), torch.ones(len(batch.prompts)), _redness(batch.images))
        return RewardOutput(score[:, None], ["vqa_yes"], ["attribute"])


def red_references(per_prompt: int = 2, size: int = 64) -> torch.Tensor:
    """Real-looking references: a red disc on grey, one row per prompt (prompt-major)."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = ((y - size / 2) ** 2 + (x - size / 2) ** 2 < (size / 3) ** 2).float()
    image = torch.stack([0.5 + 0.45 * disc, 0.5 - 0.4 * disc, 0.5 - 0.4 * disc])
    return image.expand(len(PROMPTS) * per_prompt, 3, size, size).clone()


# ----------------------------------------------------------------------------------------------------- probes


def test_probe_images_cover_the_paper_probes():
    probes = probe_images("a red ball", 64)
    names = [p.name for p in probes]
    assert names[:5] == ["blank_white", "blank_black", "noise_uniform", "text_yes", "text_prompt"]
    assert names[5:] == [f"master_key_{k}" for k in MASTER_KEYS]
    assert set(MASTER_KEYS.values()) == {":", ".", "Thought process:", "Let's solve this problem step by step.",
                                         "Solution", "解"}
    images = stack_probes(probes)
    assert images.shape == (len(probes), 3, 64, 64) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert (images[0] == 1).all() and (images[1] == 0).all() and 0.4 < images[2].mean() < 0.6
    for probe in probes[3:]:
        assert probe.kind in ("text", "master_key") and probe.text
        assert (probe.image < 0.5).any(), f"{probe.name} rendered nothing"
    assert probes[4].text == "a red ball"
    # deterministic, seeded noise
    again = stack_probes(probe_images("a red ball", 64))
    assert torch.equal(images, again)
    assert not torch.equal(images[2], stack_probes(probe_images("a red ball", 64, seed=1))[2])


def test_render_text_fits_long_prompts_and_flags_missing_glyphs():
    long_prompt = "a photo of a red bicycle leaning against a blue wall next to three yellow flowers at sunset"
    image, missing = render_text(long_prompt, (96, 128))
    assert image.shape == (3, 96, 128) and not missing
    dark_columns = (image.mean(0) < 0.5).any(0).nonzero()
    assert dark_columns.numel() and dark_columns.min() > 0 and dark_columns.max() < 127   # inside the canvas
    # Pillow's built-in font has no CJK glyphs: flagged, not silently passed off as the character
    _, missing_cjk = render_text("解", 64)
    probes = {p.name: p for p in probe_images("x", 64)}
    assert probes["master_key_jie"].glyphs_missing == missing_cjk
    with pytest.raises(ValueError, match="non-empty"):
        render_text("  ", 64)
    with pytest.raises(ValueError, match="8x8"):
        probe_images("a red ball", 4)


# ------------------------------------------------------------------------------------------------ image judges


def test_gullible_judge_is_warned_about():
    with pytest.warns(JudgeRobustnessWarning) as caught:
        report = run_probes(GullibleJudge(), PROMPTS, red_references())
    messages = [str(w.message) for w in caught]
    assert any("judge column 'vqa_yes' is fooled by probe 'text_yes'" in m for m in messages)
    assert len(messages) == len(report["warnings"])
    fooled = {w["probe"] for w in report["warnings"]}
    assert {"text_yes", "text_prompt"} <= fooled
    assert {f"master_key_{k}" for k in MASTER_KEYS} <= fooled
    assert not fooled & {"blank_white", "blank_black", "noise_uniform"}
    column = report["columns"]["vqa_yes"]
    assert column["probe_max"] == 1.0 and column["per_probe"]["text_yes"]["fooled_rate"] == 1.0
    assert column["reference_median"] == pytest.approx(float(_redness(red_references()[:1])), abs=1e-6)
    assert report["size"] == [64, 64] and report["has_reference"]
    json.dumps(report)                                  # JSON-able as is
    table = probe_report_markdown(report)
    assert "| vqa_yes | attribute |" in table and "text_yes" in table and "**Warnings**" in table


def test_sensible_judge_is_not_warned_about():
    with warnings.catch_warnings():
        warnings.simplefilter("error", JudgeRobustnessWarning)
        report = run_probes(SensibleJudge(), PROMPTS, red_references())
    assert report["warnings"] == []
    red = report["columns"]["red_object"]
    assert red["fooled_rate"] == 0.0 and red["probe_max"] < red["reference_median"]
    assert red["worst_probe"] == "noise_uniform"
    # a column that never applies (all NaN) has no metrics rather than NaN, and no warnings
    count = report["columns"]["count"]
    assert count["probe_mean"] is None and count["fooled_rate"] is None and count["worst_probe"] is None
    assert json.loads(json.dumps(report)) == report
    assert "| count | object | – |" in probe_report_markdown(report)


def test_threshold_without_references_and_reward_mappings():
    rewards = {"stats": ImageStatsReward(["brightness", "redness"]), "judge": GullibleJudge()}
    with pytest.warns(JudgeRobustnessWarning) as caught:
        report = run_probes(rewards, PROMPTS[:2], size=48, threshold={"stats/brightness": 0.9, "judge/vqa_yes": 0.9})
    assert set(report["columns"]) == {"stats/brightness", "stats/redness", "judge/vqa_yes"}
    assert report["columns"]["stats/redness"]["above_threshold_rate"] is None      # no threshold for it
    # brightness >= 0.9 is met by the blank white page and by the mostly-white text probes
    bright = {w["probe"] for w in report["warnings"] if w["column"] == "stats/brightness"}
    assert "blank_white" in bright and "blank_black" not in bright
    assert any("judge/vqa_yes" in str(w.message) for w in caught)
    report_quiet = run_probes(rewards, PROMPTS[:2], size=48, threshold=0.9, warn=False)
    assert report_quiet["warnings"]


def test_run_probes_rejects_bad_input():
    judge = SensibleJudge()
    with pytest.raises(ValueError, match="non-empty list of prompts"):
        run_probes(judge, "a red ball")
    with pytest.raises(ValueError, match="4 reference images for 3 prompts"):
        run_probes(judge, PROMPTS, torch.rand(4, 3, 32, 32))
    with pytest.raises(ValueError, match="reference group 1"):
        run_probes(judge, PROMPTS[:2], [torch.rand(1, 3, 32, 32), torch.rand(3, 32, 32)])
    with pytest.raises(ValueError, match="fool_rate"):
        run_probes(judge, PROMPTS, fool_rate=0.0)
    with pytest.raises(TypeError, match="callable"):
        run_probes(object(), PROMPTS)
    with pytest.raises(ValueError, match="metadata"):
        run_probes(judge, PROMPTS, metadata=[{}])


def test_reference_groups_may_differ_in_size_per_prompt():
    refs = [red_references(1, 32)[:1], red_references(1, 32)[:2]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", JudgeRobustnessWarning)
        report = run_probes(SensibleJudge(), PROMPTS[:2], refs)
    assert report["size"] == [32, 32] and report["warnings"] == []


# ------------------------------------------------------------------------------------------------- text judges


def test_text_judge_master_keys():
    questions = ["What is 2 + 3?", "What is 4 * 5?"]
    answers = ["5", "20"]

    def gullible(question: str, response: str) -> float:
        # rewards anything that "looks like reasoning", the failure mode of Zhao et al. (2025)
        return 1.0 if response.strip() in MASTER_KEYS.values() or response in answers else 0.0

    def sensible(question: str, response: str) -> float:
        return float(response.strip() == answers[questions.index(question)])

    with pytest.warns(JudgeRobustnessWarning) as caught:
        bad = probe_text_judge(gullible, questions, answers, name="gullible")
    assert any("'gullible' is fooled by probe 'master_key_solution'" in str(w.message) for w in caught)
    assert len(bad["warnings"]) == len(MASTER_KEYS) and bad["columns"]["gullible"]["fooled_rate"] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", JudgeRobustnessWarning)
        good = probe_text_judge(sensible, questions, answers, name="sensible", threshold=0.5)
    assert good["warnings"] == [] and good["columns"]["sensible"]["probe_max"] == 0.0
    json.dumps(good)
    assert "| sensible |" in probe_report_markdown(good)
    with pytest.raises(ValueError, match="1 reference responses for 2 questions"):
        probe_text_judge(sensible, questions, answers[:1])
    with pytest.raises(TypeError, match="must return a number"):
        probe_text_judge(lambda q, r: "yes", questions, warn=False)
