"""Shapes-world prompt space: GenEval tags, schema, templates and fixed train / held-out splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2i_rl.shapes import prompts as P
from t2i_rl.shapes.world import COLORS, RELATIONS, SHAPES, TAGS

GENEVAL_METADATA = Path("/work/shared/benchmark_data/geneval/evaluation_metadata.jsonl")
EXPECTED_SIZES = {"single_object": 3, "two_object": 6, "counting": 9, "colors": 18, "position": 24, "color_attr": 180}


def test_six_geneval_tags_with_expected_sizes():
    assert TAGS == ("single_object", "two_object", "counting", "colors", "position", "color_attr")
    for tag in TAGS:
        metas = P.enumerate_tag(tag)
        assert len(metas) == EXPECTED_SIZES[tag], tag
        assert {m["tag"] for m in metas} == {tag}
    everything = P.all_prompts()
    assert len(everything) == sum(EXPECTED_SIZES.values())
    assert len({m["prompt"] for m in everything}) == len(everything), "prompts must be unique"


def test_enumeration_is_deterministic():
    assert P.all_prompts() == P.all_prompts()


@pytest.mark.parametrize("meta", P.all_prompts(), ids=lambda m: m["prompt"])
def test_schema(meta):
    assert set(meta) <= {"tag", "include", "exclude", "prompt"}
    assert meta["prompt"].startswith("a photo of ")
    include = meta["include"]
    assert 1 <= len(include) <= 2
    for i, req in enumerate(include):
        assert set(req) <= {"class", "count", "color", "position"}
        assert req["class"] in SHAPES
        assert isinstance(req["count"], int) and 1 <= req["count"] <= 4
        if "color" in req:
            assert req["color"] in COLORS
        if "position" in req:
            rel, target = req["position"]
            assert rel in RELATIONS and target == 0 and i == 1
    tag = meta["tag"]
    assert ("exclude" in meta) == (tag == "counting")
    if tag == "counting":
        assert meta["exclude"] == [{"class": include[0]["class"], "count": include[0]["count"] + 1}]
    if tag in ("two_object", "position", "color_attr"):
        assert include[0]["class"] != include[1]["class"]
    if tag == "color_attr":
        assert include[0]["color"] != include[1]["color"]


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("a photo of a circle", {"tag": "single_object", "include": [{"class": "circle", "count": 1}]}),
        (
            "a photo of a circle and a square",
            {"tag": "two_object", "include": [{"class": "circle", "count": 1}, {"class": "square", "count": 1}]},
        ),
        (
            "a photo of three triangles",
            {
                "tag": "counting",
                "include": [{"class": "triangle", "count": 3}],
                "exclude": [{"class": "triangle", "count": 4}],
            },
        ),
        (
            "a photo of an orange square",
            {"tag": "colors", "include": [{"class": "square", "count": 1, "color": "orange"}]},
        ),
        ("a photo of a red circle", {"tag": "colors", "include": [{"class": "circle", "count": 1, "color": "red"}]}),
        (
            "a photo of a circle left of a square",
            {
                "tag": "position",
                "include": [
                    {"class": "square", "count": 1},
                    {"class": "circle", "count": 1, "position": ["left of", 0]},
                ],
            },
        ),
        (
            "a photo of a red circle and a blue triangle",
            {
                "tag": "color_attr",
                "include": [
                    {"class": "circle", "count": 1, "color": "red"},
                    {"class": "triangle", "count": 1, "color": "blue"},
                ],
            },
        ),
    ],
)
def test_phrasing_examples(prompt, expected):
    meta = P.metadata_for_prompt(prompt)
    assert meta == {**expected, "prompt": prompt}


def test_metadata_for_prompt_unknown_and_copy():
    assert P.metadata_for_prompt("a photo of a dog") is None
    meta = P.metadata_for_prompt("a photo of a circle")
    meta["include"][0]["count"] = 7  # must not corrupt the cached index
    assert P.metadata_for_prompt("a photo of a circle")["include"][0]["count"] == 1


@pytest.mark.skipif(not GENEVAL_METADATA.exists(), reason="GenEval metadata not available")
def test_templates_reproduce_geneval_metadata_exactly():
    """Our builders, fed GenEval's classes/colours/relations, rebuild GenEval's own rows dict-for-dict."""
    rows = [json.loads(line) for line in GENEVAL_METADATA.read_text().splitlines() if line.strip()]
    assert {r["tag"] for r in rows} == set(TAGS)
    for row in rows:
        inc = row["include"]
        tag = row["tag"]
        if tag == "single_object":
            built = P.single_object(inc[0]["class"])
        elif tag == "two_object":
            built = P.two_object(inc[0]["class"], inc[1]["class"])
        elif tag == "counting":
            built = P.counting(inc[0]["class"], inc[0]["count"])
        elif tag == "colors":
            built = P.colors(inc[0]["class"], inc[0]["color"])
        elif tag == "position":
            # GenEval: include[1] is <relation> include[0]; the prompt names include[1] first.
            built = P.position(inc[1]["class"], inc[1]["position"][0], inc[0]["class"])
        else:
            built = P.color_attr(inc[0]["class"], inc[0]["color"], inc[1]["class"], inc[1]["color"])
        assert built == row


# ------------------------------------------------------------------------------------------------ splits
def test_split_disjoint_and_complete():
    train, held = P.train_prompts(), P.heldout_prompts()
    train_p, held_p = {m["prompt"] for m in train}, {m["prompt"] for m in held}
    assert not train_p & held_p
    assert train_p | held_p == {m["prompt"] for m in P.all_prompts()}
    for tag in TAGS:
        n_train = sum(m["tag"] == tag for m in train)
        n_held = sum(m["tag"] == tag for m in held)
        assert n_train >= 1 and n_held >= 1, tag
        if EXPECTED_SIZES[tag] >= 18:
            assert 0.15 <= n_held / EXPECTED_SIZES[tag] <= 0.3, tag


def test_split_is_stable():
    assert P.train_prompts() == P.train_prompts()
    assert P.heldout_prompts() == P.heldout_prompts()
    # Pinned: the split must not move between processes or versions (hashlib, not hash()).
    held = {m["prompt"] for m in P.heldout_prompts()}
    assert [m["prompt"] for m in P.heldout_prompts(["single_object"])] == ["a photo of a square"]
    assert {"a photo of three circles", "a photo of four squares"} == {
        m["prompt"] for m in P.heldout_prompts(["counting"])
    }
    assert "a photo of an orange circle" in held
    sizes = {tag: len(P.heldout_prompts([tag])) for tag in TAGS}
    assert sizes == {"single_object": 1, "two_object": 2, "counting": 2, "colors": 4, "position": 4, "color_attr": 36}


def test_split_depends_on_salt_and_fraction():
    a = {m["prompt"] for m in P.heldout_prompts(["color_attr"])}
    b = {m["prompt"] for m in P.heldout_prompts(["color_attr"], salt="another-salt")}
    assert a != b and len(a) == len(b)
    bigger = {m["prompt"] for m in P.heldout_prompts(["color_attr"], fraction=0.4)}
    assert a < bigger  # the ranking is fixed; a bigger fraction only adds groups
    with pytest.raises(ValueError):
        P.heldout_prompts(fraction=1.0)


def test_paraphrases_never_straddle_the_split():
    train_groups = {(m["tag"], P.scene_group(m)) for m in P.train_prompts()}
    for m in P.heldout_prompts():
        assert (m["tag"], P.scene_group(m)) not in train_groups, m["prompt"]
    # the paraphrase pairs really share a group
    left = P.metadata_for_prompt("a photo of a circle left of a square")
    right = P.metadata_for_prompt("a photo of a square right of a circle")
    assert P.scene_group(left) == P.scene_group(right)
    assert P.scene_group(P.metadata_for_prompt("a photo of a circle and a square")) == P.scene_group(
        P.metadata_for_prompt("a photo of a square and a circle")
    )
    assert P.scene_group(left) != P.scene_group(P.metadata_for_prompt("a photo of a circle right of a square"))


def test_jsonl_roundtrip(tmp_path):
    metas = P.heldout_prompts()
    path = P.write_jsonl(metas, tmp_path / "sub" / "heldout.jsonl")
    assert len(path.read_text().splitlines()) == len(metas)
    assert P.read_jsonl(path) == metas


def test_builders_validate():
    with pytest.raises(ValueError):
        P.counting("circle", 1)
    with pytest.raises(ValueError):
        P.position("circle", "inside", "square")
    with pytest.raises(ValueError):
        P.enumerate_tag("nonsense")


def test_tag_balanced_draws_every_tag_about_equally_often():
    from collections import Counter

    train = P.train_prompts()
    balanced = P.tag_balanced(train)
    per_tag = Counter(m["tag"] for m in balanced)
    assert set(per_tag) == {m["tag"] for m in train} and max(per_tag.values()) / min(per_tag.values()) < 1.15
    assert {m["prompt"] for m in balanced} == {m["prompt"] for m in train}  # repeats only, nothing new
    assert P.tag_balanced([]) == []
