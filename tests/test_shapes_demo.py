"""The shapes demo's machinery end to end on an untrained shapes model (the figures need the pretrained one)."""

import importlib.util
import json
from pathlib import Path

import pytest

from t2i_rl.shapes.model import build_shapes_pipeline
from t2i_rl.shapes.prompts import named_prompts, train_prompts
from t2i_rl.shapes_demo import run_shapes_demo

_spec = importlib.util.spec_from_file_location(
    "shapes_accuracy", Path(__file__).resolve().parents[1] / "scripts" / "shapes_accuracy.py"
)
shapes_accuracy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shapes_accuracy)


@pytest.mark.slow
def test_shapes_demo_writes_summary_report_and_a_loadable_lora(tmp_path, capsys):
    model = tmp_path / "model"
    build_shapes_pipeline(seed=0).save_pretrained(model)
    fast = ["train.num_steps=1", "sampling.eval_steps=2", "sampling.train_steps=2",
            "sampling.sde_window_max_start=0", "rollout.batch_size=8",
            "train.micro_batch_size=8", "train.gradient_accumulation_steps=1", "data.num_eval_prompts=2",
            "checkpoint.every=0"]
    summary = run_shapes_demo(tmp_path / "demo", model=model, overrides=fast, eval_seeds=[0])
    saved = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert {"base_accuracy", "final_accuracy", "minutes", "base_model", "lora"} <= set(saved)
    assert saved["base_accuracy"] == summary["base_accuracy"] and 0 <= saved["final_accuracy"] <= 1
    assert saved["eval_images"] >= 6 * 48 and saved["gain_stderr"] >= 0  # every tag 48 images at least
    assert saved["gain"] == pytest.approx(saved["final_accuracy"] - saved["base_accuracy"])
    assert set(saved["per_tag"]["base"]) == {"single_object", "two_object", "counting", "colors", "position",
                                             "color_attr", "overall"}
    report = (tmp_path / "demo" / "report.html").read_text()
    assert "grid_before.png" in report and "reward_curves.png" in report
    for name in ("grid_before.png", "grid_after.png", "reward_curves.png"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    assert (tmp_path / "demo" / "run" / "lora" / "pytorch_lora_weights.safetensors").is_file()
    # scripts/shapes_accuracy.py measures the exported LoRA again: on the held-out split it repeats the demo's figure.
    fast_eval = ["--overrides", "sampling.eval_steps=2"]
    again = shapes_accuracy.main(["--model", str(model), "--lora", str(tmp_path / "demo" / "run" / "lora"),
                                  "--seeds", "0", *fast_eval])
    assert again["base"] == saved["per_tag"]["base"] and again["lora"] == saved["per_tag"]["final"]
    assert again["gain"] == pytest.approx(saved["gain"]) and again["gain_stderr"] == pytest.approx(saved["gain_stderr"])
    assert set(again["objects"]) == {"base", "lora"} and set(again["objects"]["lora"]) == set(saved["per_tag"]["base"])
    assert all(0 <= row["extra"] <= 1 and row["objects"] >= 0 for row in again["objects"]["base"].values())
    assert set(again["failures"]) == {"base", "lora"} and set(again["failures"]["base"]) == set(saved["per_tag"]["base"])
    # an untrained model fails somewhere in every tag, and each share is a fraction of that tag's images
    assert all(row and all(0 < share <= 1 for share in row.values()) for row in again["failures"]["base"].values())
    train = shapes_accuracy.main(["--model", str(model), "--split", "train", "--per-tag", "2", "--seeds", "0", *fast_eval])
    assert train["prompts"] == 12 and "lora" not in train
    named = shapes_accuracy.main(["--model", str(model), "--prompts", "three squares", "a photo of a circle left of a "
                                  "triangle", "--seeds", "0", "1", *fast_eval])
    assert named["split"] == "named" and named["prompts"] == 2
    assert set(named["per_prompt"]["base"]) == {"a photo of three squares", "a photo of a circle left of a triangle"}
    assert set(named["pass_at_k"]["base"]) == {"counting", "position"}
    with pytest.raises(SystemExit):
        shapes_accuracy.main(["--model", str(model), "--prompts", "a photo of a dog"])
    assert "not a shapes-world prompt" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # both choose the prompts: refused rather than --split silently ignored
        shapes_accuracy.main(["--model", str(model), "--prompts", "three squares", "--split", "train"])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        shapes_accuracy.main(["--model", str(model), "--lora", str(tmp_path / "missing")])
    with pytest.raises(SystemExit):
        shapes_accuracy.main(["--model", str(tmp_path / "no-model")])


def test_spread_per_tag_takes_evenly_spaced_prompts_of_every_tag():
    prompts = train_prompts()
    chosen = shapes_accuracy.spread_per_tag(prompts, 3)
    per_tag = {}
    for item in chosen:
        per_tag.setdefault(item["tag"], []).append(item)
    assert {tag: len(items) for tag, items in per_tag.items()} == {
        "single_object": 2, "two_object": 3, "counting": 3, "colors": 3, "position": 3, "color_attr": 3}
    color_attr = [p for p in prompts if p["tag"] == "color_attr"]
    assert per_tag["color_attr"] == color_attr[0:144:48]  # stride 144 // 3 from the start


def test_pass_at_k_and_per_prompt_accuracy_by_hand():
    a, b, c = ({"prompt": p, "tag": t} for p, t in [("a", "counting"), ("b", "counting"), ("c", "position")])
    # job order as evaluation_jobs renders it: seed-major, so every prompt's first seeds come first
    metadata = [a, b, c, a, b, c, a]
    correct = [False, False, False, True, False, True, True]
    assert shapes_accuracy.per_prompt_accuracy(metadata, correct) == {"a": 2 / 3, "b": 0.0, "c": 0.5}
    assert shapes_accuracy.pass_at_k(metadata, correct, 1) == {"counting": 0.0, "position": 0.0}
    assert shapes_accuracy.pass_at_k(metadata, correct, 2) == {"counting": 0.5, "position": 1.0}
    assert named_prompts(["three squares"])[0]["tag"] == "counting"
    with pytest.raises(ValueError, match="not a shapes-world prompt"):
        named_prompts(["two dogs"])
