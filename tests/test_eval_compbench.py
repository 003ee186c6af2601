"""T2I-CompBench scoring (evals.compbench), offline.

* Every formula against hand-computed values: BLIP-VQA product, the repo's 2D box rule and spatial score on
  synthetic boxes, CLIPScore conventions, 3-in-1, numeracy with de-duplication.
* Reading a GenEval-layout folder (PNGs written here), a flat folder with a prompts file, CompBench file names.
* Scripted fakes (BLIP, CLIP, detector): a right image scores above a wrong one in every category.
* Tiny random BLIP VQA, CLIP and Grounding DINO built in code, saved, and loaded through ``from_pretrained``.
* The real prompt files (skipped without ../shared): category lookup and noun-phrase coverage.
"""

from __future__ import annotations

import json
import math
import string

import pytest
import torch
from conftest import BENCHMARK_DATA, needs_benchmark_data
from PIL import Image, ImageDraw

from concept_parsers import parse
from evals.compbench import (
    BlipVQA,
    ClipSimilarity,
    CompBenchEvaluator,
    blip_vqa_product,
    blip_vqa_question,
    clip_score,
    complex_kind,
    dedup_detections,
    determine_position,
    evaluate_compbench,
    is_duplicate_box,
    load_category_prompts,
    load_complex_kinds,
    noun_phrases,
    numeracy_score,
    numeracy_targets,
    read_samples,
    spatial_relation,
    spatial_score,
    text_without_attributes,
    three_in_one,
)
from reward_models.geneval_rules import Detection
from t2i_rl.tiny import save_tiny_grounding_dino


# ============================================================================================ formulas
def test_blip_vqa_product_and_noun_phrases():
    assert blip_vqa_product([0.9, 0.5]) == pytest.approx(0.45)
    assert blip_vqa_product([0.9, 0.5, 0.2]) == pytest.approx(0.09)
    assert blip_vqa_product([]) == 1.0  # the repo fills a missing noun phrase with 1
    with pytest.raises(ValueError):
        blip_vqa_product([1.2])
    assert noun_phrases(parse("a green bench and a red car")) == ["a green bench", "a red car"]
    assert noun_phrases(parse("rubber gloves and a fluffy teddy bear")) == ["rubber gloves", "a fluffy teddy bear"]
    assert blip_vqa_question("a green bench") == "a green bench?"


def test_determine_position_on_synthetic_boxes():
    a, right_of_a = (0, 0, 10, 10), (20, 0, 30, 10)  # centres (5, 5) and (25, 5): dx = 20, dy = 0
    assert determine_position("on the left of", a, right_of_a) == 1.0
    assert determine_position("on the right of", a, right_of_a) == 0.0  # wrong side
    assert determine_position("on the right of", right_of_a, a) == 1.0
    assert determine_position("on the top of", a, right_of_a) == 0.0  # dy = 0 is not "above"
    # overlap: (4, 0, 14, 10): dx = 4, IoU = 60 / 140, score = 0.1 / IoU = 14 / 60
    assert determine_position("on the left of", a, (4, 0, 14, 10)) == pytest.approx(14 / 60)
    below_a = (0, 20, 10, 30)  # dy = 20 (image y down): a is on top
    assert determine_position("on the top of", a, below_a) == 1.0
    assert determine_position("on the bottom of", below_a, a) == 1.0
    assert determine_position("on the bottom of", a, below_a) == 0.0
    assert determine_position("on the left of", a, (12, 30, 22, 40)) == 0.0  # |dy| > |dx|: not "left"
    # next to: 1 if either distance < 150, else 150 / max distance
    assert determine_position("next to", (0, 0, 10, 10), (200, 300, 210, 310)) == pytest.approx(150 / 300)
    assert determine_position("near", (0, 0, 10, 10), (100, 300, 110, 310)) == 1.0
    assert determine_position("in front of", a, right_of_a) == 0.0  # 3D: not a 2D locality
    assert determine_position(None, a, right_of_a) == 0.0
    with pytest.raises(ValueError):
        determine_position("on the left of", (10, 0, 0, 10), a)


def test_spatial_score_formula_and_cutoff():
    d1, d2 = Detection("dog", 0.9, (0, 0, 10, 10)), Detection("cat", 0.8, (20, 0, 30, 10))
    assert spatial_score("on the left of", d1, d2) == pytest.approx(0.25 * 0.9 + 0.25 * 0.8 + 0.5)  # 0.925
    overlap = Detection("cat", 0.8, (4, 0, 14, 10))
    assert spatial_score("on the left of", d1, overlap) == pytest.approx(0.425 + (14 / 60) / 2)  # 0.5417
    assert spatial_score("on the right of", d1, d2) == 0.0  # 0.425 < 0.5 -> 0
    assert spatial_score("on the left of", d1, None) == 0.0  # 0.225 -> 0
    assert spatial_score("on the left of", None, None) == 0.0
    # scale into UniDet's frame only matters for the distance rule: 200 px apart at 512 px -> 187 px at 479
    far1, far2 = Detection("dog", 1.0, (0, 0, 10, 10)), Detection("cat", 1.0, (200, 200, 210, 210))
    assert spatial_score("next to", far1, far2, scale=1.0) == pytest.approx(0.5 + 0.5 * 150 / 200)
    assert spatial_score("next to", far1, far2, scale=479 / 512) == pytest.approx(0.5 + 0.5 * 150 / (200 * 479 / 512))
    assert spatial_relation(parse("a horse on the right of a man")) == (0, "on the right of", 1)
    assert spatial_relation(parse("a balloon on the top of a giraffe")) == (0, "on the top of", 1)
    assert spatial_relation(parse("a cat in front of a dog")) is None  # 3D


def test_clip_score_conventions():
    assert clip_score(0.3) == pytest.approx(0.3)  # T2I-CompBench: the raw cosine
    assert clip_score(0.3, "hessel") == pytest.approx(0.75)  # 2.5 * max(cos, 0)
    assert clip_score(0.3, "torchmetrics") == pytest.approx(30.0)  # max(100 * cos, 0)
    assert clip_score(-0.1) == pytest.approx(-0.1)
    assert clip_score(-0.1, "hessel") == 0.0 and clip_score(-0.1, "torchmetrics") == 0.0
    with pytest.raises(ValueError):
        clip_score(0.3, "clip")


def test_three_in_one_and_complex_kind():
    assert three_in_one(0.6, spatial=0.9) == pytest.approx(0.75)
    assert three_in_one(0.6, non_spatial=0.3) == pytest.approx(0.45)
    assert three_in_one(0.6, 0.9, 0.3) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        three_in_one(0.6)
    assert complex_kind(parse("The silver car was parked next to the blue truck.")) == "spatial"
    assert complex_kind(parse("a dog chasing a cat on the left of a tree")) == "spatialaction"
    assert complex_kind(parse("The fluffy cat was lying on the soft cushion.")) == "action"
    graph = parse("The black dog chased the white cat.")
    assert text_without_attributes("The black dog chased the white cat.", graph) == "The dog chased the cat."


def test_numeracy_formula_with_duplicates():
    assert is_duplicate_box((0, 0, 9, 9), (0, 0, 9, 10))  # IoU = 100 / 110 > 0.9 (+1-pixel areas)
    assert is_duplicate_box((0, 0, 9, 9), (0, 0, 49, 49))  # the small box lies inside the big one
    assert not is_duplicate_box((0, 0, 9, 9), (5, 0, 14, 9))
    cups = [Detection("cup", 0.9, (0, 0, 9, 9)), Detection("cup", 0.8, (20, 0, 29, 9))]
    dogs = [Detection("dog", 0.9, (0, 30, 9, 39)), Detection("dog", 0.7, (0, 30, 9, 40)),  # duplicate
            Detection("dog", 0.8, (30, 30, 39, 39))]
    assert len(dedup_detections(dogs)) == 2
    # cups: found + exact (0.5 + 0.5) / 2; dogs: found, 2 != 3 -> 0.5 / 2
    assert numeracy_score([("cup", 2), ("dog", 3)], cups + dogs) == pytest.approx(0.75)
    assert numeracy_score([("cup", 2), ("cat", 1)], cups) == pytest.approx(0.5)
    assert math.isnan(numeracy_score([], cups))
    assert numeracy_targets(parse("two cups, three dogs and a cat")) == [("cup", 2), ("dog", 3), ("cat", 1)]
    assert numeracy_targets(parse("cats")) == []  # a plural without a number is not counted


# ============================================================================================ reading folders
def png(path, colour, size=32):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), colour).save(path)


def test_read_geneval_layout(tmp_path):
    for index, (prompt, colours) in enumerate([("a red car", ["red", "blue"]), ("a blue car", ["blue"])]):
        folder = tmp_path / f"{index:05d}"
        for i, colour in enumerate(colours):
            png(folder / "samples" / f"{i:04d}.png", colour)
        (folder / "metadata.jsonl").write_text(json.dumps({"prompt": prompt, "category": "color"}) + "\n")
    samples = read_samples(tmp_path)
    assert [(s.prompt, s.index, s.sample) for s in samples] == [("a red car", 0, 0), ("a red car", 0, 1),
                                                                ("a blue car", 1, 0)]
    assert samples[1].metadata["category"] == "color"
    assert samples[1].load_image().getpixel((0, 0)) == (0, 0, 255)


def test_read_flat_folders_and_errors(tmp_path):
    png(tmp_path / "flat" / "a.png", "red")
    png(tmp_path / "flat" / "b.png", "blue")
    (tmp_path / "prompts.txt").write_text("a red car\na blue car\n")
    assert [s.prompt for s in read_samples(tmp_path / "flat", tmp_path / "prompts.txt")] == ["a red car", "a blue car"]
    with pytest.raises(ValueError, match="one prompt line per PNG"):
        (tmp_path / "short.txt").write_text("a red car\n")
        read_samples(tmp_path / "flat", tmp_path / "short.txt")
    with pytest.raises(ValueError, match="prompts file"):
        read_samples(tmp_path / "flat")
    png(tmp_path / "cb" / "samples" / "a green bench and a red car_000001.png", "green")
    png(tmp_path / "cb" / "samples" / "a red bench and a green car_000000.png", "red")
    assert [s.prompt for s in read_samples(tmp_path / "cb")] == ["a red bench and a green car",
                                                                 "a green bench and a red car"]
    with pytest.raises(FileNotFoundError):
        read_samples(tmp_path / "missing")
    (tmp_path / "bad" / "00000").mkdir(parents=True)
    (tmp_path / "bad" / "00000" / "metadata.jsonl").write_text('{"no_prompt": 1}\n')
    with pytest.raises(ValueError, match="prompt"):
        read_samples(tmp_path / "bad")
    with pytest.raises(ValueError):
        read_samples([("", Image.new("RGB", (8, 8)))])
    image = Image.new("RGB", (8, 8))
    assert read_samples(lambda: [("a cat", image, {"category": "color"})])[0].metadata == {"category": "color"}


# ============================================================================================ scripted fakes
COLOURS = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 255, 0)}


def canvas(blobs, size=64):
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for colour, box in blobs:
        draw.rectangle(box, fill=COLOURS[colour])
    return image


def colours_in(image):
    return {name for name, rgb in COLOURS.items() if rgb in {c for _, c in image.getcolors(4096)}}


class FakeBlip:
    """P(yes) = 0.9 when the colour the noun phrase names is in the image, else 0.1."""

    def p_yes(self, images, questions):
        return [0.9 if any(c in q and c in colours_in(im) for c in COLOURS) else 0.1 for im, q in zip(images, questions)]


class FakeClip:
    """Cosine 0.35 when every colour word in the text is in the image, else 0.15."""

    def cosine(self, images, texts):
        return [0.35 if all(c in colours_in(im) for c in COLOURS if c in t) else 0.15 for im, t in zip(images, texts)]


class FakeDetector:
    """Every filled rectangle is a detection; ``legend`` maps its colour to a noun."""

    def __init__(self, legend, score=0.95):
        self.legend, self.score = legend, score

    def __call__(self, images, queries):
        out = []
        for image, nouns in zip(images, queries):
            dets = []
            for colour, noun in self.legend.items():
                if noun in nouns:
                    dets += [Detection(noun, self.score, box) for box in boxes_of(image, COLOURS[colour])]
            out.append(dets)
        return out


def boxes_of(image, rgb):
    """Boxes of the rectangles of one colour (scan rows; rectangles do not touch)."""
    w, h = image.size
    px, seen, boxes = image.load(), set(), []
    for y in range(h):
        for x in range(w):
            if px[x, y] == rgb and (x, y) not in seen:
                x1 = x
                while x1 + 1 < w and px[x1 + 1, y] == rgb:
                    x1 += 1
                y1 = y
                while y1 + 1 < h and px[x, y1 + 1] == rgb:
                    y1 += 1
                seen |= {(i, j) for i in range(x, x1 + 1) for j in range(y, y1 + 1)}
                boxes.append((x, y, x1 + 1, y1 + 1))
    return boxes


def fake_evaluator(**kwargs):
    return CompBenchEvaluator(blip=FakeBlip(), clip=FakeClip(),
                              detector=FakeDetector({"red": "dog", "blue": "cat", "green": "cup"}), **kwargs)


def test_right_image_scores_above_wrong_image_in_every_category():
    right_colour = canvas([("green", (2, 2, 20, 20)), ("red", (30, 30, 50, 50))])
    wrong_colour = canvas([("blue", (2, 2, 20, 20))])
    dog_left = canvas([("red", (2, 20, 20, 40)), ("blue", (40, 20, 60, 40))])
    dog_right = canvas([("red", (40, 20, 60, 40)), ("blue", (2, 20, 20, 40))])
    two_cups = canvas([("green", (2, 2, 12, 12)), ("green", (30, 30, 40, 40))])
    three_cups = canvas([("green", (2, 2, 12, 12)), ("green", (30, 30, 40, 40)), ("green", (50, 2, 60, 12))])
    items = [
        ("a green bench and a red car", right_colour, {"category": "color"}),
        ("a green bench and a red car", wrong_colour, {"category": "color"}),
        ("a dog on the left of a cat", dog_left, {"category": "spatial"}),
        ("a dog on the left of a cat", dog_right, {"category": "spatial"}),
        ("two cups", two_cups, {"category": "numeracy"}),
        ("two cups", three_cups, {"category": "numeracy"}),
        ("a red dog chasing a blue cat", dog_left, {"category": "non_spatial"}),
        ("a red dog chasing a blue cat", wrong_colour, {"category": "non_spatial"}),
        ("The red dog was next to the blue cat.", dog_left, {"category": "complex"}),
        ("The red dog was next to the blue cat.", wrong_colour, {"category": "complex"}),
    ]
    result = fake_evaluator(reference_short_side=None, batch_size=3).evaluate(items)
    scores = [r["score"] for r in result.records]
    for right, wrong in zip(scores[::2], scores[1::2]):
        assert right > wrong
    assert scores[0] == pytest.approx(0.81) and scores[1] == pytest.approx(0.01)  # 0.9 * 0.9, 0.1 * 0.1
    assert scores[2] == pytest.approx(0.25 * 0.95 * 2 + 0.5) and scores[3] == 0.0
    assert scores[4] == pytest.approx(1.0) and scores[5] == pytest.approx(0.5)
    assert scores[6] == pytest.approx(0.35) and scores[7] == pytest.approx(0.15)
    # complex "next to" is spatial: (BLIP 0.81 + spatial 0.975) / 2
    assert result.records[8]["details"]["3_in_1"]["kind"] == "spatial"
    assert scores[8] == pytest.approx((0.81 + 0.975) / 2)
    assert set(result.summary) == {"color", "spatial", "numeracy", "non_spatial", "complex", "overall"}
    assert result.summary["color"] == pytest.approx(0.41) and result.counts["color"] == 2
    json.dumps(result.to_dict(), allow_nan=False)  # JSON-able for the report module


def test_category_resolution_and_errors(tmp_path):
    image = canvas([("red", (2, 2, 20, 20))])
    with pytest.raises(ValueError, match="no T2I-CompBench category"):
        fake_evaluator().evaluate([("a red dog", image)])
    assert fake_evaluator(category="colour").evaluate([("a red dog", image)]).records[0]["category"] == "color"
    assert fake_evaluator().evaluate([("a red dog", image, {"tag": "texture"})]).records[0]["metric"] == "blip_vqa"
    assert fake_evaluator(category="auto").evaluate([("two dogs", image)]).records[0]["category"] == "numeracy"
    with pytest.raises(ValueError, match="3d_spatial"):
        CompBenchEvaluator(category="3d_spatial")
    with pytest.raises(ValueError):
        CompBenchEvaluator(clip_convention="nope")
    with pytest.raises(FileNotFoundError):
        CompBenchEvaluator(data_dir=tmp_path / "nowhere")
    (tmp_path / "color_val.txt").write_text("a red dog\n")
    (tmp_path / "complex_val_action.txt").write_text("The red dog was next to the blue cat.\n")
    evaluator = fake_evaluator(data_dir=tmp_path)
    records = evaluator.evaluate([("a red dog", image), ("The red dog was next to the blue cat.", image,
                                                         {"category": "complex"})]).records
    assert records[0]["category"] == "color"
    assert records[1]["details"]["3_in_1"]["kind"] == "action"  # the prompt list wins over the parse
    assert load_complex_kinds(tmp_path) == {"the red dog was next to the blue cat": "action"}


# ============================================================================================ tiny models
BLIP_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "[ENC]", "?", "yes", "no", "a", "red", "green",
              "blue", "car", "bench", "and"]


@pytest.fixture(scope="module")
def tiny_blip_dir(tmp_path_factory):
    from transformers import BertTokenizer, BlipConfig, BlipForQuestionAnswering, BlipProcessor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    directory = tmp_path_factory.mktemp("tiny-blip-vqa")
    vocab = {w: i for i, w in enumerate(BLIP_WORDS + list(string.ascii_lowercase)
                                        + [f"##{c}" for c in string.ascii_lowercase])}
    tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]")
    processor = BlipProcessor(image_processor=BlipImageProcessorPil(size={"height": 64, "width": 64}),
                              tokenizer=tokenizer)
    config = BlipConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "encoder_hidden_size": 32,
                     "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 2,
                     "max_position_embeddings": 64, "bos_token_id": vocab["[DEC]"], "pad_token_id": 0,
                     "sep_token_id": vocab["[SEP]"]},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 64, "patch_size": 16})
    torch.manual_seed(0)
    BlipForQuestionAnswering(config).save_pretrained(directory)
    processor.save_pretrained(directory)
    return str(directory)


def test_tiny_blip_vqa_from_pretrained(tiny_blip_dir):
    blip = BlipVQA.from_pretrained(tiny_blip_dir, batch_size=2)
    assert blip.enc_token_id == BLIP_WORDS.index("[ENC]") and blip.yes_id == BLIP_WORDS.index("yes")
    images = [canvas([("red", (0, 0, 30, 30))]), canvas([("blue", (0, 0, 30, 30))]), canvas([])]
    questions = ["a red car?", "a green bench and a red car?", "a blue car?"]
    p = blip.p_yes(images, questions)
    assert len(p) == 3 and all(0.0 < v < 1.0 for v in p)
    # batching (questions of different lengths in one call) changes nothing
    assert BlipVQA(blip.model, blip.processor, batch_size=1).p_yes(images, questions) == pytest.approx(p, abs=1e-6)
    # the same number by hand: softmax at the decoder's first position, yes / (yes + no)
    m, proc = blip.model, blip.processor
    inputs = proc(images=images[:1], text=questions[:1], return_tensors="pt")
    ids = inputs["input_ids"].clone()
    ids[:, 0] = blip.enc_token_id
    with torch.no_grad():
        emb = m.vision_model(pixel_values=inputs["pixel_values"])[0]
        q = m.text_encoder(input_ids=ids, attention_mask=inputs["attention_mask"], encoder_hidden_states=emb).last_hidden_state
        logits = m.text_decoder(input_ids=torch.tensor([[m.decoder_start_token_id]]), encoder_hidden_states=q).logits[0, 0]
    probs = logits.softmax(-1)
    assert p[0] == pytest.approx((probs[blip.yes_id] / (probs[blip.yes_id] + probs[blip.no_id])).item(), abs=1e-6)
    with pytest.raises(FileNotFoundError, match="no-such-blip"):
        BlipVQA.from_pretrained(tiny_blip_dir + "/no-such-blip")


@pytest.fixture(scope="module")
def tiny_hf_clip_dir(tmp_path_factory):
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor, CLIPTokenizer

    chars = [chr(c) for c in range(33, 127)]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, " ": 2}
    for c in chars + [c + "</w>" for c in chars]:
        vocab.setdefault(c, len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    directory = tmp_path_factory.mktemp("tiny-hf-clip")
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1, "vocab_size": len(vocab),
                     "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                     "max_position_embeddings": 77},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                       "image_size": 64, "patch_size": 16},
        projection_dim=32)
    CLIPModel(config).save_pretrained(directory)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return str(directory)


def test_tiny_clip_from_pretrained(tiny_hf_clip_dir):
    clip = ClipSimilarity.from_pretrained(tiny_hf_clip_dir, backend="transformers", batch_size=2)
    images = [canvas([("red", (0, 0, 30, 30))]), canvas([("blue", (0, 0, 30, 30))]), canvas([])]
    texts = ["a red dog chasing a cat", "a blue cat", "a cat"]
    cos = clip.cosine(images, texts)
    assert len(cos) == 3 and all(-1.0 <= c <= 1.0 for c in cos)
    feats_i = clip.backend.encode_images(images)
    feats_t = clip.backend.encode_text(texts)
    assert cos[1] == pytest.approx(float(feats_i[1] @ feats_t[1]), abs=1e-5)
    result = CompBenchEvaluator(category="non_spatial", clip=clip).evaluate(list(zip(texts, images)))
    assert [r["score"] for r in result.records] == pytest.approx(cos, abs=1e-6)
    with pytest.raises(ValueError):
        ClipSimilarity.from_pretrained(tiny_hf_clip_dir, backend="jax")


@pytest.fixture(scope="module")
def tiny_gdino_dir(tmp_path_factory):
    return save_tiny_grounding_dino(tmp_path_factory.mktemp("tiny-gdino"))


def test_tiny_models_end_to_end_through_from_pretrained(tiny_blip_dir, tiny_hf_clip_dir, tiny_gdino_dir, tmp_path):
    for index, (prompt, category) in enumerate([("a red car", "color"), ("a dog on the left of a cat", "spatial"),
                                                ("two cups", "numeracy"), ("a dog chasing a cat", "non_spatial"),
                                                ("The red dog was next to the blue cat.", "complex")]):
        folder = tmp_path / f"{index:05d}"
        png(folder / "samples" / "0000.png", "red", size=64)
        png(folder / "samples" / "0001.png", "blue", size=64)
        (folder / "metadata.jsonl").write_text(json.dumps({"prompt": prompt, "category": category}) + "\n")
    result = evaluate_compbench(tmp_path, blip_model=tiny_blip_dir, clip_model=tiny_hf_clip_dir,
                                clip_backend="transformers", detector_model=tiny_gdino_dir,
                                detection_threshold=0.0, batch_size=4)
    assert len(result.records) == 10
    assert {r["category"] for r in result.records} == {"color", "spatial", "numeracy", "non_spatial", "complex"}
    for r in result.records:
        assert r["score"] is not None and -1.0 <= r["score"] <= 1.0
    assert all(0.0 <= result.summary[c] <= 1.0 for c in ("color", "spatial", "numeracy", "complex"))
    json.dumps(result.to_dict(), allow_nan=False)


# ============================================================================================ real prompt files
@needs_benchmark_data
def test_prompt_files_category_lookup_and_noun_phrases():
    data = BENCHMARK_DATA / "t2i_compbench"
    categories = load_category_prompts(data)
    assert categories["a green bench and a red car"] == "color"
    assert categories["four trucks"] == "numeracy"
    kinds = load_complex_kinds(data)
    assert set(kinds.values()) <= {"spatial", "action", "spatialaction"} and len(kinds) > 600
    for category in ("color", "shape", "texture"):
        prompts = [p for p, c in categories.items() if c == category]
        with_two = sum(len(noun_phrases(parse(p))) >= 2 for p in prompts)
        assert with_two / len(prompts) > 0.9, category  # attribute-binding prompts name two objects
    spatial = [p for p, c in categories.items() if c == "spatial"]
    assert sum(spatial_relation(parse(p)) is not None for p in spatial) / len(spatial) > 0.9
