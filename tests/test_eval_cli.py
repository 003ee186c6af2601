"""``t2i-rl eval`` end to end on CPU: generate (resumable, fixed seeds, GenEval layout) -> geneval -> report ->
compare, on a small random shapes pipeline; the same scoring command with tiny random Grounding DINO and open_clip
(plumbing); the generic report functions; clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evals import report
from t2i_rl.cli import main
from t2i_rl.tiny import save_tiny_grounding_dino

TAGS = ["single_object", "two_object", "counting", "colors", "position", "color_attr"]


@pytest.fixture(scope="module")
def shapes_model_dir(tmp_path_factory):
    from t2i_rl.shapes.model import build_shapes_pipeline

    directory = tmp_path_factory.mktemp("shapes-model")
    build_shapes_pipeline(seed=0, width=32, layers=1).save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="module")
def prompt_file(tmp_path_factory):
    from t2i_rl.shapes.prompts import heldout_prompts, write_jsonl

    held = heldout_prompts()
    one_per_tag = [next(m for m in held if m["tag"] == tag) for tag in TAGS]
    return str(write_jsonl(one_per_tag, tmp_path_factory.mktemp("prompts") / "prompts.jsonl"))


def generate_args(model, prompts, out, *extra):
    return ["eval", "generate", "--model", model, "--prompts", prompts, "--out", str(out), "--images-per-prompt", "2",
            "--steps", "2", "--batch-size", "5", "--resolution", "64", "--max-sequence-length", "16", "--seed", "7",
            "--no-progress", *extra]


@pytest.fixture(scope="module")
def generated(shapes_model_dir, prompt_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("images") / "run"
    assert main(generate_args(shapes_model_dir, prompt_file, out)) == 0
    return out


def test_generate_writes_genevals_layout(generated, prompt_file):
    records = [json.loads(line) for line in Path(prompt_file).read_text().splitlines()]
    for index, record in enumerate(records):
        folder = generated / f"{index:05d}"
        assert json.loads((folder / "metadata.jsonl").read_text()) == record
        assert sorted(p.name for p in (folder / "samples").iterdir()) == ["0000.png", "0001.png"]
    settings = json.loads((generated / "generation.json").read_text())
    assert settings["seed"] == 7 and settings["images_per_prompt"] == 2 and settings["num_steps"] == 2


def test_generate_is_resumable_and_seeded(generated, shapes_model_dir, prompt_file, capsys):
    pngs = sorted(generated.glob("*/samples/*.png"))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in pngs}
    capsys.readouterr()
    assert main(generate_args(shapes_model_dir, prompt_file, generated)) == 0
    assert "generated 0 images, skipped 12" in capsys.readouterr().out
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in pngs} == before  # nothing rewritten
    victim = generated / "00003" / "samples" / "0001.png"
    victim.unlink()
    assert main(generate_args(shapes_model_dir, prompt_file, generated)) == 0
    assert "generated 1 images, skipped 11" in capsys.readouterr().out
    assert victim.read_bytes() == before[victim][1]  # the same fixed seed gives the same image
    assert not list(generated.rglob("*.tmp"))


def test_resume_with_other_settings_is_an_error(generated, shapes_model_dir, prompt_file, capsys):
    args = generate_args(shapes_model_dir, prompt_file, generated)
    args[args.index("--steps") + 1] = "3"
    assert main(args) == 2
    assert "other settings" in capsys.readouterr().err


def test_geneval_with_the_shapes_detector_writes_results_and_report(generated, capsys):
    assert main(["eval", "geneval", str(generated), "--detector", "shapes", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    out = generated / "geneval"
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 12
    assert set(records[0]) == {"filename", "tag", "prompt", "correct", "reason", "metadata", "details", "failures"}
    summary = json.loads((out / "summary.json").read_text())
    # every failed image names at least one failed rule, and the summary tallies them per tag
    assert all(bool(r["failures"]) == (not r["correct"]) for r in records)
    assert set(summary["failures"]) == {r["tag"] for r in records} | {"overall"}
    assert list(summary["scores"]) == TAGS and summary["detector"] == "shapes" and summary["threshold"] == 0.0
    assert summary["overall"] == pytest.approx(sum(summary["scores"].values()) / 6)
    assert "overall (mean over tags)" in printed and "single_object" in printed
    table = (out / "report.md").read_text()
    assert "| model | single_object | two_object | counting | colors | position | color_attr | overall |" in table
    assert (out / "scores.png").stat().st_size > 0
    if not all(r["correct"] for r in records):  # a random model fails; its worst images are shown
        assert (out / "failures.png").stat().st_size > 0 and "failures.png" in table


def test_compare_prints_deltas(tmp_path, capsys):
    base = {"benchmark": "geneval", "scores": {"counting": 0.5, "position": 0.25}, "overall": 0.375}
    tuned = {"benchmark": "geneval", "scores": {"counting": 0.75, "position": 0.25}, "overall": 0.5}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    report.write_summary(base, tmp_path / "a" / "summary.json")
    report.write_summary(tuned, tmp_path / "b" / "summary.json")
    assert main(["eval", "compare", str(tmp_path / "a" / "summary.json"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "| counting | 0.500 | 0.750 | +0.250 |" in out and "| overall | 0.375 | 0.500 | +0.125 |" in out
    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows["position"]["delta"] == 0.0 and list(rows)[-1] == "overall"


def test_bad_input_gives_clear_errors(tmp_path, capsys, shapes_model_dir):
    assert main(["eval", "geneval", str(tmp_path / "missing"), "--detector", "shapes"]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(generate_args(shapes_model_dir, str(empty), tmp_path / "o")) == 2
    assert "is empty" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"tag": "colors"}\n')
    assert main(generate_args(shapes_model_dir, str(bad), tmp_path / "o")) == 2
    assert "'prompt'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["eval", "geneval", str(tmp_path), "--detector", "yolo"])
    assert exc.value.code == 2 and "invalid choice: 'yolo'" in capsys.readouterr().err
    assert main(["eval", "compare", str(tmp_path / "nope.json"), str(tmp_path / "nope.json")]) == 2
    assert main(generate_args(str(tmp_path / "no-model"), str(bad), tmp_path / "o")) == 2


def test_cli_choices_match_the_module():
    from evals.cli import COLOR_CHOICES, DETECTOR_CHOICES, REFERENCE_SCORES
    from evals.geneval import COLOR_CLASSIFIERS, DETECTORS

    assert DETECTOR_CHOICES == DETECTORS and COLOR_CHOICES == COLOR_CLASSIFIERS
    assert REFERENCE_SCORES == {"SD3.5-M": 0.63, "SD3.5-M + Flow-GRPO": 0.95}


def test_help_gives_the_paper_commands(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "generate", "--help"])
    text = capsys.readouterr().out
    for piece in ("--images-per-prompt 4", "--resolution 512", "--steps 40", "--guidance-scale 4.5", "0.63", "0.95",
                  "stabilityai/stable-diffusion-3.5-medium"):
        assert piece in text


# ============================================================================================ tiny random models
def build_tiny_open_clip(directory):
    import open_clip
    from open_clip.model import CLIP

    cfg = {"embed_dim": 32, "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}}
    torch.manual_seed(0)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": cfg,
        "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD)}}))
    torch.save(CLIP(**cfg).state_dict(), directory / "open_clip_pytorch_model.bin")
    return str(directory)


def test_same_command_with_tiny_grounding_dino_and_clip(generated, tmp_path, capsys):
    from PIL import Image

    from evals.geneval import ClipColorClassifier, EvalDetection

    gdino = save_tiny_grounding_dino(tmp_path / "gdino")
    clip = build_tiny_open_clip(tmp_path / "clip")
    out = tmp_path / "report"
    args = ["eval", "geneval", str(generated), "--detector", "grounding-dino", "--detector-model", gdino,
            "--clip-model", clip, "--out", str(out), "--batch-size", "4", "--no-progress",
            "--threshold", "0", "--counting-threshold", "0"]  # random scores: keep every box so the rules all run
    assert main(args) == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["detector"] == "grounding-dino" and summary["color_classifier"] == "clip"
    assert summary["images"] == 12 and set(summary["scores"]) == set(TAGS)
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 12
    assert any("; and " in r["reason"] for r in records)  # CLIP labelled some found objects' colours
    # the tiny CLIP itself labels a crop with one of GenEval's ten colours
    colours = ClipColorClassifier(clip)(Image.new("RGB", (64, 64), "red"), [EvalDetection("circle", 0.9, (0, 0, 32, 32))],
                                        "circle")
    assert len(colours) == 1 and colours[0] in ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown",
                                                "black", "white")


# ============================================================================================ report (generic)
def test_report_is_generic_over_category_scores(tmp_path):
    compbench = {"benchmark": "t2i-compbench", "scores": {"color": 0.5, "shape": 0.4, "spatial": 0.2}}
    assert report.scores_of(compbench)["overall"] == pytest.approx(1.1 / 3)  # mean when absent
    assert report.scores_of({"color": 0.5})["overall"] == 0.5  # a bare mapping works too
    table = report.markdown_table({"base": compbench, "tuned": {"scores": {"color": 0.7, "shape": 0.4}}})
    assert table.splitlines()[0] == "| model | color | shape | spatial | overall |"
    assert "| tuned | 0.700 | 0.400 | – | 0.550 |" in table
    rows = report.compare(compbench, {"scores": {"color": 0.7, "shape": 0.4}})
    assert rows["spatial"] == {"a": 0.2, "b": None, "delta": None} and rows["color"]["delta"] == pytest.approx(0.2)
    paths = report.write_report(tmp_path / "r", {"benchmark": "x", "scores": {"color": 0.7}, "overall": 0.7},
                                baseline=compbench, name="tuned")
    assert (tmp_path / "r" / "scores.png").is_file() and "+0.200" in (tmp_path / "r" / "report.md").read_text()
    assert "failures" not in paths
    with pytest.raises(ValueError):
        report.scores_of({"scores": {}})
    with pytest.raises(FileNotFoundError):
        report.load_summary(tmp_path / "missing.json")


def test_worst_failures_per_category(tmp_path):
    from PIL import Image

    for n in range(4):
        Image.new("RGB", (16, 16), (60 * n, 0, 0)).save(tmp_path / f"{n}.png")
    records = [
        {"filename": str(tmp_path / "0.png"), "tag": "counting", "prompt": "p0", "correct": True, "reason": ""},
        {"filename": str(tmp_path / "1.png"), "tag": "counting", "prompt": "p1", "correct": False, "reason": "a"},
        {"filename": str(tmp_path / "2.png"), "tag": "counting", "prompt": "p2", "correct": False, "reason": "a\nb"},
        {"filename": str(tmp_path / "3.png"), "tag": "position", "prompt": "p3", "correct": False, "reason": "c"},
    ]
    worst = report.worst_records(records, per_category=4)
    assert [r["prompt"] for r in worst["counting"]] == ["p2", "p1"]  # most failed clauses first; no successes
    assert [r["prompt"] for r in worst["position"]] == ["p3"]
    grid = report.failure_grid(records, tmp_path / "grid.png", per_category=2, cell=32)
    assert grid is not None and Image.open(grid).size[0] == 64
    assert report.failure_grid(records[:1], tmp_path / "none.png") is None
