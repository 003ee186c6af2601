"""The shapes world: a procedural, exactly-scorable stand-in for GenEval.

Modules: :mod:`world` (vocabulary), :mod:`prompts` (GenEval-schema prompt space and splits), :mod:`render`
(PIL renderer), :mod:`detect` (exact pixel detector), :mod:`scoring` (GenEval's rules from
:mod:`reward_models.geneval_rules` and :mod:`reward_models.geometry` on exact detections, per-concept scores, per-tag
accuracy) and :mod:`reward` (``ShapesReward``, not imported by the package). Functions named like
their module (``detect.detect``) are not re-exported, so ``t2i_rl.shapes.detect`` stays the module.
"""

from t2i_rl.shapes.detect import Detection, DetectorConfig
from t2i_rl.shapes.prompts import all_prompts, heldout_prompts, metadata_for_prompt, train_prompts, write_jsonl
from t2i_rl.shapes.render import render_batch, render_image, render_scene, render_tensor
from t2i_rl.shapes.scoring import evaluate_detections, evaluate_images, per_tag_accuracy
from t2i_rl.shapes.world import BACKGROUND, COLORS, COUNTS, RELATIONS, SHAPES, TAGS

__all__ = [
    "BACKGROUND",
    "COLORS",
    "COUNTS",
    "RELATIONS",
    "SHAPES",
    "TAGS",
    "Detection",
    "DetectorConfig",
    "all_prompts",
    "evaluate_detections",
    "evaluate_images",
    "heldout_prompts",
    "metadata_for_prompt",
    "per_tag_accuracy",
    "render_batch",
    "render_image",
    "render_scene",
    "render_tensor",
    "train_prompts",
    "write_jsonl",
]
