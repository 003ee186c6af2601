"""The shapes demo's machinery end to end on an untrained shapes model (the figures need the pretrained one)."""

import json

import pytest

from t2i_rl.shapes.model import build_shapes_pipeline
from t2i_rl.shapes_demo import run_shapes_demo


@pytest.mark.slow
def test_shapes_demo_writes_summary_report_and_a_loadable_lora(tmp_path):
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
    assert set(saved["per_tag"]["base"]) == {"single_object", "two_object", "counting", "colors", "position",
                                             "color_attr", "overall"}
    report = (tmp_path / "demo" / "report.html").read_text()
    assert "grid_before.png" in report and "reward_curves.png" in report
    for name in ("grid_before.png", "grid_after.png", "reward_curves.png"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    assert (tmp_path / "demo" / "run" / "lora" / "pytorch_lora_weights.safetensors").is_file()
