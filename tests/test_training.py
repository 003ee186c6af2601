"""End-to-end trainer behaviour on tiny pipelines: learning, exact resume, damaged checkpoints, bad input."""

import logging

import pytest
import torch
from conftest import tiny_overrides
from safetensors.torch import load_file

from reward_models import REWARDS, RewardOutput
from t2i_rl import checkpoint as ckpt
from t2i_rl.config import load_config
from t2i_rl.tiny import TINY_LEARNING
from t2i_rl.trainer import Trainer


def _trainer(backbone, tiny_dirs, out, **extra):
    return Trainer(load_config(None, tiny_overrides(backbone, tiny_dirs[backbone], out, **extra)))


# scripts/learning_check.py prints the figures of this test with the same settings (docs/training.md).
LEARN = TINY_LEARNING


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["sd3", "flux"])
def test_flow_grpo_raises_the_reward_beyond_seed_noise(backbone, tiny_dirs, tmp_path):
    history = _trainer(backbone, tiny_dirs, tmp_path, **LEARN).train()
    rewards = torch.tensor([h["reward/aggregate"] for h in history])
    first, last = rewards[:5].mean(), rewards[-5:].mean()
    # Seed-to-seed noise: the spread of the step-mean reward while the policy has barely moved.
    noise = rewards[:5].std()
    assert last - first > 4 * noise, (first.item(), last.item(), noise.item(), rewards.tolist())


class _Crash(RuntimeError):
    pass


class _CrashingTrainer(Trainer):
    crash_at = 3

    def train_step(self, step):
        if step == self.crash_at:
            raise _Crash(f"simulated kill during step {step}")
        return super().train_step(step)


def _state(trainer):
    return trainer.policy.lora_state_dict(), trainer.optimizer.state_dict(), trainer.ema.state_dict()


def test_resume_after_a_crash_equals_the_uninterrupted_run_bitwise(tiny_dirs, tmp_path):
    extra = dict(train__num_steps=5, checkpoint__every=2, train__gradient_accumulation_steps=2)
    full = _trainer("sd3", tiny_dirs, tmp_path / "full", **extra)
    full_history = full.train()

    overrides = tiny_overrides("sd3", tiny_dirs["sd3"], tmp_path / "crashed", **extra)
    with pytest.raises(_Crash):
        _CrashingTrainer(load_config(None, overrides)).train()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "crashed" / "checkpoints")] == ["step-000002"]
    resumed = Trainer(load_config(None, overrides + ["checkpoint.resume=auto"]))
    resumed_history = resumed.train()

    assert [h["reward/aggregate"] for h in resumed_history] == [h["reward/aggregate"] for h in full_history]
    assert all(0.0 <= h["reward/flat_groups"] <= 1.0 for h in full_history)
    lora_a, opt_a, ema_a = _state(full)
    lora_b, opt_b, ema_b = _state(resumed)
    assert lora_a.keys() == lora_b.keys() and all(torch.equal(lora_a[k], lora_b[k]) for k in lora_a)
    for pid, st in opt_a["state"].items():
        for key, value in st.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt_b["state"][pid][key])), (pid, key)
    assert all(torch.equal(a, b) for a, b in zip(ema_a["shadow_params"], ema_b["shadow_params"]))


def test_truncated_checkpoint_is_skipped_with_a_warning(tiny_dirs, tmp_path, caplog):
    _trainer("sd3", tiny_dirs, tmp_path, train__num_steps=4, checkpoint__every=2, checkpoint__keep_last=5).train()
    saved = ckpt.list_checkpoints(tmp_path / "checkpoints")
    assert [p.name for p in saved] == ["step-000002", "step-000004"]
    assert all(ckpt.verify(p) is None for p in saved)
    newest = saved[-1] / "lora.safetensors"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a crash mid-write
    with caplog.at_level(logging.WARNING):
        assert ckpt.find_resumable(tmp_path) == saved[0]
    assert "truncated" in caplog.text and "step-000004" in caplog.text
    (tmp_path / "checkpoints" / ".tmp-step-000006").mkdir()  # an unfinished write is never a candidate
    assert ckpt.find_resumable(tmp_path) == saved[0]
    with pytest.raises(FileNotFoundError, match="truncated"):
        ckpt.resolve_resume(str(saved[-1]), tmp_path)


def test_keep_last_prunes_old_checkpoints_and_final_lora_is_exported(tiny_dirs, tmp_path):
    trainer = _trainer("flux", tiny_dirs, tmp_path, train__num_steps=3, checkpoint__every=1, checkpoint__keep_last=2)
    trainer.train()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "checkpoints")] == ["step-000002", "step-000003"]
    exported = load_file(str(tmp_path / "lora" / "pytorch_lora_weights.safetensors"))
    assert exported and all(k.startswith("transformer.") for k in exported)
    assert (tmp_path / "images" / "step-000000.png").is_file() and (tmp_path / "metrics.jsonl").is_file()


def _constant_reward(value_fn):
    class Reward:
        def __init__(self):
            pass

        def __call__(self, batch):
            n = len(batch.prompts)
            return RewardOutput(value_fn(n), ["a", "b"], ["object", "attribute"])

    return Reward


def test_nan_reward_in_every_column_is_a_clear_error(tiny_dirs, tmp_path, monkeypatch):
    monkeypatch.setitem(REWARDS, "all_nan", _constant_reward(lambda n: torch.full((n, 2), float("nan"))))
    trainer = _trainer("sd3", tiny_dirs, tmp_path, rewards="[{name: all_nan}]", train__num_steps=1)
    with pytest.raises(FloatingPointError, match="NaN in every reward column"):
        trainer.train()


def test_nan_marks_a_concept_not_applicable_and_is_masked(tiny_dirs, tmp_path, monkeypatch):
    def partly_nan(n):
        scores = torch.rand(n, 2)
        scores[::2, 1] = float("nan")
        return scores

    monkeypatch.setitem(REWARDS, "partly_nan", _constant_reward(partly_nan))
    history = _trainer("sd3", tiny_dirs, tmp_path, rewards="[{name: partly_nan}]", train__num_steps=1).train()
    assert all(torch.isfinite(torch.tensor(v)) for v in history[0].values())
    assert "reward/b" in history[0] and "concept_group/attribute" in history[0]


def test_bad_input_errors(tiny_dirs, tmp_path):
    with pytest.raises(ValueError, match="not a multiple of rollout.images_per_prompt"):
        _trainer("sd3", tiny_dirs, tmp_path, rollout__batch_size=6, train__micro_batch_size=2)
    with pytest.raises(ValueError, match="no prompts"):
        _trainer("sd3", tiny_dirs, tmp_path, data__inline_prompts="[]")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(ValueError, match="holds no prompts"):
        _trainer("sd3", tiny_dirs, tmp_path, data__prompts=str(empty))
    with pytest.raises(FileNotFoundError, match="not a directory"):
        _trainer("sd3", {"sd3": tmp_path / "missing-model"}, tmp_path)
    with pytest.raises(ValueError, match="unknown reward"):
        _trainer("sd3", tiny_dirs, tmp_path, rewards="[{name: pickscorez}]")
