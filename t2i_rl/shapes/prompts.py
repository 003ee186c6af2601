"""GenEval-style prompts and metadata for the shapes world, the full prompt space and fixed splits.

Metadata dicts follow GenEval's ``evaluation_metadata.jsonl`` schema exactly::

    {"tag": "position",
     "include": [{"class": "square", "count": 1},
                 {"class": "circle", "count": 1, "position": ["left of", 0]}],
     "prompt": "a photo of a circle left of a square"}

Position semantics (verified against GenEval's data): ``"position": [relation, j]`` on ``include[i]`` means
*include[i] is <relation> include[j]*; the prompt names ``include[1]`` first ("a photo of a dog right of a
teddy bear" has include = [teddy bear, dog(right of 0)]). Counting prompts carry GenEval's exclude clause
``{"class": c, "count": n + 1}``, which turns "at least n" into "exactly n".

Templates (GenEval's generation_prompts.txt)::

    single_object  a photo of a circle
    two_object     a photo of a circle and a square
    counting       a photo of three circles
    colors         a photo of a red circle / a photo of an orange circle
    position       a photo of a circle left of a square
    color_attr     a photo of a red circle and a blue square

As in GenEval, two-object, position and colour-attribute prompts use two different classes, and colour
attribute prompts two different colours.

Splits: prompts are grouped into *scene-equivalence groups* (paraphrases of the same scene share a group:
"a circle and a square" / "a square and a circle"; "a circle left of a square" / "a square right of a
circle"), the groups of each tag are ranked by a SHA-256 hash of ``salt|tag|group`` and the first
``max(1, round(fraction * n_groups))`` groups are held out. The split is therefore deterministic,
independent of enumeration order and of Python's hash seed, and a held-out prompt never has a paraphrase in
train.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from t2i_rl.shapes.world import (
    COLORS,
    COUNTS,
    INVERSE_RELATION,
    NUMBER_WORDS,
    PLURALS,
    RELATIONS,
    SHAPES,
    TAGS,
)

Metadata = dict[str, Any]

#: Default fraction of scene groups held out per tag.
HELDOUT_FRACTION = 0.2
#: Default salt of the split hash; changing it draws a different (still fixed) split.
SPLIT_SALT = "t2i-rl-shapes-v1"


def article(word: str) -> str:
    """GenEval's indefinite article: "an" before a vowel ("an orange circle"), else "a"."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def plural(shape: str) -> str:
    """Plural noun: :data:`~t2i_rl.shapes.world.PLURALS`, else GenEval's rule ("buses", "sheeps", "toothbrushs")."""
    if shape in PLURALS:
        return PLURALS[shape]
    return shape + ("es" if shape.endswith("s") else "s")


def noun_phrase(shape: str, color: str | None = None) -> str:
    """ "a circle", "a red circle", "an orange square"."""
    words = f"{color} {shape}" if color else shape
    return f"{article(words)} {words}"


# ----------------------------------------------------------------------------------------------- builders
def single_object(shape: str) -> Metadata:
    """Metadata for "a photo of a <shape>"."""
    return {
        "tag": "single_object",
        "include": [{"class": shape, "count": 1}],
        "prompt": f"a photo of {noun_phrase(shape)}",
    }


def two_object(shape_a: str, shape_b: str) -> Metadata:
    """Metadata for "a photo of a <a> and a <b>"."""
    return {
        "tag": "two_object",
        "include": [{"class": shape_a, "count": 1}, {"class": shape_b, "count": 1}],
        "prompt": f"a photo of {noun_phrase(shape_a)} and {noun_phrase(shape_b)}",
    }


def counting(shape: str, count: int) -> Metadata:
    """Metadata for "a photo of <count> <shapes>" (exactly ``count``: GenEval's exclude ``count + 1``).

    The builders accept any class name (see :func:`plural`), which
    lets the tests check the templates against GenEval's own metadata.
    """
    if count < 2 or count not in NUMBER_WORDS:
        raise ValueError(f"counting prompts need a count in 2..{max(NUMBER_WORDS)}, got {count}")
    return {
        "tag": "counting",
        "include": [{"class": shape, "count": count}],
        "exclude": [{"class": shape, "count": count + 1}],
        "prompt": f"a photo of {NUMBER_WORDS[count]} {plural(shape)}",
    }


def colors(shape: str, color: str) -> Metadata:
    """Metadata for "a photo of a <color> <shape>"."""
    return {
        "tag": "colors",
        "include": [{"class": shape, "count": 1, "color": color}],
        "prompt": f"a photo of {noun_phrase(shape, color)}",
    }


def position(subject: str, relation: str, reference: str) -> Metadata:
    """Metadata for "a photo of a <subject> <relation> a <reference>" (include = [reference, subject])."""
    if relation not in RELATIONS:
        raise ValueError(f"unknown relation {relation!r}; use one of {RELATIONS}")
    return {
        "tag": "position",
        "include": [{"class": reference, "count": 1}, {"class": subject, "count": 1, "position": [relation, 0]}],
        "prompt": f"a photo of {noun_phrase(subject)} {relation} {noun_phrase(reference)}",
    }


def color_attr(shape_a: str, color_a: str, shape_b: str, color_b: str) -> Metadata:
    """Metadata for "a photo of a <color_a> <a> and a <color_b> <b>"."""
    return {
        "tag": "color_attr",
        "include": [
            {"class": shape_a, "count": 1, "color": color_a},
            {"class": shape_b, "count": 1, "color": color_b},
        ],
        "prompt": f"a photo of {noun_phrase(shape_a, color_a)} and {noun_phrase(shape_b, color_b)}",
    }


# ------------------------------------------------------------------------------------------- enumeration
def enumerate_tag(tag: str) -> list[Metadata]:
    """Every prompt of one tag, in a fixed order (vocabulary order of :mod:`~t2i_rl.shapes.world`)."""
    pairs = [(a, b) for a in SHAPES for b in SHAPES if a != b]
    if tag == "single_object":
        return [single_object(s) for s in SHAPES]
    if tag == "two_object":
        return [two_object(a, b) for a, b in pairs]
    if tag == "counting":
        return [counting(s, n) for s in SHAPES for n in COUNTS if n > 1]
    if tag == "colors":
        return [colors(s, c) for s in SHAPES for c in COLORS]
    if tag == "position":
        return [position(a, r, b) for a, b in pairs for r in RELATIONS]
    if tag == "color_attr":
        return [color_attr(a, ca, b, cb) for a, b in pairs for ca in COLORS for cb in COLORS if ca != cb]
    raise ValueError(f"unknown tag {tag!r}; use one of {TAGS}")


def all_prompts(tags: Iterable[str] = TAGS) -> list[Metadata]:
    """The full prompt space (all tags by default), tag by tag in :data:`TAGS` order."""
    return [m for tag in tags for m in enumerate_tag(tag)]


def metadata_for_prompt(prompt: str) -> Metadata | None:
    """The metadata of a prompt of this world (exact text match), or ``None`` for an unknown prompt."""
    meta = _prompt_index().get(prompt.strip())
    return copy.deepcopy(meta) if meta is not None else None


def named_prompts(texts: list[str]) -> list[Metadata]:
    """The shapes-world metadata of each prompt text ("three squares" or "a photo of three squares")."""
    metadata = []
    for text in dict.fromkeys(texts):  # a prompt named twice would be rendered and counted twice
        meta = metadata_for_prompt(text if text.startswith("a photo of ") else f"a photo of {text}")
        if meta is None:
            raise ValueError(f"{text!r} is not a shapes-world prompt (e.g. \"a red circle and a blue square\")")
        metadata.append(meta)
    return metadata


_INDEX_CACHE: dict[str, Metadata] = {}


def _prompt_index() -> dict[str, Metadata]:
    """prompt -> metadata over the whole prompt space, built once."""
    if not _INDEX_CACHE:
        _INDEX_CACHE.update({m["prompt"]: m for m in all_prompts()})
    return _INDEX_CACHE


# ------------------------------------------------------------------------------------------------ splits
def scene_group(meta: Metadata) -> str:
    """A key shared by prompts that describe the same scene (paraphrases), used to keep splits honest."""
    tag, inc = meta["tag"], meta["include"]
    if tag == "position":
        (ref, subj) = inc
        rel = subj["position"][0]
        # "A rel B" == "B inverse(rel) A": canonicalise to the ordering with the smaller class first.
        if subj["class"] <= ref["class"]:
            return f"{subj['class']} {rel} {ref['class']}"
        return f"{ref['class']} {INVERSE_RELATION[rel]} {subj['class']}"
    parts = sorted(f"{r.get('color', '')}:{r['class']}:{r['count']}" for r in inc)  # unordered: "a and b" == "b and a"
    return "+".join(parts)


def _rank(salt: str, tag: str, group: str) -> str:
    return hashlib.sha256(f"{salt}|{tag}|{group}".encode()).hexdigest()


def heldout_groups(tag: str, fraction: float = HELDOUT_FRACTION, salt: str = SPLIT_SALT) -> set[str]:
    """The held-out scene groups of ``tag``: the ``max(1, round(fraction * n))`` lowest hashes."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    groups = sorted({scene_group(m) for m in enumerate_tag(tag)}, key=lambda g: _rank(salt, tag, g))
    k = min(len(groups) - 1, max(1, round(fraction * len(groups))))
    return set(groups[:k])


def split_prompts(
    split: str, tags: Iterable[str] = TAGS, fraction: float = HELDOUT_FRACTION, salt: str = SPLIT_SALT
) -> list[Metadata]:
    """Metadata of the ``"train"`` or ``"heldout"`` split, in enumeration order."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    out = []
    for tag in tags:
        held = heldout_groups(tag, fraction, salt)
        out += [m for m in enumerate_tag(tag) if (scene_group(m) in held) == (split == "heldout")]
    return out


def train_prompts(
    tags: Iterable[str] = TAGS, fraction: float = HELDOUT_FRACTION, salt: str = SPLIT_SALT
) -> list[Metadata]:
    """The training split (never contains a held-out prompt or a paraphrase of one)."""
    return split_prompts("train", tags, fraction, salt)


def heldout_prompts(
    tags: Iterable[str] = TAGS, fraction: float = HELDOUT_FRACTION, salt: str = SPLIT_SALT
) -> list[Metadata]:
    """The held-out split."""
    return split_prompts("heldout", tags, fraction, salt)


def tag_balanced(metadata: Sequence[Metadata]) -> list[Metadata]:
    """``metadata`` with every prompt repeated ``ceil(largest tag size / its tag's size)`` times, so that a uniform
    draw over the list picks every GenEval tag about equally often.

    The training split is 75 % color_attr and has two single-object prompts; GenEval's overall score is the mean of
    the tags, so RL on the raw list would spend three quarters of its rollouts on one sixth of the score.
    """
    sizes = Counter(m["tag"] for m in metadata)
    largest = max(sizes.values(), default=0)
    return [m for m in metadata for _ in range(math.ceil(largest / sizes[m["tag"]]))]


# -------------------------------------------------------------------------------------------------- I/O
def write_jsonl(metadata: Iterable[Metadata], path: str | Path) -> Path:
    """Write one GenEval metadata dict per line (GenEval's ``evaluation_metadata.jsonl`` format)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for m in metadata:
            f.write(json.dumps(m) + "\n")
    return path


def read_jsonl(path: str | Path) -> list[Metadata]:
    """Read metadata written by :func:`write_jsonl` (or GenEval's own file)."""
    with Path(path).open() as f:
        return [json.loads(line) for line in f if line.strip()]
