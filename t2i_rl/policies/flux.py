"""FLUX.1 policy: CLIP pooled + T5 conditioning, packed 2x2 latents, guidance embedding instead of CFG."""

from __future__ import annotations

import numpy as np
import torch
from diffusers import FluxPipeline
from diffusers.pipelines.flux.pipeline_flux import calculate_shift

from t2i_rl.policies.base import Conditioning, FlowPolicy, LoraDefaults


class FluxPolicy(FlowPolicy):
    pipeline_class = FluxPipeline
    # flow_grpo's FLUX defaults: r=64, alpha=128, attention and feed-forward layers.
    lora_defaults = LoraDefaults(
        rank=64,
        alpha=128,
        target_modules=[
            "attn.to_k", "attn.to_q", "attn.to_v", "attn.to_out.0",
            "attn.add_k_proj", "attn.add_q_proj", "attn.add_v_proj", "attn.to_add_out",
            "ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj", "ff_context.net.2",
            "proj_mlp", "proj_out",
        ],
    )

    @torch.no_grad()
    def encode(self, prompts: list[str], negative_prompt: str = "", max_sequence_length: int = 128) -> Conditioning:
        # FLUX.1-dev is guidance-distilled: no negative prompt, so `negative_prompt` is unused.
        embeds, pooled, text_ids = self.pipeline.encode_prompt(
            prompt=prompts, prompt_2=None, device=self.device, max_sequence_length=max_sequence_length
        )
        return Conditioning({"embeds": embeds, "pooled": pooled}, {"text_ids": text_ids})

    def _latent_side(self, resolution: int) -> int:
        return 2 * (resolution // (self.pipeline.vae_scale_factor * 2))

    def initial_noise(self, batch_size: int, resolution: int, generator: torch.Generator | None) -> torch.Tensor:
        channels = self.transformer.config.in_channels // 4
        side = self._latent_side(resolution)
        noise = torch.randn((batch_size, channels, side, side), generator=generator, dtype=torch.float32)
        return self.pipeline._pack_latents(noise, batch_size, channels, side, side).to(self.device)

    def velocity(self, latents, sigma, cond, guidance_scale):
        batch = latents.shape[0]
        side = int(round(latents.shape[1] ** 0.5))
        image_ids = self.pipeline._prepare_latent_image_ids(batch, side, side, latents.device, self.transformer.dtype)
        timestep = torch.as_tensor(sigma, dtype=torch.float32, device=latents.device).expand(batch)
        guidance = None
        if self.transformer.config.guidance_embeds:
            guidance = torch.full((batch,), guidance_scale, dtype=torch.float32, device=latents.device)
        return self.forward_module(
            hidden_states=latents.to(self.transformer.dtype),
            # The FLUX pipeline passes timestep / 1000 with timestep = sigma * 1000, i.e. sigma itself.
            timestep=timestep * self.timestep_scale() / 1000,
            guidance=guidance,
            pooled_projections=cond.batched["pooled"],
            encoder_hidden_states=cond.batched["embeds"],
            txt_ids=cond.shared["text_ids"],
            img_ids=image_ids,
            return_dict=False,
        )[0].float()

    def _schedule_kwargs(self, num_steps, resolution):
        config = self.pipeline.scheduler.config
        side = self._latent_side(resolution) // 2
        mu = calculate_shift(
            side * side,
            config.get("base_image_seq_len", 256),
            config.get("max_image_seq_len", 4096),
            config.get("base_shift", 0.5),
            config.get("max_shift", 1.15),
        )
        return {"sigmas": np.linspace(1.0, 1 / num_steps, num_steps), "mu": mu}

    def _unpack(self, latents, resolution):
        return self.pipeline._unpack_latents(latents, resolution, resolution, self.pipeline.vae_scale_factor)
