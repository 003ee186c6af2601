"""LLM concept parser: JSON repair, validation, fallback, caching; offline with fakes and a tiny random LM."""

from __future__ import annotations

import json

import pytest

from concept_parsers import ConceptGraph, parse
from concept_parsers.llm import HFGenerator, LLMParser, extract_json, validate

CAT_JSON = {"objects": [{"noun": "Cats", "count": 2, "exact": True, "attributes": ["Black"]},
                        {"noun": "sofa", "count": 1, "exact": False, "attributes": []}],
            "relations": [{"subject": "cats", "relation": "on", "object": "sofa", "kind": "spatial"}]}


class ScriptedLM:
    """A fake generator: answers from a prompt -> completion table and records every batch it gets."""

    def __init__(self, answers: dict[str, str], default: str = "I cannot help with that.") -> None:
        self.answers = answers
        self.default = default
        self.batches: list[list[str]] = []

    def __call__(self, batch):
        prompts = [m[-1]["content"].removeprefix("Prompt: ") for m in batch]
        self.batches.append(prompts)
        return [self.answers.get(p, self.default) for p in prompts]


class Exploding:
    def __call__(self, batch):
        raise AssertionError("the generator must not be called")


# ------------------------------------------------------------------------------------------ JSON repair
@pytest.mark.parametrize("text, repaired", [
    ('{"objects": []}', False),
    ('Sure! Here is the JSON:\n{"objects": []}\nHope this helps.', False),
    ('```json\n{"objects": [{"noun": "cat", "count": 2,}],}\n```', True),
    ("{'objects': [{'noun': 'cat', 'exact': False}]}", True),
    ('{objects: [{noun: "cat", count: 1}]}', True),
    ('{"objects": [{"noun": "cat", "count": 1', True),
    ('{"objects": [{"noun": "cat", "exact": True, "attributes": None}]}', True),
])
def test_extract_json_repairs(text, repaired):
    obj, was_repaired = extract_json(text)
    assert isinstance(obj, dict) and "objects" in obj
    assert was_repaired is repaired


@pytest.mark.parametrize("text", ["", "no json here", "[1, 2, 3]", "{{{{", None])
def test_extract_json_rejects(text):
    with pytest.raises(ValueError):
        extract_json(text)


def test_validate_normalises_and_rejects():
    g = validate(CAT_JSON, "two black cats on a sofa")
    assert g.to_dict() == {
        "objects": [{"noun": "cat", "count": 2, "exact": True, "attributes": ["black"]},
                    {"noun": "sofa", "count": 1, "exact": False, "attributes": []}],
        "relations": [{"subject": "cat", "relation": "on", "object": "sofa", "kind": "position"}]}
    assert g.objects[0].attributes[0].type == "colour"
    for bad in ({"objects": []}, {"relations": []}, [], {"objects": [{"noun": "cat", "count": "many"}]},
                {"objects": [{"noun": "cat"}], "relations": [{"subject": "dog", "relation": "on", "object": "cat"}]}):
        with pytest.raises(ValueError):
            validate(bad, "a cat")


# ------------------------------------------------------------------------------------------ scripted LM
def test_happy_path_with_scripted_lm():
    lm = ScriptedLM({"two black cats on a sofa": json.dumps(CAT_JSON)})
    parser = LLMParser(generator=lm)
    g = parser("two black cats on a sofa")
    assert g.source == "llm" and not g.partial
    assert [(o.noun, o.count, o.exact) for o in g.objects] == [("cat", 2, True), ("sofa", 1, False)]
    assert parser.stats["llm"] == 1 and parser.stats["fallback"] == 0
    assert g.prompt == "two black cats on a sofa"


def test_messages_carry_schema_and_examples():
    msgs = LLMParser.build_messages("a red cup")
    assert msgs[0]["role"] == "system" and '"objects"' in msgs[0]["content"]
    assert msgs[-1] == {"role": "user", "content": "Prompt: a red cup"}
    for m in msgs[1:-1]:
        if m["role"] == "assistant":
            validate(json.loads(m["content"]), "x")  # the few-shot answers satisfy the schema


def test_repaired_answer_is_used():
    lm = ScriptedLM({"a red cup": '```json\n{"objects": [{"noun": "cup", "count": 1, "exact": false, '
                                  '"attributes": ["red"],},], "relations": [],}\n```'})
    parser = LLMParser(generator=lm)
    g = parser("a red cup")
    assert g.source == "llm-repaired" and g.to_dict()["objects"] == [
        {"noun": "cup", "count": 1, "exact": False, "attributes": ["red"]}]
    assert parser.stats["repaired"] == 1


@pytest.mark.parametrize("answer", [
    "I cannot help with that.",
    '{"objects": [{"noun": "cup", "count": "one"}]}',
    '{"objects": [{"noun": "cup"}], "relations": [{"subject": "cup", "relation": "on", "object": "table"}]}',
    '{"objects": []}',
])
def test_invalid_answers_fall_back_to_the_rule_parse(answer):
    prompt = "a cup on a wooden table"
    parser = LLMParser(generator=ScriptedLM({prompt: answer}))
    g = parser(prompt)
    assert g.to_dict() == parse(prompt).to_dict()
    assert g.source == "rule" and g.partial and any(f.startswith("llm_fallback") for f in g.flags)
    assert parser.stats["fallback"] == 1


def test_generation_errors_fall_back():
    def broken(batch):
        raise RuntimeError("CUDA out of memory")

    parser = LLMParser(generator=broken)
    g = parser("a dog")
    assert [o.noun for o in g.objects] == ["dog"]
    assert "llm_fallback:generation_error:RuntimeError" in g.flags
    assert parser.stats["generation_error"] == 1


def test_memory_cache_and_batching():
    answers = {p: json.dumps({"objects": [{"noun": p.split()[-1], "count": 1, "exact": False, "attributes": []}],
                              "relations": []}) for p in ("a cat", "a dog", "a cow")}
    lm = ScriptedLM(answers)
    parser = LLMParser(generator=lm, batch_size=2)
    graphs = parser.parse_many(["a cat", "a dog", "a cat", "a cow"])
    assert [g.objects[0].noun for g in graphs] == ["cat", "dog", "cat", "cow"]
    assert lm.batches == [["a cat", "a dog"], ["a cow"]]  # unique prompts, in batches of 2
    assert graphs[0] is not graphs[2]  # duplicates do not share mutable objects
    again = parser.parse_many(["a dog", "a cat"])
    assert [g.objects[0].noun for g in again] == ["dog", "cat"]
    assert len(lm.batches) == 2 and parser.stats["cache_hit"] == 2


def test_file_cache_is_written_and_reused(tmp_path):
    path = tmp_path / "cache" / "llm.jsonl"
    lm = ScriptedLM({"two black cats on a sofa": json.dumps(CAT_JSON)})
    first = LLMParser(generator=lm, cache_path=path)
    g1 = first("two black cats on a sofa")
    g2 = first("an unparseable answer follows")  # falls back; cached too
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["prompt"] == "two black cats on a sofa"
    with open(path, "a") as f:
        f.write('{"key": "torn line')  # an interrupted write must not break reading
    second = LLMParser(generator=Exploding(), cache_path=path)
    assert second("two black cats on a sofa") == g1
    assert second("an unparseable answer follows") == g2
    assert second.stats["cache_hit"] == 2
    other_model = LLMParser("another/model", generator=ScriptedLM({}), cache_path=path)
    assert "two black cats on a sofa" not in other_model.cache


def test_fallbacks_can_be_left_out_of_the_cache():
    lm = ScriptedLM({})
    parser = LLMParser(generator=lm, cache_fallbacks=False)
    parser("a dog")
    parser("a dog")
    assert len(lm.batches) == 2


# ------------------------------------------------------------------------------------------ tiny random LM
@pytest.fixture(scope="module")
def tiny_lm():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    torch.manual_seed(0)
    byte_chars = sorted(set(bytes_to_unicode().values()))
    vocab = {c: i for i, c in enumerate(byte_chars)}
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        vocab[special] = len(vocab)
    merges = [("Ġ", "a"), ("c", "a"), ("ca", "t")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = transformers.Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, bos_token=None,
                                      eos_token="<|im_end|>", pad_token="<|endoftext|>")
    cfg = transformers.Qwen2Config(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096)
    model = transformers.Qwen2ForCausalLM(cfg)
    return model, tok


def test_tiny_random_lm_falls_back(tiny_lm):
    model, tok = tiny_lm
    parser = LLMParser("tiny-random", model=model, tokenizer=tok, max_new_tokens=8, device="cpu")
    graphs = parser.parse_many(["a cat next to two dogs", "three red apples"])
    for g, p in zip(graphs, ["a cat next to two dogs", "three red apples"]):
        assert g.to_dict() == parse(p).to_dict()
        assert any(f.startswith("llm_fallback") for f in g.flags)
    assert parser.stats["fallback"] == 2 and parser.stats["generation_error"] == 0


def test_hf_generator_decodes_only_new_tokens_and_uses_chat_template(tiny_lm):
    model, tok = tiny_lm
    gen = HFGenerator(model=model, tokenizer=tok, max_new_tokens=5, device="cpu")
    msgs = LLMParser.build_messages("a cat")
    plain = gen.render(msgs)
    assert plain.startswith("System: ") and plain.endswith("User: Prompt: a cat\n\nAssistant:")
    out = gen([msgs, LLMParser.build_messages("a much longer prompt about two dogs")])
    assert len(out) == 2 and all(isinstance(s, str) and "Prompt:" not in s for s in out)
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                         "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    try:
        rendered = gen.render(msgs)
        assert rendered.startswith("<|im_start|>system\n") and rendered.endswith("<|im_start|>assistant\n")
    finally:
        tok.chat_template = None


def test_model_is_loaded_lazily_and_load_errors_are_raised(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    parser = LLMParser("no-such-org/no-such-model-for-tests")
    assert isinstance(parser.generator, HFGenerator) and parser.generator.model is None
    assert parser.parse_many([]) == []  # nothing to generate: nothing loaded
    with pytest.raises(Exception):
        parser("a cat")


def test_cached_graph_round_trips_exactly():
    lm = ScriptedLM({"two black cats on a sofa": json.dumps(CAT_JSON)})
    parser = LLMParser(generator=lm)
    g = parser("two black cats on a sofa")
    assert ConceptGraph.from_dict(parser.cache["two black cats on a sofa"]) == g
