"""Pretrain the shipped tiny SD3-architecture shapes model from a seed, on 2 CPU cores.

    python scripts/pretrain_shapes.py --out t2i_rl/assets/shapes-sd3 --seed 0 --minutes 76 \\
        --sigma-mean 0 --sigma-mean-end 1.5 --size-range 0.24,0.38 --eval-seeds 4 --eval-guidance 3

(the shipped model: 84 minutes on 2 cores; docs/shapes_world.md).

Stage 1 trains the VAE as an autoencoder of rendered training-split images and sets its scaling/shift factors from
the latent statistics (as SD3's). Stage 2 trains the transformer and the T5 encoder with the rectified-flow loss
(logit-normal sigmas, SD3's recipe; 10 % empty prompts for classifier-free guidance) on renders of the *training*
prompts only, for a wall-clock budget. Stage 3 measures strict accuracy per tag on the training and held-out prompts
and writes everything (losses, timings, accuracies) to ``<out>/pretrain_log.json``.

``--init DIR`` continues an existing shapes model instead (a second stage of pretraining with a fresh optimiser
and its own warm-up and cosine): its VAE and latent scaling are kept, stage 1 is skipped, the architecture comes from
DIR, and DIR's log is kept under ``"init"`` in the new log, so the new model's provenance is complete:

    python scripts/pretrain_shapes.py --init t2i_rl/assets/shapes-sd3 --out runs/shapes-cont --lr 3e-4 --minutes 55

``--caption-noise P`` pairs a fraction P of the renders with a caption that misses one concept
(``t2i_rl/shapes/captions.py``), for a base model with a real model's headroom; the one measured in
docs/shapes_world.md ("Caption noise", 14 minutes):

    python scripts/pretrain_shapes.py --init t2i_rl/assets/shapes-sd3 --out runs/shapes-n75 --caption-noise 0.75 \\
        --lr 3e-4 --steps 2200 --minutes 14 --sigma-mean 1.0 --size-range 0.24,0.38 --eval-seeds 4 --eval-guidance 3

``--caption-noise-tags colors,counting`` limits the noise to the prompts of those GenEval tags.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path

import diffusers
import torch
import torch.nn.functional as F
import transformers
from diffusers import StableDiffusion3Pipeline
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from t2i_rl.policies.sd3 import SD3Policy
from t2i_rl.shapes.captions import noisy_captions
from t2i_rl.shapes.model import accuracy_table, build_shapes_pipeline, flow_matching_step, heldout_accuracy
from t2i_rl.shapes.prompts import heldout_prompts, train_prompts
from t2i_rl.shapes.render import render_batch
from t2i_rl.shapes.world import TAGS
from t2i_rl.shapes_demo import EVAL_MIN_IMAGES_PER_TAG, missing_shapes_model


def train_vae(vae, metas, steps: int, batch: int, seed: int, log: dict, size_range: tuple[float, float]) -> None:
    gen = torch.Generator().manual_seed(seed)
    device = next(vae.parameters()).device
    opt = torch.optim.AdamW(vae.parameters(), lr=2e-3, weight_decay=0.0)
    vae.train()
    losses = []
    for step in tqdm(range(steps), desc="stage 1: VAE"):
        idx = torch.randint(len(metas), (batch,), generator=gen).tolist()
        images = render_batch([metas[i] for i in idx], rng=seed * 100_003 + step, size_range=size_range)
        images = (images * 2 - 1).to(device)
        posterior = vae.encode(images).latent_dist
        recon = vae.decode(posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen).to(device)).sample
        loss = F.mse_loss(recon, images) + 1e-6 * posterior.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    vae.eval()
    log["vae_loss"] = {"first_100": sum(losses[:100]) / 100, "last_100": sum(losses[-100:]) / 100}


@torch.no_grad()
def encode_dataset(vae, metas, per_prompt: int, min_per_tag: int, seed: int, size_range: tuple[float, float],
                   caption_noise: float = 0.0, noise_tags: list[str] | None = None) -> tuple[torch.Tensor, list[int]]:
    """Latents of renders of every training prompt, and each latent's prompt index.

    Every prompt gets ``per_prompt`` renders, and the prompts of a tag with few prompts (single_object has two in
    the training split) get more, so that every tag has at least ``min_per_tag`` distinct renders. A fraction
    ``caption_noise`` of the renders draw a scene that breaks one concept of their prompt
    (:func:`t2i_rl.shapes.captions.mismatched`), as mismatched web captions do; ``noise_tags`` limits that to prompts
    of those tags.
    """
    per_tag = Counter(m["tag"] for m in metas)
    jobs = [i for i, m in enumerate(metas) for _ in range(max(per_prompt, math.ceil(min_per_tag / per_tag[m["tag"]])))]
    scenes = noisy_captions(metas, jobs, caption_noise, seed, noise_tags)
    latents = []
    device = next(vae.parameters()).device
    for start in tqdm(range(0, len(jobs), 256), desc="encoding renders"):
        images = render_batch(scenes[start : start + 256], rng=seed * 7 + start, size_range=size_range) * 2 - 1
        latents.append(vae.encode(images.to(device)).latent_dist.mean)
    return torch.cat(latents), jobs


def sampling_weights(metas, prompt_ids: list[int], mixture: str) -> torch.Tensor:
    """Per-latent sampling weights: "uniform" over renders, or "balanced": every tag equally often.

    The training split is 75 % color_attr prompts, so uniform sampling shows a single object about 1 % of the time.
    """
    if mixture == "uniform":
        return torch.ones(len(prompt_ids))
    per_tag = Counter(metas[i]["tag"] for i in prompt_ids)
    return torch.tensor([1.0 / per_tag[metas[i]["tag"]] for i in prompt_ids])


def learning_rate(step: int, peak: float, warmup: int, progress: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 10 % of the peak as ``progress`` goes 0 -> 1."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def schedule_progress(step: int, warmup: int, total: int | None, elapsed_s: float, budget_s: float) -> float:
    """How far the cosine has run: over ``total`` steps when they are given, else over the wall-clock budget, so
    that a run cut off by ``--minutes`` still ends at the low learning rate (and its EMA) rather than mid-decay."""
    if total is not None:
        return (step - warmup) / max(1, total - warmup)
    return elapsed_s / budget_s


def sigma_mean_at(progress: float, start: float, end: float | None) -> float:
    """The logit-normal location at this point of the schedule: ``start`` throughout, or moved linearly from ``start``
    to ``end`` as the cosine runs, so that one run first learns edges (low noise) and then layouts (high noise), as the
    second shipped model's two runs did (docs/shapes_world.md)."""
    if end is None:
        return start
    return start + (end - start) * min(1.0, max(0.0, progress))


def bench_steps(pipe, metas, args) -> dict:
    """Transformer training steps per second at ``args.batch`` (3 warm-up steps, then ``args.bench_steps`` timed),
    on random latents (the step cost does not depend on the data). The EMA update is left out, so the figure is a
    little above the ``transformer_steps_per_s`` a real run logs."""
    gen = torch.Generator().manual_seed(args.seed)
    params = list(pipe.transformer.parameters()) + list(pipe.text_encoder_3.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr)
    channels = pipe.transformer.config.in_channels
    side = pipe.transformer.config.sample_size
    texts = [metas[i % len(metas)]["prompt"] for i in range(args.batch)]
    x0 = torch.randn(args.batch, channels, side, side, generator=gen).to(args.device)
    pipe.transformer.train()
    pipe.text_encoder_3.train()
    for _ in range(3):
        flow_matching_step(pipe, opt, params, x0, texts, args.sigma_mean, gen)
    start = time.perf_counter()
    for _ in range(args.bench_steps):
        flow_matching_step(pipe, opt, params, x0, texts, args.sigma_mean, gen)
    seconds = time.perf_counter() - start
    return {"width": args.width, "layers": args.layers, "patch_size": args.patch_size, "batch": args.batch,
            "device": args.device, "torch_threads": torch.get_num_threads(),
            "steps_per_s": round(args.bench_steps / seconds, 3)}


def train_transformer(pipe, latents, prompt_ids, metas, args, log: dict) -> EMAModel:
    """SD3's rectified-flow loss on (latent, prompt) pairs; returns the EMA of the transformer's weights."""
    gen = torch.Generator().manual_seed(args.seed)
    device = latents.device
    params = list(pipe.transformer.parameters()) + list(pipe.text_encoder_3.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    ema = EMAModel(params, decay=args.ema_decay, use_ema_warmup=True, foreach=True)
    pipe.transformer.train()
    pipe.text_encoder_3.train()
    prompts = [m["prompt"] for m in metas]
    weights = sampling_weights(metas, prompt_ids, args.mixture)
    deadline = time.perf_counter() + 60 * args.minutes
    losses, step = [], 0
    bar = tqdm(desc="stage 2: transformer", unit="step", total=args.steps)
    t0 = time.perf_counter()
    while time.perf_counter() < deadline and (args.steps is None or step < args.steps):
        idx = torch.multinomial(weights, args.batch, replacement=True, generator=gen)
        texts = [prompts[prompt_ids[i]] if torch.rand((), generator=gen) > 0.1 else "" for i in idx.tolist()]
        progress = schedule_progress(step, 200, args.steps, time.perf_counter() - t0, 60 * args.minutes)
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, args.lr, 200, progress)
        sigma_mean = sigma_mean_at(progress, args.sigma_mean, args.sigma_mean_end)
        loss = flow_matching_step(pipe, opt, params, latents[idx.to(device)], texts, sigma_mean, gen)
        ema.step(params)
        losses.append(loss)
        step += 1
        bar.update()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(losses[-50:]) / 50:.4f}")
    bar.close()
    pipe.transformer.eval()
    pipe.text_encoder_3.eval()
    chunks = max(1, len(losses) // 10)
    log["transformer_steps"] = step
    log["transformer_steps_per_s"] = round(step / (time.perf_counter() - t0), 3)
    log["transformer_loss_by_tenth"] = [round(sum(losses[i : i + chunks]) / len(losses[i : i + chunks]), 4)
                                        for i in range(0, len(losses), chunks)]
    return ema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="t2i_rl/assets/shapes-sd3")
    parser.add_argument("--init", help="continue this shapes pipeline directory (keeps its VAE; skips stage 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vae-steps", type=int, default=800)
    parser.add_argument("--renders-per-prompt", type=int, default=64)
    parser.add_argument("--min-renders-per-tag", type=int, default=2048)
    parser.add_argument("--mixture", choices=["balanced", "uniform"], default="balanced",
                        help="balanced: every GenEval tag equally often; uniform: every training prompt equally often")
    parser.add_argument("--steps", type=int, default=None,
                        help="transformer steps (cosine LR decay over them; without it, over --minutes)")
    parser.add_argument("--minutes", type=float, default=85.0, help="wall-clock cap of stage 2")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--sigma-mean", type=float, default=0.0,
                        help="location of the logit-normal noise levels (1.0 trains the layout steps more: docs)")
    parser.add_argument("--sigma-mean-end", type=float, default=None,
                        help="move the location linearly from --sigma-mean to this over the schedule (edges first, "
                             "then layouts)")
    parser.add_argument("--caption-noise", type=float, default=0.0,
                        help="fraction of training renders whose scene breaks one concept of their caption (a missing "
                             "object, a count off by one, a swapped colour or relation), as in web data: headroom "
                             "for RL (docs/shapes_world.md)")
    parser.add_argument("--caption-noise-tags", default=None,
                        help="comma-separated GenEval tags whose captions get the noise (default: every tag)")
    parser.add_argument("--width", type=int, default=128, help="transformer width (with --init: DIR's)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--patch-size", type=int, default=2)
    parser.add_argument("--latent-channels", type=int, default=16,
                        help="VAE latent channels (with --init: DIR's); fewer Gaussian actions per flow-GRPO step "
                             "(docs/shapes_world.md, \"A smaller latent\")")
    parser.add_argument("--vae-downsample", type=int, choices=[4, 8], default=4,
                        help="VAE downsampling: 4 gives 16x16 latents at 64 px, 8 gives 8x8 (with --init: DIR's)")
    parser.add_argument("--bench-steps", type=int, default=0,
                        help="only time this many transformer training steps (after 3 warm-up steps), print and exit")
    parser.add_argument("--size-range", default="0.18,0.32",
                        help="object side as fractions of the image side, min,max (larger objects keep their corners "
                             "at the transformer's token resolution)")
    parser.add_argument("--eval-seeds", type=int, default=8, help="0 skips the accuracy measurement")
    parser.add_argument("--eval-guidance", default="1.5,4.5", help="CFG scales to measure accuracy at (comma-separated)")
    args = parser.parse_args()
    try:
        size_range = tuple(float(v) for v in args.size_range.split(","))
    except ValueError:
        size_range = ()
    if len(size_range) != 2 or not 0 < size_range[0] <= size_range[1] <= 0.4:
        parser.error(f"--size-range {args.size_range!r}: give two fractions min,max with 0 < min <= max <= 0.4 "
                     "(four objects must fit)")
    if not 0.0 <= args.caption_noise < 1.0:
        parser.error(f"--caption-noise {args.caption_noise}: give a fraction in [0, 1)")
    noise_tags = args.caption_noise_tags.split(",") if args.caption_noise_tags else None
    if noise_tags and (unknown := sorted(set(noise_tags) - set(TAGS))):
        parser.error(f"--caption-noise-tags: unknown tags {unknown}; choose from {','.join(TAGS)}")
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    log: dict = {"command": "python scripts/pretrain_shapes.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
        "torch_threads": torch.get_num_threads()}

    if args.init:
        if problem := missing_shapes_model(args.init):
            parser.error(f"{problem} as --init")
        if Path(args.init).resolve() == Path(args.out).resolve():
            parser.error("--init and --out are the same directory; write the continued model somewhere else")
        pipe = StableDiffusion3Pipeline.from_pretrained(args.init).to(args.device)
        init_log = Path(args.init) / "pretrain_log.json"
        log["init"] = {"model": args.init, "log": json.loads(init_log.read_text()) if init_log.is_file() else None}
        config = pipe.transformer.config  # the architecture is DIR's, whatever --width/--layers/--patch-size say
        args.width, args.layers, args.patch_size = config.caption_projection_dim, config.num_layers, config.patch_size
    else:
        pipe = build_shapes_pipeline(args.seed, args.width, args.layers, args.patch_size, args.latent_channels,
                                     args.vae_downsample).to(args.device)
    train, held = train_prompts(), heldout_prompts()
    if args.bench_steps:
        print(json.dumps(bench_steps(pipe, train, args)))
        return
    if not args.init:
        train_vae(pipe.vae, train, args.vae_steps, 16, args.seed, log, size_range)
    latents, prompt_ids = encode_dataset(pipe.vae, train, args.renders_per_prompt, args.min_renders_per_tag, args.seed,
                                         size_range, args.caption_noise, noise_tags)
    if args.init:  # the transformer was trained on this VAE's scaled latents: keep its scaling
        shift, scale = pipe.vae.config.shift_factor, pipe.vae.config.scaling_factor
    else:
        shift, scale = latents.mean().item(), 1.0 / latents.std().item()
        pipe.vae.register_to_config(shift_factor=shift, scaling_factor=scale)
    latents = (latents - shift) * scale
    log["vae_latent_shift_scale"] = [shift, scale]
    log["renders"] = len(prompt_ids)
    ema = train_transformer(pipe, latents, prompt_ids, train, args, log)
    ema.copy_to(list(pipe.transformer.parameters()) + list(pipe.text_encoder_3.parameters()))

    out = Path(args.out)
    pipe.to("cpu").save_pretrained(out)
    if args.eval_seeds:
        policy = SD3Policy.from_pretrained(str(out), device=args.device)
        seeds = list(range(1000, 1000 + args.eval_seeds))
        log["accuracy"] = {}
        for cfg in [float(g) for g in args.eval_guidance.split(",")]:
            # EVAL_MIN_IMAGES_PER_TAG images per tag at least, as the demo measures (one held-out single object)
            acc_train, _, _ = heldout_accuracy(policy, train, seeds, guidance_scale=cfg,
                                               min_images_per_tag=EVAL_MIN_IMAGES_PER_TAG)
            acc_held, _, _ = heldout_accuracy(policy, held, seeds, guidance_scale=cfg,
                                              min_images_per_tag=EVAL_MIN_IMAGES_PER_TAG)
            log["accuracy"][f"cfg_{cfg}"] = {"train": acc_train, "heldout": acc_held}
            print(accuracy_table({f"train prompts, CFG {cfg}": acc_train, f"held-out prompts, CFG {cfg}": acc_held}))
    log["minutes"] = (time.perf_counter() - start) / 60
    log["size_MB"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    (out / "pretrain_log.json").write_text(json.dumps(log, indent=1))
    print(json.dumps({k: v for k, v in log.items() if k != "accuracy"}, indent=1))


if __name__ == "__main__":
    main()
