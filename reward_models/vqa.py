"""VQA judge: per-concept VQAScore from a vision-language model (default Qwen2.5-VL-7B-Instruct).

Following VQAScore (Lin et al., 2024, "Evaluating Text-to-Visual Generation with Image-to-Text Generation",
ECCV 2024, arXiv:2404.01291), each concept of the prompt becomes one yes/no question to a VLM, and its score is
the probability of the answer token "Yes" at the *first generated position*, softmax over the *full*
vocabulary (not renormalised against "No"). VQAScore's question template is the default::

    Does this figure show "{text}"? Please answer yes or no.

Options (``score=``):

* ``"probability"`` (default): ``P("Yes")`` in ``[0, 1]``.
* ``"log_probability"``: ``log P("Yes")`` (``<= 0``; sharper near 0).
* ``"rating"``: the VLM is asked for a 1-9 rating; the score is the expectation of the digit under the
  first-token distribution restricted to "1".."9", mapped to ``[0, 1]`` as ``(E - 1) / 8``
  (``details`` keep the raw expectation).

``template="per_kind"`` uses one question template per concept kind (presence, count, attribute, relation)
instead of VQAScore's single template; see :data:`PER_KIND_TEMPLATES`.

Columns are fixed *slots*, the same for every batch (the trainer gathers ``[B, K]`` across processes)::

    obj{i}/present  obj{i}/count  obj{i}/color  obj{i}/shape  ...  rel{k}/relation
    object          object        attribute     attribute          relation

for ``i < max_objects`` and ``k < max_relations``; the attribute slots are ``attribute_types`` (the concept
parser's types, with "colour" spelt ``color`` in column names). A cell is ``NaN`` when the image's prompt has
no such concept (no second object, no count, no colour, ...). An object asked for with count 0 ("no cats")
scores ``1 - P("Yes")`` on its presence question. Several attributes of one type on one object ("red and
blue") are asked separately and averaged. Concepts beyond the slots are dropped and listed in
``details[b]["vqa/dropped"]``.

The concept graph of each prompt comes from ``metadata["concept_graph"]`` / ``metadata["concepts"]``
(:class:`~concept_parsers.ConceptGraph` dict schema), else GenEval metadata (``"include"``), else
:func:`concept_parsers.parse` on the prompt.

Batching: every (image, question) pair is one row; rows are run ``batch_size`` at a time with left padding,
so the last position of every row is its first generated position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from concept_parsers import graph_for
from reward_models.base import RewardBatch, RewardOutput

DEFAULT_VLM = "Qwen/Qwen2.5-VL-7B-Instruct"

#: VQAScore's question template (Lin et al., 2024).
VQASCORE_TEMPLATE = 'Does this figure show "{text}"? Please answer yes or no.'

#: One template per concept kind (``template="per_kind"``). Fields: ``text`` (the concept as a phrase),
#: ``noun`` / ``value`` (attribute questions), ``count_text`` (count questions).
PER_KIND_TEMPLATES = {
    "present": "Is there {text} in the image? Please answer yes or no.",
    "count": "Does the image show {count_text}? Please answer yes or no.",
    "attribute": "Is the {noun} in the image {value}? Please answer yes or no.",
    "relation": 'Does the image show {text}? Please answer yes or no.',
}

#: Question for ``score="rating"``.
RATING_TEMPLATE = (
    'How well does this image show "{text}"? Rate it from 1 (not at all) to 9 (perfectly). '
    "Answer with a single digit."
)

SCORE_MODES = ("probability", "log_probability", "rating")
TEMPLATES = ("vqascore", "per_kind")
DEFAULT_ATTRIBUTE_TYPES = ("colour", "shape", "texture", "material", "size", "other")


# ------------------------------------------------------------------------------------------------ slots
@dataclass
class Question:
    """One concept turned into a question for one image slot."""

    slot: str  # column name, e.g. "obj0/color"
    text: str  # the concept as a phrase, e.g. "a red car"
    question: str  # what the VLM is asked
    negate: bool = False  # score 1 - p (an object asked for with count 0)


def slot_name(kind: str) -> str:
    """Column suffix of an attribute type ("colour" -> "color")."""
    return "color" if kind == "colour" else kind


def column_names(max_objects: int = 3, max_relations: int = 2,
                 attribute_types: Sequence[str] = DEFAULT_ATTRIBUTE_TYPES) -> list[str]:
    """The reward's columns, in order (see the module docstring)."""
    names = []
    for i in range(max_objects):
        names += [f"obj{i}/present", f"obj{i}/count"] + [f"obj{i}/{slot_name(t)}" for t in attribute_types]
    names += [f"rel{k}/relation" for k in range(max_relations)]
    return names


def column_groups(names: Sequence[str]) -> list[str]:
    """Concept group of each column: object (present, count), relation (rel*), attribute (the rest)."""
    groups = []
    for name in names:
        suffix = name.split("/")[-1]
        groups.append("relation" if name.startswith("rel") else "object" if suffix in ("present", "count") else "attribute")
    return groups


def _format(template: str, **fields: str) -> str:
    return template.format(**fields)


def questions_for_graph(graph, template: str = "vqascore", max_objects: int = 3, max_relations: int = 2,
                        attribute_types: Sequence[str] = DEFAULT_ATTRIBUTE_TYPES,
                        rating: bool = False) -> tuple[list[Question], list[str]]:
    """The questions of one prompt's concept graph, one or more per slot, and the concepts that had no slot."""
    from concept_parsers.graph import number_text, pluralize, relation_text

    def ask(kind: str, text: str, **fields: str) -> str:
        if rating:
            return RATING_TEMPLATE.format(text=text)
        if template == "vqascore":
            return VQASCORE_TEMPLATE.format(text=text)
        return _format(PER_KIND_TEMPLATES[kind], text=text, **fields)

    questions, dropped = [], []
    for i, obj in enumerate(graph.objects):
        if i >= max_objects:
            dropped.append(f"object {obj.noun}")
            continue
        text = obj.phrase(with_count=False)
        questions.append(Question(f"obj{i}/present", text, ask("present", text), negate=obj.count == 0))
        if obj.count > 1 or (obj.exact and obj.count == 1):
            count_text = obj.phrase() if obj.exact else f"at least {number_text(obj.count)} {pluralize(obj.noun)}"
            questions.append(Question(f"obj{i}/count", count_text, ask("count", count_text, count_text=count_text)))
        for attribute in obj.attributes:
            if attribute.type not in attribute_types:
                dropped.append(f"attribute {attribute.value} of {obj.noun}")
                continue
            text = obj.phrase(with_count=False, attributes=[attribute.value])
            questions.append(Question(f"obj{i}/{slot_name(attribute.type)}", text,
                                      ask("attribute", text, noun=obj.noun, value=attribute.value)))
    for k, rel in enumerate(graph.relations):
        subject, target = graph.objects[rel.subject], graph.objects[rel.object]
        text = f"{subject.phrase(with_count=False)} {relation_text(rel.predicate)} {target.phrase(with_count=False)}"
        if k >= max_relations or rel.subject >= max_objects or rel.object >= max_objects:
            dropped.append(f"relation {text}")
            continue
        questions.append(Question(f"rel{k}/relation", text, ask("relation", text)))
    return questions, dropped


# ------------------------------------------------------------------------------------------------ VLM loading
def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in table:
        raise ValueError(f"dtype must be 'auto' or one of {sorted(table)}, got {dtype!r}")
    return table[dtype]


def load_vlm(model: str, device: str | torch.device | None = None, dtype: str | torch.dtype = "auto"):
    """``(model, processor)`` of a transformers image-text-to-text VLM from a hub id or a local directory.

    A missing local path, or a hub id that is neither cached nor downloadable, is a ``FileNotFoundError`` that
    names the model. The processor pads on the left (the last position of every row is its next token)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = Path(str(model)).expanduser()
    looks_local = str(model).startswith((".", "/", "~")) or path.exists() or str(model).count("/") != 1
    if looks_local and not path.is_dir():
        raise FileNotFoundError(
            f"VLM {model!r} is not a directory. Give a local transformers model directory (config.json, weights, "
            f"processor files) or a hub id such as {DEFAULT_VLM!r}."
        )
    device = resolve_device(device)
    try:
        processor = AutoProcessor.from_pretrained(str(path) if looks_local else model)
        vlm = AutoModelForImageTextToText.from_pretrained(str(path) if looks_local else model,
                                                          dtype=resolve_dtype(dtype, device))
    except OSError as err:
        raise FileNotFoundError(
            f"could not load VLM {model!r}: {err}. Offline (HF_HUB_OFFLINE=1) a hub id must already be in the "
            f"Hugging Face cache; otherwise pass a local directory."
        ) from err
    processor.tokenizer.padding_side = "left"
    return vlm.to(device).eval(), processor


def to_pil_images(images: torch.Tensor) -> list:
    """``[B, 3, H, W]`` in ``[0, 1]`` -> RGB PIL images."""
    from PIL import Image

    arrays = (images.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(a) for a in arrays]


def chat_texts(processor, questions: Sequence[str]) -> list[str]:
    """The chat-template prompt (user turn with one image and the question, then the assistant header)."""
    return [
        processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}],
            add_generation_prompt=True, tokenize=False,
        )
        for q in questions
    ]


class TransformersVQAJudge:
    """First-answer-token log-probabilities (full vocabulary) of a transformers VLM for (image, question) rows."""

    def __init__(self, model, processor, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.processor = processor
        self.batch_size = int(batch_size)
        processor.tokenizer.padding_side = "left"

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_VLM, device=None, dtype="auto", batch_size: int = 16):
        vlm, processor = load_vlm(model, device, dtype)
        return cls(vlm, processor, batch_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def token_id(self, text: str) -> int:
        """The id of ``text`` as one token; an answer word that splits into several tokens is an error."""
        ids = self.processor.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"answer {text!r} is not a single token for this tokenizer (ids {ids})")
        return ids[0]

    @torch.no_grad()
    def first_token_log_probs(self, images: Sequence, questions: Sequence[str]) -> torch.Tensor:
        """``[N, V]`` float32 log-softmax over the full vocabulary at the first generated position."""
        if len(images) != len(questions):
            raise ValueError(f"{len(images)} images for {len(questions)} questions")
        out = []
        for start in range(0, len(questions), self.batch_size):
            stop = start + self.batch_size
            inputs = self.processor(text=chat_texts(self.processor, questions[start:stop]),
                                    images=list(images[start:stop]), padding=True, return_tensors="pt")
            inputs = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in inputs.items()}
            logits = self.model(**inputs, logits_to_keep=1).logits[:, -1]
            out.append(logits.float().log_softmax(-1).cpu())
        if not out:
            return torch.zeros(0, 0)
        return torch.cat(out)


# ------------------------------------------------------------------------------------------------ the reward
class VQAReward:
    """Per-concept VQAScore reward (see the module docstring).

    Args:
        model: hub id or local directory of a transformers VLM (ignored when ``judge`` is given).
        judge: anything with ``first_token_log_probs(images, questions) -> [N, V]`` and ``token_id(text)``
            (default: :class:`TransformersVQAJudge` loaded from ``model``).
        score: ``"probability"``, ``"log_probability"`` or ``"rating"``.
        template: ``"vqascore"`` (one template) or ``"per_kind"`` (:data:`PER_KIND_TEMPLATES`).
        answer: the answer token(s) whose probabilities are summed (VQAScore: ``"Yes"``).
        max_objects, max_relations, attribute_types: the column slots.
        device, dtype, batch_size: for the transformers judge.
        graph_fn: ``(prompt, metadata) -> ConceptGraph`` (default :func:`graph_for`).
    """

    def __init__(
        self,
        model: str = DEFAULT_VLM,
        judge: Any | None = None,
        score: str = "probability",
        template: str = "vqascore",
        answer: str | Sequence[str] = "Yes",
        max_objects: int = 3,
        max_relations: int = 2,
        attribute_types: Sequence[str] = DEFAULT_ATTRIBUTE_TYPES,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = 16,
        graph_fn: Callable[[str, Mapping[str, Any]], Any] | None = None,
    ) -> None:
        if score not in SCORE_MODES:
            raise ValueError(f"score must be one of {SCORE_MODES}, got {score!r}")
        if template not in TEMPLATES:
            raise ValueError(f"template must be one of {TEMPLATES}, got {template!r}")
        from concept_parsers import ATTRIBUTE_TYPES

        unknown = [t for t in attribute_types if t not in ATTRIBUTE_TYPES]
        if unknown:
            raise ValueError(f"unknown attribute types {unknown}; choose from {ATTRIBUTE_TYPES}")
        self.score, self.template = score, template
        self.max_objects, self.max_relations = int(max_objects), int(max_relations)
        self.attribute_types = tuple(attribute_types)
        self.names = column_names(self.max_objects, self.max_relations, self.attribute_types)
        self.groups = column_groups(self.names)
        self.graph_fn = graph_fn or graph_for
        self.judge = judge if judge is not None else TransformersVQAJudge.from_pretrained(model, device, dtype, batch_size)
        answers = [answer] if isinstance(answer, str) else list(answer)
        self.answer_ids = [self.judge.token_id(a) for a in answers]
        self.digit_ids = [self.judge.token_id(str(d)) for d in range(1, 10)] if score == "rating" else []

    def questions(self, prompt: str, metadata: Mapping[str, Any] | None = None) -> tuple[list[Question], list[str]]:
        graph = self.graph_fn(prompt, metadata or {})
        return questions_for_graph(graph, self.template, self.max_objects, self.max_relations, self.attribute_types,
                                   rating=self.score == "rating")

    def row_scores(self, log_probs: torch.Tensor, negate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores of ``[N, V]`` first-token log-probs (and the raw value kept in details: P(yes) or E[rating])."""
        if self.score == "rating":
            digits = log_probs[:, self.digit_ids].softmax(-1)
            raw = (digits * torch.arange(1, 10, dtype=digits.dtype)).sum(-1)
            value = (raw - 1) / 8
            return torch.where(negate, 1 - value, value), raw
        p_yes = log_probs[:, self.answer_ids].exp().sum(-1).clamp(0, 1)
        if self.score == "probability":
            return torch.where(negate, 1 - p_yes, p_yes), p_yes
        log_p = torch.where(negate, torch.log1p(-p_yes.clamp(max=1 - 1e-7)), p_yes.clamp(min=1e-30).log())
        return log_p, p_yes

    def __call__(self, batch: RewardBatch) -> RewardOutput:
        pil = to_pil_images(batch.images)
        rows: list[tuple[int, Question]] = []
        details: list[dict[str, Any]] = []
        for b, (prompt, meta) in enumerate(zip(batch.prompts, batch.metadata)):
            questions, dropped = self.questions(prompt, meta)
            rows += [(b, q) for q in questions]
            details.append({"vqa/dropped": dropped, "vqa/answers": {}})
        scores = torch.full((len(batch.prompts), len(self.names)), float("nan"))
        if rows:
            log_probs = self.judge.first_token_log_probs([pil[b] for b, _ in rows], [q.question for _, q in rows])
            negate = torch.tensor([q.negate for _, q in rows])
            values, raw = self.row_scores(log_probs, negate)
            sums: dict[tuple[int, int], list[float]] = {}
            for (b, q), value, r in zip(rows, values.tolist(), raw.tolist()):
                sums.setdefault((b, self.names.index(q.slot)), []).append(value)
                details[b]["vqa/answers"].setdefault(q.slot, []).append({"question": q.question, "raw": r})
            for (b, k), values_k in sums.items():
                scores[b, k] = sum(values_k) / len(values_k)
        empty = torch.isnan(scores).all(1)
        for b in empty.nonzero().flatten().tolist():
            details[b]["vqa/no_concepts"] = True
        return RewardOutput(scores, list(self.names), list(self.groups), details)
