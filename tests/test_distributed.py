"""Two CPU processes (gloo) through `accelerate launch`: the same recipe as N GPUs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_process_run_gathers_whole_groups_and_keeps_ranks_in_sync(tiny_sd3_dir, tmp_path):
    # batch_size 2 per process with groups of 4: every group straddles both processes, so its advantages are
    # zero-mean only if rewards were gathered before the group statistics.
    overrides = tiny_overrides("sd3", tiny_sd3_dir, tmp_path / "run", rollout__batch_size=2,
                               rollout__batches_per_step=2, train__micro_batch_size=2, train__num_steps=2)
    result = tmp_path / "result.json"
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "tests")}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ROOT / "configs" / "accelerate" / "cpu_2proc.yaml"), "--main_process_port", "29517",
           str(ROOT / "tests" / "dist_worker.py"), str(result), *overrides]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(result.read_text())
    assert data["num_processes"] == 2 and "MULTI_CPU" in data["distributed_type"]
    assert set(data["group_sizes"].values()) == {4}
    assert all(abs(s) < 1e-4 for s in data["group_sums"].values()), data["group_sums"]
    rank0, rank1 = data["prompts_per_rank"]
    assert rank0[:2] == rank1[:2] and len(rank0) == 4  # a group's images on both ranks: the same prompt
    assert data["steps"] == 2
    # reward counters (a judge's unparsable answers) are summed over the ranks, not taken from rank 0 alone
    assert data["reward_stats"] == {"reward_stats/image_stats/images": 3.0}
    assert data["logged_reward_stats"] == {"reward_stats/image_stats/images": 3.0}
    weights = [torch.load(f"{result}.rank{r}.pt") for r in (0, 1)]
    assert torch.equal(weights[0], weights[1])  # DDP kept the LoRA identical on both ranks
