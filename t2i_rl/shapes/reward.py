"""``ShapesReward``: the shapes world's exact detector + GenEval rules as a per-concept reward.

Columns are fixed by construction, so ``K`` is the same for every batch (``max_objects = 2`` slots, GenEval
prompts have at most two include clauses)::

    obj0/presence  obj0/count  obj0/color  obj1/presence  obj1/count  obj1/color  relation  [strict]
    object         object      attribute   object         object      attribute   relation  [other]

Cells are ``NaN`` where the prompt has no such concept (see :func:`~t2i_rl.shapes.scoring.concept_scores`:
count only for counted clauses, colour only when a colour is requested, relation only for position prompts,
``obj1/*`` only for two-object prompts). Metadata come from ``RewardBatch.metadata`` (GenEval schema); an
empty metadata dict is looked up from the prompt text among this world's prompts, and an unknown prompt
raises ``ValueError``.

``details[b]`` holds ``"shapes/detections"`` (list of dicts), ``"shapes/correct"`` (GenEval strict verdict),
``"shapes/reason"`` and ``"shapes/tag"``.
"""

from __future__ import annotations

from typing import Any

import torch

from reward_models.base import RewardBatch, RewardOutput
from t2i_rl.shapes.detect import DetectorConfig, detect
from t2i_rl.shapes.prompts import metadata_for_prompt
from t2i_rl.shapes.scoring import PRESENCE_MODES, concept_scores, evaluate_detections

#: Concept kind -> concept group understood by the aggregators.
CONCEPT_GROUP = {
    "presence": "object",
    "count": "object",
    "color": "attribute",
    "relation": "relation",
    "strict": "other",
    "extra": "object",
}


def column_names(max_objects: int = 2, include_strict: bool = False, include_extra: bool = False) -> list[str]:
    """The reward's column names, in order."""
    names = [f"obj{i}/{kind}" for i in range(max_objects) for kind in ("presence", "count", "color")]
    names.append("relation")
    if include_extra:
        names.append("extra")
    if include_strict:
        names.append("strict")
    return names


def column_groups(names: list[str]) -> list[str]:
    """Concept group of each column name."""
    return [CONCEPT_GROUP[name.split("/")[-1]] for name in names]


class ShapesReward:
    """Per-concept reward for shapes-world images (see the module docstring).

    Args:
        max_objects: include-clause slots (columns ``obj0..obj{max_objects-1}``).
        include_strict: add a ``"strict"`` column (GenEval's all-or-nothing verdict, group ``"other"``).
        score_threshold: GenEval's detection confidence threshold (0 = keep all detections).
        detector: :class:`~t2i_rl.shapes.detect.DetectorConfig` (or a dict of its fields).
        presence: ``"binary"`` (GenEval's found / not found) or ``"shape_confidence"`` (the best detection's shape
            confidence, see :func:`~t2i_rl.shapes.scoring.concept_scores`).
        penalize_extra: add an ``"extra"`` column (group ``"object"``, see :func:`~t2i_rl.shapes.scoring.concept_scores`)
            that charges shapes the prompt does not name: GenEval's include clauses mean "at least", so without it a
            policy can gain by scattering shapes.
    """

    def __init__(
        self,
        max_objects: int = 2,
        include_strict: bool = False,
        score_threshold: float = 0.0,
        detector: DetectorConfig | dict[str, Any] | None = None,
        presence: str = "binary",
        penalize_extra: bool = False,
    ) -> None:
        if presence not in PRESENCE_MODES:
            raise ValueError(f"ShapesReward: presence={presence!r}; use one of {PRESENCE_MODES}")
        self.presence = presence
        self.max_objects = int(max_objects)
        self.include_strict = bool(include_strict)
        self.score_threshold = float(score_threshold)
        self.detector = detector if isinstance(detector, DetectorConfig) else DetectorConfig(**(detector or {}))
        self.penalize_extra = bool(penalize_extra)
        self.names = column_names(self.max_objects, self.include_strict, self.penalize_extra)
        self.groups = column_groups(self.names)

    def _metadata(self, batch: RewardBatch) -> list[dict[str, Any]]:
        metas = []
        for prompt, meta in zip(batch.prompts, batch.metadata):
            if not meta or "include" not in meta:
                meta = metadata_for_prompt(prompt)
                if meta is None:
                    raise ValueError(
                        f"ShapesReward: no metadata for prompt {prompt!r} and it is not a shapes-world prompt"
                    )
            metas.append(meta)
        return metas

    def __call__(self, batch: RewardBatch) -> RewardOutput:
        metas = self._metadata(batch)
        images = batch.images.detach().float().clamp(0, 1).cpu()
        rows, details = [], []
        for dets, meta in zip(detect(images, self.detector), metas):
            ev = evaluate_detections(dets, meta, self.score_threshold)
            scores = concept_scores(ev, meta, self.max_objects, self.presence)
            rows.append([scores[name] for name in self.names])
            details.append(
                {
                    "shapes/detections": [d.as_dict() for d in dets],
                    "shapes/correct": ev.correct,
                    "shapes/reason": ev.reason,
                    "shapes/tag": meta.get("tag"),
                }
            )
        scores_t = torch.tensor(rows, dtype=torch.float32).reshape(len(rows), len(self.names))
        return RewardOutput(scores_t, list(self.names), list(self.groups), details)
