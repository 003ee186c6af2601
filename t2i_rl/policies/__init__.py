"""Backbone adapters. The trainer only sees :class:`FlowPolicy`; add a backbone with one file and one entry."""

from t2i_rl.policies.base import Conditioning, FlowPolicy
from t2i_rl.policies.flux import FluxPolicy
from t2i_rl.policies.sd3 import SD3Policy

POLICIES: dict[str, type[FlowPolicy]] = {"sd3": SD3Policy, "flux": FluxPolicy}


def load_policy(backbone: str, pretrained: str, device="cpu", dtype: str = "float32", revision=None) -> FlowPolicy:
    if backbone not in POLICIES:
        raise ValueError(f"unknown backbone {backbone!r}; available: {sorted(POLICIES)}")
    return POLICIES[backbone].from_pretrained(pretrained, device=device, dtype=dtype, revision=revision)


def prepare_for_training(policy: FlowPolicy, model_config) -> FlowPolicy:
    """Attach the configured LoRA and switch on gradient checkpointing if asked."""
    m = model_config
    policy.add_lora(m.lora_rank, m.lora_alpha, m.lora_target_modules, m.lora_init)
    if m.gradient_checkpointing:
        policy.enable_gradient_checkpointing()
    return policy


def build_policy(model_config, device="cpu") -> FlowPolicy:
    """Load ``model_config.pretrained`` and prepare it for training (what training and export both need)."""
    m = model_config
    return prepare_for_training(load_policy(m.backbone, m.pretrained, device, m.dtype, m.revision), m)


__all__ = ["POLICIES", "Conditioning", "FlowPolicy", "FluxPolicy", "SD3Policy", "build_policy", "load_policy", "prepare_for_training"]
