"""Run by tests/test_distributed.py under `accelerate launch` with 2 CPU processes (gloo)."""

import json
import sys

import diffusers
import torch

diffusers.utils.logging.set_verbosity_error()

from t2i_rl.config import load_config  # noqa: E402
from t2i_rl.trainer import Trainer  # noqa: E402


def main(out_json: str, overrides: list[str]) -> None:
    trainer = Trainer(load_config(None, overrides))
    acc = trainer.accelerator
    traj, items, group_ids = trainer.rollout(0)
    rewards = trainer.score(traj.images, items)
    local_adv, _ = trainer.advantages(rewards, group_ids)
    all_adv = acc.gather(local_adv.to(acc.device)).cpu()
    all_groups = acc.gather(group_ids.to(acc.device)).cpu()
    group_sums = {int(g): float(all_adv[all_groups == g].sum()) for g in all_groups.unique()}
    group_sizes = {int(g): int((all_groups == g).sum()) for g in all_groups.unique()}
    prompts = acc.gather_for_metrics([[i.prompt for i in items]], use_gather_object=True)
    rank, main_process = acc.process_index, acc.is_main_process
    trainer.rewards[0].stats = {"images": rank + 1}  # a judge's counter that differs per rank
    summed_stats = trainer.summed_reward_stats()
    history = trainer.train()  # ends with accelerator.end_training(): no collectives after this line
    torch.save(torch.cat([p.detach().flatten() for p in trainer.policy.lora_parameters()]), f"{out_json}.rank{rank}.pt")
    if main_process:
        json.dump({
            "num_processes": acc.num_processes,
            "distributed_type": str(acc.distributed_type),
            "group_sums": group_sums,
            "group_sizes": group_sizes,
            "prompts_per_rank": prompts,
            "steps": len(history),
            "rewards": [h["reward/aggregate"] for h in history],
            "reward_stats": summed_stats,
            "logged_reward_stats": {k: v for k, v in history[-1].items() if k.startswith("reward_stats/")},
        }, open(out_json, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
