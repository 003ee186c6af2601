"""T2I-CompBench-style category of a parsed prompt.

:func:`aspects` lists what a graph asks for: ``color`` (colour attributes), ``shape`` (shape or size
attributes: CompBench's shape prompts use "tall", "big", ...), ``texture`` (texture or material
attributes), ``spatial`` (spatial relations between objects; scene-setting "in" / "on" /
"at" ... do not count), ``non_spatial`` (actions and other non-spatial relations, except the descriptive
"of" / "with" / "has" and posture verbs with a preposition such as "sitting on", which place an object
rather than describe an interaction) and ``numeracy`` (an exact count such as "two" or "one").

:func:`category` turns that into one label: ``numeracy`` when any count is exact; otherwise the single
aspect present (``spatial`` becomes ``3d_spatial`` when all its relations are depth relations: in front
of, behind, hidden by); ``complex`` when two or more aspects are present; ``none`` when nothing is.
"""

from __future__ import annotations

from . import lexicon as L
from .graph import ACTION, NON_SPATIAL, SPATIAL, ConceptGraph

CATEGORIES = ("color", "shape", "texture", "spatial", "3d_spatial", "non_spatial", "numeracy", "complex", "none")
DESCRIPTIVE_RELATIONS = {"of", "with", "has", "without", "like", "for", "from"}
_ATTR_ASPECT = {"colour": "color", "shape": "shape", "size": "shape", "texture": "texture", "material": "texture"}


#: Prepositions that set the scene ("in the park", "on the beach") rather than lay out two objects.
SCENE_RELATIONS = {"in", "on", "at", "through", "around", "inside", "outside", "into", "onto", "from", "to"}


def is_locative(predicate: str) -> bool:
    """A posture / location verb with a preposition ("sitting on", "floating in", "lying next to")."""
    words = predicate.split()
    if len(words) < 2:
        return False
    base = L.verb_base(words[0])
    return base is not None and base in L.LOCATIVE_VERBS and words[-1] in L.VERB_PREPOSITIONS | {"next", "top"}


def relation_aspect(kind: str, predicate: str) -> str | None:
    """"spatial", "non_spatial" or None (scene-setting or descriptive) for one relation."""
    if kind == SPATIAL:
        return None if predicate in SCENE_RELATIONS else "spatial"
    if kind == ACTION:
        return None if is_locative(predicate) else "non_spatial"
    if kind == NON_SPATIAL and predicate not in DESCRIPTIVE_RELATIONS:
        return "non_spatial"
    return None


def aspects(graph: ConceptGraph) -> set[str]:
    out: set[str] = set()
    for o in graph.objects:
        if o.exact:
            out.add("numeracy")
        for a in o.attributes:
            if a.type in _ATTR_ASPECT:
                out.add(_ATTR_ASPECT[a.type])
    for r in graph.relations:
        asp = relation_aspect(r.kind, r.predicate)
        if asp:
            out.add(asp)
    return out


def category(graph: ConceptGraph) -> str:
    """One of :data:`CATEGORIES` (see the module docstring for the rules)."""
    a = aspects(graph)
    if "numeracy" in a:
        return "numeracy"
    if not a:
        return "none"
    if len(a) >= 2:
        return "complex"
    (only,) = a
    if only == "spatial" and all(r.predicate in L.DEPTH_RELATIONS for r in graph.relations if r.kind == SPATIAL):
        return "3d_spatial"
    return only
