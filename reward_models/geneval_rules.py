"""GenEval's scoring rules over generic detections ``(label, score, box)``, as per-concept scores.

The rules follow GenEval (Ghosh et al., 2023, ``evaluation/evaluate_images.py``); the shapes world has a
faithful port of the whole evaluator (:mod:`t2i_rl.shapes.scoring`). Here they are split into small
per-concept functions so that any detector (Grounding DINO, a scripted fake) can feed them:

* :func:`group_by_label`: GenEval's detection filtering. Per class: keep scores ``> threshold`` (0.3, or 0.9
  for counting prompts), most confident first, at most ``MAX_OBJECTS = 16``, then class-wise NMS (GenEval's
  ``NMS_THRESHOLD = 1.0`` switches NMS off, which is the default here too).
* :func:`count_score`: GenEval's exact count is ``include count n`` AND ``exclude count n + 1``, i.e. exactly
  ``n`` detections. This project shapes it (see the function).
* :func:`position_score`: GenEval's relative-position rule (:func:`reward_models.geometry.relative_position`,
  ``POSITION_THRESHOLD = 0.1``) over (subject, object) pairs of their "found" objects (the ``n`` most
  confident detections of each class).

Differences from GenEval: GenEval's detector is Mask2Former over the 80 COCO classes and its NMS uses the
``+1``-pixel IoU convention; here the detector is open-vocabulary and NMS is ``torchvision.ops.batched_nms``
(plain IoU). GenEval checks a position only after the colour and count of both groups passed; here the
position concept is scored on its own so that it isolates the spatial concept.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from concept_parsers.lexicon import GENEVAL_RELATIONS, SPATIAL
from reward_models.geometry import POSITION_THRESHOLD, relative_position

#: GenEval's detection confidence threshold (``THRESHOLD``).
GENEVAL_THRESHOLD = 0.3
#: GenEval's confidence threshold for the "counting" task (``COUNTING_THRESHOLD``).
GENEVAL_COUNTING_THRESHOLD = 0.9
#: GenEval's per-class cap on detections (``MAX_OBJECTS``).
GENEVAL_MAX_OBJECTS = 16
#: GenEval's NMS IoU threshold (``NMS_THRESHOLD``); 1.0 means no NMS.
GENEVAL_NMS_IOU = 1.0
#: GenEval's ten colours for the CLIP colour classifier (``COLORS``).
GENEVAL_COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


@dataclass(frozen=True)
class Detection:
    """One detected object: ``label`` (the query noun), confidence ``score`` and pixel ``box`` (x0, y0, x1, y1)."""

    label: str
    score: float
    box: Box

    def __post_init__(self) -> None:
        if len(self.box) != 4:
            raise ValueError(f"a box has 4 coordinates (x0, y0, x1, y1), got {self.box!r}")
        object.__setattr__(self, "box", tuple(float(v) for v in self.box))
        object.__setattr__(self, "score", float(self.score))

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, "box": list(self.box)}


def group_by_label(
    detections: Iterable[Detection],
    threshold: float = GENEVAL_THRESHOLD,
    max_objects: int = GENEVAL_MAX_OBJECTS,
    nms_iou: float = GENEVAL_NMS_IOU,
) -> dict[str, list[Detection]]:
    """``label -> detections`` as GenEval keeps them: score ``> threshold``, most confident first, at most
    ``max_objects`` per label, then class-wise NMS dropping boxes with IoU ``> nms_iou`` against a more
    confident box of the same label (``nms_iou >= 1`` = no NMS, GenEval's default). Labels with no detection
    left are absent."""
    grouped: dict[str, list[Detection]] = {}
    for det in sorted(detections, key=lambda d: -d.score):
        if det.score > threshold and len(grouped.setdefault(det.label, [])) < max_objects:
            grouped[det.label].append(det)
    grouped = {label: dets for label, dets in grouped.items() if dets}
    if nms_iou < 1.0:
        grouped = _classwise_nms(grouped, nms_iou)
    return grouped


def _classwise_nms(grouped: dict[str, list[Detection]], nms_iou: float) -> dict[str, list[Detection]]:
    import torch
    from torchvision.ops import batched_nms

    flat = [d for dets in grouped.values() for d in dets]
    if not flat:
        return grouped
    labels = sorted(grouped)
    boxes = torch.tensor([d.box for d in flat], dtype=torch.float64)
    scores = torch.tensor([d.score for d in flat], dtype=torch.float64)
    idxs = torch.tensor([labels.index(d.label) for d in flat])
    kept = {id(flat[k]) for k in batched_nms(boxes, scores, idxs, nms_iou).tolist()}
    return {label: [d for d in dets if id(d) in kept] for label, dets in grouped.items()}


def found_objects(grouped: dict[str, list[Detection]], noun: str, count: int) -> list[Detection]:
    """GenEval's "found objects" of an include clause: the ``count`` most confident detections of ``noun``
    (at least one, so that an uncounted "a cat" finds its best cat)."""
    return grouped.get(noun, [])[: max(int(count), 1)]


#: The rules a GenEval record can fail: too few of a class ("missing"), a found object of the wrong colour, a relation
#: that does not hold (or whose target group failed), too many of a class (an exclude clause: exact counts).
FAILURE_RULES = ("missing", "color", "position", "too_many")


@dataclass
class ClauseVerdict:
    """GenEval's verdict over the include / exclude clauses of one record: ``correct``, the ``reasons`` it failed
    (GenEval's strings), per include clause its found objects (the ``count`` most confident detections), and the
    ``failures`` as ``(rule, class)`` pairs, one per reason, for tallies: ``rule`` is one of :data:`FAILURE_RULES`."""

    correct: bool
    reasons: list[str]
    found: list[list[Any]]
    failures: list[tuple[str, str]] = field(default_factory=list)


def geneval_verdict(
    grouped: Mapping[str, Sequence[Any]],
    metadata: Mapping[str, Any],
    colors_of: Callable[[Sequence[Any], str], Sequence[str]],
    color_names: Sequence[str] = GENEVAL_COLORS,
    position_threshold: float = POSITION_THRESHOLD,
) -> ClauseVerdict:
    """GenEval's ``evaluate`` (``evaluation/evaluate_images.py``) on detections already grouped by class.

    ``grouped`` maps class -> detections (anything with a pixel ``box``), filtered and most confident first;
    ``colors_of(found, classname)`` names the colour of each found object (GenEval: CLIP on the crop; the shapes
    world: the detected palette colour); ``color_names`` orders the colours in failure reasons.

    * ``include`` clauses are ANDed. A clause ``{"class": c, "count": n}`` finds the ``n`` most confident ``c``;
      fewer than ``n`` fails ("at least n": extra objects are fine).
    * ``"color"``: every found object must have that colour (``colors.count(color) >= n``).
    * ``"position": [rel, j]``: checked only if the clause passed so far; group ``j`` must itself have passed; every
      found object must be ``rel`` every object of group ``j`` by :func:`relative_position` (margin 0.1).
    * ``exclude`` clauses are ORed: ``len(detections of c) >= count`` fails (counting prompts exclude ``n + 1``,
      which makes their count exact).
    """
    correct = True
    reasons: list[str] = []
    failures: list[tuple[str, str]] = []
    matched_groups: list[Sequence[Any] | None] = []
    found_per_clause: list[list[Any]] = []
    for req in metadata.get("include", []):
        classname, count = req["class"], int(req["count"])
        matched = True
        found = list(grouped.get(classname, []))[:count]
        found_per_clause.append(found)
        if len(found) < count:
            correct = matched = False
            reasons.append(f"expected {classname}>={count}, found {len(found)}")
            failures.append(("missing", classname))
        else:
            if "color" in req:
                colors = list(colors_of(found, classname))
                if colors.count(req["color"]) < count:
                    correct = matched = False
                    reasons.append(
                        f"expected {req['color']} {classname}>={count}, found {colors.count(req['color'])} "
                        f"{req['color']}; and " + ", ".join(f"{colors.count(c)} {c}" for c in color_names if c in colors)
                    )
                    failures.append(("color", classname))
            if "position" in req and matched:
                expected_rel, target_group = req["position"][0], int(req["position"][1])
                target = matched_groups[target_group] if target_group < len(matched_groups) else None
                if target is None:
                    correct = matched = False
                    reasons.append(f"no target for {classname} to be {expected_rel}")
                    failures.append(("position", classname))
                else:
                    matched = _positions_hold(found, target, expected_rel, position_threshold, classname, reasons)
                    correct = correct and matched
                    if not matched:
                        failures.append(("position", classname))
        matched_groups.append(found if matched else None)
    for req in metadata.get("exclude", []):
        classname = req["class"]
        if len(grouped.get(classname, [])) >= int(req["count"]):
            correct = False
            reasons.append(f"expected {classname}<{req['count']}, found {len(grouped[classname])}")
            failures.append(("too_many", classname))
    return ClauseVerdict(correct, reasons, found_per_clause, failures)


def failure_key(rule: str, classname: str) -> str:
    """How a ``(rule, class)`` failure is named in tallies and result records: ``"missing square"``."""
    return f"{rule} {classname}"


def failure_shares(tags: Sequence[str], failures: Sequence[Iterable[str]]) -> dict[str, dict[str, float]]:
    """Per tag (and ``"overall"``, over all images): the fraction of images whose ``failures`` (one iterable of
    :func:`failure_key` names per image) include each name, most frequent first. An image failing several rules
    counts once under each, so the fractions can sum past the error rate."""
    if len(tags) != len(failures):
        raise ValueError(f"{len(tags)} tags for {len(failures)} images' failures")
    images: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for tag, keys in zip(tags, failures):
        for group in (tag, "overall"):
            images[group] += 1
            counts[group].update(set(keys))  # a group without failures still gets its (empty) row
    return {group: {key: n / images[group] for key, n in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))}
            for group, tally in counts.items()}


def _positions_hold(found: Sequence[Any], target: Sequence[Any], expected_rel: str, position_threshold: float,
                    classname: str, reasons: list[str]) -> bool:
    """Every found object ``expected_rel`` every target object; the first failure appends GenEval's reason."""
    for obj in found:
        for target_obj in target:
            true_rels = relative_position(obj.box, target_obj.box, position_threshold)
            if expected_rel not in true_rels:
                reasons.append(f"expected {classname} {expected_rel} target, found {' and '.join(sorted(true_rels))} target")
                return False
    return True


def presence_score(grouped: dict[str, list[Detection]], noun: str) -> float:
    """1.0 if at least one ``noun`` survives the filtering, else 0.0 (GenEval's ``len(found) >= 1``)."""
    return 1.0 if grouped.get(noun) else 0.0


def count_score(detected: int, target: int, exact: bool) -> float:
    """Shaped count score in ``[0, 1]``.

    ``exact`` ("two cats"): 1.0 when ``detected == target`` (GenEval's include ``n`` + exclude ``n + 1``),
    else ``exp(-|detected - target|)`` (one off: 0.368, two off: 0.135).
    Not exact ("cats", "some cats": at least ``target``): 1.0 when ``detected >= target``, else
    ``exp(-(target - detected))``.
    """
    if detected < 0 or target < 0:
        raise ValueError(f"counts must be non-negative, got detected={detected}, target={target}")
    missing = abs(detected - target) if exact else max(target - detected, 0)
    return math.exp(-missing)


def geneval_relation(predicate: str, kind: str = SPATIAL) -> str | None:
    """The GenEval relation ("left of", "right of", "above", "below") a spatial predicate maps to
    ("on top of" -> "above", "under" -> "below"), or ``None`` when GenEval's rule cannot check it."""
    if kind != SPATIAL:
        return None
    return GENEVAL_RELATIONS.get(" ".join(str(predicate).lower().split()))


def position_score(
    subjects: Sequence[Detection],
    objects: Sequence[Detection],
    relation: str,
    mode: str = "fraction",
    position_threshold: float = POSITION_THRESHOLD,
) -> float:
    """How well the subject's found objects stand ``relation`` to the object's found objects.

    ``mode="fraction"``: the fraction of (subject, object) pairs for which GenEval's rule gives ``relation``;
    ``mode="all"``: GenEval's verdict, 1.0 only if every pair does. 0.0 when either side has no detection.
    A detection is never paired with itself (same-noun relations such as "a cube left of a cube").
    """
    if mode not in ("fraction", "all"):
        raise ValueError(f"position mode must be 'fraction' or 'all', got {mode!r}")
    if relation not in ("left of", "right of", "above", "below"):
        raise ValueError(f"GenEval's rule checks left of / right of / above / below, got {relation!r}")
    pairs = [(a, b) for a in subjects for b in objects if a is not b]
    if not pairs:
        return 0.0
    hits = [relation in relative_position(a.box, b.box, position_threshold) for a, b in pairs]
    if mode == "all":
        return 1.0 if all(hits) else 0.0
    return sum(hits) / len(hits)


# ----------------------------------------------------------------------------------------- label matching
_SPECIAL_TOKENS = re.compile(r"\[(cls|sep|pad|unk|mask)\]")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", _SPECIAL_TOKENS.sub(" ", text.lower()))


def match_label(text_label: str, nouns: Sequence[str]) -> str | None:
    """The query noun a detector's text label refers to, or ``None``.

    Grounding DINO labels a box with the query tokens above the text threshold, decoded ("cat",
    "hot dog", sometimes "cat dog" when two phrases light up). A noun matches when its words appear
    contiguously in the label's words; among several matches the longest noun wins ("hot dog" over "dog"),
    then the one appearing first in the label.
    """
    words = _words(text_label)
    best: tuple[int, int, str] | None = None
    for noun in nouns:
        target = _words(noun)
        if not target:
            continue
        for start in range(len(words) - len(target) + 1):
            if words[start : start + len(target)] == target:
                key = (-len(" ".join(target)), start, noun)
                if best is None or key < best:
                    best = key
                break
    return best[2] if best else None


# ----------------------------------------------------------------------------------------- concept graphs
