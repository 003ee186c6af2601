"""scripts/supervised_reference.py: the demo's LoRA fine-tuned on correct renders, a reference point for RL."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

_spec = importlib.util.spec_from_file_location(
    "supervised_reference", Path(__file__).resolve().parents[1] / "scripts" / "supervised_reference.py"
)
supervised_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(supervised_reference)


def test_trains_on_correct_renders_of_the_named_prompts_and_exports_a_lora_that_applies(tmp_path, monkeypatch):
    import t2i_rl.shapes.model as shapes_model
    from t2i_rl import SHIPPED_SHAPES_MODEL
    from t2i_rl.policies import SD3Policy
    from t2i_rl.shapes.prompts import metadata_for_prompt
    from t2i_rl.shapes.scoring import evaluate_images
    from t2i_rl.shapes_demo import load_tuned

    seen = []
    original = shapes_model.flow_matching_step

    def recording_step(pipe, opt, params, x0, texts, sigma_mean, gen):
        seen.append((pipe, x0.clone(), list(texts)))
        return original(pipe, opt, params, x0, texts, sigma_mean, gen)

    monkeypatch.setattr(shapes_model, "flow_matching_step", recording_step)
    prompts = ["three squares", "a red circle and a yellow square"]
    log = supervised_reference.main(["--out", str(tmp_path / "sft"), "--prompts", *prompts, "--steps", "25", "--batch", "8"])
    assert log["prompts"] == 2 and log["images"] == 200 and len(log["loss_by_tenth"]) == 10
    assert json.loads((tmp_path / "sft" / "sft_log.json").read_text()) == log

    # The batches are the VAE latents of correct renders, scaled as the transformer expects, with their captions.
    pipe = seen[0][0]
    x0 = torch.cat([x for _, x, _ in seen[:4]])
    texts = [t for _, _, batch in seen[:4] for t in batch]
    assert set(texts) == {"a photo of three squares", "a photo of a red circle and a yellow square"}
    assert abs(x0.mean().item()) < 0.5 and 0.5 < x0.std().item() < 2  # shift and scaling applied
    with torch.no_grad():
        decoded = pipe.vae.decode(x0 / pipe.vae.config.scaling_factor + pipe.vae.config.shift_factor).sample
    verdicts = evaluate_images(((decoded + 1) / 2).clamp(0, 1), [metadata_for_prompt(t) for t in texts])
    assert sum(v.correct for v in verdicts) >= 0.9 * len(texts)

    state = load_file(tmp_path / "sft" / "pytorch_lora_weights.safetensors")
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in state.items())  # B starts at 0: it moved
    base, tuned = SD3Policy.from_pretrained(str(SHIPPED_SHAPES_MODEL)), load_tuned(SHIPPED_SHAPES_MODEL, tmp_path / "sft")
    cond = base.encode(["a photo of three squares"], max_sequence_length=16)
    noise = base.initial_noise(1, 64, torch.Generator().manual_seed(0))
    with torch.no_grad():
        v_base, v_tuned = base.velocity(noise, 1.0, cond, 3.0), tuned.velocity(noise, 1.0, cond, 3.0)
    assert (v_base - v_tuned).abs().max() > 1e-4  # load_lora_weights applies what was trained


@pytest.mark.parametrize("argv, message", [
    (["--prompts", "a photo of a dog"], "not a shapes-world prompt"),
    (["--model", "/nonexistent/model"], "as --model"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--batch", "0"], "--batch must be >= 1"),
    (["--learning-rate", "0"], "--learning-rate must be > 0"),
    (["--size-range", "0.3"], "--size-range must be two fractions"),
])
def test_bad_arguments_are_named(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        supervised_reference.main(["--out", str(tmp_path / "x"), *argv])
    assert message in capsys.readouterr().err
