"""GenEval's rules on shapes-world detections: position rule, include/exclude/colour/position checks,
per-concept scores and per-tag accuracy."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reward_models.geometry import position_components, relative_position
from t2i_rl.shapes.detect import Detection
from t2i_rl.shapes.prompts import metadata_for_prompt
from t2i_rl.shapes.scoring import (
    concept_scores,
    evaluate_detections,
    failure_breakdown,
    group_by_class,
    object_statistics,
    paired_gain_stderr,
    summarize_accuracy,
)
from t2i_rl.shapes.world import INVERSE_RELATION


def box_at(cx: float, cy: float, w: float = 10, h: float = 10) -> tuple[float, float, float, float]:
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


# ---------------------------------------------------------------------------------------- position rule
@pytest.mark.parametrize(
    "a, b, expected",
    [
        # offset (-20, 0); dims sum 20 -> revised x = -(20 - 2) = -18; dx = -18/20 = -0.9
        (box_at(10, 10), box_at(30, 10), {"left of"}),
        (box_at(30, 10), box_at(10, 10), {"right of"}),
        (box_at(10, 10), box_at(10, 30), {"above"}),  # y grows downwards
        (box_at(10, 30), box_at(10, 10), {"below"}),
        # inside the margin: |offset| = 1 < 0.1 * (10 + 10) = 2 on both axes -> no relation at all
        (box_at(10, 10), box_at(11, 11), set()),
        (box_at(10, 10), box_at(10, 10), set()),
        # big boxes enlarge the margin: offset 15 < 0.1 * (80 + 80) = 16 -> nothing
        (box_at(10, 10, 80, 80), box_at(25, 10, 80, 80), set()),
        # diagonal: offset (-20, -20) -> revised (-18, -18) / 28.28 = -0.636 each -> both
        (box_at(10, 10), box_at(30, 30), {"left of", "above"}),
        # offset (-6, -6): revised (-4, -4) / 8.49 = -0.47 each: outside the margin but below 0.5 -> nothing
        (box_at(10, 10), box_at(16, 16), set()),
        # mostly horizontal: offset (-20, 3): revised (-18, 1) / 20.22 = (-0.89, 0.05)
        (box_at(10, 13), box_at(30, 10), {"left of"}),
    ],
)
def test_relative_position_hand_computed(a, b, expected):
    assert relative_position(a, b) == expected


def test_position_components_values():
    dx, dy = position_components(box_at(10, 10), box_at(30, 10))
    assert dx == pytest.approx(-0.9) and dy == 0.0
    dx, dy = position_components(box_at(10, 10), box_at(30, 30))
    assert dx == pytest.approx(-18 / math.hypot(20, 20)) and dy == pytest.approx(dx)
    assert position_components(box_at(10, 10), box_at(11, 10)) is None
    # the threshold is a parameter: without margin, offset 1 is a relation
    assert relative_position(box_at(10, 10), box_at(11, 10), threshold=0.0) == {"left of"}


coord = st.floats(0, 100, allow_nan=False)
side = st.floats(1, 40, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(coord, coord, side, side, coord, coord, side, side, st.floats(-50, 50), st.floats(-50, 50))
def test_relative_position_antisymmetric_and_translation_invariant(ax, ay, aw, ah, bx, by, bw, bh, tx, ty):
    a, b = box_at(ax, ay, aw, ah), box_at(bx, by, bw, bh)
    ab, ba = relative_position(a, b), relative_position(b, a)
    assert ab == {INVERSE_RELATION[r] for r in ba}
    assert not ({"left of", "right of"} <= ab or {"above", "below"} <= ab)
    shift = lambda box: (box[0] + tx, box[1] + ty, box[2] + tx, box[3] + ty)
    comps, shifted = position_components(a, b), position_components(shift(a), shift(b))
    if comps is not None and shifted is not None and all(abs(abs(c) - 0.5) > 1e-6 for c in comps):
        assert relative_position(shift(a), shift(b)) == ab


# ------------------------------------------------------------------------------------------ GenEval rule
def det(shape: str, color: str, cx: float, cy: float, score: float = 1.0, side: float = 10) -> Detection:
    x0, y0, x1, y1 = box_at(cx, cy, side, side)
    return Detection(shape, color, (int(x0), int(y0), int(x1), int(y1)), int(side * side), score)


def test_include_is_at_least_and_extra_classes_are_fine():
    meta = metadata_for_prompt("a photo of a circle and a square")
    ok = evaluate_detections(
        [
            det("circle", "red", 10, 10),
            det("square", "blue", 40, 40),
            det("circle", "green", 40, 10),
            det("triangle", "red", 10, 40),
        ],
        meta,
    )
    assert ok.correct and ok.reason == ""
    bad = evaluate_detections([det("circle", "red", 10, 10)], meta)
    assert not bad.correct and bad.reason == "expected square>=1, found 0"


def test_counting_is_exact_through_exclude():
    meta = metadata_for_prompt("a photo of two circles")
    two = [det("circle", "red", 10, 10), det("circle", "red", 40, 10)]
    assert evaluate_detections(two, meta).correct
    assert evaluate_detections(two + [det("square", "red", 40, 40)], meta).correct  # other classes don't count
    three = evaluate_detections(two + [det("circle", "blue", 40, 40)], meta)
    assert not three.correct and three.reason == "expected circle<3, found 3"
    one = evaluate_detections(two[:1], meta)
    assert not one.correct and one.reason == "expected circle>=2, found 1"


def test_colour_checks_only_the_most_confident_objects():
    meta = metadata_for_prompt("a photo of a red circle")
    blue_first = [det("circle", "blue", 10, 10, score=0.9), det("circle", "red", 40, 10, score=0.8)]
    ev = evaluate_detections(blue_first, meta)
    assert not ev.correct
    assert ev.reason == "expected red circle>=1, found 0 red; and 1 blue"
    red_first = [det("circle", "blue", 10, 10, score=0.7), det("circle", "red", 40, 10, score=0.8)]
    assert evaluate_detections(red_first, meta).correct


def test_position_rule_and_its_preconditions():
    meta = metadata_for_prompt("a photo of a circle left of a square")
    assert evaluate_detections([det("circle", "red", 10, 30), det("square", "blue", 40, 30)], meta).correct
    wrong = evaluate_detections([det("circle", "red", 40, 30), det("square", "blue", 10, 30)], meta)
    assert not wrong.correct and wrong.reason == "expected circle left of target, found right of target"
    close = evaluate_detections([det("circle", "red", 30, 30), det("square", "blue", 31, 31)], meta)
    assert not close.correct and close.reason == "expected circle left of target, found  target"
    no_target = evaluate_detections([det("circle", "red", 10, 30)], meta)
    assert not no_target.correct
    assert no_target.reason == "expected square>=1, found 0\nno target for circle to be left of"
    # a failed colour check on the target group also removes the target (GenEval's matched_groups)
    coloured = {
        "tag": "custom",
        "include": [
            {"class": "square", "count": 1, "color": "red"},
            {"class": "circle", "count": 1, "position": ["left of", 0]},
        ],
    }
    ev = evaluate_detections([det("circle", "red", 10, 30), det("square", "blue", 40, 30)], coloured)
    assert not ev.correct and "no target for circle" in ev.reason


def test_position_requires_every_pair():
    meta = {
        "tag": "custom",
        "include": [{"class": "square", "count": 1}, {"class": "circle", "count": 2, "position": ["left of", 0]}],
    }
    good = [det("square", "red", 50, 30), det("circle", "red", 10, 30, 0.9), det("circle", "red", 25, 30, 0.8)]
    assert evaluate_detections(good, meta).correct
    bad = good[:2] + [det("circle", "red", 70, 30, 0.8)]
    assert not evaluate_detections(bad, meta).correct


def test_group_by_class_orders_and_caps():
    dets = [det("circle", "red", i * 3, 0, score=i / 40) for i in range(1, 21)]
    grouped = group_by_class(dets)
    assert len(grouped["circle"]) == 16
    assert [d.score for d in grouped["circle"]] == sorted((d.score for d in dets), reverse=True)[:16]
    assert len(group_by_class(dets, score_threshold=0.3)["circle"]) == 8  # scores 0.325 .. 0.5


# ------------------------------------------------------------------------------------------ concept scores
def _scores(prompt, dets):
    meta = metadata_for_prompt(prompt)
    return concept_scores(evaluate_detections(dets, meta), meta)


def test_concept_scores_count_partial_credit():
    circles = [det("circle", "red", 10 * i, 10) for i in range(1, 7)]
    s = lambda n: _scores("a photo of four circles", circles[:n])["obj0/count"]
    assert [s(n) for n in range(7)] == [0.0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.5]
    assert _scores("a photo of four circles", circles[:2])["obj0/presence"] == 1.0
    assert _scores("a photo of four circles", [])["obj0/presence"] == 0.0


def test_concept_scores_colour_and_relation():
    s = _scores(
        "a photo of a red circle and a blue square", [det("circle", "red", 10, 10), det("square", "green", 40, 10)]
    )
    assert (s["obj0/color"], s["obj1/color"], s["strict"]) == (1.0, 0.0, 0.0)
    assert math.isnan(s["relation"]) and math.isnan(s["obj0/count"])
    s = _scores("a photo of a square above a circle", [det("circle", "red", 30, 40), det("square", "red", 30, 10)])
    assert s["relation"] == 1.0 and s["strict"] == 1.0
    s = _scores("a photo of a square above a circle", [det("circle", "red", 30, 10), det("square", "red", 30, 40)])
    assert s["relation"] == 0.0 and s["obj0/presence"] == s["obj1/presence"] == 1.0
    s = _scores("a photo of a square above a circle", [det("square", "red", 30, 10)])
    assert s["relation"] == 0.0 and s["obj0/presence"] == 0.0


def test_concept_scores_nan_pattern():
    names = ["obj0/presence", "obj0/count", "obj0/color", "obj1/presence", "obj1/count", "obj1/color", "relation"]
    expected_present = {
        "a photo of a circle": {"obj0/presence"},
        "a photo of a circle and a square": {"obj0/presence", "obj1/presence"},
        "a photo of two circles": {"obj0/presence", "obj0/count"},
        "a photo of a red circle": {"obj0/presence", "obj0/color"},
        "a photo of a circle below a square": {"obj0/presence", "obj1/presence", "relation"},
        "a photo of a red circle and a blue square": {"obj0/presence", "obj0/color", "obj1/presence", "obj1/color"},
    }
    for prompt, present in expected_present.items():
        s = _scores(prompt, [])
        assert {n for n in names if not math.isnan(s[n])} == present, prompt
        assert s["strict"] == 0.0


def test_summarize_accuracy_is_mean_over_tags():
    acc = summarize_accuracy(["a", "a", "a", "b"], [True, True, False, False])
    assert acc["a"] == pytest.approx(2 / 3) and acc["b"] == 0.0
    assert acc["overall"] == pytest.approx(1 / 3)  # not 2/4: tags weigh equally
    with pytest.raises(ValueError):
        summarize_accuracy(["a"], [])


def test_paired_gain_stderr_hand_values():
    # tag a: d = (1, 0, 0, -1): mean 0, var (1 + 0 + 0 + 1) / 3; tag b: d = (1, 1): var 0
    tags = ["a", "a", "a", "a", "b", "b"]
    before = [False, True, False, True, False, False]
    after = [True, True, False, False, True, True]
    expected = math.sqrt((2 / 3) / 4 + 0.0) / 2
    assert paired_gain_stderr(tags, before, after) == pytest.approx(expected)
    assert paired_gain_stderr(tags, before, before) == 0.0  # the same verdicts: no uncertainty in a zero gain
    assert paired_gain_stderr(["a"], [False], [True]) == 0.0  # one image: nothing to estimate a variance from
    with pytest.raises(ValueError):
        paired_gain_stderr(tags, before, after[:3])


def test_concept_scores_shape_confidence_presence():
    meta = metadata_for_prompt("a photo of a circle and a square")
    dets = [replace(det("circle", "red", 10, 10), shape_score=0.4), replace(det("circle", "red", 40, 10), shape_score=0.9),
            replace(det("triangle", "red", 10, 40), shape_score=1.0)]
    graded = concept_scores(evaluate_detections(dets, meta), meta, presence="shape_confidence")
    assert graded["obj0/presence"] == 0.9  # the best circle
    assert graded["obj1/presence"] == 0.0  # no square: a confident triangle is no evidence of one
    binary = concept_scores(evaluate_detections(dets, meta), meta)
    assert (binary["obj0/presence"], binary["obj1/presence"]) == (1.0, 0.0)
    with pytest.raises(ValueError, match="shape_confidence"):
        concept_scores(evaluate_detections(dets, meta), meta, presence="graded")


def test_object_statistics_counts_unrequested_shapes():
    prompts = ["a photo of a red square", "a photo of a red square", "a photo of two circles", "a photo of a circle"]
    metas = [metadata_for_prompt(p) for p in prompts]
    dets = [
        [det("square", "red", 10, 10)],
        [det("square", "red", 10, 10), det("circle", "red", 40, 10), det("square", "blue", 40, 40)],  # two extra
        [det("circle", "red", 10, 10), det("circle", "red", 40, 10)],
        [],
    ]
    stats = object_statistics([evaluate_detections(d, m) for d, m in zip(dets, metas)], metas)
    assert stats["colors"] == {"objects": 2.0, "extra": 0.5}
    assert stats["counting"] == {"objects": 2.0, "extra": 0.0}
    assert stats["single_object"] == {"objects": 0.0, "extra": 0.0}
    assert stats["overall"] == {"objects": 6 / 4, "extra": 1 / 4}
    scores = [concept_scores(evaluate_detections(d, m), m)["extra"] for d, m in zip(dets, metas)]
    assert scores == [1.0, 0.0, 1.0, 1.0]  # two unrequested shapes for one named: 1 - 2 clamps to 0
    with pytest.raises(ValueError, match="3 evaluations for 4"):
        object_statistics([evaluate_detections(d, m) for d, m in zip(dets[:3], metas)], metas)


def test_failures_name_the_rule_and_class_of_each_reason():
    cases = {
        # a square found, no circle at all
        "a photo of a square and a circle": ([det("square", "red", 10, 10)], [("missing", "circle")]),
        # the square is blue
        "a photo of a red square": ([det("square", "blue", 10, 10)], [("color", "square")]),
        # the circle is right of the square, not left
        "a photo of a circle left of a square": ([det("circle", "red", 40, 10), det("square", "red", 10, 10)],
                                                 [("position", "circle")]),
        # the target failed, so the relation has none
        "a photo of a triangle above a square": ([det("triangle", "red", 10, 10)],
                                                 [("missing", "square"), ("position", "triangle")]),
        # three circles for two: the exclude clause
        "a photo of two circles": ([det("circle", "red", x, 10) for x in (10, 30, 50)], [("too_many", "circle")]),
        "a photo of a circle": ([det("circle", "red", 10, 10)], []),
    }
    for prompt, (dets, failures) in cases.items():
        ev = evaluate_detections(dets, metadata_for_prompt(prompt))
        assert ev.failures == failures, prompt
        assert len(ev.reason.splitlines()) == len(failures) and ev.correct == (not failures)


def test_failure_breakdown_counts_images_per_rule_and_class():
    prompts = ["a photo of a square", "a photo of a square", "a photo of a square and a circle", "a photo of a circle"]
    metas = [metadata_for_prompt(p) for p in prompts]
    dets = [[det("circle", "red", 10, 10)], [det("square", "red", 10, 10)], [], [det("circle", "red", 10, 10)]]
    table = failure_breakdown([evaluate_detections(d, m) for d, m in zip(dets, metas)], metas)
    assert table["single_object"] == {"missing square": 1 / 3}  # the square and circle prompts: 3 images
    assert table["two_object"] == {"missing circle": 1.0, "missing square": 1.0}  # one image, both clauses
    assert table["overall"] == {"missing square": 0.5, "missing circle": 0.25}  # most frequent first
    assert list(table["overall"]) == ["missing square", "missing circle"]
    with pytest.raises(ValueError, match="1 evaluations for 4"):
        failure_breakdown([evaluate_detections(dets[0], metas[0])], metas)
