"""Where a reward finds a prompt's concept graph: given in the metadata, GenEval metadata, or parsed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .graph import ConceptGraph, from_geneval_metadata
from .rule_based import parse


def graph_for(prompt: str, metadata: Any = None):
    """The concept graph of a prompt: ``metadata["concept_graph"]`` / ``metadata["concepts"]`` (a
    :class:`~concept_parsers.ConceptGraph` or its dict schema), else GenEval metadata (``"include"``), else
    :func:`concept_parsers.parse` on the prompt."""
    metadata = metadata or {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    for key in ("concept_graph", "concepts"):
        value = metadata.get(key)
        if isinstance(value, ConceptGraph):
            return value
        if isinstance(value, Mapping):
            return ConceptGraph.from_dict(value)
        if value is not None:
            raise TypeError(f"metadata[{key!r}] must be a ConceptGraph or its dict schema, got {type(value).__name__}")
    if metadata.get("include"):
        return from_geneval_metadata({"prompt": prompt, **metadata})
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
    return parse(prompt)
