"""Benchmark one flow-GRPO training step: rollout images/s, seconds per step, the sampling / reward / training
split, and peak memory.

    python scripts/bench_train_step.py                      # tiny SD3 on CPU (64 px)
    python scripts/bench_train_step.py --arch sd35m         # SD3.5-Medium architecture, random weights, 512 px (GPU)

The SD3.5-M run builds the real transformer (2.5 B parameters, 24 layers, dual attention in the first 13), VAE and
the three text encoders (CLIP-L, CLIP-G, T5-XXL) from their published configs with random weights directly on the
device; only the tokenizers are the small offline ones, which changes nothing in the timed work.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import diffusers
import torch
import transformers

from t2i_rl.config import load_config
from t2i_rl.policies.sd3 import SD3Policy
from t2i_rl.tiny import tiny_clip_tokenizer, tiny_sd3_pipeline, tiny_t5_tokenizer
from t2i_rl.trainer import Trainer

SD35M_TRANSFORMER = dict(
    sample_size=128, patch_size=2, in_channels=16, out_channels=16, num_layers=24, attention_head_dim=64,
    num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536, pooled_projection_dim=2048,
    pos_embed_max_size=384, dual_attention_layers=tuple(range(13)), qk_norm="rms_norm",
)
SD3_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=16, down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[128, 256, 512, 512], layers_per_block=2,
    norm_num_groups=32, sample_size=1024, scaling_factor=1.5305, shift_factor=0.0609, use_quant_conv=False,
    use_post_quant_conv=False,
)


def sd35m_pipeline(device: str, dtype: torch.dtype):
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel

    clip_l = CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                            projection_dim=768, hidden_act="quick_gelu", bos_token_id=0, eos_token_id=1, pad_token_id=1)
    clip_g = CLIPTextConfig(hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32,
                            projection_dim=1280, hidden_act="gelu", bos_token_id=0, eos_token_id=1, pad_token_id=1)
    t5 = T5Config(d_model=4096, d_ff=10240, d_kv=64, num_heads=64, num_layers=24, vocab_size=32128,
                  feed_forward_proj="gated-gelu", dropout_rate=0.0, pad_token_id=0, eos_token_id=1)
    with torch.device(device):
        parts = dict(
            transformer=SD3Transformer2DModel(**SD35M_TRANSFORMER), vae=AutoencoderKL(**SD3_VAE),
            text_encoder=CLIPTextModelWithProjection(clip_l), text_encoder_2=CLIPTextModelWithProjection(clip_g),
            text_encoder_3=T5EncoderModel(t5),
        )
    for module in parts.values():
        module.to(dtype).eval()
    return StableDiffusion3Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), tokenizer=tiny_clip_tokenizer(),
        tokenizer_2=tiny_clip_tokenizer(), tokenizer_3=tiny_t5_tokenizer(128), **parts,
    )


def peak_memory_gb(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB -> GiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=["tiny", "sd35m"], default="tiny")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (after one warm-up step)")
    parser.add_argument("--batch-size", type=int, default=None, help="images per sampling batch")
    parser.add_argument("--output-dir", default="runs/bench")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    if args.arch == "tiny":
        pipeline, resolution, batch, micro, extra = tiny_sd3_pipeline(), 64, args.batch_size or 16, 8, []
        extra = ["model.lora_rank=4", "model.lora_alpha=8", "model.max_sequence_length=16", "sampling.train_steps=10"]
    else:
        if device != "cuda":
            raise SystemExit("--arch sd35m needs a GPU")
        pipeline = sd35m_pipeline(device, torch.bfloat16)
        resolution, batch, micro = 512, args.batch_size or 8, 4
        extra = ["train.mixed_precision=bf16", "model.gradient_checkpointing=true", "model.max_sequence_length=128"]
    config = load_config(None, [
        f"output_dir={args.output_dir}", f"sampling.resolution={resolution}", "rollout.images_per_prompt=4",
        f"rollout.batch_size={batch}", "rollout.batches_per_step=1", f"train.micro_batch_size={micro}",
        "train.gradient_accumulation_steps=1", f"train.num_steps={args.steps + 1}", "checkpoint.every=0",
        "logging.progress_bar=false", "data.inline_prompts=[a red cube on a blue sphere,three yellow cats,a green "
        "bicycle left of a black car,a photo of an orange clock]", *extra,
    ])
    trainer = Trainer(config, policy=SD3Policy(pipeline, device=device))
    params = sum(p.numel() for p in trainer.policy.transformer.parameters())
    lora = sum(p.numel() for p in trainer.policy.lora_parameters())
    trainer.train_step(0)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rows = []
    for step in range(1, args.steps + 1):
        start = time.perf_counter()
        metrics = trainer.train_step(step)
        if device == "cuda":
            torch.cuda.synchronize()
        rows.append({**metrics, "time/step_s": time.perf_counter() - start})
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("time/rollout_s", "time/reward_s", "time/train_s", "time/step_s")}
    images = batch * config.rollout.batches_per_step
    figures = {
        "arch": args.arch,
        "device": torch.cuda.get_device_name() if device == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "resolution": resolution,
        "images_per_step": images,
        "train_denoising_steps": config.sampling.train_steps,
        "trained_timesteps_per_image": max(1, int(config.sampling.train_steps * config.train.timestep_fraction)),
        "transformer_params_M": round(params / 1e6, 2),
        "lora_params_M": round(lora / 1e6, 3),
        "rollout_images_per_s": round(images / mean["time/rollout_s"], 2),
        "seconds_per_step": round(mean["time/step_s"], 3),
        "split_rollout_reward_train_s": [round(mean[k], 3) for k in ("time/rollout_s", "time/reward_s", "time/train_s")],
        "peak_memory_GiB": round(peak_memory_gb(device), 2),
    }
    print(json.dumps(figures, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
