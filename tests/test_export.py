"""Exported LoRAs load in diffusers, change the images and reproduce the trained policy; ComfyUI keys are right."""

import re

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from t2i_rl.export import COMFYUI_FILE, DIFFUSERS_FILE, export_lora
from t2i_rl.policies import load_policy
from t2i_rl.rollout import generate

PROMPTS = ["a red circle", "two blue squares"]


def _images(policy):
    return generate(policy, PROMPTS, 64, 4, 4.5, [0, 1], max_sequence_length=16)


@pytest.fixture(params=["sd3", "flux"])
def trained(request, tiny_dirs):
    """A policy whose LoRA has moved (alpha != rank, so a lost alpha would show)."""
    policy = load_policy(request.param, str(tiny_dirs[request.param]))
    policy.add_lora(rank=4, alpha=16)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in policy.lora_parameters():
            p.add_(0.2 * torch.randn_like(p))
    return request.param, policy


def test_exported_lora_loads_in_diffusers_and_reproduces_the_policy(trained, tiny_dirs, tmp_path):
    backbone, policy = trained
    out = export_lora(policy, tmp_path / "lora")
    expected = _images(policy)
    with safe_open(str(out / DIFFUSERS_FILE), "pt") as f:
        assert f.metadata() and "lora_alpha" in str(f.metadata())  # alpha survives the round trip

    fresh = load_policy(backbone, str(tiny_dirs[backbone]))
    base = _images(fresh)
    fresh.pipeline.load_lora_weights(str(out), adapter_name="grpo")  # the user's call
    loaded = _images(fresh)
    assert (loaded - base).abs().max() > 1e-3  # the LoRA changes the images
    torch.testing.assert_close(loaded, expected, rtol=0, atol=1e-5)  # and reproduces the trained policy
    pipe_images = fresh.pipeline(PROMPTS, num_inference_steps=4, guidance_scale=4.5, height=64, width=64,
                                 max_sequence_length=16, output_type="pt",
                                 latents=torch.cat([fresh.initial_noise(1, 64, torch.Generator().manual_seed(s)) for s in (0, 1)])).images
    torch.testing.assert_close(pipe_images, expected, rtol=0, atol=1e-5)


def test_comfyui_variant_reconstructs_the_same_weight_deltas(trained, tmp_path):
    _, policy = trained
    out = export_lora(policy, tmp_path / "lora")
    comfy = load_file(str(out / COMFYUI_FILE))
    peft_state = policy.lora_state_dict()
    modules = {k.split(".lora_A.")[0] for k in peft_state if ".lora_A." in k}
    pattern = re.compile(r"^lora_transformer_[A-Za-z0-9_]+\.(lora_down\.weight|lora_up\.weight|alpha)$")
    assert all(pattern.match(k) for k in comfy) and len(comfy) == 3 * len(modules)
    for module in modules:
        key = "lora_transformer_" + module.replace(".", "_")
        down, up, alpha = comfy[f"{key}.lora_down.weight"], comfy[f"{key}.lora_up.weight"], comfy[f"{key}.alpha"]
        comfy_delta = (alpha.item() / down.shape[0]) * up @ down  # ComfyUI's rule: alpha / rank * up @ down
        peft_delta = policy.lora_config.lora_alpha / policy.lora_config.r * (
            peft_state[f"{module}.lora_B.weight"] @ peft_state[f"{module}.lora_A.weight"]
        )
        torch.testing.assert_close(comfy_delta, peft_delta)


def test_exporting_without_a_lora_is_an_error(tiny_dirs, tmp_path):
    with pytest.raises(ValueError, match="no LoRA"):
        export_lora(load_policy("sd3", str(tiny_dirs["sd3"])), tmp_path)
