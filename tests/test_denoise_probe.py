"""scripts/denoise_probe.py: renders noised to a level and denoised back, on the shipped shapes model."""

import importlib.util
from pathlib import Path

import pytest
import torch

_spec = importlib.util.spec_from_file_location(
    "denoise_probe", Path(__file__).resolve().parents[1] / "scripts" / "denoise_probe.py"
)
denoise_probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(denoise_probe)


def test_start_schedule_keeps_the_later_levels_of_the_full_schedule():
    full = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0])
    assert denoise_probe.start_schedule(full, 0.6).tolist() == pytest.approx([0.6, 0.5, 0.25, 0.0])
    assert denoise_probe.start_schedule(full, 0.5).tolist() == [0.5, 0.25, 0.0]  # a level on the grid is not repeated
    assert denoise_probe.start_schedule(full, 1.0).tolist() == full.tolist()
    assert denoise_probe.start_schedule(full, 0.0).tolist() == [0.0]  # no step: the VAE round trip


def test_low_noise_keeps_the_rendered_concept_on_the_shipped_model():
    # Wrong latent scaling or a schedule that does not start at the mixed-in level would wreck these images.
    result = denoise_probe.main(["--images", "6", "--sigmas", "0", "0.2"])
    assert result["by_sigma"]["0"] == {"steps": 0, "accuracy": 1.0, "detected": {"square": 6}}
    assert 0 < result["by_sigma"]["0.2"]["steps"] < 20 and result["by_sigma"]["0.2"]["accuracy"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["--prompt", "a photo of a dog"], "not a shapes-world prompt"),
    (["--sigmas", "1.5"], "must lie in"),
    (["--model", "/nonexistent/model"], "as --model"),  # not just the usage line, which names every option
])
def test_bad_arguments_are_named(argv, message, capsys):
    with pytest.raises(SystemExit):
        denoise_probe.main(argv)
    assert message in capsys.readouterr().err
