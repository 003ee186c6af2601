"""ConceptGraph: schema, JSON round trips, concept groups and GenEval metadata converters."""

from __future__ import annotations

import json

import pytest

from concept_parsers import (
    ACTION,
    NON_SPATIAL,
    SPATIAL,
    Attribute,
    ConceptGraph,
    ConceptObject,
    Relation,
    from_geneval_metadata,
    geneval_tag,
    parse,
    to_geneval_metadata,
)
from concept_parsers.evaluation import read_jsonl
from concept_parsers.graph import normalize_kind, pluralize

from conftest import BENCHMARK_DATA as DATA  # noqa: E402
from conftest import needs_benchmark_data as needs_data  # noqa: E402


def _graph() -> ConceptGraph:
    g = ConceptGraph(prompt="two black fluffy cats chasing a mouse next to a wooden table", source="rule")
    g.objects = [
        ConceptObject("cat", 2, True, [Attribute("black", "colour"), Attribute("fluffy", "texture")]),
        ConceptObject("mouse", 1, False, []),
        ConceptObject("table", 1, False, [Attribute("wooden", "material")]),
    ]
    g.relations = [Relation(0, "chasing", 1, ACTION), Relation(1, "next to", 2, SPATIAL)]
    return g


def test_to_dict_is_exactly_the_gold_schema():
    d = _graph().to_dict()
    assert list(d) == ["objects", "relations"]
    assert d["objects"][0] == {"noun": "cat", "count": 2, "exact": True, "attributes": ["black", "fluffy"]}
    assert [list(o) for o in d["objects"]] == [["noun", "count", "exact", "attributes"]] * 3
    assert d["relations"] == [
        {"subject": "cat", "relation": "chasing", "object": "mouse", "kind": "action"},
        {"subject": "mouse", "relation": "next to", "object": "table", "kind": "position"},
    ]
    json.dumps(d)


def test_plain_dict_round_trip_reinfers_attribute_types():
    g = _graph()
    back = ConceptGraph.from_dict(g.to_dict())
    assert back.to_dict() == g.to_dict()
    assert [[a.type for a in o.attributes] for o in back.objects] == [["colour", "texture"], [], ["material"]]
    assert back.relations == g.relations


def test_full_json_round_trip_is_lossless():
    g = _graph()
    g.objects[2].attributes.append(Attribute("glorp", "shape"))  # a type the lexicon would not infer
    g.flag("unparsed:xyz")
    back = ConceptGraph.from_json(g.to_json())
    assert back == g
    assert back.partial and back.parse_flag == "unparsed:xyz"


def test_relations_between_same_noun_objects_keep_their_indices():
    g = ConceptGraph(objects=[ConceptObject("car", 1, False, [Attribute("red", "colour")]),
                              ConceptObject("car", 1, False, [Attribute("blue", "colour")])])
    g.add_relation(1, "left of", 0, "spatial")
    assert g.relations == [Relation(1, "left of", 0, SPATIAL)]
    assert ConceptGraph.from_json(g.to_json()).relations == [Relation(1, "left of", 0, SPATIAL)]


def test_kind_aliases_and_unknown_kind():
    assert normalize_kind("spatial") == SPATIAL == "position"
    assert normalize_kind("non_spatial") == NON_SPATIAL
    assert normalize_kind("Action") == ACTION
    with pytest.raises(ValueError):
        normalize_kind("telepathic")


def test_strict_from_dict_rejects_schema_errors_and_normalises_nouns():
    ok = ConceptGraph.from_dict({"objects": [{"noun": "Mice", "count": 3, "exact": True, "attributes": ["grey"]}],
                                 "relations": []}, strict=True)
    assert ok.objects[0].noun == "mouse"
    bad = [
        {"objects": [{"noun": "", "count": 1}]},
        {"objects": [{"noun": "cat", "count": "two"}]},
        {"objects": [{"noun": "cat", "count": -1}]},
        {"objects": [{"noun": "cat", "count": 1, "exact": "yes"}]},
        {"objects": [{"noun": "cat", "count": 1, "attributes": "black"}]},
        {"objects": [{"noun": "cat"}], "relations": [{"subject": "cat", "relation": "on", "object": "mat"}]},
        {"objects": [{"noun": "cat"}], "relations": [{"subject": "cat", "relation": "on", "object": "cat"}]},
        {"objects": "cat"},
    ]
    for d in bad:
        with pytest.raises(ValueError):
            ConceptGraph.from_dict(d, strict=True)
    # lenient mode keeps going and flags
    g = ConceptGraph.from_dict({"objects": [{"noun": "cat"}],
                                "relations": [{"subject": "cat", "relation": "on", "object": "mat"}]})
    assert [o.noun for o in g.objects] == ["cat", "mat"] and g.partial


def test_concept_groups():
    groups = _graph().concept_groups()
    assert list(groups) == ["object", "attribute", "relation"]
    assert [(c.name, c.kind, c.text) for c in groups["object"]] == [
        ("obj0:cat", "presence", "a cat"), ("obj0:cat/count", "count", "two cats"),
        ("obj1:mouse", "presence", "a mouse"), ("obj2:table", "presence", "a table")]
    assert [(c.kind, c.value, c.text) for c in groups["attribute"]] == [
        ("colour", "black", "a black cat"), ("texture", "fluffy", "a fluffy cat"), ("material", "wooden", "a wooden table")]
    assert [(c.kind, c.text, c.objects) for c in groups["relation"]] == [
        ("action", "a cat chasing a mouse", (0, 1)), ("position", "a mouse next to a table", (1, 2))]
    names = [c.name for c in _graph().concepts()]
    assert len(names) == len(set(names)) == 9
    empty = ConceptGraph().concept_groups()
    assert empty == {"object": [], "attribute": [], "relation": []}


def test_concept_text_for_vague_plural_and_left_of():
    g = parse("apples to the left of an umbrella")
    texts = {c.name: c.text for c in g.concepts()}
    assert texts["obj0:apple/count"] == "at least two apples"
    assert texts["rel0:apple left of umbrella"] == "an apple to the left of an umbrella"


def test_pluralize():
    assert [pluralize(w) for w in ("cat", "mouse", "person", "bus", "strawberry", "knife", "sheep", "wine glass",
                                   "toy", "box", "tomato")] == [
        "cats", "mice", "people", "buses", "strawberries", "knives", "sheep", "wine glasses", "toys", "boxes",
        "tomatoes"]


def test_geneval_tag():
    assert geneval_tag(parse("a photo of a dog right of a teddy bear")) == "position"
    assert geneval_tag(parse("a photo of three cups")) == "counting"
    assert geneval_tag(parse("a photo of a blue book")) == "colors"
    assert geneval_tag(parse("a photo of a red bus and a blue cup")) == "color_attr"
    assert geneval_tag(parse("a photo of a bus and a cup")) == "two_object"
    assert geneval_tag(parse("a photo of a bus")) == "single_object"


def test_to_geneval_metadata_orders_references_first_and_caps_exact_counts():
    g = parse("a photo of two red dogs right of a teddy bear")
    meta = to_geneval_metadata(g)
    assert meta == {"tag": "position",
                    "include": [{"class": "teddy bear", "count": 1},
                                {"class": "dog", "count": 2, "color": "red", "position": ["right of", 0]}],
                    "exclude": [{"class": "dog", "count": 3}],
                    "prompt": "a photo of two red dogs right of a teddy bear"}


@needs_data
@pytest.mark.parametrize("gold, meta", [
    ("geneval/geneval_gold_concepts.jsonl", "geneval/evaluation_metadata.jsonl"),
    ("flow_grpo_geneval/unseen_objects_gold_concepts.jsonl", None),
])
def test_gold_rows_round_trip_and_match_geneval_metadata(gold, meta):
    rows = read_jsonl(DATA / gold)
    for row in rows:
        want = {"objects": row["objects"], "relations": row["relations"]}
        assert ConceptGraph.from_dict(row).to_dict() == want
        assert ConceptGraph.from_json(ConceptGraph.from_dict(row).to_json()).to_dict() == want
    if meta:
        metas = read_jsonl(DATA / meta)
        assert [m["prompt"] for m in metas] == [r["prompt"] for r in rows]
        for m, row in zip(metas, rows):
            assert from_geneval_metadata(m).to_dict() == {"objects": row["objects"], "relations": row["relations"]}


@needs_data
@pytest.mark.parametrize("path", ["geneval/evaluation_metadata.jsonl", "flow_grpo_geneval/test_metadata.jsonl",
                                  "flow_grpo_geneval/unseen_objects_test_metadata.jsonl"])
def test_geneval_metadata_round_trip(path):
    metas = read_jsonl(DATA / path)
    assert metas
    for m in metas:
        assert to_geneval_metadata(from_geneval_metadata(m)) == m


@needs_data
def test_parse_reproduces_geneval_metadata():
    """Parsing the prompt and converting gives back GenEval's own metadata (tag, include, exclude)."""
    metas = read_jsonl(DATA / "geneval/evaluation_metadata.jsonl")
    same = sum(to_geneval_metadata(parse(m["prompt"])) == m for m in metas)
    assert same / len(metas) >= 0.98
