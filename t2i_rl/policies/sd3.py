"""Stable Diffusion 3 / 3.5 policy: three text encoders, classifier-free guidance by batch concatenation."""

from __future__ import annotations

import torch
from diffusers import StableDiffusion3Pipeline

from t2i_rl.policies.base import Conditioning, FlowPolicy, LoraDefaults


class SD3Policy(FlowPolicy):
    pipeline_class = StableDiffusion3Pipeline
    # flow_grpo's SD3.5 defaults: r=32, alpha=64 on every attention projection of the joint blocks.
    lora_defaults = LoraDefaults(
        rank=32,
        alpha=64,
        target_modules=[
            "attn.add_k_proj", "attn.add_q_proj", "attn.add_v_proj", "attn.to_add_out",
            "attn.to_k", "attn.to_out.0", "attn.to_q", "attn.to_v",
        ],
    )

    @torch.no_grad()
    def encode(self, prompts: list[str], negative_prompt: str = "", max_sequence_length: int = 128) -> Conditioning:
        embeds, neg_embeds, pooled, neg_pooled = self.pipeline.encode_prompt(
            prompt=prompts,
            prompt_2=None,
            prompt_3=None,
            negative_prompt=[negative_prompt] * len(prompts),
            do_classifier_free_guidance=True,
            device=self.device,
            max_sequence_length=max_sequence_length,
        )
        return Conditioning(
            {"embeds": embeds, "pooled": pooled, "neg_embeds": neg_embeds, "neg_pooled": neg_pooled}
        )

    def initial_noise(self, batch_size: int, resolution: int, generator: torch.Generator | None) -> torch.Tensor:
        channels = self.transformer.config.in_channels
        side = resolution // self.pipeline.vae_scale_factor
        return torch.randn((batch_size, channels, side, side), generator=generator, dtype=torch.float32).to(self.device)

    def velocity(self, latents, sigma, cond, guidance_scale):
        dtype = self.transformer.dtype
        timestep = torch.as_tensor(sigma, dtype=torch.float32, device=latents.device).expand(latents.shape[0])
        timestep = timestep * self.timestep_scale()
        b = cond.batched
        if guidance_scale > 1.0:
            out = self.forward_module(
                hidden_states=torch.cat([latents, latents]).to(dtype),
                timestep=torch.cat([timestep, timestep]),
                encoder_hidden_states=torch.cat([b["neg_embeds"], b["embeds"]]),
                pooled_projections=torch.cat([b["neg_pooled"], b["pooled"]]),
                return_dict=False,
            )[0].float()
            uncond, text = out.chunk(2)
            return uncond + guidance_scale * (text - uncond)
        return self.forward_module(
            hidden_states=latents.to(dtype),
            timestep=timestep,
            encoder_hidden_states=b["embeds"],
            pooled_projections=b["pooled"],
            return_dict=False,
        )[0].float()

    def _schedule_kwargs(self, num_steps, resolution):
        config = self.pipeline.scheduler.config
        if not config.get("use_dynamic_shifting", False):
            return {}
        from diffusers.pipelines.stable_diffusion_3.pipeline_stable_diffusion_3 import calculate_shift

        side = resolution // self.pipeline.vae_scale_factor // self.transformer.config.patch_size
        mu = calculate_shift(
            side * side,
            config.get("base_image_seq_len", 256),
            config.get("max_image_seq_len", 4096),
            config.get("base_shift", 0.5),
            config.get("max_shift", 1.16),
        )
        return {"mu": mu}
