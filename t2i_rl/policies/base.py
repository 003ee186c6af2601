"""The policy seam: everything backbone-specific about a flow-matching text-to-image model.

A policy wraps a diffusers pipeline loaded with ``from_pretrained`` (hub id or local directory), attaches a
LoRA adapter through diffusers' peft integration and exposes the handful of operations the trainer needs:
encode prompts, draw initial noise, predict the (guided) velocity, give the sigma schedule, decode latents,
and switch to the reference model (adapter disabled). SD3 and FLUX differ only in their subclasses.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class Conditioning:
    """Encoded prompts: ``batched`` tensors have the batch as dim 0; ``shared`` ones are the same for all."""

    batched: dict[str, torch.Tensor]
    shared: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return next(iter(self.batched.values())).shape[0]

    def select(self, index: torch.Tensor | slice) -> "Conditioning":
        return Conditioning({k: v[index] for k, v in self.batched.items()}, dict(self.shared))

    @staticmethod
    def cat(parts: list["Conditioning"]) -> "Conditioning":
        keys = parts[0].batched.keys()
        return Conditioning({k: torch.cat([p.batched[k] for p in parts]) for k in keys}, dict(parts[0].shared))


def distinct_rows(
    latents: torch.Tensor, sigma: torch.Tensor | float, cond: Conditioning
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(first, inverse)`` such that row ``b`` equals row ``first[inverse[b]]`` in latents, sigma and
    conditioning; ``None`` when all rows differ."""
    batch = latents.shape[0]
    # Latents first: when they all differ (every step after the SDE step, every step without shared noise) the
    # rows differ, and the much wider conditioning (T5 embeddings) need not be compared at all.
    _, inverse = torch.unique(latents.detach().reshape(batch, -1), dim=0, return_inverse=True)
    if int(inverse.max()) + 1 == batch:
        return None
    parts = [inverse.reshape(batch, 1).float()]  # the latents' class stands in for the latents (exact below 2^24)
    sigma = torch.as_tensor(sigma)
    if sigma.ndim:
        parts.append(sigma.detach().reshape(batch, -1).float().to(latents.device))
    parts += [t.detach().reshape(batch, -1).float().to(latents.device) for t in cond.batched.values()]
    _, inverse = torch.unique(torch.cat(parts, dim=1), dim=0, return_inverse=True)
    count = int(inverse.max()) + 1
    if count == batch:
        return None
    index = torch.arange(batch, device=inverse.device)
    first = torch.full((count,), batch, device=inverse.device).scatter_reduce(0, inverse, index, "amin")
    return first, inverse


@dataclass
class LoraDefaults:
    rank: int
    alpha: float
    target_modules: list[str]


class FlowPolicy:
    """Base class; subclasses set ``pipeline_class`` and ``lora_defaults`` and implement the abstract hooks."""

    pipeline_class: type
    lora_defaults: LoraDefaults

    def __init__(self, pipeline: Any, device: torch.device | str = "cpu") -> None:
        self.pipeline = pipeline
        self.device = torch.device(device)
        pipeline.to(self.device)
        pipeline.set_progress_bar_config(disable=True)
        for module in self.frozen_modules():
            module.requires_grad_(False)
            module.eval()
        self.transformer: nn.Module = pipeline.transformer
        self.transformer.requires_grad_(False)
        # The module used for training forward passes; the trainer replaces it with accelerate's wrapper.
        self.forward_module: nn.Module = self.transformer
        self.lora_config = None

    # ----------------------------------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(
        cls, pretrained: str, device: torch.device | str = "cpu", dtype: str = "float32", revision: str | None = None
    ) -> "FlowPolicy":
        """Load the pipeline with ``from_pretrained``; a missing path or an unreachable hub id is a clear error."""
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        looks_local = pretrained.startswith((".", "/", "~")) or Path(pretrained).exists() or pretrained.count("/") != 1
        if looks_local and not Path(pretrained).expanduser().is_dir():
            raise FileNotFoundError(
                f"model.pretrained={pretrained!r} is not a directory. Give a local diffusers pipeline directory "
                f"(with model_index.json) or a hub id such as 'stabilityai/stable-diffusion-3.5-medium'."
            )
        try:
            pipeline = cls.pipeline_class.from_pretrained(
                str(Path(pretrained).expanduser()) if looks_local else pretrained,
                torch_dtype=DTYPES[dtype],
                revision=revision,
            )
        except OSError as err:
            raise FileNotFoundError(
                f"could not load a {cls.pipeline_class.__name__} from {pretrained!r}: {err}. Check the hub id, your "
                "access token and network (HF_HUB_OFFLINE), or point model.pretrained at a local copy."
            ) from err
        return cls(pipeline, device=device)

    def frozen_modules(self) -> list[nn.Module]:
        names = ("vae", "text_encoder", "text_encoder_2", "text_encoder_3")
        return [getattr(self.pipeline, n) for n in names if getattr(self.pipeline, n, None) is not None]

    # ------------------------------------------------------------------------------------------- LoRA
    def add_lora(
        self,
        rank: int | None = None,
        alpha: float | None = None,
        target_modules: list[str] | None = None,
        init: str = "gaussian",
        adapter_name: str = "default",
    ) -> None:
        """Attach a trainable LoRA adapter (diffusers' peft integration); base weights stay frozen."""
        from peft import LoraConfig

        rank = rank or self.lora_defaults.rank
        alpha = alpha or self.lora_defaults.alpha
        targets = list(target_modules or self.lora_defaults.target_modules)
        init_weights: Any = True if init == "default" else init
        self.lora_config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, init_lora_weights=init_weights)
        try:
            self.transformer.add_adapter(self.lora_config, adapter_name=adapter_name)
        except ValueError as err:
            raise ValueError(f"LoRA target modules {targets} do not match the transformer: {err}") from err
        for p in self.lora_parameters():
            p.data = p.data.float()  # LoRA weights train in fp32 even on a bf16 base

    def lora_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.transformer.named_parameters() if "lora_" in n]

    def lora_state_dict(self) -> dict[str, torch.Tensor]:
        """LoRA weights with diffusers' key names (``transformer_blocks.0.attn.to_q.lora_A.weight``)."""
        from peft.utils import get_peft_model_state_dict

        return {k: v.detach().clone() for k, v in get_peft_model_state_dict(self.transformer).items()}

    def load_lora_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        from peft.utils import set_peft_model_state_dict

        result = set_peft_model_state_dict(self.transformer, state)
        unexpected = getattr(result, "unexpected_keys", [])
        if unexpected:
            raise ValueError(f"LoRA state has keys the adapter lacks: {unexpected[:5]}")

    @contextlib.contextmanager
    def reference(self) -> Iterator[None]:
        """The reference policy: the same transformer with the adapter disabled."""
        if self.lora_config is None:
            yield
            return
        self.transformer.disable_adapters()
        try:
            yield
        finally:
            self.transformer.enable_adapters()

    def enable_gradient_checkpointing(self) -> None:
        self.transformer.enable_gradient_checkpointing()

    # -------------------------------------------------------------------------------- model interface
    @torch.no_grad()
    def encode(self, prompts: list[str], negative_prompt: str = "", max_sequence_length: int = 128) -> Conditioning:
        raise NotImplementedError

    def encode_distinct(self, prompts: list[str], negative_prompt: str = "", max_sequence_length: int = 128) -> Conditioning:
        """``encode``, once per distinct prompt: repeated prompts get bitwise-equal rows (batched encoders can differ
        in the last bits between batch positions), which ``shared_velocity`` relies on; and it is cheaper."""
        distinct = list(dict.fromkeys(prompts))
        cond = self.encode(distinct, negative_prompt, max_sequence_length)
        position = {p: i for i, p in enumerate(distinct)}
        return cond.select(torch.tensor([position[p] for p in prompts], device=self.device))

    def initial_noise(self, batch_size: int, resolution: int, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def velocity(
        self, latents: torch.Tensor, sigma: torch.Tensor, cond: Conditioning, guidance_scale: float
    ) -> torch.Tensor:
        raise NotImplementedError

    def shared_velocity(
        self, latents: torch.Tensor, sigma: torch.Tensor, cond: Conditioning, guidance_scale: float
    ) -> torch.Tensor:
        """``velocity``, evaluated once per distinct (latents, sigma, conditioning) row and shared by its copies.

        Why: a group that starts from one noise (``rollout.same_noise``) holds identical rows until its first SDE
        step, and at that step's update, so most transformer passes there are repeats. Sharing them is exact (the
        same function of the same inputs); gradients reach every copy through the index.
        """
        distinct = distinct_rows(latents, sigma, cond)
        if distinct is None:
            return self.velocity(latents, sigma, cond, guidance_scale)
        first, inverse = distinct
        sigma = torch.as_tensor(sigma)
        sigma_first = sigma[first.to(sigma.device)] if sigma.ndim else sigma
        return self.velocity(latents[first], sigma_first, cond.select(first), guidance_scale)[inverse]

    def sigmas(self, num_steps: int, resolution: int) -> torch.Tensor:
        """The ``num_steps + 1`` noise levels of a sampling run, from the pipeline's own scheduler settings."""
        scheduler = self.pipeline.scheduler
        scheduler.set_timesteps(num_steps, device="cpu", **self._schedule_kwargs(num_steps, resolution))
        return scheduler.sigmas.detach().to(torch.float32).clone()

    def _schedule_kwargs(self, num_steps: int, resolution: int) -> dict[str, Any]:
        return {}

    def timestep_scale(self) -> float:
        return float(self.pipeline.scheduler.config.num_train_timesteps)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, resolution: int) -> torch.Tensor:
        """Latents -> images ``[B, 3, H, W]`` in ``[0, 1]`` (fp32)."""
        vae = self.pipeline.vae
        latents = self._unpack(latents, resolution)
        latents = latents / vae.config.scaling_factor + (vae.config.shift_factor or 0.0)
        images = vae.decode(latents.to(vae.dtype), return_dict=False)[0]
        return (images.float() / 2 + 0.5).clamp(0, 1)

    def _unpack(self, latents: torch.Tensor, resolution: int) -> torch.Tensor:
        return latents
