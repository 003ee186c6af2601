"""LoRA export that loaders really apply.

* diffusers: ``<dir>/pytorch_lora_weights.safetensors`` written by the pipeline class's ``save_lora_weights`` with
  the adapter metadata (``lora_alpha``, rank, targets) so that ``pipe.load_lora_weights(dir)`` reproduces the
  trained policy exactly. Without the metadata diffusers assumes ``alpha = r`` and silently rescales the LoRA.
* ComfyUI: ``<dir>/comfyui_lora.safetensors`` with ``lora_transformer_<module path, dots as underscores>`` keys,
  ``.lora_down.weight`` (A), ``.lora_up.weight`` (B) and a scalar ``.alpha``; ComfyUI's key map accepts this
  prefix for both MMDiT (SD3) and FLUX models and scales by ``alpha / rank``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from t2i_rl.policies.base import FlowPolicy

DIFFUSERS_FILE = "pytorch_lora_weights.safetensors"
COMFYUI_FILE = "comfyui_lora.safetensors"


def export_lora(policy: FlowPolicy, directory: str | Path, comfyui: bool = True) -> Path:
    """Write the policy's current LoRA in diffusers format (and the ComfyUI variant); returns the directory."""
    if policy.lora_config is None:
        raise ValueError("this policy has no LoRA adapter to export; call add_lora() or load a checkpoint first")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = policy.lora_state_dict()
    policy.pipeline_class.save_lora_weights(
        str(directory),
        transformer_lora_layers=state,
        transformer_lora_adapter_metadata=policy.lora_config.to_dict(),
        safe_serialization=True,
    )
    if comfyui:
        save_file(to_comfyui(state, float(policy.lora_config.lora_alpha)), str(directory / COMFYUI_FILE))
    return directory


def to_comfyui(state: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """diffusers/peft LoRA keys -> ComfyUI/OneTrainer keys with an explicit per-module alpha."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        module, kind = _split(key)
        prefix = "lora_transformer_" + module.replace(".", "_")
        out[f"{prefix}.{'lora_down' if kind == 'lora_A' else 'lora_up'}.weight"] = value.contiguous()
        out[f"{prefix}.alpha"] = torch.tensor(alpha, dtype=torch.float32)
    return out


def _split(key: str) -> tuple[str, str]:
    for kind in ("lora_A", "lora_B"):
        marker = f".{kind}."
        if marker in key:
            return key.split(marker)[0].removeprefix("transformer."), kind
    raise ValueError(f"not a LoRA key: {key}")
