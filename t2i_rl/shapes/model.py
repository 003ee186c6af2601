"""The tiny SD3-architecture model of the shapes world: its architecture, and held-out evaluation.

Same component classes as Stable Diffusion 3 (``SD3Transformer2DModel``, ``AutoencoderKL`` with 16 latent channels,
two CLIP text encoders with projection, a T5 encoder, ``FlowMatchEulerDiscreteScheduler``), so the saved directory
loads with ``StableDiffusion3Pipeline.from_pretrained`` and trains through exactly the SD3 policy code. The VAE
downsamples 4x (three blocks) instead of 8x so that a 64 px image gives a 16x16 latent (the shipped model;
:func:`build_shapes_pipeline` also builds fewer latent channels or 8x downsampling).
``scripts/pretrain_shapes.py`` trains it from a seed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import torch
import torch.nn.functional as F

RESOLUTION = 64


#: Text lengths of the shapes model: prompts have at most 10 words.
CLIP_MAX_LENGTH = 24
T5_MAX_LENGTH = 16


def shapes_words() -> list[str]:
    from t2i_rl.shapes.prompts import all_prompts

    return sorted({w for m in all_prompts() for w in m["prompt"].split()})


def word_clip_tokenizer(words: list[str], max_length: int = CLIP_MAX_LENGTH):
    """Byte-level CLIP BPE whose merges build each vocabulary word, so a shapes prompt is about one token a word
    (the text sequence, not the image, dominated the cost of a training step with a merge-free tokenizer)."""
    from transformers import CLIPTokenizer

    from t2i_rl.tiny import bytes_to_unicode

    chars = bytes_to_unicode()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars + [c + "</w>" for c in chars]:
        vocab[c] = len(vocab)
    merges: list[tuple[str, str]] = []
    for word in words:
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        current = parts[0]
        for nxt in parts[1:]:
            if (current, nxt) not in merges:
                merges.append((current, nxt))
            current += nxt
            vocab.setdefault(current, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)


def word_t5_tokenizer(words: list[str], max_length: int = T5_MAX_LENGTH):
    """A unigram T5 tokenizer with one piece per vocabulary word (characters remain as a fallback)."""
    import string

    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [("▁" + w, -1.0) for w in words]
    for ch in string.ascii_letters + string.digits + string.punctuation:
        pieces += [("▁" + ch, -8.0), (ch, -9.0)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)


def build_shapes_pipeline(seed: int = 0, width: int = 128, layers: int = 4, patch_size: int = 2,
                          latent_channels: int = 16, vae_downsample: int = 4):
    """A fresh, randomly initialised shapes pipeline (before pretraining).

    ``patch_size`` 2 gives 8x8 image tokens from the 16x16 latent (SD3's choice); 1 gives 16x16 tokens (finer
    shape edges, about 4x the transformer cost). ``latent_channels`` and ``vae_downsample`` (4 or 8) set the latent's
    size, i.e. the Gaussian actions of a flow-GRPO step; an 8x8x4 latent was meant to cut the gradient noise per
    image and raised it instead (docs/shapes_world.md, "A smaller latent")."""
    blocks = {4: 3, 8: 4}.get(vae_downsample)  # each DownEncoderBlock2D but the last halves the side
    if blocks is None:
        raise ValueError(f"vae_downsample {vae_downsample}: the shapes VAE downsamples 4x or 8x")
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel

    from t2i_rl.tiny import CLIP_CONFIG, T5_CONFIG

    words = shapes_words()
    clip_tokenizers = [word_clip_tokenizer(words), word_clip_tokenizer(words)]
    t5_tokenizer = word_t5_tokenizer(words)
    clip_config = {**CLIP_CONFIG, "vocab_size": len(clip_tokenizers[0])}
    t5_config = {**T5_CONFIG, "vocab_size": len(t5_tokenizer)}
    torch.manual_seed(seed)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=latent_channels,
        down_block_types=["DownEncoderBlock2D"] * blocks, up_block_types=["UpDecoderBlock2D"] * blocks,
        block_out_channels=[16, 32, 32, 64][:blocks], layers_per_block=1, mid_block_add_attention=False, norm_num_groups=8, sample_size=RESOLUTION, use_quant_conv=False, use_post_quant_conv=False,
        scaling_factor=1.0, shift_factor=0.0,
    )
    heads = width // 32
    transformer = SD3Transformer2DModel(
        sample_size=RESOLUTION // vae_downsample, patch_size=patch_size, in_channels=latent_channels,
        out_channels=latent_channels, num_layers=layers,
        attention_head_dim=32, num_attention_heads=heads, joint_attention_dim=T5_CONFIG["d_model"],
        caption_projection_dim=width, pooled_projection_dim=2 * CLIP_CONFIG["projection_dim"], pos_embed_max_size=16,
    )
    return StableDiffusion3Pipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0),
        text_encoder=CLIPTextModelWithProjection(CLIPTextConfig(**clip_config)), tokenizer=clip_tokenizers[0],
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**clip_config)), tokenizer_2=clip_tokenizers[1],
        text_encoder_3=T5EncoderModel(T5Config(**t5_config)), tokenizer_3=t5_tokenizer,
    )


def evaluation_jobs(
    metadata: Sequence[dict[str, Any]], seeds: Sequence[int], min_images_per_tag: int = 0
) -> list[tuple[dict[str, Any], int]]:
    """The (prompt, seed) pairs of an evaluation, seed-major: ``jobs[:len(metadata)]`` is every prompt's first seed.

    Every prompt gets ``seeds``; a tag with few prompts gets more seeds per prompt (``seeds[-1] + 1``, ...) until it
    has ``min_images_per_tag`` images, so that a tag with one held-out prompt is not measured in steps of 1/4.
    """
    per_tag = Counter(m["tag"] for m in metadata)
    counts = [max(len(seeds), -(-min_images_per_tag // per_tag[m["tag"]])) for m in metadata]
    all_seeds = list(seeds) + [seeds[-1] + 1 + i for i in range(max(counts, default=0) - len(seeds))]
    return [(m, all_seeds[r]) for r in range(max(counts, default=0)) for m, n in zip(metadata, counts) if r < n]


@torch.no_grad()
def heldout_accuracy(
    policy, metadata: Sequence[dict[str, Any]], seeds: Sequence[int], num_steps: int = 20, guidance_scale: float = 4.5,
    batch_size: int = 64, max_sequence_length: int = T5_MAX_LENGTH, min_images_per_tag: int = 0,
) -> tuple[dict[str, float], torch.Tensor, list[bool]]:
    """Strict GenEval accuracy per tag (and "overall" = mean of tags) of ODE samples of ``evaluation_jobs``.

    Returns (accuracy, images ``[N, 3, H, W]`` in job order, so ``images[:len(metadata)]`` shows each prompt once,
    per-image correctness).
    """
    from t2i_rl.rollout import generate
    from t2i_rl.shapes.scoring import evaluate_images, summarize_accuracy

    jobs = evaluation_jobs(metadata, seeds, min_images_per_tag)
    images = []
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        images.append(generate(policy, [m["prompt"] for m, _ in chunk], RESOLUTION, num_steps, guidance_scale,
                               [s for _, s in chunk], max_sequence_length=max_sequence_length))
    images = torch.cat(images)
    correct = [e.correct for e in evaluate_images(images, [m for m, _ in jobs])]
    return summarize_accuracy([m["tag"] for m, _ in jobs], correct), images, correct


def accuracy_table(rows: dict[str, dict[str, float]]) -> str:
    """Markdown table: one row per model/run name, one column per tag."""
    tags = list(next(iter(rows.values())))
    lines = ["| | " + " | ".join(tags) + " |", "|---|" + "---|" * len(tags)]
    lines += [f"| {name} | " + " | ".join(f"{acc.get(t, float('nan')):.3f}" for t in tags) + " |" for name, acc in rows.items()]
    return "\n".join(lines)


def flow_matching_step(pipe, opt, params, x0: torch.Tensor, texts: list[str], sigma_mean: float,
                       gen: torch.Generator) -> float:
    """One optimiser step of SD3's rectified-flow loss on latents ``x0`` captioned ``texts``; returns the loss."""
    device = x0.device
    embeds, _, pooled, _ = pipe.encode_prompt(texts, None, None, do_classifier_free_guidance=False,
                                              max_sequence_length=T5_MAX_LENGTH, device=device)
    # logit-normal(sigma_mean, 1) noise levels; a positive mean trains the high-noise steps, where these models decide
    # which shape to draw (scripts/denoise_probe.py); a negative one the low-noise steps, where edges form
    sigma = torch.sigmoid(sigma_mean + torch.randn(len(x0), generator=gen)).view(-1, 1, 1, 1).to(device)
    noise = torch.randn(x0.shape, generator=gen).to(device)
    x_t = (1 - sigma) * x0 + sigma * noise
    v = pipe.transformer(hidden_states=x_t, timestep=sigma.flatten() * 1000, encoder_hidden_states=embeds,
                         pooled_projections=pooled, return_dict=False)[0]
    loss = F.mse_loss(v, noise - x0)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    return loss.item()
