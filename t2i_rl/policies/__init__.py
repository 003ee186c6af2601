"""Backbone adapters. The trainer only sees :class:`FlowPolicy`; add a backbone with one file and one entry."""

from t2i_rl.policies.base import Conditioning, FlowPolicy
from t2i_rl.policies.flux import FluxPolicy
from t2i_rl.policies.sd3 import SD3Policy

POLICIES: dict[str, type[FlowPolicy]] = {"sd3": SD3Policy, "flux": FluxPolicy}


def load_policy(backbone: str, pretrained: str, device="cpu", dtype: str = "float32", revision=None) -> FlowPolicy:
    if backbone not in POLICIES:
        raise ValueError(f"unknown backbone {backbone!r}; available: {sorted(POLICIES)}")
    return POLICIES[backbone].from_pretrained(pretrained, device=device, dtype=dtype, revision=revision)


__all__ = ["POLICIES", "Conditioning", "FlowPolicy", "FluxPolicy", "SD3Policy", "load_policy"]
