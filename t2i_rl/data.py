"""Prompt lists: ``.txt`` (one prompt a line) or ``.jsonl`` (``{"prompt": ..., ...metadata}``, e.g. GenEval's)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PromptItem:
    prompt: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def load_prompts(path: str | Path | None = None, inline: list[str] | None = None) -> list[PromptItem]:
    """Read prompts from a file, or take ``inline`` ones; an empty result is an error naming the source."""
    if path is None:
        items = [PromptItem(p, {"prompt": p}) for p in (inline or []) if p.strip()]
        if not items:
            raise ValueError("no prompts: set data.prompts to a .txt/.jsonl file or data.inline_prompts to a list")
        return items
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompt file {path} does not exist (data.prompts / data.eval_prompts)")
    if path.suffix == ".jsonl":
        items = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n} is not valid JSON: {err}") from err
            if not isinstance(record, dict) or not str(record.get("prompt", "")).strip():
                raise ValueError(f"{path}:{n} needs a non-empty \"prompt\" field")
            items.append(PromptItem(record["prompt"], record))
    else:
        items = [PromptItem(line.strip(), {"prompt": line.strip()}) for line in path.read_text().splitlines() if line.strip()]
    if not items:
        raise ValueError(f"prompt file {path} holds no prompts; put one prompt per line (.txt) or per JSON record (.jsonl)")
    return items
