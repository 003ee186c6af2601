"""scripts/compare_aggregators.py: the summary arithmetic by hand, and the whole loop on an untrained shapes model."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from t2i_rl.shapes.model import build_shapes_pipeline

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("compare_aggregators", ROOT / "scripts" / "compare_aggregators.py")
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def _run(agg, seed, curve):
    return {"aggregator": agg, "seed": seed, "train_minutes": 1.0,
            "curve": {str(step): {"overall": acc} for step, acc in curve.items()}}


def test_steps_to_reach_and_summary_by_hand():
    results = [
        _run("cmo", 0, {0: 0.1, 20: 0.25, 40: 0.35}),
        _run("cmo", 1, {0: 0.1, 20: 0.32, 40: 0.30}),
        _run("gdpo", 0, {0: 0.1, 20: 0.15, 40: 0.2}),
        _run("gdpo", 1, {0: 0.1, 20: 0.2, 40: 0.2}),
    ]
    assert compare.steps_to_reach(results[0]["curve"], 0.3) == 40
    assert compare.steps_to_reach(results[1]["curve"], 0.3) == 20  # the first step that reaches it, not the last
    assert compare.steps_to_reach(results[2]["curve"], 0.3) is None
    table, markdown = compare.summarize(results, target=0.3)
    assert table["cmo"]["final_mean"] == pytest.approx(0.325)
    assert table["cmo"]["final_std"] == pytest.approx(0.025)  # population std of (0.35, 0.30)
    assert table["cmo"]["steps_to_target"] == [40, 20]
    assert table["cmo"]["curve"][20] == pytest.approx(0.285)
    assert table["gdpo"]["final_mean"] == pytest.approx(0.2) and table["gdpo"]["steps_to_target"] == [None, None]
    assert "| cmo | 0.100 | 0.325 ± 0.025 | 0.350, 0.300 | 40, 20 |" in markdown
    assert "| gdpo |" in markdown and "-, -" in markdown


@pytest.mark.slow
def test_compare_runs_every_aggregator_and_is_resumable(tmp_path, monkeypatch):
    model = tmp_path / "model"
    build_shapes_pipeline(seed=0).save_pretrained(model)
    fast = ["sampling.eval_steps=2", "sampling.train_steps=2",
            "sampling.sde_window_max_start=0", "rollout.batch_size=8", "rollout.images_per_prompt=4",
            "train.micro_batch_size=8", "train.gradient_accumulation_steps=1", "data.num_eval_prompts=2"]
    argv = ["compare_aggregators.py", "--out", str(tmp_path / "cmp"), "--model", str(model), "--seeds", "0",
            "--aggregators", "weighted_sum", "cmo", "--steps", "1", "--eval-every", "1", "--eval-seeds", "0", "--overrides", *fast]
    monkeypatch.setattr(sys, "argv", argv)
    compare.main()
    saved = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert set(saved["table"]) == {"weighted_sum", "cmo"}
    for run in saved["runs"]:
        assert sorted(int(s) for s in run["curve"]) == [0, 1]  # the base model, then every checkpoint
        assert 0 <= run["curve"]["1"]["overall"] <= 1
    # the base model's accuracy is the same for every aggregator (same model, same evaluation seeds)
    assert len({run["curve"]["0"]["overall"] for run in saved["runs"]}) == 1
    assert len(json.loads((tmp_path / "cmp" / "base_accuracy.json").read_text())) == 1  # measured once, then reused
    first = (tmp_path / "cmp" / "cmo" / "seed0" / "result.json").stat().st_mtime_ns
    compare.main()  # finished runs are kept, not retrained
    assert (tmp_path / "cmp" / "cmo" / "seed0" / "result.json").stat().st_mtime_ns == first
    argv[argv.index("--steps") + 1] = "2"  # another comparison into the same folder is refused, not mixed in
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit, match="other settings"):
        compare.main()
