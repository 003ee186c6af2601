"""VQA benchmarks (evals.vqa_bench): Soft-TIFA arithmetic / geometric means and the ConceptMix pass rate against
hand-computed values, a scripted judge ranking a right image above a wrong one, a GenEval-layout folder, and a tiny
random Qwen2-VL loaded through from_pretrained."""

from __future__ import annotations

import json
import math
from typing import ClassVar

import pytest
import torch
from PIL import Image

from evals.vqa_bench import (
    VQABenchmark,
    all_concepts_pass,
    arithmetic_mean,
    evaluate_vqa,
    geometric_mean,
    summarize,
)
from reward_models.vqa import VQAReward
from t2i_rl.tiny import save_tiny_qwen_vl


# ============================================================================================ formulas
def test_soft_tifa_means_and_conceptmix_verdict():
    probs = [0.9, 0.6, 0.3]
    assert arithmetic_mean(probs) == pytest.approx(0.6)
    assert geometric_mean(probs) == pytest.approx(0.162 ** (1 / 3))  # 0.5451
    assert geometric_mean([0.9, 0.0]) == 0.0
    assert geometric_mean([0.5, 0.5]) == pytest.approx(0.5)
    assert math.isnan(arithmetic_mean([])) and math.isnan(geometric_mean([]))
    assert all_concepts_pass([0.9, 0.6]) is True
    assert all_concepts_pass([0.9, 0.5]) is False  # strictly above 0.5
    assert all_concepts_pass([0.9, 0.4], threshold=0.3) is True
    assert all_concepts_pass([]) is None
    with pytest.raises(ValueError):
        arithmetic_mean([1.5])


def test_summary_means_and_pass_rates():
    def record(probs):
        return {"num_concepts": len(probs), "soft_tifa_am": arithmetic_mean(probs) if probs else None,
                "soft_tifa_gm": geometric_mean(probs) if probs else None, "conceptmix_pass": all_concepts_pass(probs)}

    records = [record([0.9, 0.8]), record([0.9, 0.2]), record([0.6, 0.7, 0.8]), record([])]
    result = summarize(records)
    assert result.summary["soft_tifa_am"] == pytest.approx((0.85 + 0.55 + 0.7) / 3)
    gms = [math.sqrt(0.72), math.sqrt(0.18), (0.6 * 0.7 * 0.8) ** (1 / 3)]
    assert result.summary["soft_tifa_gm"] == pytest.approx(sum(gms) / 3)
    assert result.summary["conceptmix_pass_rate"] == pytest.approx(2 / 3)
    assert result.summary["conceptmix_pass_rate/k=2"] == pytest.approx(0.5)
    assert result.summary["conceptmix_pass_rate/k=3"] == 1.0
    assert result.counts["no_questions"] == 1 and result.counts["conceptmix_pass_rate"] == 3


# ============================================================================================ scripted judge
class ScriptedJudge:
    """'VLM' judge: P(Yes) = 0.95 when the colour the question names is the image's colour (or the question names
    no colour), else 0.05. Vocabulary: 0 = Yes, 1 = No."""

    COLOURS: ClassVar[dict[str, tuple[int, int, int]]] = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 255, 0)}

    def __init__(self):
        self.calls = 0

    def token_id(self, text):
        return {"Yes": 0, "No": 1}[text]

    def first_token_log_probs(self, images, questions):
        self.calls += 1
        rows = []
        for image, question in zip(images, questions):
            named = [c for c in self.COLOURS if c in question]
            ok = all(image.getpixel((0, 0)) == self.COLOURS[c] for c in named)
            p = 0.95 if ok else 0.05
            rows.append([math.log(p), math.log(1 - p)])
        return torch.tensor(rows)


def solid(colour, size=32):
    return Image.new("RGB", (size, size), ScriptedJudge.COLOURS.get(colour, colour))


def test_scripted_judge_ranks_right_image_above_wrong():
    bench = VQABenchmark(judge=ScriptedJudge(), batch_size=2)
    result = bench.evaluate([("a red cube", solid("red")), ("a red cube", solid("blue")),
                             ("a red cube and a blue ball", solid("red"))])
    right, wrong, mixed = result.records
    assert right["num_concepts"] == 2  # presence + colour
    assert right["soft_tifa_am"] == pytest.approx(0.95) and right["conceptmix_pass"] is True
    assert wrong["soft_tifa_am"] == pytest.approx((0.95 + 0.05) / 2)
    assert wrong["soft_tifa_gm"] == pytest.approx(math.sqrt(0.95 * 0.05)) and wrong["conceptmix_pass"] is False
    assert right["soft_tifa_gm"] > wrong["soft_tifa_gm"] and right["soft_tifa_am"] > wrong["soft_tifa_am"]
    assert mixed["conceptmix_pass"] is False  # the blue ball fails on a red image
    assert result.summary["conceptmix_pass_rate"] == pytest.approx(1 / 3)
    questions = [q["question"] for q in right["questions"]]
    assert "Is the cube in the image red? Please answer yes or no." in questions  # per-kind template
    json.dumps(result.to_dict(), allow_nan=False)


def test_count_zero_is_negated_and_bad_inputs():
    bench = VQABenchmark(judge=ScriptedJudge())
    record = bench.evaluate([("no cats", solid("red"))]).records[0]
    presence = record["questions"][0]
    assert presence["p_yes"] == pytest.approx(0.95) and presence["p_holds"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="probability"):
        VQABenchmark(reward=VQAReward(judge=ScriptedJudge(), score="log_probability"))
    with pytest.raises(ValueError):
        VQABenchmark(judge=ScriptedJudge(), threshold=1.0)
    with pytest.raises(ValueError):
        VQABenchmark(judge=ScriptedJudge()).evaluate([])


def test_geneval_layout_folder(tmp_path):
    for index, (prompt, colours) in enumerate([("a red car", ["red", "blue"]), ("a green car", ["green"])]):
        folder = tmp_path / f"{index:05d}"
        (folder / "samples").mkdir(parents=True)
        for i, colour in enumerate(colours):
            solid(colour).save(folder / "samples" / f"{i:04d}.png")
        (folder / "metadata.jsonl").write_text(json.dumps({"prompt": prompt}) + "\n")
    result = evaluate_vqa(tmp_path, judge=ScriptedJudge())
    assert [(r["index"], r["sample"], r["conceptmix_pass"]) for r in result.records] == [(0, 0, True), (0, 1, False),
                                                                                        (1, 0, True)]
    assert result.summary["conceptmix_pass_rate"] == pytest.approx(2 / 3)


# ============================================================================================ tiny Qwen2-VL
@pytest.fixture(scope="module")
def tiny_qwen_dir(tmp_path_factory):
    return str(save_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-qwen2vl") / "qwen2", version="2"))


def test_tiny_qwen_vl_from_pretrained(tiny_qwen_dir):
    items = [("two red cubes to the left of a blue ball", solid("red", 64)), ("a photo of a cat", solid("blue", 64))]
    result = evaluate_vqa(items, model=tiny_qwen_dir, device="cpu", batch_size=2)
    first, second = result.records
    assert first["num_concepts"] == 6 and second["num_concepts"] == 1
    for r in result.records:
        probs = [q["p_holds"] for q in r["questions"]]
        assert all(0.0 <= p <= 1.0 for p in probs)
        assert r["soft_tifa_gm"] <= r["soft_tifa_am"] + 1e-9  # AM-GM
    assert 0.0 <= result.summary["soft_tifa_am"] <= 1.0
    # the same numbers through the reward's judge directly, one question at a time
    bench = VQABenchmark(model=tiny_qwen_dir, device="cpu")
    q = first["questions"][0]
    log_probs = bench.reward.judge.first_token_log_probs([items[0][1]], [q["question"]])
    assert q["p_yes"] == pytest.approx(log_probs[0, bench.reward.answer_ids].exp().sum().item(), abs=1e-5)


def test_default_judge_matches_the_reward_and_no_torch_on_import():
    import subprocess
    import sys

    from evals.vqa_bench import DEFAULT_VLM
    from reward_models.vqa import DEFAULT_VLM as REWARD_DEFAULT

    assert DEFAULT_VLM == REWARD_DEFAULT
    code = "import sys, evals.compbench, evals.vqa_bench; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)  # the CLI parser can add their arguments cheaply
