"""Shared fixtures: tiny random SD3 / FLUX pipelines saved once per session and loaded with from_pretrained."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

import diffusers  # noqa: E402
import pytest  # noqa: E402
import transformers  # noqa: E402

from t2i_rl.tiny import save_tiny_pipeline, tiny_training_overrides as tiny_overrides  # noqa: E402,F401

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
