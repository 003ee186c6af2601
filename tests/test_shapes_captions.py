"""Caption noise: every mismatched scene breaks its caption (and only by the concept its tag names), renders of it
are what its own metadata says, and the noisy dataset keeps the clean one's renders for the clean fraction."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from t2i_rl.shapes.captions import mismatched, noisy_captions
from t2i_rl.shapes.prompts import train_prompts
from t2i_rl.shapes.render import render_batch
from t2i_rl.shapes.scoring import evaluate_images
from t2i_rl.shapes.world import TAGS

RULES_BROKEN = {"two_object": {"missing"}, "counting": {"missing", "too_many"}, "colors": {"color"},
                "position": {"position"}, "color_attr": {"color"}}


@pytest.mark.parametrize("tag", [t for t in TAGS if t != "single_object"])
def test_mismatched_renders_fail_their_caption_and_match_their_scene(tag):
    metas = [m for m in train_prompts() if m["tag"] == tag][:12]
    rng = np.random.default_rng(0)
    scenes = [mismatched(m, rng) for m in metas]
    images = render_batch(scenes, rng=1, size_range=(0.24, 0.38))
    against_caption = evaluate_images(images, metas)
    assert not any(e.correct for e in against_caption)
    assert all(rule in RULES_BROKEN[tag] for e in against_caption for rule, _ in e.failures), \
        [e.failures for e in against_caption]
    assert all(e.correct for e in evaluate_images(images, scenes))
    assert all(s["prompt"] == m["prompt"] and s["tag"] == tag for s, m in zip(scenes, metas))


def test_mismatch_by_hand():
    rng = np.random.default_rng(0)
    attr = {"tag": "color_attr", "prompt": "a photo of a red circle and a blue square",
            "include": [{"class": "circle", "count": 1, "color": "red"},
                        {"class": "square", "count": 1, "color": "blue"}]}
    assert [r["color"] for r in mismatched(attr, rng)["include"]] == ["blue", "red"]
    pos = {"tag": "position", "prompt": "a photo of a circle above a square",
           "include": [{"class": "square", "count": 1}, {"class": "circle", "count": 1, "position": ["above", 0]}]}
    assert mismatched(pos, rng)["include"][1]["position"] == ["below", 0]
    four = {"tag": "counting", "prompt": "a photo of four squares", "include": [{"class": "square", "count": 4}],
            "exclude": [{"class": "square", "count": 5}]}
    three = mismatched(four, rng)  # 5 is outside the world's counts: only one fewer
    assert three["include"][0]["count"] == 3 and three["exclude"] == [{"class": "square", "count": 4}]
    assert four["include"][0]["count"] == 4, "the caption's metadata is not modified"
    single = {"tag": "single_object", "prompt": "a photo of a square", "include": [{"class": "square", "count": 1}]}
    assert mismatched(single, rng) == single
    with pytest.raises(ValueError, match="no caption mismatch for tag 'landscape'"):
        mismatched({"tag": "landscape", "include": []}, rng)


def test_noisy_captions_fraction_and_clean_rows():
    metas = train_prompts()
    ids = [i for i in range(len(metas)) for _ in range(20)]
    noisy = noisy_captions(metas, ids, 0.6, seed=3)
    changed = [s != metas[i] for s, i in zip(noisy, ids)]
    not_single = [metas[i]["tag"] != "single_object" for i in ids]
    share = sum(c for c, n in zip(changed, not_single) if n) / sum(not_single)
    assert 0.57 < share < 0.63  # 0.6 of ~3,800 renders
    assert not any(c for c, n in zip(changed, not_single) if not n)
    assert noisy == noisy_captions(metas, ids, 0.6, seed=3)
    assert noisy_captions(metas, ids, 0.0, seed=3) == [metas[i] for i in ids]
    assert Counter(s["prompt"] for s in noisy) == Counter(metas[i]["prompt"] for i in ids)
    with pytest.raises(ValueError, match="caption noise must be a fraction"):
        noisy_captions(metas, ids, 1.0, seed=3)


def test_noisy_captions_limited_to_tags():
    metas = train_prompts()
    ids = [i for i in range(len(metas)) for _ in range(10)]
    tags = {"colors", "counting"}
    noisy = noisy_captions(metas, ids, 0.9, seed=5, tags=tags)
    changed = Counter(metas[i]["tag"] for s, i in zip(noisy, ids) if s != metas[i])
    assert set(changed) == tags
    for tag in tags:
        rows = sum(metas[i]["tag"] == tag for i in ids)
        assert 0.85 < changed[tag] / rows < 0.95
    with pytest.raises(ValueError, match=r"unknown tags \['landscape'\]"):
        noisy_captions(metas, ids, 0.5, seed=5, tags={"colors", "landscape"})
