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

from concept_parsers.evaluation import default_data_dir  # noqa: E402

#: ../shared/benchmark_data (GenEval, T2I-CompBench); tests that read it skip where it is absent.
BENCHMARK_DATA = default_data_dir()
needs_benchmark_data = pytest.mark.skipif(
    not BENCHMARK_DATA.is_dir(), reason=f"benchmark data not found at {BENCHMARK_DATA} (../shared)"
)

# Property tests are derandomized by default so CI is reproducible; HYPOTHESIS_PROFILE=explore searches afresh.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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
