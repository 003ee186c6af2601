"""Shared fixtures: tiny random SD3 / FLUX pipelines saved once per session and loaded with from_pretrained."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

import diffusers  # noqa: E402
import pytest  # noqa: E402
import transformers  # noqa: E402

from t2i_rl.tiny import save_tiny_pipeline  # noqa: E402

diffusers.utils.logging.set_verbosity_error()
transformers.utils.logging.set_verbosity_error()


@pytest.fixture(scope="session")
def tiny_sd3_dir(tmp_path_factory):
    return save_tiny_pipeline("sd3", tmp_path_factory.mktemp("tiny-sd3"))


@pytest.fixture(scope="session")
def tiny_flux_dir(tmp_path_factory):
    return save_tiny_pipeline("flux", tmp_path_factory.mktemp("tiny-flux"))


@pytest.fixture(scope="session")
def tiny_dirs(tiny_sd3_dir, tiny_flux_dir):
    return {"sd3": tiny_sd3_dir, "flux": tiny_flux_dir}


def tiny_overrides(backbone: str, model_dir, output_dir, **extra) -> list[str]:
    """A small, fast training configuration as dotted overrides; ``extra`` replaces keys (dots as __)."""
    base = {
        "output_dir": str(output_dir),
        "model.backbone": backbone,
        "model.pretrained": str(model_dir),
        "model.lora_rank": 4,
        "model.lora_alpha": 8,
        "model.max_sequence_length": 16,
        "sampling.resolution": 64,
        "sampling.train_steps": 4,
        "sampling.eval_steps": 4,
        "rollout.images_per_prompt": 4,
        "rollout.batch_size": 8,
        "rollout.batches_per_step": 1,
        "train.micro_batch_size": 4,
        "train.gradient_accumulation_steps": 1,
        "train.num_steps": 3,
        "train.learning_rate": 1e-2,
        "train.clip_range": 0.2,
        "train.beta": 0.04,
        "train.global_std": False,
        "train.ema": True,
        "checkpoint.every": 0,
        "logging.progress_bar": False,
        "data.num_eval_prompts": 2,
        "data.inline_prompts": "[a red circle,a blue square,two green triangles]",
    }
    base.update({k.replace("__", "."): v for k, v in extra.items()})
    return [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in base.items()]
