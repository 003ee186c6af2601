import pytest
import torch

from t2i_rl.advantages import flat_group_fraction, group_advantages
from t2i_rl.grpo import train_timesteps
from t2i_rl.losses import grpo_loss
from t2i_rl.sampler import GroupSampler


def test_advantages_zero_mean_per_group_and_hand_values():
    r = torch.tensor([1.0, 2.0, 3.0, 10.0, 10.0, 16.0])
    g = torch.tensor([0, 0, 0, 5, 5, 5])
    a = group_advantages(r, g)
    for gid in (0, 5):
        assert a[g == gid].sum().abs() < 1e-5
    std0 = torch.tensor([1.0, 2.0, 3.0]).std(unbiased=False).item()
    assert a[0].item() == pytest.approx(-1.0 / (std0 + 1e-4), rel=1e-5)
    glob = group_advantages(r, g, global_std=True)
    assert glob[3].item() == pytest.approx((10 - 12) / (r.std(unbiased=False).item() + 1e-4), rel=1e-5)


def test_constant_group_gets_zero_advantage_and_nan_is_rejected():
    a = group_advantages(torch.tensor([0.5, 0.5, 0.1, 0.9]), torch.tensor([0, 0, 1, 1]))
    assert torch.equal(a[:2], torch.zeros(2))
    with pytest.raises(FloatingPointError):
        group_advantages(torch.tensor([0.5, float("nan")]), torch.tensor([0, 0]))


def test_flat_group_fraction_counts_groups_without_spread():
    rewards = torch.tensor([0.5, 0.5, 0.5, 0.0, 1.0, 1.0, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3])
    groups = torch.tensor([7, 7, 7, 2, 2, 2, 9, 9, 9, 4, 4, 4])  # groups 7, 9 and 4 are flat, group 2 is not
    assert flat_group_fraction(rewards, groups) == pytest.approx(0.75)
    assert flat_group_fraction(rewards[3:6], groups[3:6]) == 0.0
    pair = torch.tensor([0, 0])
    assert flat_group_fraction(torch.tensor([0.1, 0.1 + 1e-7], dtype=torch.float64), pair) == 1.0  # within tol
    assert flat_group_fraction(torch.tensor([0.1, 0.1 + 1e-5], dtype=torch.float64), pair) == 0.0
    # the fraction agrees with the groups whose advantages are all zero
    adv = group_advantages(rewards, groups)
    zero = [bool((adv[groups == g] == 0).all()) for g in groups.unique()]
    assert sum(zero) / len(zero) == pytest.approx(flat_group_fraction(rewards, groups))
    with pytest.raises(ValueError):
        flat_group_fraction(rewards, groups[:3])


def test_grpo_loss_hand_values_and_clipping():
    logp = torch.tensor([0.0, 0.0])
    old = torch.tensor([0.0, 0.0])
    adv = torch.tensor([1.0, -2.0])
    loss, m = grpo_loss(logp, old, adv, clip_range=0.1, adv_clip_max=5)
    assert loss.item() == pytest.approx(0.5) and m["ratio"].item() == 1.0 and m["clipfrac"].item() == 0
    # ratio e^0.5 > 1.1 with A > 0: the clipped objective (1.1) is used, so no gradient flows.
    lp = torch.tensor([0.5], requires_grad=True)
    loss, m = grpo_loss(lp, torch.tensor([0.0]), torch.tensor([1.0]), clip_range=0.1, adv_clip_max=5)
    assert loss.item() == pytest.approx(-1.1)
    loss.backward()
    assert lp.grad.item() == 0.0 and m["clipfrac"].item() == 1.0
    # advantages are clipped to adv_clip_max, and beta * KL is added.
    loss, _ = grpo_loss(torch.zeros(1), torch.zeros(1), torch.tensor([100.0]), 0.1, 5.0, kl=torch.tensor([2.0]), beta=0.5)
    assert loss.item() == pytest.approx(-5.0 + 1.0)


@pytest.mark.parametrize("processes", [1, 2])
def test_sampler_keeps_groups_whole_and_processes_agree(processes):
    k, batch = 4, 6  # 6 * 2 = 12 images = 3 groups; 6 on one process is not a multiple of 4
    if (batch * processes) % k:
        batch = 8
    samplers = [GroupSampler(10, k, batch, processes, rank, seed=3) for rank in range(processes)]
    for step in range(3):
        for b in range(2):
            slots = [s for sampler in samplers for s in sampler.local_batch(step, b)]
            assert len(slots) == batch * processes
            by_group = {}
            for s in slots:
                by_group.setdefault(s.group_id, []).append(s)
            for members in by_group.values():
                assert len(members) == k and len({m.prompt_index for m in members}) == 1
                assert len({m.seed for m in members}) == k  # distinct noise per image
            assert len({m[0].prompt_index for m in by_group.values()}) == len(by_group)  # distinct prompts
    assert samplers[0].global_batch(1, 0) == GroupSampler(10, k, batch, processes, 0, seed=3).global_batch(1, 0)
    assert samplers[0].global_batch(1, 0) != samplers[0].global_batch(2, 0)


def test_sampler_rejects_groups_that_do_not_divide_the_batch_and_empty_prompts():
    with pytest.raises(ValueError, match="not a multiple of rollout.images_per_prompt"):
        GroupSampler(10, images_per_prompt=4, batch_size=6, num_processes=1)
    with pytest.raises(ValueError, match="prompt list is empty"):
        GroupSampler(0, 4, 8)


def test_same_noise_shares_one_seed_per_group_and_keeps_groups_apart():
    slots = GroupSampler(10, images_per_prompt=4, batch_size=8, seed=3, same_noise=True).global_batch(0, 0)
    seeds_by_group = {}
    for s in slots:
        seeds_by_group.setdefault(s.group_id, set()).add(s.seed)
    assert all(len(seeds) == 1 for seeds in seeds_by_group.values())
    assert len(set.union(*seeds_by_group.values())) == len(seeds_by_group)  # groups still start apart
    # the shared seed is the independent sampler's first image of the group
    independent = GroupSampler(10, images_per_prompt=4, batch_size=8, seed=3).global_batch(0, 0)
    assert [s.seed for s in slots[::4]] == [s.seed for s in independent[::4]]


def test_train_timesteps_are_flow_grpos_first_steps_in_time_order():
    # flow-GRPO: range(int(T * timestep_fraction)); 0.99 of 8 steps trains steps 0..6, never the near-noiseless last
    steps = train_timesteps(list(range(8)), batch=3, fraction=0.99)
    assert steps.tolist() == [list(range(7))] * 3
    assert train_timesteps(list(range(8)), batch=2, fraction=0.5).tolist() == [[0, 1, 2, 3]] * 2
    # an SDE window (MixGRPO) trains the first steps of the window; at least one step always
    assert train_timesteps([5, 3, 4], batch=1, fraction=0.7).tolist() == [[3, 4]]
    assert train_timesteps([2], batch=1, fraction=0.1).tolist() == [[2]]


def test_group_major_order_keeps_groups_together_and_shuffles_them():
    from t2i_rl.trainer import group_major_order

    group_ids = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    orders = [group_major_order(group_ids, torch.Generator().manual_seed(s)) for s in range(20)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(12))
        assert all(len(set(group_ids[order[i : i + 3]].tolist())) == 1 for i in range(0, 12, 3))
    assert len({tuple(group_ids[o[::3]].tolist()) for o in orders}) > 1  # the group order varies
