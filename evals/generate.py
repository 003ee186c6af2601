"""Benchmark image generation in GenEval's folder layout (Ghosh et al., 2023, ``generation/diffusers_generate.py``)::

    <out>/<index:05d>/metadata.jsonl       the prompt's GenEval record (one JSON object)
    <out>/<index:05d>/samples/<i:04d>.png  image i of the prompt
    <out>/generation.json                  this toolkit's sampling settings (ignored by GenEval's scorer)

so GenEval's own ``evaluation/evaluate_images.py`` can score the same folder. Image ``i`` of prompt ``index``
uses the fixed seed ``seed + index * images_per_prompt + i`` (deterministic ODE sampling through
:func:`t2i_rl.rollout.generate`), so a run is reproducible and **resumable**: images already on disk are
skipped, and a PNG is written to a temporary name and renamed, so an interrupted run never leaves a partial
file. Resuming with different sampling settings is an error (the folder would mix two models or settings).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

#: Sampling settings of GenEval numbers in the Flow-GRPO paper (Liu et al., 2025) for SD3.5-M.
PAPER_SETTINGS = {"images_per_prompt": 4, "resolution": 512, "num_steps": 40, "guidance_scale": 4.5}
#: The shapes world's model resolution and T5 length (:mod:`t2i_rl.shapes.model`).
SHAPES_RESOLUTION, SHAPES_MAX_SEQUENCE_LENGTH = 64, 16
SETTINGS_FILE = "generation.json"

Metadata = dict[str, Any]
#: ``(prompts, seeds) -> images [B, 3, H, W] in [0, 1]``.
Sampler = Callable[[list[str], list[int]], torch.Tensor]


# ------------------------------------------------------------------------------------------------ prompts
def geneval_metadata_path() -> Path:
    """Where GenEval's ``evaluation_metadata.jsonl`` lives (``../shared/benchmark_data/geneval``, not committed)."""
    from concept_parsers.evaluation import default_data_dir

    return default_data_dir() / "geneval" / "evaluation_metadata.jsonl"


def load_prompts(spec: str | Path) -> list[Metadata]:
    """Prompt records from ``"geneval"`` (GenEval's 553 prompts), ``"shapes"`` (the shapes world's held-out
    prompts, GenEval schema) or a file: ``.jsonl`` with one GenEval record (at least ``"prompt"``) per line, or
    text with one prompt per line (records ``{"prompt": p}``, which only generation can use)."""
    spec = str(spec)
    if spec == "shapes":
        from t2i_rl.shapes.prompts import heldout_prompts

        return heldout_prompts()
    path = geneval_metadata_path() if spec == "geneval" else Path(spec).expanduser()
    if not path.is_file():
        hint = " (GenEval's evaluation_metadata.jsonl is not in ../shared/benchmark_data; pass its path)" if spec == "geneval" else ""
        raise FileNotFoundError(f"prompt file {str(path)!r} does not exist{hint}")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"prompt file {str(path)!r} is empty")
    records = []
    for n, line in enumerate(lines, 1):
        if path.suffix == ".jsonl" or line.lstrip().startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not JSON ({err})") from err
            if not isinstance(record, dict) or not isinstance(record.get("prompt"), str) or not record["prompt"].strip():
                raise ValueError(f"{path}:{n}: a record needs a non-empty 'prompt' string")
        else:
            record = {"prompt": line.strip()}
        records.append(record)
    return records


# ------------------------------------------------------------------------------------------------ layout
def prompt_dir(out: str | Path, index: int) -> Path:
    return Path(out) / f"{index:05d}"


def sample_path(out: str | Path, index: int, i: int) -> Path:
    return prompt_dir(out, index) / "samples" / f"{i:04d}.png"


def image_seed(seed: int, index: int, i: int, images_per_prompt: int) -> int:
    """The fixed seed of image ``i`` of prompt ``index``."""
    return seed + index * images_per_prompt + i


def write_layout(out: str | Path, metadata: Sequence[Metadata]) -> None:
    """Create the prompt folders and their ``metadata.jsonl`` (unchanged files are not rewritten)."""
    for index, record in enumerate(metadata):
        path = prompt_dir(out, index) / "metadata.jsonl"
        (path.parent / "samples").mkdir(parents=True, exist_ok=True)
        text = json.dumps(record) + "\n"
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)


def check_settings(out: str | Path, settings: dict[str, Any]) -> None:
    """Write ``generation.json``, or check that a resumed folder was made with the same settings."""
    path = Path(out) / SETTINGS_FILE
    if path.is_file():
        old = json.loads(path.read_text())
        diff = {k: (old.get(k), v) for k, v in settings.items() if old.get(k) != v}
        if diff:
            raise ValueError(f"{path} was written with other settings {diff} (old, new); use a new --out folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=1) + "\n")


def save_png(image: torch.Tensor, path: Path) -> None:
    """Save ``[3, H, W]`` in ``[0, 1]`` atomically (temporary name, then rename)."""
    from t2i_rl.visualize import to_pil

    tmp = path.parent.parent / f".{path.name}.tmp"  # outside samples/, which GenEval's scorer lists
    to_pil(image[None])[0].save(tmp, format="PNG")
    os.replace(tmp, path)


def generate_folder(
    sampler: Sampler,
    metadata: Sequence[Metadata],
    out: str | Path,
    images_per_prompt: int = 4,
    seed: int = 0,
    batch_size: int = 8,
    settings: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, int]:
    """Generate the missing images of ``metadata`` into ``out`` (GenEval layout), ``batch_size`` at a time.

    Returns ``{"generated": n, "skipped": m, "total": n + m}``."""
    from tqdm.auto import tqdm

    if not metadata:
        raise ValueError("no prompts to generate")
    if images_per_prompt < 1 or batch_size < 1:
        raise ValueError(f"images_per_prompt and batch_size must be >= 1, got {images_per_prompt}, {batch_size}")
    check_settings(out, {**(settings or {}), "images_per_prompt": images_per_prompt, "seed": seed,
                         "num_prompts": len(metadata)})
    write_layout(out, metadata)
    jobs = [(index, i) for index in range(len(metadata)) for i in range(images_per_prompt)]
    todo = [(index, i) for index, i in jobs if not sample_path(out, index, i).is_file()]
    with tqdm(total=len(todo), desc="generate", unit="img", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            prompts = [metadata[index]["prompt"] for index, _ in chunk]
            seeds = [image_seed(seed, index, i, images_per_prompt) for index, i in chunk]
            images = sampler(prompts, seeds)
            if images.shape[0] != len(chunk):
                raise ValueError(f"the sampler returned {images.shape[0]} images for {len(chunk)} prompts")
            for (index, i), image in zip(chunk, images):
                save_png(image, sample_path(out, index, i))
            bar.update(len(chunk))
    return {"generated": len(todo), "skipped": len(jobs) - len(todo), "total": len(jobs)}


# ------------------------------------------------------------------------------------------------ models
def load_sampler(
    model: str, backbone: str = "sd3", lora: str | None = None, device: str | None = None, dtype: str = "float32",
    resolution: int = 512, num_steps: int = 40, guidance_scale: float = 4.5, max_sequence_length: int = 128,
) -> Sampler:
    """A :data:`Sampler` over any pipeline the toolkit loads (:func:`t2i_rl.policies.load_policy`), with an
    exported diffusers LoRA (``pytorch_lora_weights.safetensors``) loaded on top when ``lora`` is given."""
    from t2i_rl.policies import load_policy
    from t2i_rl.rollout import generate

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if lora is not None and not Path(lora).expanduser().exists():
        raise FileNotFoundError(f"LoRA directory {lora!r} does not exist")
    policy = load_policy(backbone, model, device, dtype)
    if lora:
        policy.pipeline.load_lora_weights(str(Path(lora).expanduser()), adapter_name="t2i_rl")

    def sample(prompts: list[str], seeds: list[int]) -> torch.Tensor:
        return generate(policy, prompts, resolution, num_steps, guidance_scale, seeds,
                        max_sequence_length=max_sequence_length).float().cpu()

    return sample
