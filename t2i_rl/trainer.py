"""The online-RL training loop, top to bottom: rollout, score, aggregate, advantage, update, log, checkpoint.

``train.algorithm`` picks the update: flow-GRPO (``grpo``: SDE rollouts, per-step log-probs, clipped ratio) or
DiffusionNFT (``nft``: ODE rollouts of a slowly updated sampling policy, a flow-matching loss on the clean samples;
``t2i_rl/nft.py``). Rollouts, rewards, aggregation, advantages, checkpoints and logs are shared.

One recipe for 1..N processes (accelerate). Every random choice is derived from ``(seed, step, ...)`` so that a
run resumed from a checkpoint is identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from reward_models import RewardBatch, RewardOutput, build_reward, concat_outputs
from t2i_rl import checkpoint as ckpt
from t2i_rl.advantages import flat_group_fraction, group_advantages
from t2i_rl.aggregation import WeightedSum, build_aggregator
from t2i_rl.config import Config, ConfigError, save_config, to_dict
from t2i_rl.data import PromptItem, load_prompts
from t2i_rl.export import export_lora
from t2i_rl.grpo import step_log_prob, train_timesteps
from t2i_rl.losses import grpo_loss
from t2i_rl.nft import OldPolicy, forward_noised, nft_loss, nft_velocities, old_policy_decay
from t2i_rl.policies import FlowPolicy, build_policy, prepare_for_training
from t2i_rl.rollout import Trajectory, generate, sample_trajectory
from t2i_rl.sampler import GroupSampler, mix_seed
from t2i_rl.sde import sde_window
from t2i_rl.visualize import save_grid

logger = logging.getLogger(__name__)


class Trainer:
    def __init__(self, config: Config, accelerator: Accelerator | None = None, policy: FlowPolicy | None = None) -> None:
        """``policy`` skips loading ``config.model.pretrained`` (benchmarks with in-memory models); LoRA is still added."""
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.accelerator = accelerator or Accelerator(
            mixed_precision=config.train.mixed_precision,
            log_with=None if config.logging.log_with == "none" else config.logging.log_with,
            project_dir=str(self.output_dir),
            cpu=not torch.cuda.is_available(),
        )
        set_seed(config.seed)
        if policy is None:
            self.policy = build_policy(config.model, self.accelerator.device)
        else:
            self.policy = prepare_for_training(policy, config.model)

        self.prompts = load_prompts(config.data.prompts, list(config.data.inline_prompts))
        self.eval_prompts = (
            load_prompts(config.data.eval_prompts) if config.data.eval_prompts else self.prompts
        )[: config.data.num_eval_prompts]
        self.rewards = [build_reward(spec.name, **spec.args) for spec in config.rewards]
        self.aggregator = build_aggregator(config.aggregator.name, **config.aggregator.args)

        t = config.train
        params = self.policy.lora_parameters()
        optimizer = torch.optim.AdamW(
            params, lr=t.learning_rate, betas=(t.adam_beta1, t.adam_beta2), weight_decay=t.adam_weight_decay,
            eps=t.adam_epsilon,
        )
        from diffusers.optimization import get_scheduler

        lr_scheduler = get_scheduler(t.lr_scheduler, optimizer, num_warmup_steps=t.lr_warmup_steps,
                                     num_training_steps=max(1, t.num_steps * self.updates_per_step()))
        forward_module, self.optimizer, self.lr_scheduler = self.accelerator.prepare(
            self.policy.transformer, optimizer, lr_scheduler
        )
        self.policy.forward_module = forward_module
        # DiffusionNFT samples with theta_old, a soft-updated copy of the LoRA weights
        self.old_policy = OldPolicy(params) if t.algorithm == "nft" else None
        self.ema = None
        if t.ema:
            from diffusers.training_utils import EMAModel

            self.ema = EMAModel(params, decay=t.ema_decay, use_ema_warmup=False)
        self.sampler = GroupSampler(
            len(self.prompts), config.rollout.images_per_prompt, config.rollout.batch_size,
            self.accelerator.num_processes, self.accelerator.process_index, config.seed, config.rollout.same_noise,
        )
        self.step = 0
        self.history: list[dict[str, float]] = []

    # ---------------------------------------------------------------------------------------- helpers
    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def micro_batches_per_step(self) -> int:
        r, t = self.config.rollout, self.config.train
        local = r.batch_size * r.batches_per_step
        if local % t.micro_batch_size:
            raise ConfigError(
                f"rollout.batch_size * rollout.batches_per_step = {local} images per process is not a multiple of "
                f"train.micro_batch_size = {t.micro_batch_size}"
            )
        return local // t.micro_batch_size

    def updates_per_step(self) -> int:
        t = self.config.train
        return t.inner_epochs * math.ceil(self.micro_batches_per_step() / t.gradient_accumulation_steps)

    def score(self, images: torch.Tensor, items: list[PromptItem]) -> RewardOutput:
        batch = RewardBatch(images, [i.prompt for i in items], [i.metadata for i in items])
        outputs = [reward(batch) for reward in self.rewards]
        if len(outputs) == 1 and self.config.rewards[0].prefix is None:
            return outputs[0]
        prefixes = [spec.prefix or spec.name for spec in self.config.rewards]
        return concat_outputs(outputs, prefixes)

    # ---------------------------------------------------------------------------------------- rollout
    @torch.no_grad()
    def rollout(self, step: int) -> tuple[Trajectory, list[PromptItem], torch.Tensor]:
        """Sample this process's trajectories for ``step``. Returns (trajectory, prompt items, group ids)."""
        c = self.config
        self.policy.transformer.eval()
        if self.old_policy is None:
            window_gen = torch.Generator().manual_seed(mix_seed(c.seed, step, 7))
            sde_steps = sde_window(c.sampling.train_steps, c.sampling.sde_window, window_gen,
                                   c.sampling.sde_window_max_start)
            sampling_policy = nullcontext()
        else:  # DiffusionNFT: the deterministic sampler of the old policy
            sde_steps, sampling_policy = [], self.old_policy.swapped_in()
        sigmas = self.policy.sigmas(c.sampling.train_steps, c.sampling.resolution)
        trajectories, items, group_ids = [], [], []
        for b in range(c.rollout.batches_per_step):
            slots = self.sampler.local_batch(step, b)
            batch_items = [self.prompts[s.prompt_index] for s in slots]
            cond = self.policy.encode_distinct([i.prompt for i in batch_items], c.sampling.negative_prompt,
                                               c.model.max_sequence_length)
            noise = torch.cat(
                [self.policy.initial_noise(1, c.sampling.resolution, torch.Generator().manual_seed(s.seed)) for s in slots]
            )
            gen = torch.Generator(device=self.accelerator.device).manual_seed(
                mix_seed(c.seed, step, b, self.accelerator.process_index)
            )
            with sampling_policy:
                traj = sample_trajectory(
                    self.policy, cond, noise, sigmas, c.sampling.guidance_scale, c.sampling.noise_level,
                    c.sampling.resolution, sde_steps, gen, c.sampling.noise_block,
                )
            trajectories.append(traj)
            items += batch_items
            group_ids.append(torch.tensor([s.group_id for s in slots]))
        return Trajectory.cat(trajectories), items, torch.cat(group_ids)

    def advantages(self, rewards: RewardOutput, group_ids: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Gather every process's rewards, aggregate and standardise per group, return this process's slice."""
        acc = self.accelerator
        scores = acc.gather(rewards.scores.to(acc.device)).cpu()
        groups = acc.gather(group_ids.to(acc.device)).cpu()
        aggregated = self.aggregator(scores, rewards.names, rewards.groups, groups)
        adv = group_advantages(aggregated.rewards, groups, self.config.train.global_std)
        n = rewards.scores.shape[0]
        local = adv[acc.process_index * n : (acc.process_index + 1) * n]
        metrics = {"reward/aggregate": aggregated.rewards.mean().item(),
                   "reward/aggregate_std": aggregated.rewards.std().item(),
                   "reward/flat_groups": flat_group_fraction(aggregated.rewards, groups)}
        metrics.update(column_means(scores, rewards.names, "reward/"))
        for group in sorted(set(rewards.groups)):
            cols = [k for k, g in enumerate(rewards.groups) if g == group]
            metrics[f"concept_group/{group}"] = scores[:, cols].nanmean().item()
        metrics.update({f"aggregator/{k}": float(v) for k, v in aggregated.metrics.items()})
        return local, metrics

    def summed_reward_stats(self) -> dict[str, float]:
        """:func:`reward_stats` summed over every process: each rank's judge counts only the images it scored."""
        local = reward_stats(self.config.rewards, self.rewards)
        if not local:
            return local
        keys = sorted(local)  # every rank builds the same rewards, so the same counters in the same order
        totals = self.accelerator.reduce(torch.tensor([local[k] for k in keys], dtype=torch.float64,
                                                      device=self.accelerator.device), reduction="sum")
        return dict(zip(keys, totals.cpu().tolist()))

    # ----------------------------------------------------------------------------------------- update
    def update(
        self, step: int, traj: Trajectory, advantages: torch.Tensor, group_ids: torch.Tensor
    ) -> dict[str, float]:
        """Clipped-ratio updates on this step's rollouts; one optimizer update per accumulation window.

        Micro-batches take whole groups in a random group order, so that rows a group shares (one start noise,
        ``rollout.same_noise``) are evaluated once (``FlowPolicy.shared_velocity``).
        """
        c, acc = self.config, self.accelerator
        t = c.train
        self.policy.transformer.train()
        gen = torch.Generator().manual_seed(mix_seed(c.seed, step, 11, acc.process_index))
        totals: dict[str, float] = defaultdict(float)
        passes, grad_norm = 0, 0.0
        num_micro, accum = self.micro_batches_per_step(), t.gradient_accumulation_steps
        for _ in range(t.inner_epochs):
            order = group_major_order(group_ids, gen)
            steps = self.trained_steps(traj, gen)
            for m in range(num_micro):
                idx = order[m * t.micro_batch_size : (m + 1) * t.micro_batch_size]
                window = min(accum, num_micro - (m // accum) * accum)  # micro-batches in this update (last may be short)
                syncs = (m + 1) % accum == 0 or m == num_micro - 1
                for k, v in self._backward_micro_batch(traj.select(idx), advantages[idx], steps[idx], window, syncs,
                                                       gen):
                    totals[k] += v
                passes += steps.shape[1]
                if syncs:
                    grad_norm += self._optimizer_update()
        out = {f"train/{k}": v / passes for k, v in totals.items()}
        out["train/grad_norm"] = grad_norm / self.updates_per_step()
        out["train/lr"] = self.lr_scheduler.get_last_lr()[0]
        return out

    def policy_gradient(self, step: int) -> torch.Tensor:
        """The flattened LoRA gradient of step ``step``'s loss at the current weights, without updating them.

        Rollouts, rewards and advantages as ``train_step``; one batch's gradient for ``t2i_rl.noise_scale``.
        """
        traj, items, group_ids = self.rollout(step)
        advantages, _ = self.advantages(self.score(traj.images, items), group_ids)
        self.policy.transformer.train()
        self.optimizer.zero_grad(set_to_none=True)
        gen = torch.Generator().manual_seed(mix_seed(self.config.seed, step, 11, self.accelerator.process_index))
        steps = self.trained_steps(traj, gen)
        num_micro, size = self.micro_batches_per_step(), self.config.train.micro_batch_size
        for m in range(num_micro):
            idx = torch.arange(m * size, (m + 1) * size)
            self._backward_micro_batch(traj.select(idx), advantages[idx], steps[idx], num_micro, m == num_micro - 1,
                                       gen)
        params = self.policy.lora_parameters()
        grad = torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros(p.numel()) for p in params])
        self.optimizer.zero_grad(set_to_none=True)
        return grad.detach().cpu()

    def trained_steps(self, traj: Trajectory, generator: torch.Generator) -> torch.Tensor:
        """``[B, n]`` schedule indices each image trains on: flow-GRPO's first SDE steps in time order, or for
        DiffusionNFT ``train.nft_timesteps`` distinct indices drawn per image from the first
        ``int(T * timestep_fraction)`` (all of them, in random order, when it is null)."""
        t = self.config.train
        if t.algorithm == "grpo":
            return train_timesteps(traj.sde_steps, len(traj), t.timestep_fraction)
        available = max(1, int((len(traj.sigmas) - 1) * t.timestep_fraction))
        count = available if t.nft_timesteps is None else min(t.nft_timesteps, available)
        return torch.stack([torch.randperm(available, generator=generator)[:count] for _ in range(len(traj))])

    def _step_loss(
        self, micro: Trajectory, advantages: torch.Tensor, steps: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of one trained timestep per image (``steps``: ``[B]`` schedule indices)."""
        c = self.config
        if c.train.algorithm == "nft":
            x0 = micro.latents[:, -1]
            t = micro.sigmas.to(x0.device)[steps.to(x0.device)]
            x_t = forward_noised(x0, t, generator)
            v, v_old, v_ref = nft_velocities(self.policy, x_t, t, micro.cond, c.sampling.guidance_scale,
                                             self.old_policy, with_reference=c.train.beta > 0)
            return nft_loss(v, v_old, x_t, x0, t, advantages, c.train.nft_beta, c.train.adv_clip_max, v_ref,
                            c.train.beta)
        out = step_log_prob(self.policy, micro, steps, c.sampling.guidance_scale, c.sampling.noise_level,
                            with_reference=c.train.beta > 0, noise_block=c.sampling.noise_block)
        return grpo_loss(out.log_prob, out.old_log_prob, advantages, c.train.clip_range, c.train.adv_clip_max,
                         out.kl, c.train.beta)

    def _backward_micro_batch(
        self, micro: Trajectory, advantages: torch.Tensor, steps: torch.Tensor, window: int, syncs: bool,
        generator: torch.Generator,
    ) -> list[tuple[str, float]]:
        """Backward the loss of each trained timestep; gradients sync across processes only on the very last one."""
        acc = self.accelerator
        advantages = advantages.to(acc.device)
        metrics_out = []
        for j in range(steps.shape[1]):
            last = syncs and j == steps.shape[1] - 1
            sync_context = nullcontext() if last else acc.no_sync(self.policy.forward_module)
            with sync_context, acc.autocast():
                loss, metrics = self._step_loss(micro, advantages, steps[:, j], generator)
                acc.backward(loss / (steps.shape[1] * window))
            metrics_out += [(k, v.item()) for k, v in metrics.items()]
        return metrics_out

    def _optimizer_update(self) -> float:
        """Clip, step optimizer and LR schedule, update the EMA; returns the pre-clip gradient norm."""
        t = self.config.train
        grad_norm = 0.0
        if t.max_grad_norm > 0:
            grad_norm = float(self.accelerator.clip_grad_norm_(self.policy.lora_parameters(), t.max_grad_norm))
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.step(self.policy.lora_parameters())
        return grad_norm

    # ------------------------------------------------------------------------------------------- eval
    @torch.no_grad()
    def evaluate(self, tag: str) -> dict[str, float]:
        """Deterministic images of the eval prompts (EMA weights if enabled), their rewards and a grid."""
        c = self.config
        with self.ema_weights():
            self.policy.transformer.eval()
            items = self.eval_prompts
            images = generate(
                self.policy, [i.prompt for i in items], c.sampling.resolution, c.sampling.eval_steps,
                c.sampling.guidance_scale, [c.seed + n for n in range(len(items))], c.sampling.negative_prompt,
                c.model.max_sequence_length,
            )
        rewards = self.score(images, items)
        # One image per prompt: group statistics (GDPO, CMO) are undefined, so eval reports the plain concept mean.
        aggregated = WeightedSum()(rewards.scores, rewards.names, rewards.groups, torch.arange(len(items)))
        metrics = {"eval/aggregate": aggregated.rewards.mean().item()}
        metrics.update(column_means(rewards.scores, rewards.names, "eval/"))
        if self.is_main:
            path = save_grid(images, [i.prompt for i in items], self.output_dir / "images" / f"{tag}.png")
            self.log_images(tag, images, [i.prompt for i in items])
            logger.info("saved %s", path)
        return metrics

    def ema_weights(self):
        if self.ema is None:
            return nullcontext()
        return _EMAContext(self.ema, self.policy.lora_parameters())

    # ------------------------------------------------------------------------------------ checkpoints
    def training_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "nft_old_policy": self.old_policy.state_dict() if self.old_policy is not None else None,
            "aggregator": self.aggregator.state_dict(),
            "history": self.history,
            "config": to_dict(self.config),
            "num_processes": self.accelerator.num_processes,
        }

    def save_checkpoint(self) -> Path:
        acc = self.accelerator
        staging = ckpt.staging_path(self.output_dir, self.step)
        acc.wait_for_everyone()
        if self.is_main and staging.exists():
            shutil.rmtree(staging)  # leftovers of a crash while writing this very step
        acc.wait_for_everyone()
        ckpt.save_process_files(
            staging, acc.process_index,
            self.policy.lora_state_dict() if self.is_main else None,
            self.training_state() if self.is_main else None,
        )
        acc.wait_for_everyone()
        final = staging.parent / f"step-{self.step:06d}"
        if self.is_main:
            final = ckpt.finalize(staging, self.step, self.config.checkpoint.keep_last)
        acc.wait_for_everyone()
        return final

    def load_checkpoint(self, path: Path) -> None:
        lora, state, rng = ckpt.load_checkpoint(path, self.accelerator.process_index)
        self.policy.load_lora_state_dict(lora)
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        if self.ema is not None:
            if state["ema"] is None:
                raise ValueError(f"{path} was saved without EMA but train.ema is on; set train.ema=false to resume it")
            self.ema.load_state_dict(state["ema"])
        if self.old_policy is not None:
            if state.get("nft_old_policy") is None:
                raise ValueError(f"{path} has no DiffusionNFT old policy: it was saved by a train.algorithm=grpo run; "
                                 "resume it with train.algorithm=grpo")
            self.old_policy.load_state_dict(state["nft_old_policy"])
        self.aggregator.load_state_dict(state["aggregator"])
        self.step = state["step"]
        self.history = list(state["history"])
        if rng is not None:
            ckpt.set_rng_state(rng)
        if state.get("num_processes", 1) != self.accelerator.num_processes:
            logger.warning("resuming a %d-process run on %d processes: prompts per process change",
                           state["num_processes"], self.accelerator.num_processes)
        logger.info("resumed from %s at step %d", path, self.step)

    # ---------------------------------------------------------------------------------------- logging
    def init_trackers(self) -> None:
        if self.config.logging.log_with == "none":
            return
        kwargs = {"wandb": {"dir": str(self.output_dir)}} if self.config.logging.log_with == "wandb" else {}
        config = json.loads(json.dumps(to_dict(self.config), default=str))
        flat = {k: v if isinstance(v, (int, float, str, bool)) else json.dumps(v) for k, v in _flatten(config).items()}
        self.accelerator.init_trackers(self.config.logging.project, config=flat, init_kwargs=kwargs)

    def log(self, metrics: dict[str, float], step: int) -> None:
        if self.config.logging.log_with != "none":
            self.accelerator.log(metrics, step=step)
        if self.is_main:
            with open(self.output_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps({"step": step, **metrics}) + "\n")

    def log_images(self, tag: str, images: torch.Tensor, captions: list[str]) -> None:
        tracker = self.config.logging.log_with
        if tracker == "none":
            return
        arrays = (images.permute(0, 2, 3, 1).clamp(0, 1) * 255).byte().cpu().numpy()
        if tracker == "wandb":
            import wandb

            self.accelerator.log({f"images/{tag}": [wandb.Image(a, caption=c) for a, c in zip(arrays, captions)]},
                                 step=self.step)
        else:
            writer = self.accelerator.get_tracker("tensorboard", unwrap=True)
            writer.add_images(f"images/{tag}", images.cpu(), self.step)

    # ------------------------------------------------------------------------------------------- main
    def train(self) -> list[dict[str, float]]:
        c = self.config
        if self.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            save_config(c, self.output_dir / "config.yaml")
        resume = ckpt.resolve_resume(c.checkpoint.resume, self.output_dir)
        if resume is not None:
            self.load_checkpoint(resume)
        self.init_trackers()
        if self.step == 0:
            self.log(self.evaluate("step-000000"), 0)
        bar = tqdm(range(self.step, c.train.num_steps), initial=self.step, total=c.train.num_steps,
                   disable=not (self.is_main and c.logging.progress_bar), desc={"grpo": "flow-GRPO", "nft": "DiffusionNFT"}[c.train.algorithm], dynamic_ncols=True)
        for step in bar:
            metrics = self.train_step(step)
            self.step = step + 1
            self.history.append(metrics)
            if self.step % c.logging.log_every == 0 or self.step == c.train.num_steps:
                self.log(metrics, self.step)
            if c.logging.image_every and self.step % c.logging.image_every == 0:
                self.log(self.evaluate(f"step-{self.step:06d}"), self.step)
            if c.checkpoint.every and self.step % c.checkpoint.every == 0:
                self.save_checkpoint()
            bar.set_postfix(reward=f"{metrics['reward/aggregate']:.4f}", kl=f"{metrics.get('train/kl', 0):.2e}")
        final = self.evaluate(f"step-{self.step:06d}-final")
        self.log(final, self.step)
        if not (ckpt.checkpoint_dir(self.output_dir) / f"step-{self.step:06d}").is_dir():
            self.save_checkpoint()
        if self.is_main:
            with self.ema_weights():
                export_lora(self.policy, self.output_dir / "lora")
        self.accelerator.wait_for_everyone()
        self.accelerator.end_training()
        return self.history

    def train_step(self, step: int) -> dict[str, float]:
        t0 = time.perf_counter()
        traj, items, group_ids = self.rollout(step)
        t1 = time.perf_counter()
        rewards = self.score(traj.images, items)
        advantages, metrics = self.advantages(rewards, group_ids)
        metrics.update(self.summed_reward_stats())
        t2 = time.perf_counter()
        metrics.update(self.update(step, traj, advantages, group_ids))
        if self.old_policy is not None:
            self.old_policy.update(old_policy_decay((step + 1) * self.updates_per_step(), self.config.train.nft_old_rate,
                                                    self.config.train.nft_old_max))
        t3 = time.perf_counter()
        metrics.update({"time/rollout_s": t1 - t0, "time/reward_s": t2 - t1, "time/train_s": t3 - t2})
        return metrics


def group_major_order(group_ids: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random order of the rows that keeps each group's rows together (groups in random order)."""
    groups = torch.unique(group_ids)
    shuffled = groups[torch.randperm(len(groups), generator=generator)]
    return torch.cat([torch.nonzero(group_ids == g).flatten() for g in shuffled])


def reward_stats(specs: list, rewards: list) -> dict[str, float]:
    """``{"reward_stats/<prefix>/<key>": value}`` for the running counters a reward keeps in a ``stats`` dict (e.g.
    the critique judge's unparsable answers), so that a judge that stops answering in format shows in the logs.
    Counts run since the reward was built, on this process, evaluation included (:meth:`Trainer.summed_reward_stats` sums
    them over processes)."""
    out = {}
    for spec, reward in zip(specs, rewards):
        for key, value in (getattr(reward, "stats", None) or {}).items():
            if isinstance(value, (int, float)):
                out[f"reward_stats/{spec.prefix or spec.name}/{key}"] = float(value)
    return out


def column_means(scores: torch.Tensor, names: list[str], prefix: str) -> dict[str, float]:
    """``{prefix + name: nanmean}`` for every column that applies to at least one image."""
    applies = ~torch.isnan(scores).all(0)
    return {f"{prefix}{name}": scores[:, k].nanmean().item() for k, name in enumerate(names) if applies[k]}


class _EMAContext:
    """Swap EMA weights in for evaluation/export and restore the training weights afterwards."""

    def __init__(self, ema, params) -> None:
        self.ema, self.params = ema, params

    def __enter__(self):
        self.ema.store(self.params)
        self.ema.copy_to(self.params)

    def __exit__(self, *exc):
        self.ema.restore(self.params)


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
