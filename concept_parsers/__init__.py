"""Concept parsing: text-to-image prompt -> :class:`ConceptGraph` (objects, attributes, relations).

``parse(prompt)`` is the rule-based parser; :class:`LLMParser` (in :mod:`concept_parsers.llm`, imported
lazily) prompts a causal LM for the same JSON schema and falls back to the rule-based parse.
"""

from .categories import CATEGORIES, aspects, category
from .graph import (
    ACTION,
    ATTRIBUTE_TYPES,
    NON_SPATIAL,
    RELATION_KINDS,
    SPATIAL,
    Attribute,
    Concept,
    ConceptGraph,
    ConceptObject,
    Relation,
    from_geneval_metadata,
    geneval_tag,
    to_geneval_metadata,
)
from .resolve import graph_for
from .rule_based import RuleBasedParser, parse

__all__ = [
    "ACTION", "ATTRIBUTE_TYPES", "CATEGORIES", "NON_SPATIAL", "RELATION_KINDS", "SPATIAL", "Attribute", "Concept",
    "ConceptGraph", "ConceptObject", "LLMParser", "Relation", "RuleBasedParser", "aspects", "category",
    "from_geneval_metadata", "geneval_tag", "graph_for", "parse", "to_geneval_metadata",
]


def __getattr__(name: str):
    if name == "LLMParser":
        from .llm import LLMParser

        return LLMParser
    raise AttributeError(f"module 'concept_parsers' has no attribute {name!r}")
