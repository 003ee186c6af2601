"""Rationale critique judge (after RationalRewards): a VLM writes a structured critique, parsed into scores.

The judge sees the image and the user's request and writes a critique along three dimensions, each with a
score from 1 to 4 (decimals allowed, ``N/A`` when the dimension does not apply), and a *Refined Request*: the
request rewritten so that a generator would avoid the problems it found (used by :mod:`t2i_rl.refine`).

**Reconstructed, not published.** The exact RationalRewards judge prompt, its field names and its scoring
rubric are not available offline. :data:`CRITIQUE_PROMPT`, the field labels and the parser below are our
reconstruction of the described format (text faithfulness, physical/visual quality, text rendering, 1-4 scores,
N/A, a refined request). A checkpoint trained on the original prompt may phrase its output differently; the
parser accepts common variants (markdown bold, "Score: 3/4", a JSON object) and reports what it could not read.

Columns (each in ``[0, 1]`` as ``(s - 1) / 3``; the raw 1-4 scores are in ``details``)::

    faithfulness  quality  text_rendering  critique
    other         quality  quality         quality

``faithfulness`` is text-image alignment as a whole; it is not one object, attribute or relation, so it is
grouped as ``"other"`` rather than counted as image quality. ``critique`` is the scalar
``(mean of the valid 1-4 scores - 1) / 3``. A dimension marked N/A (text rendering for a prompt without text)
or missing is ``NaN`` and left out of the mean. Output with no readable score at all is *unparsable*: its
``critique`` is 0, its other columns are ``NaN``, ``details[b]["critique/parsed"]`` is False, and
:attr:`CritiqueReward.stats` counts it; the trainer logs those counters as ``reward_stats/<prefix>/unparsable`` (and
``.../images``) at every step.

Backends: a local transformers VLM (:class:`TransformersCritic`, default Qwen2.5-VL-7B-Instruct) or an
OpenAI-compatible endpoint such as vLLM or SGLang (:class:`OpenAICritic`). A critic is any callable
``(images: list[PIL.Image], prompts: list[str]) -> list[str]``, so tests can script one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from reward_models.base import RewardBatch, RewardOutput
from reward_models.vqa import DEFAULT_VLM, load_vlm, to_pil_images

#: Reconstructed judge prompt (see the module docstring). ``{prompt}`` is the user's request.
CRITIQUE_PROMPT = """You are an expert judge of text-to-image generation. A generator was given this request:

"{prompt}"

Look carefully at the generated image and critique it. Reply in exactly this format:

Text Faithfulness: <which requested objects, counts, attributes, relations and styles are shown correctly and which are missing or wrong>
Text Faithfulness Score: <1-4>
Physical and Visual Quality: <anatomy, physical plausibility, artifacts, distortions, lighting, composition>
Physical and Visual Quality Score: <1-4>
Text Rendering: <if the request asks for written text: is it legible and spelled correctly? otherwise N/A>
Text Rendering Score: <1-4 or N/A>
Refined Request: <the request rewritten for the generator: keep its intent and content, and state explicitly what this image got wrong>

Scores: 1 = poor, 2 = fair, 3 = good, 4 = excellent; decimals such as 2.5 are allowed."""

#: Column -> labels the parser accepts before "Score" (first match wins; case-insensitive).
FIELD_LABELS = {
    "faithfulness": ("text faithfulness", "text-image faithfulness", "faithfulness", "text-image alignment",
                     "alignment"),
    "quality": ("physical and visual quality", "physical/visual quality", "physical & visual quality",
                "visual quality", "physical quality", "image quality", "quality"),
    "text_rendering": ("text rendering", "text-rendering", "rendering of text", "text legibility"),
}
SCORE_FIELDS = tuple(FIELD_LABELS)
COLUMNS = SCORE_FIELDS + ("critique",)
GROUPS = {"faithfulness": "other", "quality": "quality", "text_rendering": "quality", "critique": "quality"}
MIN_SCORE, MAX_SCORE = 1.0, 4.0

_VALUE = r"(?P<value>n\s*/\s*a\b|not\s+applicable|none\b|[+-]?\d+(?:\.\d+)?)"
_REFINED = re.compile(r"refined\s+(?:request|prompt)\**\s*[:=]\**\s*(?P<text>.*)", re.IGNORECASE | re.DOTALL)
_HEADER = re.compile(r"\n\s*[*#\-\s]*(?:text faithfulness|physical|visual quality|text rendering|overall|note)"
                     r"[^\n:]*:", re.IGNORECASE)


@dataclass
class Critique:
    """A parsed critique. Scores are raw 1-4 floats; ``NaN`` = N/A or missing (see ``not_applicable``)."""

    text: str
    scores: dict[str, float] = field(default_factory=dict)
    not_applicable: list[str] = field(default_factory=list)
    refined_request: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def valid_scores(self) -> list[float]:
        return [s for s in self.scores.values() if not math.isnan(s)]

    @property
    def parsed(self) -> bool:
        """At least one readable 1-4 score."""
        return bool(self.valid_scores)

    @property
    def scalar(self) -> float:
        """``(mean of the valid scores - 1) / 3`` in ``[0, 1]``; 0 for unparsable output."""
        valid = self.valid_scores
        return (sum(valid) / len(valid) - MIN_SCORE) / (MAX_SCORE - MIN_SCORE) if valid else 0.0

    def normalized(self, name: str) -> float:
        return (self.scores.get(name, math.nan) - MIN_SCORE) / (MAX_SCORE - MIN_SCORE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "scores": {k: (None if math.isnan(v) else v) for k, v in self.scores.items()},
            "not_applicable": list(self.not_applicable),
            "refined_request": self.refined_request,
            "parsed": self.parsed,
            "critique": self.scalar,
            "problems": list(self.problems),
        }


def _read_value(raw: str) -> float | None:
    """A matched score string -> float, or None for N/A ("n/a", "not applicable", "none")."""
    raw = raw.strip().lower()
    return float(raw) if re.match(r"[+-]?\d", raw) else None


def _find_score(text: str, labels: Sequence[str]) -> str | None:
    for label in labels:
        pattern = re.compile(re.escape(label) + r"[^\n:=]{0,20}?score[\s*_]*[:=]?[\s*]*" + _VALUE, re.IGNORECASE)
        match = pattern.search(text)
        if match:
            return match.group("value")
    return None


def _from_json(text: str) -> dict[str, Any] | None:
    start, stop = text.find("{"), text.rfind("}")
    if start < 0 or stop <= start:
        return None
    try:
        obj = json.loads(text[start : stop + 1])
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _json_value(obj: dict[str, Any], name: str) -> Any:
    keys = {k.lower().replace(" ", "_").replace("-", "_").replace("/", "_"): v for k, v in obj.items()}
    for label in FIELD_LABELS[name]:
        key = label.replace(" ", "_").replace("-", "_").replace("/", "_").replace("&", "and")
        for candidate in (f"{key}_score", key):
            if candidate in keys:
                value = keys[candidate]
                return value.get("score") if isinstance(value, dict) else value
    return None


def _clean_request(text: str) -> str | None:
    header = _HEADER.search("\n" + text)
    if header:
        text = ("\n" + text)[: header.start()]
    text = text.strip().strip("*").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    text = " ".join(text.split())
    return text or None


def parse_critique(text: str) -> Critique:
    """Read the three 1-4 scores (floats, N/A) and the refined request from a judge's output; never raises.

    Scores outside 1-4 and missing fields are ``NaN`` and listed in ``problems``."""
    text = text if isinstance(text, str) else ""
    critique = Critique(text)
    obj = _from_json(text)
    for name in SCORE_FIELDS:
        raw = _find_score(text, FIELD_LABELS[name])
        if raw is None and obj is not None:
            value = _json_value(obj, name)
            raw = None if value is None else str(value)
        if raw is None:
            critique.scores[name] = math.nan
            critique.problems.append(f"{name}: missing")
            continue
        try:
            value = _read_value(raw)
        except ValueError:
            critique.scores[name] = math.nan
            critique.problems.append(f"{name}: unreadable {raw!r}")
            continue
        if value is None:
            critique.scores[name] = math.nan
            critique.not_applicable.append(name)
        elif not MIN_SCORE <= value <= MAX_SCORE:
            critique.scores[name] = math.nan
            critique.problems.append(f"{name}: {value:g} outside {MIN_SCORE:g}-{MAX_SCORE:g}")
        else:
            critique.scores[name] = value
    match = _REFINED.search(text)
    if match:
        critique.refined_request = _clean_request(match.group("text"))
    elif obj is not None:
        for key in ("refined_request", "refined request", "refined_prompt"):
            if isinstance(obj.get(key), str):
                critique.refined_request = _clean_request(obj[key])
                break
    if critique.refined_request is None:
        critique.problems.append("refined_request: missing")
    if not critique.parsed:
        critique.problems.append("unparsable: no readable score")
    return critique


def critique_prompt(prompt: str, template: str = CRITIQUE_PROMPT) -> str:
    return template.format(prompt=prompt)


# ------------------------------------------------------------------------------------------------ critics
Critic = Callable[[Sequence[Any], Sequence[str]], list[str]]


class TransformersCritic:
    """Greedy critiques from a local transformers VLM, batched with left padding."""

    def __init__(self, model, processor, batch_size: int = 4, max_new_tokens: int = 768,
                 template: str = CRITIQUE_PROMPT) -> None:
        self.model, self.processor = model, processor
        self.batch_size, self.max_new_tokens, self.template = int(batch_size), int(max_new_tokens), template
        processor.tokenizer.padding_side = "left"

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_VLM, device=None, dtype="auto", **kwargs) -> TransformersCritic:
        vlm, processor = load_vlm(model, device, dtype)
        return cls(vlm, processor, **kwargs)

    @torch.no_grad()
    def __call__(self, images: Sequence[Any], prompts: Sequence[str]) -> list[str]:
        from reward_models.vqa import chat_texts

        device = next(self.model.parameters()).device
        tokenizer = self.processor.tokenizer
        outputs: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            stop = start + self.batch_size
            texts = chat_texts(self.processor, [critique_prompt(p, self.template) for p in prompts[start:stop]])
            inputs = self.processor(text=texts, images=list(images[start:stop]), padding=True, return_tensors="pt")
            inputs = {k: v.to(device) if torch.is_tensor(v) else v for k, v in inputs.items()}
            generated = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                            pad_token_id=tokenizer.pad_token_id)
            new_tokens = generated[:, inputs["input_ids"].shape[1]:]
            outputs += tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return outputs


class OpenAICritic:
    """Critiques from an OpenAI-compatible chat-completions endpoint (vLLM, SGLang), requests in parallel."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0,
                 max_retries: int = 2, max_tokens: int = 1024, temperature: float = 0.0, max_workers: int = 8,
                 template: str = CRITIQUE_PROMPT) -> None:
        from reward_models.openai_client import OpenAICompatibleClient

        self.client = OpenAICompatibleClient(base_url, api_key, timeout, max_retries)
        self.model, self.max_tokens, self.temperature = model, int(max_tokens), float(temperature)
        self.max_workers, self.template = max(1, int(max_workers)), template

    def one(self, image: Any, prompt: str) -> str:
        from reward_models.openai_client import user_message

        messages = [user_message(critique_prompt(prompt, self.template), [image])]
        return self.client.chat(self.model, messages, max_tokens=self.max_tokens, temperature=self.temperature)

    def __call__(self, images: Sequence[Any], prompts: Sequence[str]) -> list[str]:
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images for {len(prompts)} prompts")
        with ThreadPoolExecutor(max_workers=min(self.max_workers, max(1, len(prompts)))) as pool:
            return list(pool.map(self.one, images, prompts))


def build_critic(backend: str = "transformers", model: str = DEFAULT_VLM, base_url: str | None = None,
                 api_key: str | None = None, device: str | None = None, dtype: str = "auto",
                 timeout: float = 120.0, max_retries: int = 2, **kwargs: Any) -> Critic:
    """``"transformers"`` (local VLM from ``model``) or ``"openai"`` (endpoint ``base_url`` serving ``model``)."""
    if backend == "transformers":
        return TransformersCritic.from_pretrained(model, device, dtype, **kwargs)
    if backend == "openai":
        if not base_url:
            raise ValueError("the 'openai' critic backend needs base_url, e.g. http://localhost:8000/v1")
        return OpenAICritic(base_url, model, api_key, timeout, max_retries, **kwargs)
    raise ValueError(f"unknown critic backend {backend!r}; use 'transformers' or 'openai'")


# ------------------------------------------------------------------------------------------------ the reward
class CritiqueReward:
    """Rationale-critique reward (see the module docstring).

    Args:
        critic: a ``(images, prompts) -> texts`` callable; default: :func:`build_critic` with the other arguments.
        backend, model, base_url, api_key, device, dtype, timeout, max_retries: for :func:`build_critic`.
        columns: which of ``faithfulness``, ``quality``, ``text_rendering``, ``critique`` to return.
        critic_kwargs: extra arguments for the critic (batch_size, max_new_tokens, max_tokens, max_workers, ...).
    """

    def __init__(self, critic: Critic | None = None, backend: str = "transformers", model: str = DEFAULT_VLM,
                 base_url: str | None = None, api_key: str | None = None, device: str | None = None,
                 dtype: str = "auto", timeout: float = 120.0, max_retries: int = 2,
                 columns: Sequence[str] = COLUMNS, critic_kwargs: dict[str, Any] | None = None) -> None:
        unknown = [c for c in columns if c not in COLUMNS]
        if unknown or not columns:
            raise ValueError(f"unknown critique columns {unknown}; choose from {COLUMNS}")
        self.names = list(columns)
        self.groups = [GROUPS[c] for c in self.names]
        self.critic = critic if critic is not None else build_critic(
            backend, model, base_url, api_key, device, dtype, timeout, max_retries, **(critic_kwargs or {}))
        self.stats = {"images": 0, "unparsable": 0}

    def critiques(self, batch: RewardBatch) -> list[Critique]:
        texts = self.critic(to_pil_images(batch.images), list(batch.prompts))
        if len(texts) != len(batch.prompts):
            raise ValueError(f"critic returned {len(texts)} critiques for {len(batch.prompts)} images")
        return [parse_critique(t) for t in texts]

    def __call__(self, batch: RewardBatch) -> RewardOutput:
        critiques = self.critiques(batch)
        rows = [[c.scalar if name == "critique" else c.normalized(name) for name in self.names] for c in critiques]
        self.stats["images"] += len(critiques)
        self.stats["unparsable"] += sum(not c.parsed for c in critiques)
        details = [
            {"critique/text": c.text, "critique/raw": {k: v for k, v in c.scores.items()},
             "critique/refined_request": c.refined_request, "critique/parsed": c.parsed,
             "critique/problems": list(c.problems)}
            for c in critiques
        ]
        scores = torch.tensor(rows, dtype=torch.float32).reshape(len(rows), len(self.names))
        return RewardOutput(scores, list(self.names), list(self.groups), details)
