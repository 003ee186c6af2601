"""LLM concept parser: prompt a causal LM for the gold JSON schema, validate, repair or fall back.

    parser = LLMParser()                      # Qwen/Qwen2.5-1.5B-Instruct, loaded on first use
    graph = parser("a cat chasing two mice")  # ConceptGraph, source "llm" / "llm-repaired" / "rule"

Pipeline per prompt: cache lookup -> chat prompt with a schema description and few-shot examples ->
greedy generation -> JSON extraction (code fences, surrounding text) -> simple repairs when ``json`` rejects
it (trailing commas, single quotes, Python literals, unquoted keys, missing closing brackets) -> strict
schema validation (:meth:`ConceptGraph.from_dict` with ``strict=True``; nouns are singularised) -> on any
failure the rule-based parse, flagged ``llm_fallback:<reason>``. Results are cached in a dict and,
optionally, appended to a JSONL file (one ``{"key", "prompt", "graph"}`` record per line) that later runs
read back.

The model is any ``transformers`` causal LM (``model_name`` via ``from_pretrained``, or ``model`` +
``tokenizer`` objects), or any ``generator`` callable mapping a batch of chat message lists to completion
strings (used by the tests with a scripted fake).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

from .graph import ConceptGraph
from .rule_based import parse as rule_parse

Messages = list[dict[str, str]]
Generator = Callable[[list[Messages]], list[str]]

SYSTEM_PROMPT = """You turn text-to-image prompts into JSON scene graphs. Answer with one JSON object only, no prose:
{"objects": [{"noun": str, "count": int, "exact": bool, "attributes": [str, ...]}, ...],
 "relations": [{"subject": str, "relation": str, "object": str, "kind": "position" | "non-spatial" | "action"}, ...]}
Rules:
- one entry per distinct object; "noun" is singular and lower-case, multi-word nouns stay whole ("traffic light", "hot dog").
- "count" is the number asked for; "exact" is true only for an explicit number ("two cats", "one dog"); "a cat" is count 1, exact false; plural without a number is count 2, exact false.
- "attributes" are the adjectives of that object (colours, shapes, materials, textures, sizes, others), lower-case, in prompt order.
- relations use the nouns of the objects. kind "position" for spatial relations (write them as "left of", "right of", "above", "below", "on top of", "under", "next to", "near", "in front of", "behind", "on", "in", "inside"); "action" for verbs in -ing form ("chasing", "holding", "sitting on"); "non-spatial" for "with", "of", "has".
- do not add objects that the prompt does not mention; ignore framing such as "a photo of"."""

FEW_SHOT: list[tuple[str, dict[str, Any]]] = [
    ("a photo of two cats and a red car", {
        "objects": [{"noun": "cat", "count": 2, "exact": True, "attributes": []},
                    {"noun": "car", "count": 1, "exact": False, "attributes": ["red"]}],
        "relations": []}),
    ("a dog to the left of a small wooden bench", {
        "objects": [{"noun": "dog", "count": 1, "exact": False, "attributes": []},
                    {"noun": "bench", "count": 1, "exact": False, "attributes": ["small", "wooden"]}],
        "relations": [{"subject": "dog", "relation": "left of", "object": "bench", "kind": "position"}]}),
    ("A girl in a yellow raincoat is holding three balloons.", {
        "objects": [{"noun": "girl", "count": 1, "exact": False, "attributes": []},
                    {"noun": "raincoat", "count": 1, "exact": False, "attributes": ["yellow"]},
                    {"noun": "balloon", "count": 3, "exact": True, "attributes": []}],
        "relations": [{"subject": "girl", "relation": "in", "object": "raincoat", "kind": "position"},
                      {"subject": "girl", "relation": "holding", "object": "balloon", "kind": "action"}]}),
]
#: Changes whenever the prompt template changes, so that file caches of older templates are not reused.
TEMPLATE_VERSION = hashlib.sha1((SYSTEM_PROMPT + json.dumps(FEW_SHOT)).encode()).hexdigest()[:10]


# ----------------------------------------------------------------------------------------------- JSON repair
_FENCE_RE = re.compile(r"```(?:json|JSON)?")


def _close_brackets(text: str) -> str:
    """Append the closing quotes / brackets a truncated JSON text is missing."""
    stack: list[str] = []
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    out = text + ('"' if in_str else "")
    out = re.sub(r"[,:\s]+$", "", out)
    return out + "".join(reversed(stack))


def extract_json(text: str) -> tuple[Any, bool]:
    """The first JSON object in an LLM completion and whether it needed repairs. Raises ``ValueError``."""
    if not isinstance(text, str):
        raise ValueError(f"completion is not text: {type(text).__name__}")
    body = _FENCE_RE.sub("", text)
    start = body.find("{")
    if start < 0:
        raise ValueError("no JSON object in the completion")
    body = body[start:]
    decoder = json.JSONDecoder()
    try:
        return decoder.raw_decode(body)[0], False
    except json.JSONDecodeError:
        pass
    fixed = body.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    fixed = re.sub(r"//[^\n]*", "", fixed)
    if '"' not in fixed:
        fixed = fixed.replace("'", '"')
    fixed = re.sub(r"\bTrue\b", "true", fixed)
    fixed = re.sub(r"\bFalse\b", "false", fixed)
    fixed = re.sub(r"\bNone\b", "null", fixed)
    fixed = re.sub(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:", r'\1"\2":', fixed)
    fixed = re.sub(r",\s*([}\]])", r"\1", fixed)
    for candidate in (fixed, _close_brackets(fixed)):
        candidate = re.sub(r",\s*([}\]])", r"\1", candidate)
        try:
            return decoder.raw_decode(candidate)[0], True
        except json.JSONDecodeError:
            continue
    raise ValueError("unrepairable JSON")


def validate(obj: Any, prompt: str) -> ConceptGraph:
    """Strict schema check of an LLM answer -> graph. Raises ``ValueError``."""
    if not isinstance(obj, dict):
        raise ValueError("answer is not a JSON object")
    if "objects" not in obj:
        raise ValueError("answer has no 'objects'")
    obj = {"objects": obj.get("objects"), "relations": obj.get("relations") or []}
    g = ConceptGraph.from_dict(obj, strict=True)
    if prompt.strip() and not g.objects:
        raise ValueError("answer has no objects")
    g.prompt = prompt
    return g


# ----------------------------------------------------------------------------------------------- generation
class HFGenerator:
    """Greedy chat generation with a ``transformers`` causal LM (loaded lazily by name, or given)."""

    def __init__(self, model_name: str | None = None, model: Any = None, tokenizer: Any = None,
                 device: str | None = None, dtype: Any = None, max_new_tokens: int = 384) -> None:
        self.model_name = model_name
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens

    def load(self) -> None:
        import torch

        if self.device is None:
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.tokenizer is None or self.model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if self.model_name is None:
                raise ValueError("HFGenerator needs model_name or model + tokenizer")
            if self.tokenizer is None:
                self.tokenizer = AutoTokenizer.from_pretrained(self.model_name)
            if self.model is None:
                dtype = self.dtype or (torch.bfloat16 if str(self.device).startswith("cuda") else torch.float32)
                self.model = AutoModelForCausalLM.from_pretrained(self.model_name, dtype=dtype)
                self.model.to(self.device)
        self.model.eval()
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def render(self, messages: Messages) -> str:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n\n".join(parts) + "\n\nAssistant:"

    def __call__(self, batch: list[Messages]) -> list[str]:
        import torch

        if self.model is None or self.tokenizer is None or self.device is None:
            self.load()
        texts = [self.render(m) for m in batch]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, padding_side="left",
                             add_special_tokens=False)
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        with torch.no_grad():
            out = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)


# ----------------------------------------------------------------------------------------------- parser
class LLMParser:
    """Prompt -> :class:`ConceptGraph` with an LLM, validated, cached, falling back to the rule parser.

    ``stats`` counts outcomes: ``llm`` (valid first time), ``repaired``, ``fallback``, ``cache_hit``.
    """

    def __init__(
        self,
        model_name: str = "Qwen/Qwen2.5-1.5B-Instruct",
        *,
        model: Any = None,
        tokenizer: Any = None,
        generator: Generator | None = None,
        cache_path: str | Path | None = None,
        device: str | None = None,
        dtype: Any = None,
        max_new_tokens: int = 384,
        batch_size: int = 8,
        fallback: Callable[[str], ConceptGraph] = rule_parse,
        cache_fallbacks: bool = True,
    ) -> None:
        self.model_name = model_name
        self.generator: Generator = generator or HFGenerator(model_name, model, tokenizer, device, dtype,
                                                             max_new_tokens)
        self.batch_size = max(1, int(batch_size))
        self.fallback = fallback
        self.cache_fallbacks = cache_fallbacks
        self.key = f"{model_name}|{TEMPLATE_VERSION}"
        self.cache: dict[str, dict[str, Any]] = {}
        self.cache_path = Path(cache_path) if cache_path else None
        self.stats: Counter = Counter()
        if self.cache_path is not None and self.cache_path.exists():
            self._load_cache()

    name = "llm"

    # -- cache
    def _load_cache(self) -> None:
        assert self.cache_path is not None
        with open(self.cache_path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line from an interrupted run
                if isinstance(rec, dict) and rec.get("key") == self.key and isinstance(rec.get("prompt"), str) \
                        and isinstance(rec.get("graph"), dict):
                    self.cache[rec["prompt"]] = rec["graph"]

    def _store(self, prompt: str, g: ConceptGraph) -> None:
        if g.source == "rule" and not self.cache_fallbacks:
            return
        d = g.to_json_dict()
        self.cache[prompt] = d
        if self.cache_path is not None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.cache_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"key": self.key, "prompt": prompt, "graph": d}, ensure_ascii=False) + "\n")

    # -- prompting
    @staticmethod
    def build_messages(prompt: str) -> Messages:
        msgs: Messages = [{"role": "system", "content": SYSTEM_PROMPT}]
        for p, answer in FEW_SHOT:
            msgs.append({"role": "user", "content": f"Prompt: {p}"})
            msgs.append({"role": "assistant", "content": json.dumps(answer)})
        msgs.append({"role": "user", "content": f"Prompt: {prompt}"})
        return msgs

    def graph_from_completion(self, prompt: str, completion: str) -> ConceptGraph:
        """Validate / repair one completion, or fall back to the rule-based parse (flagged)."""
        try:
            obj, repaired = extract_json(completion)
            g = validate(obj, prompt)
        except (ValueError, TypeError, KeyError) as e:
            self.stats["fallback"] += 1
            g = self.fallback(prompt)
            g.flag(f"llm_fallback:{str(e)[:80]}")
            return g
        g.source = "llm-repaired" if repaired else "llm"
        self.stats["repaired" if repaired else "llm"] += 1
        return g

    # -- API
    def parse_many(self, prompts: Sequence[str]) -> list[ConceptGraph]:
        out: list[ConceptGraph | None] = [None] * len(prompts)
        todo: list[int] = []
        for i, p in enumerate(prompts):
            if not isinstance(p, str):
                out[i] = self.fallback(p)
            elif p in self.cache:
                self.stats["cache_hit"] += 1
                out[i] = ConceptGraph.from_dict(self.cache[p])
            else:
                todo.append(i)
        unique: list[str] = list(dict.fromkeys(prompts[i] for i in todo))
        done: dict[str, ConceptGraph] = {}
        if unique and isinstance(self.generator, HFGenerator) and self.generator.model is None:
            self.generator.load()  # loading errors (no weights offline, ...) are raised, not hidden
        for s in range(0, len(unique), self.batch_size):
            chunk = unique[s : s + self.batch_size]
            try:
                completions = list(self.generator([self.build_messages(p) for p in chunk]))
            except Exception as e:  # a failed generation must not take down training; flag and count it
                completions = [None] * len(chunk)  # type: ignore[list-item]
                err = f"generation_error:{type(e).__name__}"
                self.stats["generation_error"] += 1
            else:
                err = None
                if len(completions) != len(chunk):
                    completions, err = [None] * len(chunk), "generation_error:wrong_batch_size"  # type: ignore
            for p, c in zip(chunk, completions):
                if c is None:
                    self.stats["fallback"] += 1
                    g = self.fallback(p)
                    g.flag(f"llm_fallback:{err}")
                else:
                    g = self.graph_from_completion(p, c)
                self._store(p, g)
                done[p] = g
        used: set[str] = set()
        for i in todo:
            g = done[prompts[i]]
            out[i] = ConceptGraph.from_dict(g.to_json_dict()) if prompts[i] in used else g  # no shared objects
            used.add(prompts[i])
        return out  # type: ignore[return-value]

    def parse(self, prompt: str) -> ConceptGraph:
        return self.parse_many([prompt])[0]

    def __call__(self, prompt: str) -> ConceptGraph:
        return self.parse(prompt)
