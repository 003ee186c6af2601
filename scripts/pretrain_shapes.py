"""Pretrain the shipped tiny SD3-architecture shapes model from a seed, on 2 CPU cores.

    python scripts/pretrain_shapes.py --out t2i_rl/assets/shapes-sd3 --seed 0 --vae-steps 1500 --minutes 40

Stage 1 trains the VAE as an autoencoder of rendered training-split images and sets its scaling/shift factors from
the latent statistics (as SD3's). Stage 2 trains the transformer and the T5 encoder with the rectified-flow loss
(logit-normal sigmas, SD3's recipe; 10 % empty prompts for classifier-free guidance) on renders of the *training*
prompts only, for a wall-clock budget. Stage 3 measures strict accuracy per tag on the training and held-out prompts
and writes everything (losses, timings, accuracies) to ``<out>/pretrain_log.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import diffusers
import torch
import torch.nn.functional as F
import transformers
from tqdm.auto import tqdm

from t2i_rl.policies.sd3 import SD3Policy
from t2i_rl.shapes.model import RESOLUTION, T5_MAX_LENGTH, accuracy_table, build_shapes_pipeline, heldout_accuracy
from t2i_rl.shapes.prompts import heldout_prompts, train_prompts
from t2i_rl.shapes.render import render_batch


def train_vae(vae, metas, steps: int, batch: int, seed: int, log: dict) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(vae.parameters(), lr=2e-3, weight_decay=0.0)
    vae.train()
    losses = []
    for step in tqdm(range(steps), desc="stage 1: VAE"):
        idx = torch.randint(len(metas), (batch,), generator=gen).tolist()
        images = render_batch([metas[i] for i in idx], rng=seed * 100_003 + step) * 2 - 1
        posterior = vae.encode(images).latent_dist
        recon = vae.decode(posterior.sample(generator=gen)).sample
        loss = F.mse_loss(recon, images) + 1e-6 * posterior.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    vae.eval()
    log["vae_loss"] = {"first_100": sum(losses[:100]) / 100, "last_100": sum(losses[-100:]) / 100}


@torch.no_grad()
def encode_dataset(vae, metas, per_prompt: int, seed: int) -> tuple[torch.Tensor, list[int]]:
    """Latents of ``per_prompt`` renders of every training prompt, and each latent's prompt index."""
    jobs = [i for i in range(len(metas)) for _ in range(per_prompt)]
    latents = []
    for start in tqdm(range(0, len(jobs), 256), desc="encoding renders"):
        chunk = jobs[start : start + 256]
        images = render_batch([metas[i] for i in chunk], rng=seed * 7 + start) * 2 - 1
        latents.append(vae.encode(images).latent_dist.mean)
    return torch.cat(latents), jobs


def train_transformer(pipe, latents, prompt_ids, metas, minutes: float, batch: int, seed: int, log: dict) -> None:
    gen = torch.Generator().manual_seed(seed)
    params = list(pipe.transformer.parameters()) + list(pipe.text_encoder_3.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    pipe.transformer.train()
    pipe.text_encoder_3.train()
    prompts = [m["prompt"] for m in metas]
    deadline = time.perf_counter() + 60 * minutes
    losses, step = [], 0
    bar = tqdm(desc="stage 2: transformer", unit="step")
    while time.perf_counter() < deadline:
        idx = torch.randint(len(latents), (batch,), generator=gen)
        x0 = latents[idx]
        texts = [prompts[prompt_ids[i]] if torch.rand((), generator=gen) > 0.1 else "" for i in idx.tolist()]
        embeds, _, pooled, _ = pipe.encode_prompt(texts, None, None, do_classifier_free_guidance=False,
                                                  max_sequence_length=T5_MAX_LENGTH)
        sigma = torch.sigmoid(torch.randn(batch, generator=gen)).view(-1, 1, 1, 1)  # logit-normal(0, 1)
        noise = torch.randn(x0.shape, generator=gen)
        x_t = (1 - sigma) * x0 + sigma * noise
        v = pipe.transformer(hidden_states=x_t, timestep=sigma.flatten() * 1000, encoder_hidden_states=embeds,
                             pooled_projections=pooled, return_dict=False)[0]
        loss = F.mse_loss(v, noise - x0)
        for group in opt.param_groups:  # linear warm-up, then cosine decay over the expected number of steps
            group["lr"] = 1e-3 * min(1.0, (step + 1) / 200)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        bar.update()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(losses[-50:]) / 50:.4f}")
    bar.close()
    pipe.transformer.eval()
    pipe.text_encoder_3.eval()
    chunks = max(1, len(losses) // 10)
    log["transformer_steps"] = step
    log["transformer_loss_by_tenth"] = [round(sum(losses[i : i + chunks]) / len(losses[i : i + chunks]), 4)
                                        for i in range(0, len(losses), chunks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="t2i_rl/assets/shapes-sd3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vae-steps", type=int, default=1500)
    parser.add_argument("--renders-per-prompt", type=int, default=64)
    parser.add_argument("--minutes", type=float, default=40.0, help="wall-clock budget of stage 2")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--eval-seeds", type=int, default=4, help="0 skips the accuracy measurement")
    args = parser.parse_args()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    log: dict = {"command": "python scripts/pretrain_shapes.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()), "torch_threads": torch.get_num_threads()}

    pipe = build_shapes_pipeline(args.seed, args.width, args.layers)
    train, held = train_prompts(), heldout_prompts()
    train_vae(pipe.vae, train, args.vae_steps, 16, args.seed, log)
    latents, prompt_ids = encode_dataset(pipe.vae, train, args.renders_per_prompt, args.seed)
    shift, scale = latents.mean().item(), 1.0 / latents.std().item()
    pipe.vae.register_to_config(shift_factor=shift, scaling_factor=scale)
    latents = (latents - shift) * scale
    log["vae_latent_shift_scale"] = [shift, scale]
    train_transformer(pipe, latents, prompt_ids, train, args.minutes, args.batch, args.seed, log)

    out = Path(args.out)
    pipe.save_pretrained(out)
    if args.eval_seeds:
        policy = SD3Policy.from_pretrained(str(out))
        seeds = list(range(1000, 1000 + args.eval_seeds))
        acc_train, _, _ = heldout_accuracy(policy, train, seeds)
        acc_held, _, _ = heldout_accuracy(policy, held, seeds)
        log["accuracy"] = {"train": acc_train, "heldout": acc_held}
        print(accuracy_table({"train prompts": acc_train, "held-out prompts": acc_held}))
    log["minutes"] = (time.perf_counter() - start) / 60
    log["size_MB"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    (out / "pretrain_log.json").write_text(json.dumps(log, indent=1))
    print(json.dumps({k: v for k, v in log.items() if k != "accuracy"}, indent=1))


if __name__ == "__main__":
    main()
