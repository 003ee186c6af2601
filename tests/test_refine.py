"""Test-time generate -> critique -> refine on the shapes model (SD3 architecture, random weights, loaded with
from_pretrained) with a scripted critic, and `t2i-rl refine` end to end against a local OpenAI-compatible server."""

import json

import pytest
import torch
from test_reward_critique import ScriptedServer, critique_text

from t2i_rl.cli import main
from t2i_rl.policies import load_policy
from t2i_rl.refine import accepted, generate_image, refine
from t2i_rl.shapes.model import RESOLUTION, build_shapes_pipeline
from t2i_rl.visualize import to_pil

GEN = {"resolution": RESOLUTION, "num_steps": 3, "guidance_scale": 4.5, "max_sequence_length": 16}


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("shapes-sd3")
    build_shapes_pipeline(seed=0, width=64, layers=1).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def policy(shapes_dir):
    return load_policy("sd3", str(shapes_dir))


def scripted_critic(texts):
    calls = []

    def critic(images, prompts):
        calls.append((images, list(prompts)))
        return [texts[min(len(calls) - 1, len(texts) - 1)]]

    critic.calls = calls
    return critic


def test_accept_rule():
    assert accepted({"faithfulness": 3.0, "quality": 3.5})
    assert not accepted({"faithfulness": 2.9, "quality": 4.0})
    assert not accepted({"faithfulness": 4.0, "quality": float("nan")})


def test_refine_rewrites_regenerates_with_the_same_seed_and_stops_when_accepted(policy, tmp_path):
    critic = scripted_critic([critique_text(2, 3, refined="a red circle on the left"), critique_text(3.5, 3)])
    summary = refine(policy, critic, "a red circle", tmp_path, seed=7, rounds=3, **GEN)
    assert summary["stop_reason"] == "accepted" and summary["final_round"] == 1 and summary["best_round"] == 1
    assert [r["prompt"] for r in summary["rounds"]] == ["a red circle", "a red circle on the left"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round_0.json", "round_0.png", "round_1.json", "round_1.png",
                                                          "summary.json"]
    assert [prompts for _, prompts in critic.calls] == [["a red circle"], ["a red circle"]]  # judged vs the original
    round_0 = json.loads((tmp_path / "round_0.json").read_text())
    assert round_0["scores"] == {"faithfulness": 2.0, "quality": 3.0, "text_rendering": None}
    assert round_0["refined_request"] == "a red circle on the left" and not round_0["accepted"]
    assert "Text Faithfulness Score: 2" in round_0["text"]
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    # round 1 is the refined prompt generated with the same seed
    again = to_pil(generate_image(policy, "a red circle on the left", 7, **GEN)[None])[0]
    assert list(again.getdata()) == list(critic.calls[1][0][0].getdata())
    assert again.size == (RESOLUTION, RESOLUTION)


def test_refine_stops_at_max_rounds_and_on_useless_critiques(policy, tmp_path):
    always_bad = scripted_critic([critique_text(1, 2, refined="a red circle, sharp"),
                                  critique_text(1.5, 2, refined="a red circle, big")])
    summary = refine(policy, always_bad, "a red circle", tmp_path / "a", seed=0, rounds=1, **GEN)
    assert summary["stop_reason"] == "max_rounds" and len(summary["rounds"]) == 2
    assert summary["best_round"] == 1  # highest critique scalar
    summary = refine(policy, scripted_critic(["I cannot tell."]), "a red circle", tmp_path / "b", rounds=3, **GEN)
    assert summary["stop_reason"] == "no_refined_request" and summary["rounds"][0]["critique"] == 0.0
    same = scripted_critic([critique_text(2, 2, refined="A red  circle")])
    summary = refine(policy, same, "a red circle", tmp_path / "c", rounds=3, **GEN)
    assert summary["stop_reason"] == "unchanged_request" and len(summary["rounds"]) == 1
    summary = refine(policy, scripted_critic([critique_text(4, 4)]), "a red circle", tmp_path / "d", rounds=0, **GEN)
    assert summary["stop_reason"] == "accepted"
    with pytest.raises(ValueError, match="rounds"):
        refine(policy, same, "a red circle", tmp_path / "e", rounds=-1, **GEN)


@pytest.mark.slow
def test_refine_cli_against_a_local_openai_compatible_server(shapes_dir, tmp_path, capsys):
    critiques = [critique_text(2, 2, refined="a blue square in the middle"), critique_text(3, 4)]
    args = ["refine", "--model", str(shapes_dir), "--prompt", "a blue square", "--rounds", "2", "--seed", "3",
            "--steps", "3", "--resolution", str(RESOLUTION), "--max-sequence-length", "16", "--critic", "openai",
            "--critic-model", "judge", "--out", str(tmp_path / "out")]
    with ScriptedServer(critiques) as server:
        assert main(args + ["--base-url", server.url]) == 0
    assert "stopped (accepted) after 2 round(s)" in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [r["prompt"] for r in summary["rounds"]] == ["a blue square", "a blue square in the middle"]
    assert all(r["body"]["model"] == "judge" for r in server.requests)

    # the server is gone now: a clear error and exit code 2, not a traceback
    assert main(args + ["--base-url", server.url, "--timeout", "1", "--retries", "0"]) == 2
    assert "is the vLLM/SGLang server running" in capsys.readouterr().err
    assert main(["refine", "--model", str(tmp_path / "missing"), "--prompt", "a cat", "--critic", "openai",
                 "--base-url", "http://127.0.0.1:9", "--out", str(tmp_path / "x")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_generate_image_is_deterministic(policy):
    a = generate_image(policy, "a red circle", 1, **GEN)
    b = generate_image(policy, "a red circle", 1, **GEN)
    assert a.shape == (3, RESOLUTION, RESOLUTION) and torch.equal(a, b)
