"""``ConceptGraph``: the objects, attributes and relations a text-to-image prompt asks for.

Serialised form (:meth:`ConceptGraph.to_dict`) is exactly the schema of the benchmark gold files
(``geneval_gold_concepts.jsonl``)::

    {"objects":   [{"noun": "cat", "count": 2, "exact": true, "attributes": ["black", "fluffy"]}],
     "relations": [{"subject": "cat", "relation": "left of", "object": "dog", "kind": "position"}]}

* ``noun`` is singular and canonical (COCO spelling where there is one: "skis", "hair drier", "person").
* ``count`` is the number asked for; ``exact`` says whether it is a precise number ("two cats", "one cat")
  or only a lower bound ("a cat" -> 1, "cats" / "some cats" -> 2).
* ``attributes`` are plain strings in prompt order; their types (colour, shape, texture, material, size,
  other) are kept on :class:`Attribute` and re-inferred from the lexicon when reading plain strings.
* relation ``kind`` is ``"position"`` for spatial relations (GenEval's spelling; ``"spatial"`` is read as an
  alias), ``"non-spatial"`` for non-verbal links ("with", "of", "has") and ``"action"`` for verbs
  ("chasing", "sitting on").

:meth:`ConceptGraph.to_json_dict` adds what the plain schema drops (attribute types, relation indices, the
prompt, the ``partial`` flag and its reasons) so that :meth:`from_dict` round-trips it exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from . import lexicon as L

SPATIAL = L.SPATIAL
NON_SPATIAL = L.NON_SPATIAL
ACTION = L.ACTION
RELATION_KINDS = (SPATIAL, NON_SPATIAL, ACTION)
ATTRIBUTE_TYPES = L.ATTRIBUTE_TYPES
#: Accepted spellings of the relation kinds when reading.
KIND_ALIASES = {
    "position": SPATIAL, "spatial": SPATIAL, "positional": SPATIAL, "3d_spatial": SPATIAL, "3d": SPATIAL,
    "non-spatial": NON_SPATIAL, "non_spatial": NON_SPATIAL, "nonspatial": NON_SPATIAL, "non spatial": NON_SPATIAL,
    "possession": NON_SPATIAL, "part": NON_SPATIAL, "other": NON_SPATIAL,
    "action": ACTION, "verb": ACTION, "interaction": ACTION,
}
GROUPS = ("object", "attribute", "relation")
MAX_COUNT = 1000


def normalize_kind(kind: Any) -> str:
    k = str(kind).strip().lower()
    if k not in KIND_ALIASES:
        raise ValueError(f"unknown relation kind {kind!r}; use one of {RELATION_KINDS}")
    return KIND_ALIASES[k]


@dataclass
class Attribute:
    value: str
    type: str = "other"  # one of ATTRIBUTE_TYPES

    @classmethod
    def of(cls, value: str, type: str | None = None) -> "Attribute":
        value = " ".join(str(value).lower().split())
        return cls(value, type if type in ATTRIBUTE_TYPES else L.attribute_type(value))


@dataclass
class ConceptObject:
    noun: str
    count: int = 1
    exact: bool = False
    attributes: list[Attribute] = field(default_factory=list)

    def attributes_by_type(self) -> dict[str, list[str]]:
        """Attribute values grouped by type, every type present (possibly empty), in prompt order."""
        out: dict[str, list[str]] = {t: [] for t in ATTRIBUTE_TYPES}
        for a in self.attributes:
            out[a.type].append(a.value)
        return out

    @property
    def colours(self) -> list[str]:
        return [a.value for a in self.attributes if a.type == "colour"]

    def phrase(self, with_count: bool = True, attributes: Iterable[str] | None = None) -> str:
        """Natural-language noun phrase ("a red car", "two cats", "cats")."""
        attrs = list(attributes) if attributes is not None else []
        n = self.count if with_count else 1
        noun = self.noun if n == 1 else pluralize(self.noun)
        words = " ".join(attrs + [noun])
        if n == 1:
            if with_count and self.exact:
                return f"one {words}"
            return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"
        if not self.exact:
            return words
        return f"{number_text(n)} {words}"


@dataclass
class Relation:
    subject: int  # index into ConceptGraph.objects
    predicate: str  # canonical relation, e.g. "left of", "next to", "chasing", "sitting on", "with"
    object: int
    kind: str = SPATIAL  # one of RELATION_KINDS

    @property
    def is_spatial(self) -> bool:
        return self.kind == SPATIAL


@dataclass
class Concept:
    """One checkable concept of a prompt, for per-concept rewards (a column of ``R[B, K]``)."""

    name: str  # unique within the graph, usable as a reward column name
    group: str  # "object", "attribute" or "relation"
    text: str  # natural-language statement, e.g. "two cats", "a red car", "a dog to the left of a cat"
    kind: str  # object: "presence" / "count"; attribute: its type; relation: its kind
    value: str  # noun, count, attribute value or relation predicate (as text)
    objects: tuple[int, ...]  # object indices involved


@dataclass
class ConceptGraph:
    objects: list[ConceptObject] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    prompt: str | None = None
    partial: bool = False  # the parser was not sure it understood everything (see ``flags``)
    flags: list[str] = field(default_factory=list)  # reasons, e.g. "no_object", "unparsed:...", "llm_fallback"
    source: str = "rule"  # "rule", "llm", "gold", "geneval", ...

    # ------------------------------------------------------------------------------------------- building
    def add_object(self, obj: ConceptObject) -> int:
        self.objects.append(obj)
        return len(self.objects) - 1

    def add_relation(self, subject: int, predicate: str, obj: int, kind: str) -> None:
        if subject == obj or not (0 <= subject < len(self.objects)) or not (0 <= obj < len(self.objects)):
            return
        rel = Relation(subject, predicate, obj, normalize_kind(kind))
        if rel not in self.relations:
            self.relations.append(rel)

    def flag(self, reason: str) -> None:
        self.partial = True
        if reason not in self.flags:
            self.flags.append(reason)

    @property
    def parse_flag(self) -> str | None:
        """``None`` for a confident parse, else the reasons joined by ``;``."""
        return ";".join(self.flags) if self.partial else None

    # ------------------------------------------------------------------------------------------- schema
    def to_dict(self) -> dict[str, Any]:
        """The gold-file schema: ``{"objects": [...], "relations": [...]}`` (nothing else)."""
        return {
            "objects": [
                {"noun": o.noun, "count": o.count, "exact": o.exact, "attributes": [a.value for a in o.attributes]}
                for o in self.objects
            ],
            "relations": [
                {"subject": self.objects[r.subject].noun, "relation": r.predicate,
                 "object": self.objects[r.object].noun, "kind": r.kind}
                for r in self.relations
            ],
        }

    def to_json_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` plus attribute types, relation indices, prompt, partial/flags and source."""
        d = self.to_dict()
        for od, o in zip(d["objects"], self.objects):
            od["attribute_types"] = [a.type for a in o.attributes]
        for rd, r in zip(d["relations"], self.relations):
            rd["subject_index"] = r.subject
            rd["object_index"] = r.object
        d.update(prompt=self.prompt, partial=self.partial, flags=list(self.flags), source=self.source)
        return d

    def to_json(self, full: bool = True) -> str:
        return json.dumps(self.to_json_dict() if full else self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, strict: bool = False) -> "ConceptGraph":
        return cls.from_dict(json.loads(text), strict=strict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], strict: bool = False) -> "ConceptGraph":
        """Read the gold schema (or :meth:`to_json_dict`'s superset).

        ``strict`` raises ``ValueError`` on anything outside the schema (used to validate LLM output);
        otherwise problems are coerced where possible and noted in ``flags``.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"concept graph must be a JSON object, got {type(d).__name__}")
        g = cls(prompt=d.get("prompt") if isinstance(d.get("prompt"), str) else None,
                source=str(d.get("source", "gold")))
        objs = d.get("objects", [])
        rels = d.get("relations", [])
        if not isinstance(objs, list) or not isinstance(rels, list):
            raise ValueError("'objects' and 'relations' must be lists")
        for i, od in enumerate(objs):
            try:
                g.objects.append(_object_from_dict(od, strict))
            except (ValueError, TypeError) as e:
                if strict:
                    raise ValueError(f"objects[{i}]: {e}") from None
                g.flag(f"bad_object:{i}")
        for i, rd in enumerate(rels):
            try:
                _relation_from_dict(g, rd, strict)
            except (ValueError, TypeError) as e:
                if strict:
                    raise ValueError(f"relations[{i}]: {e}") from None
                g.flag(f"bad_relation:{i}")
        if isinstance(d.get("flags"), list):
            for f in d["flags"]:
                g.flag(str(f))
        if d.get("partial") is True:
            g.partial = True
        return g

    # ------------------------------------------------------------------------------------------- concepts
    def concept_groups(self) -> dict[str, list[Concept]]:
        """Concepts split into the groups "object", "attribute" and "relation" (all keys always present).

        object: one presence concept per object, plus a count concept when the count is exact or above one;
        attribute: one concept per (object, attribute); relation: one per relation.
        """
        out: dict[str, list[Concept]] = {g: [] for g in GROUPS}
        for i, o in enumerate(self.objects):
            key = f"obj{i}:{o.noun}"
            out["object"].append(Concept(key, "object", o.phrase(with_count=False), "presence", o.noun, (i,)))
            if o.exact or o.count > 1:
                text = o.phrase() if o.exact else f"at least {number_text(o.count)} {pluralize(o.noun)}"
                out["object"].append(Concept(f"{key}/count", "object", text, "count", str(o.count), (i,)))
            for a in o.attributes:
                out["attribute"].append(Concept(f"{key}/{a.type}:{a.value}", "attribute",
                                                o.phrase(with_count=False, attributes=[a.value]), a.type,
                                                a.value, (i,)))
        for k, r in enumerate(self.relations):
            s, t = self.objects[r.subject], self.objects[r.object]
            text = f"{s.phrase(with_count=False)} {relation_text(r.predicate)} {t.phrase(with_count=False)}"
            out["relation"].append(Concept(f"rel{k}:{s.noun} {r.predicate} {t.noun}", "relation", text, r.kind,
                                           r.predicate, (r.subject, r.object)))
        return out

    def concepts(self) -> list[Concept]:
        groups = self.concept_groups()
        return [c for g in GROUPS for c in groups[g]]

    # ------------------------------------------------------------------------------------------- comparison
    def canonical(self) -> tuple:
        """Order-insensitive, hashable summary of :meth:`to_dict` (for exact-match comparisons)."""
        d = self.to_dict()
        objs = tuple(sorted((o["noun"], o["count"], o["exact"], tuple(o["attributes"])) for o in d["objects"]))
        rels = tuple(sorted((r["subject"], r["relation"], r["object"], r["kind"]) for r in d["relations"]))
        return objs, rels


# ------------------------------------------------------------------------------------------------ helpers
def _object_from_dict(od: Any, strict: bool) -> ConceptObject:
    if not isinstance(od, Mapping):
        raise ValueError("object must be a JSON object")
    noun = od.get("noun")
    if not isinstance(noun, str) or not noun.strip():
        raise ValueError(f"'noun' must be a non-empty string, got {noun!r}")
    if strict:
        noun = normalize_noun(noun)
    else:
        noun = " ".join(noun.lower().split())
    count = od.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, (int, float)) or count != int(count):
        if strict or not (isinstance(count, str) and count.strip().isdecimal()):
            raise ValueError(f"'count' must be an integer, got {count!r}")
    count = int(count)
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"'count' out of range: {count}")
    exact = od.get("exact", False)
    if not isinstance(exact, bool):
        if strict:
            raise ValueError(f"'exact' must be a boolean, got {exact!r}")
        exact = bool(exact)
    attrs = od.get("attributes", [])
    if not isinstance(attrs, list) or not all(isinstance(a, str) and a.strip() for a in attrs):
        raise ValueError(f"'attributes' must be a list of non-empty strings, got {attrs!r}")
    types = od.get("attribute_types")
    if not (isinstance(types, list) and len(types) == len(attrs)):
        types = [None] * len(attrs)
    return ConceptObject(noun, count, exact, [Attribute.of(a, t) for a, t in zip(attrs, types)])


def _relation_from_dict(g: ConceptGraph, rd: Any, strict: bool) -> None:
    if not isinstance(rd, Mapping):
        raise ValueError("relation must be a JSON object")
    pred = rd.get("relation", rd.get("predicate"))
    if not isinstance(pred, str) or not pred.strip():
        raise ValueError(f"'relation' must be a non-empty string, got {pred!r}")
    pred = " ".join(pred.lower().split())
    kind = normalize_kind(rd.get("kind", SPATIAL if pred in L.GENEVAL_RELATIONS else NON_SPATIAL))
    ends = []
    for role in ("subject", "object"):
        idx = rd.get(f"{role}_index")
        noun = rd.get(role)
        if isinstance(idx, int) and not isinstance(idx, bool) and 0 <= idx < len(g.objects):
            ends.append(idx)
            continue
        if not isinstance(noun, str) or not noun.strip():
            raise ValueError(f"'{role}' must be a noun string, got {noun!r}")
        key = normalize_noun(noun) if strict else " ".join(noun.lower().split())
        found = [i for i, o in enumerate(g.objects) if o.noun == key]
        if not found:
            if strict:
                raise ValueError(f"relation {role} {noun!r} is not among the objects")
            g.flag(f"relation_noun_added:{key}")
            found = [g.add_object(ConceptObject(key))]
        ends.append(found[0])
    if ends[0] == ends[1]:
        if strict:
            raise ValueError("relation subject and object are the same object")
        return
    g.relations.append(Relation(ends[0], pred, ends[1], kind))


def normalize_noun(noun: str) -> str:
    """Canonical singular form of a noun written by someone else (an LLM): "Mice" -> "mouse"."""
    words = [w.strip(".,;:!?\"'") for w in noun.lower().split()]
    words = [w for w in words if w and w not in ("a", "an", "the")]
    if not words:
        raise ValueError(f"empty noun {noun!r}")
    return L.canonical_noun(" ".join(words))[0]


_PLURAL_OF = {v: k for k, v in L.IRREGULAR_PLURALS.items() if k.endswith(("ves", "ice", "eese", "eeth", "eet",
                                                                          "ren", "men", "ople", "i", "xen"))}
_PLURAL_OF.update({"person": "people", "knife": "knives", "leaf": "leaves", "mouse": "mice", "tooth": "teeth",
                   "foot": "feet", "goose": "geese", "cactus": "cacti", "potato": "potatoes",
                   "tomato": "tomatoes", "hero": "heroes", "mango": "mangoes", "volcano": "volcanoes",
                   "echo": "echoes", "torpedo": "torpedoes", "mosquito": "mosquitoes", "domino": "dominoes"})


def pluralize(noun: str) -> str:
    """Plural of a canonical noun (last word of a multi-word noun): "cat" -> "cats", "mouse" -> "mice"."""
    parts = noun.split()
    if not parts:
        return noun
    w = parts[-1]
    if w in _PLURAL_OF:
        p = _PLURAL_OF[w]
    elif w in L.INVARIANT_NOUNS and not w.endswith(("us", "is", "as", "ns")):  # sheep, fish, skis (not bus)
        p = w
    elif w.endswith(("s", "x", "z", "ch", "sh")):
        p = w + "es"
    elif w.endswith("y") and len(w) > 1 and w[-2] not in "aeiou":
        p = w[:-1] + "ies"
    else:
        p = w + "s"
    return " ".join(parts[:-1] + [p])


_NUMBER_TEXT = {v: k for k, v in L.NUMBER_WORDS.items() if v <= 20 and " " not in k and k not in
                ("single", "lone", "solitary", "both", "twin", "twins", "dozen")}


def number_text(n: int) -> str:
    return _NUMBER_TEXT.get(n, str(n))


_RELATION_TEXT = {"left of": "to the left of", "right of": "to the right of", "has": "with"}


def relation_text(predicate: str) -> str:
    return _RELATION_TEXT.get(predicate, predicate)


# ------------------------------------------------------------------------------------------------ GenEval
def from_geneval_metadata(meta: Mapping[str, Any]) -> ConceptGraph:
    """GenEval metadata (``{"tag", "include": [{"class", "count", "color"?, "position"?}], "exclude"?,
    "prompt"}``) -> graph, objects in ``include`` order. A count is exact when the tag is ``counting`` or an
    ``exclude`` entry caps it at ``count + 1``."""
    g = ConceptGraph(prompt=meta.get("prompt"), source="geneval")
    caps = {(e.get("class"), e.get("count")) for e in meta.get("exclude", []) or []}
    counting = meta.get("tag") == "counting"
    for inc in meta.get("include", []):
        count = int(inc.get("count", 1))
        exact = counting or (inc["class"], count + 1) in caps
        attrs = [Attribute(inc["color"], "colour")] if inc.get("color") else []
        g.objects.append(ConceptObject(inc["class"], count, exact, attrs))
    for i, inc in enumerate(meta.get("include", [])):
        if inc.get("position"):
            rel, target = inc["position"]
            g.relations.append(Relation(i, rel, int(target), SPATIAL))
    return g


def geneval_tag(g: ConceptGraph) -> str:
    """The GenEval task a graph belongs to ("position", "counting", "colors", "color_attr", "two_object",
    "single_object"), or "other" for graphs outside GenEval's templates."""
    if any(r.kind == SPATIAL and r.predicate in L.GENEVAL_RELATIONS for r in g.relations):
        return "position"
    if any(o.exact and o.count != 1 for o in g.objects) and len(g.objects) == 1:
        return "counting"
    coloured = any(o.colours for o in g.objects)
    if len(g.objects) == 1:
        return "colors" if coloured else "single_object"
    if len(g.objects) == 2:
        return "color_attr" if coloured else "two_object"
    return "other"


def to_geneval_metadata(g: ConceptGraph, tag: str | None = None) -> dict[str, Any]:
    """Graph -> GenEval metadata. Objects are reordered so that every position reference points to an
    earlier ``include`` entry (GenEval's evaluator requires it); exact counts get an ``exclude`` cap of
    count + 1; the first colour of an object becomes its ``color``. Relations GenEval cannot check (anything
    but left of / right of / above / below and their synonyms) are dropped."""
    pos: dict[int, tuple[str, int]] = {}
    for r in g.relations:
        rel = L.GENEVAL_RELATIONS.get(r.predicate) if r.kind == SPATIAL else None
        if rel and r.subject not in pos:
            pos[r.subject] = (rel, r.object)
    order: list[int] = []

    def visit(i: int, seen: tuple[int, ...] = ()) -> None:
        if i in order or i in seen:
            return
        if i in pos:
            visit(pos[i][1], seen + (i,))
        order.append(i)

    for i in range(len(g.objects)):
        visit(i)
    new_index = {old: new for new, old in enumerate(order)}
    include, exclude = [], []
    for old in order:
        o = g.objects[old]
        inc: dict[str, Any] = {"class": o.noun, "count": o.count}
        if o.colours:
            inc["color"] = o.colours[0]
        if old in pos and new_index[pos[old][1]] < new_index[old]:
            inc["position"] = [pos[old][0], new_index[pos[old][1]]]
        include.append(inc)
        if o.exact:
            exclude.append({"class": o.noun, "count": o.count + 1})
    meta: dict[str, Any] = {"tag": tag or geneval_tag(g), "include": include}
    if exclude:
        meta["exclude"] = exclude
    meta["prompt"] = g.prompt or ""
    return meta
