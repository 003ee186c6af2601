"""VQA judge (VQAScore-style): fixed concept slots with NaN, a tiny random Qwen2/2.5-VL loaded with from_pretrained
(shapes, batching with left padding, probabilities), and a scripted VLM ("yes" iff the image shows the asked colour)
that ranks a right image above a wrong one through the real processor and chat template."""

from types import SimpleNamespace

import pytest
import torch

from reward_models.base import RewardBatch
from reward_models.vqa import (
    VQASCORE_TEMPLATE,
    TransformersVQAJudge,
    VQAReward,
    column_groups,
    column_names,
    graph_for,
    questions_for_graph,
    to_pil_images,
)
from t2i_rl.tiny import save_tiny_qwen_vl, tiny_qwen_vl_processor  # noqa: E402

PROMPTS = ["two red cubes to the left of a blue ball", "a photo of a cat"]


def solid(rgb, size=64):
    return torch.tensor(rgb, dtype=torch.float32).view(3, 1, 1).expand(3, size, size).clone()


@pytest.fixture(scope="module")
def tiny_vlm_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-vlm")
    return {v: save_tiny_qwen_vl(root / f"qwen{v}", version=v) for v in ("2", "2.5")}


def test_columns_are_fixed_slots_with_groups():
    names = column_names(max_objects=2, max_relations=1, attribute_types=("colour", "size"))
    assert names == ["obj0/present", "obj0/count", "obj0/color", "obj0/size",
                     "obj1/present", "obj1/count", "obj1/color", "obj1/size", "rel0/relation"]
    assert column_groups(names) == ["object", "object", "attribute", "attribute"] * 2 + ["relation"]


def test_questions_follow_the_concept_graph():
    questions, dropped = questions_for_graph(graph_for(PROMPTS[0]), max_objects=3, max_relations=2)
    by_slot = {q.slot: q for q in questions}
    assert sorted(by_slot) == ["obj0/color", "obj0/count", "obj0/present", "obj1/color", "obj1/present", "rel0/relation"]
    assert by_slot["obj0/count"].question == VQASCORE_TEMPLATE.format(text="two cubes")
    assert by_slot["obj1/color"].question == 'Does this figure show "a blue ball"? Please answer yes or no.'
    assert by_slot["rel0/relation"].text == "a cube to the left of a ball"
    assert dropped == []
    per_kind, _ = questions_for_graph(graph_for(PROMPTS[0]), template="per_kind")
    assert {q.slot: q.question for q in per_kind}["obj0/color"] == "Is the cube in the image red? Please answer yes or no."
    # a third object beyond max_objects=1 is dropped and reported, not silently scored
    _, dropped = questions_for_graph(graph_for(PROMPTS[0]), max_objects=1)
    assert "object ball" in dropped and any(d.startswith("relation") for d in dropped)


def test_graph_comes_from_metadata_first():
    geneval = {"tag": "colors", "include": [{"class": "car", "count": 1, "color": "green"}]}
    assert graph_for("anything", geneval).objects[0].noun == "car"
    gold = {"concepts": {"objects": [{"noun": "dog", "count": 3, "exact": True, "attributes": []}], "relations": []}}
    assert graph_for("a cat", gold).objects[0].count == 3
    assert graph_for("a cat", {}).objects[0].noun == "cat"


@pytest.mark.parametrize("version", ["2", "2.5"])
def test_tiny_qwen_vl_scores_shapes_nan_and_probabilities(tiny_vlm_dirs, version):
    reward = VQAReward(model=str(tiny_vlm_dirs[version]), device="cpu", batch_size=4, max_objects=2, max_relations=1)
    images = torch.stack([solid([1, 0, 0]), torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))])
    out = reward(RewardBatch(images, PROMPTS))
    assert out.scores.shape == (2, len(reward.names)) and out.names == reward.names
    applicable = ~torch.isnan(out.scores)
    assert {n for n, a in zip(out.names, applicable[1]) if a} == {"obj0/present"}
    assert {n for n, a in zip(out.names, applicable[0]) if a} == {
        "obj0/present", "obj0/count", "obj0/color", "obj1/present", "obj1/color", "rel0/relation"}
    valid = out.scores[applicable]
    assert ((valid >= 0) & (valid <= 1)).all()
    assert out.groups[out.names.index("rel0/relation")] == "relation"
    # batching with left padding changes nothing: batch size 1 gives the same scores
    one = VQAReward(judge=TransformersVQAJudge(reward.judge.model, reward.judge.processor, batch_size=1),
                    max_objects=2, max_relations=1)
    assert torch.allclose(one(RewardBatch(images, PROMPTS)).scores, out.scores, atol=1e-5, equal_nan=True)


def test_full_vocabulary_softmax_and_score_options(tiny_vlm_dirs):
    judge = TransformersVQAJudge.from_pretrained(str(tiny_vlm_dirs["2.5"]), device="cpu", batch_size=3)
    assert judge.first_token_log_probs([], []).numel() == 0

    pil = to_pil_images(torch.stack([solid([1, 0, 0]), solid([0, 1, 0])]))
    log_probs = judge.first_token_log_probs(pil, ["Does this figure show \"a red cube\"? Please answer yes or no."] * 2)
    assert log_probs.shape == (2, len(judge.processor.tokenizer))
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2), atol=1e-4)

    images = torch.stack([solid([1, 0, 0])])
    batch = RewardBatch(images, ["a red cube"])
    prob = VQAReward(judge=judge, max_objects=1, max_relations=0)(batch)
    logp = VQAReward(judge=judge, score="log_probability", max_objects=1, max_relations=0)(batch)
    rating = VQAReward(judge=judge, score="rating", max_objects=1, max_relations=0)(batch)
    mask = ~torch.isnan(prob.scores)
    assert torch.equal(mask, ~torch.isnan(logp.scores)) and torch.equal(mask, ~torch.isnan(rating.scores))
    assert torch.allclose(logp.scores[mask].exp(), prob.scores[mask], rtol=1e-4)
    assert ((rating.scores[mask] >= 0) & (rating.scores[mask] <= 1)).all()
    raw = rating.details[0]["vqa/answers"]["obj0/present"][0]["raw"]
    assert 1 <= raw <= 9 and "Rate it from 1" in rating.details[0]["vqa/answers"]["obj0/present"][0]["question"]


class ScriptedColourVLM(torch.nn.Module):
    """Deterministic 'VLM': logit +8 on "Yes" iff the image's dominant colour is the colour word in the question
    (any image when the question names no colour), else +8 on "No". Reads the processor's real pixel_values."""

    COLOURS = ("red", "green", "blue")

    def __init__(self, processor):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.processor = processor
        tok = processor.tokenizer
        self.yes, self.no, self.vocab = tok.convert_tokens_to_ids("Yes"), tok.convert_tokens_to_ids("No"), len(tok)

    def dominant_colours(self, pixel_values, grid_thw):
        ip = self.processor.image_processor
        mean, std = torch.tensor(ip.image_mean).view(1, 3, 1), torch.tensor(ip.image_std).view(1, 3, 1)
        out = []
        for patches in pixel_values.split([int(g.prod()) for g in grid_thw]):
            rgb = (patches.view(patches.shape[0], 3, -1) * std + mean).mean(dim=(0, 2))
            out.append(self.COLOURS[int(rgb.argmax())])
        return out

    def forward(self, input_ids, pixel_values, image_grid_thw, logits_to_keep=1, **_):
        logits = torch.zeros(input_ids.shape[0], 1, self.vocab)
        texts = self.processor.tokenizer.batch_decode(input_ids, skip_special_tokens=True)
        for row, (text, colour) in enumerate(zip(texts, self.dominant_colours(pixel_values, image_grid_thw))):
            asked = [c for c in self.COLOURS if f" {c} " in text]
            logits[row, 0, self.yes if not asked or colour in asked else self.no] = 8.0
        return SimpleNamespace(logits=logits)


def test_scripted_vlm_ranks_the_right_image_above_the_wrong_one():
    processor = tiny_qwen_vl_processor()
    judge = TransformersVQAJudge(ScriptedColourVLM(processor), processor, batch_size=3)
    reward = VQAReward(judge=judge, max_objects=2, max_relations=1)
    images = torch.stack([solid([0.9, 0.1, 0.1]), solid([0.1, 0.1, 0.9]), solid([0.1, 0.8, 0.1])])
    out = reward(RewardBatch(images, ["a red cube"] * 3))
    color = out.scores[:, out.names.index("obj0/color")]
    present = out.scores[:, out.names.index("obj0/present")]
    p_yes = torch.tensor(8.0).exp() / (torch.tensor(8.0).exp() + processor.tokenizer.__len__() - 1)
    assert torch.allclose(present, p_yes.expand(3), atol=1e-5)  # P(Yes) over the full vocabulary, not vs "No"
    assert color[0] > 0.9 and color[1] < 0.01 and color[2] < 0.01
    mean = torch.nanmean(out.scores, dim=1)
    assert mean[0] > mean[1] and mean[0] > mean[2]

    # two prompts in one batch: each image is judged against its own prompt's concepts
    out = reward(RewardBatch(images[:2], ["a blue ball", "a blue ball"]))
    assert out.scores[1, out.names.index("obj0/color")] > out.scores[0, out.names.index("obj0/color")]


def test_negated_object_scores_one_minus_p():
    processor = tiny_qwen_vl_processor()
    judge = TransformersVQAJudge(ScriptedColourVLM(processor), processor)
    gold = {"concepts": {"objects": [{"noun": "cat", "count": 0, "exact": True, "attributes": []}], "relations": []}}
    out = VQAReward(judge=judge, max_objects=1, max_relations=0)(RewardBatch(solid([1, 0, 0])[None], ["no cat"], [gold]))
    assert out.scores[0, 0] < 0.1 and torch.isnan(out.scores[0, 1])


def test_clear_errors():
    with pytest.raises(FileNotFoundError, match="not a directory"):
        VQAReward(model="/nonexistent/vlm")
    processor = tiny_qwen_vl_processor()
    judge = TransformersVQAJudge(ScriptedColourVLM(processor), processor)
    with pytest.raises(ValueError, match="score must be one of"):
        VQAReward(judge=judge, score="logit")
    with pytest.raises(ValueError, match="not a single token"):
        VQAReward(judge=judge, answer="Absolutely")
    with pytest.raises(ValueError, match="unknown attribute types"):
        VQAReward(judge=judge, attribute_types=("smell",))
