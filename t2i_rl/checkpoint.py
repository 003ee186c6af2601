"""Checkpoints that lose nothing: written into a temporary directory, verified by a manifest, renamed at the end.

Layout of ``<output_dir>/checkpoints/step-000010/``::

    lora.safetensors      LoRA weights (diffusers key names)
    training_state.pt     optimizer, LR scheduler, EMA, aggregator state, step counters (rank 0)
    rng-<rank>.pt         python / numpy / torch (+ CUDA) RNG states of every process
    manifest.json         size and sha256 of every file above; written last

A crash at any point leaves either a ``.tmp-*`` directory (ignored) or a complete checkpoint. A checkpoint whose
files do not match their manifest (truncated, corrupt) is skipped with a warning by :func:`find_resumable`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^step-(\d{6,})$")


def checkpoint_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def staging_path(output_dir: str | Path, step: int) -> Path:
    return checkpoint_dir(output_dir) / f".tmp-step-{step:06d}"


def save_process_files(staging: Path, rank: int, lora: dict[str, torch.Tensor] | None, state: dict | None) -> None:
    """Write this process's files into ``staging`` (rank 0 also writes the LoRA and the training state)."""
    staging.mkdir(parents=True, exist_ok=True)
    torch.save(rng_state(), staging / f"rng-{rank}.pt")
    if lora is not None:
        save_file({k: v.detach().contiguous().cpu() for k, v in lora.items()}, str(staging / "lora.safetensors"))
    if state is not None:
        torch.save(state, staging / "training_state.pt")


def finalize(staging: Path, step: int, keep_last: int) -> Path:
    """Write the manifest, fsync, atomically rename ``staging`` to ``step-XXXXXX`` and prune old checkpoints."""
    files = sorted(p for p in staging.iterdir() if p.is_file() and p.name != "manifest.json")
    for file in files:  # data on disk before the manifest that vouches for it
        with open(file, "rb+") as f:
            os.fsync(f.fileno())
    manifest = {"step": step, "files": {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files}}
    _write_synced(staging / "manifest.json", json.dumps(manifest, indent=1).encode())
    final = staging.parent / f"step-{step:06d}"
    if final.exists():  # re-saving the same step (e.g. resumed at a checkpoint step): replace it safely
        shutil.rmtree(final)
    os.replace(staging, final)
    _fsync_dir(staging.parent)
    prune(staging.parent, keep_last)
    return final


def prune(directory: Path, keep_last: int) -> None:
    if keep_last <= 0:
        return
    for old in list_checkpoints(directory)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


def list_checkpoints(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and _NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))


def verify(path: Path) -> str | None:
    """``None`` if the checkpoint is complete and intact, else the reason it is not."""
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        return "no manifest.json (the write did not finish)"
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        return f"manifest.json is corrupt ({err})"
    for name, meta in manifest["files"].items():
        file = path / name
        if not file.is_file():
            return f"{name} is missing"
        if file.stat().st_size != meta["bytes"]:
            return f"{name} has {file.stat().st_size} bytes, manifest says {meta['bytes']} (truncated?)"
        if _sha256(file) != meta["sha256"]:
            return f"{name} does not match its sha256 (corrupt)"
    return None


def find_resumable(output_dir: str | Path) -> Path | None:
    """The newest intact checkpoint; damaged newer ones are skipped with a warning."""
    for path in reversed(list_checkpoints(checkpoint_dir(output_dir))):
        problem = verify(path)
        if problem is None:
            return path
        logger.warning("skipping checkpoint %s: %s", path, problem)
    return None


def resolve_resume(resume: str | None, output_dir: str | Path) -> Path | None:
    """``None`` | ``"auto"`` (newest intact, or a fresh start if none) | an explicit checkpoint path (must be intact)."""
    if resume is None:
        return None
    if resume == "auto":
        return find_resumable(output_dir)
    path = Path(resume)
    problem = verify(path) if path.is_dir() else "not a directory"
    if problem:
        raise FileNotFoundError(f"cannot resume from {path}: {problem}. Use checkpoint.resume=auto to pick the newest intact one.")
    return path


def load_checkpoint(path: Path, rank: int) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any] | None]:
    """Returns (LoRA weights, training state, this rank's RNG state or None if it was saved by fewer processes)."""
    lora = load_file(str(path / "lora.safetensors"))
    state = torch.load(path / "training_state.pt", map_location="cpu", weights_only=False)
    rng_path = path / f"rng-{rank}.pt"
    rng = torch.load(rng_path, weights_only=False) if rng_path.exists() else None
    return lora, state, rng


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
