"""Aggregators: hand-computed values, invariances and no-NaN guarantees (t2i_rl/aggregation.py)."""

from __future__ import annotations

import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reward_models.base import CONCEPT_GROUPS
from t2i_rl.aggregation import (
    AGGREGATORS,
    CMO,
    GDPO,
    LogSigmoidAnd,
    WeightedSum,
    build_aggregator,
    check_scores,
)

NAN = float("nan")


def T(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def ids(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long)


def logsig(x: float) -> float:
    return -math.log1p(math.exp(-x))


def scope_sums(w: torch.Tensor, groups: list[str]) -> dict[str, torch.Tensor]:
    return {g: w[:, [k for k, gk in enumerate(groups) if gk == g]].sum(1) for g in set(groups)}


# ---------------------------------------------------------------------------------------------- registry, checks


def test_registry_and_builder():
    assert {"weighted_sum", "gdpo", "lsc", "cmo"} <= set(AGGREGATORS)
    assert isinstance(build_aggregator("cmo", mode="uniform"), CMO)
    assert isinstance(build_aggregator("lsc", temperature=0.5), LogSigmoidAnd)
    assert isinstance(build_aggregator("gdpo"), GDPO)
    with pytest.raises(ValueError, match="unknown aggregator"):
        build_aggregator("nope")


@pytest.mark.parametrize(
    "kwargs", [{"mode": "bogus"}, {"scope": "local"}, {"tau": 0.0}, {"shrink": -1.0}, {"group_weighting": "x"}]
)
def test_cmo_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        CMO(**kwargs)


def test_check_scores_rejects_inf():
    with pytest.raises(FloatingPointError, match=r"\['b'\]"):
        check_scores(T([[0.1, math.inf], [0.2, 0.3]]), ["a", "b"], ["object"] * 2, ids(0, 0))
    with pytest.raises(FloatingPointError):
        WeightedSum()(T([[-math.inf, 0.0]]), ["a", "b"], ["object"] * 2, ids(0))


def test_check_scores_rejects_all_nan_row():
    with pytest.raises(FloatingPointError, match=r"images \[1\]"):
        check_scores(T([[0.1, NAN], [NAN, NAN]]), ["a", "b"], ["object"] * 2, ids(0, 0))


@pytest.mark.parametrize(
    "scores, names, groups, gid",
    [
        (T([[0.1, 0.2]]), ["a"], ["object"], ids(0)),  # K != len(names)
        (T([[0.1, 0.2]]), ["a", "b"], ["object"], ids(0)),  # len(groups) != len(names)
        (T([0.1, 0.2]), ["a", "b"], ["object"] * 2, ids(0)),  # not 2-D
        (T([[0.1, 0.2]]), ["a", "b"], ["object"] * 2, ids(0, 1)),  # group_ids not [B]
    ],
)
def test_check_scores_rejects_shape_mismatch(scores, names, groups, gid):
    with pytest.raises(ValueError):
        check_scores(scores, names, groups, gid)
    with pytest.raises(ValueError):
        CMO()(scores, names, groups, gid)


def test_check_scores_accepts_valid_input():
    check_scores(T([[0.1, NAN], [NAN, 0.3]]), ["a", "b"], ["object", "relation"], ids(0, 0))


# ---------------------------------------------------------------------------------------------- WeightedSum

WS_SCORES = T([[1.0, 0.5, NAN], [NAN, 0.25, 0.0]])
NAMES3 = ["a", "b", "c"]


def test_weighted_sum_normalized_hand_values():
    out = WeightedSum(weights={"a": 2.0})(WS_SCORES, NAMES3, ["object"] * 3, ids(0, 1))
    torch.testing.assert_close(out.rewards, T([(2 * 1.0 + 0.5) / 3, (0.25 + 0.0) / 2]))
    torch.testing.assert_close(out.weights, T([[2 / 3, 1 / 3, 0.0], [0.0, 0.5, 0.5]]))


def test_weighted_sum_unnormalized_uses_config_weights():
    out = WeightedSum(weights={"a": 2.0, "c": 4.0}, default_weight=0.5, normalize=False)(
        WS_SCORES, NAMES3, ["object"] * 3, ids(0, 1)
    )
    torch.testing.assert_close(out.rewards, T([2 * 1.0 + 0.5 * 0.5, 0.5 * 0.25 + 4 * 0.0]))
    torch.testing.assert_close(out.weights, T([[2.0, 0.5, 0.0], [0.0, 0.5, 4.0]]))


# ---------------------------------------------------------------------------------------------- GDPO

# Two prompt groups, interleaved: id 0 = rows 1, 3; id 1 = rows 0, 2, 4. Column c is constant everywhere.
GDPO_SCORES = T(
    [
        [0.2, 0.0, 0.7],
        [1.0, 0.5, 0.7],
        [0.4, NAN, 0.7],
        [0.0, 0.5, 0.7],
        [0.6, 1.0, 0.7],
    ]
)
GDPO_IDS = ids(1, 0, 1, 0, 1)
Z = 0.2 / math.sqrt(0.08 / 3)  # |z| of 0.2 and 0.6 around 0.4 with population std sqrt(0.08 / 3)


def test_gdpo_hand_values_two_groups():
    out = GDPO(eps=0.0)(GDPO_SCORES, NAMES3, ["object"] * 3, GDPO_IDS)
    # group 0: a -> +1, -1; b constant -> 0.  group 1: a -> -Z, 0, +Z; b over rows 0, 4 -> -1, +1.
    torch.testing.assert_close(out.rewards, T([-Z - 1, 1.0, 0.0, -1.0, Z + 1]))


def test_gdpo_eps_and_normalized_weights():
    out = GDPO(eps=0.1)(GDPO_SCORES, NAMES3, ["object"] * 3, GDPO_IDS)
    assert out.rewards[1].item() == pytest.approx(0.5 / 0.6, rel=1e-5)  # (1 - 0.5) / (0.5 + 0.1)
    out = GDPO(weights={"a": 2.0}, normalize=True, eps=0.0)(GDPO_SCORES, NAMES3, ["object"] * 3, GDPO_IDS)
    torch.testing.assert_close(out.rewards, T([(-2 * Z - 1) / 4, 2 / 4, 0.0, -2 / 4, (2 * Z + 1) / 4]))


def test_gdpo_constant_column_contributes_zero():
    agg = GDPO()
    with_c = agg(GDPO_SCORES, NAMES3, ["object"] * 3, GDPO_IDS).rewards
    without_c = agg(GDPO_SCORES[:, :2], NAMES3[:2], ["object"] * 2, GDPO_IDS).rewards
    assert torch.equal(with_c, without_c)
    adv = agg.normalized(GDPO_SCORES, GDPO_IDS)
    assert torch.equal(adv[:, 2], torch.zeros(5))
    assert torch.isnan(adv[2, 1]) and adv[[1, 3], 1].eq(0).all()  # b is constant (0.5, 0.5) in group 0


def test_gdpo_batch_normalize():
    r = GDPO(eps=0.0, batch_normalize=True)(GDPO_SCORES, NAMES3, ["object"] * 3, GDPO_IDS).rewards
    assert r.mean().abs() < 1e-6 and r.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------------------------- LogSigmoidAnd


def test_lsc_hand_value_with_reference():
    agg = LogSigmoidAnd(temperature=0.1)
    agg.set_reference(T([[0.4, 0.6], [0.6, NAN]]), ["a", "b"])
    assert agg.r_ref == pytest.approx({"a": 0.5, "b": 0.6})
    out = agg(T([[0.8, NAN], [0.2, 0.7]]), ["a", "b"], ["object", "attribute"], ids(0, 0))
    torch.testing.assert_close(out.rewards, T([logsig(3.0), logsig(-3.0) + logsig(1.0)]))
    mean_out = LogSigmoidAnd(temperature=0.1, normalize=True)
    mean_out.load_state_dict(agg.state_dict())
    r = mean_out(T([[0.8, NAN], [0.2, 0.7]]), ["a", "b"], ["object", "attribute"], ids(0, 0)).rewards
    torch.testing.assert_close(r, T([logsig(3.0), (logsig(-3.0) + logsig(1.0)) / 2]))


def test_lsc_reference_from_first_batch_then_frozen():
    agg = LogSigmoidAnd(temperature=1.0)
    first = T([[0.2, NAN], [0.6, NAN]])
    out = agg(first, ["a", "b"], ["object", "object"], ids(0, 0))
    assert agg.r_ref == {"a": pytest.approx(0.4)}  # b applied nowhere: no reference yet
    torch.testing.assert_close(out.rewards, T([logsig(-0.2), logsig(0.2)]))
    agg(T([[1.0, 0.3], [1.0, 0.5]]), ["a", "b"], ["object", "object"], ids(0, 0))
    assert agg.r_ref == {"a": pytest.approx(0.4), "b": pytest.approx(0.4)}  # a kept, b from this batch


def test_lsc_state_dict_round_trip_is_exact():
    agg = LogSigmoidAnd(temperature=0.05)
    scores = torch.rand(6, 3, generator=torch.Generator().manual_seed(0))
    agg.set_reference(scores, ["x", "y", "z"])
    buf = io.BytesIO()
    torch.save(agg.state_dict(), buf)
    buf.seek(0)
    other = LogSigmoidAnd(temperature=0.05)
    other.load_state_dict(torch.load(buf))
    assert other.r_ref == agg.r_ref and other.state_dict() == agg.state_dict()
    new = torch.rand(4, 3, generator=torch.Generator().manual_seed(1))
    args = (["x", "y", "z"], ["object"] * 3, ids(0, 0, 1, 1))
    assert torch.equal(agg(new, *args).rewards, other(new, *args).rewards)
    with pytest.raises(ValueError, match="unknown keys"):
        other.load_state_dict({"r_ref": {}, "extra": 1})


def test_lsc_stays_finite_for_extreme_margins():
    agg = LogSigmoidAnd(temperature=1e-3)
    agg.set_reference(T([[0.5, 0.5]]), ["a", "b"])
    r = agg(T([[1000.0, -1000.0]]), ["a", "b"], ["object"] * 2, ids(0)).rewards
    assert torch.isfinite(r).all() and r.item() == pytest.approx(-(1000.5 / 1e-3), rel=1e-4)


# ---------------------------------------------------------------------------------------------- CMO


def test_cmo_hand_values_satisfied_vs_mixed():
    # G = 2, both "object": a always satisfied -> d_a = 0; b = (0, 1): mu .5, sigma .5, no correlation -> d_b = 1.
    out = CMO(tau=1.0)(T([[1.0, 0.0], [1.0, 1.0]]), ["a", "b"], ["object"] * 2, ids(0, 0))
    wa, wb = 1 / (1 + math.e), math.e / (1 + math.e)
    torch.testing.assert_close(out.weights, T([[wa, wb], [wa, wb]]))
    torch.testing.assert_close(out.rewards, T([wa, wa + wb]))


ANTI = T([[1, 0, 1], [0, 1, 1], [1, 0, 0], [0, 1, 0]])  # A, B anti-correlated; C independent of both


def test_cmo_conflict_and_shrinkage_hand_values():
    stats = CMO(shrink=2.0).group_stats(ANTI.double())
    # rho_AB = -1 shrunk by (4 - 1) / (4 - 1 + 2) = 0.6; conflict = mean over the 2 other columns.
    torch.testing.assert_close(stats["conflict"], torch.tensor([0.3, 0.3, 0.0], dtype=torch.float64))
    torch.testing.assert_close(stats["difficulty"], torch.tensor([1.3, 1.3, 1.0], dtype=torch.float64))
    stats = CMO(shrink=0.0).group_stats(ANTI.double())
    torch.testing.assert_close(stats["conflict"], torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))


def test_cmo_positive_correlation_is_no_conflict():
    scores = torch.cat([ANTI, ANTI[:, :1]], 1)  # D duplicates A: rho_AD = +1
    stats = CMO(shrink=2.0).group_stats(scores.double())
    # A: conflict with B only, averaged over the 3 others; D the same; C none.
    torch.testing.assert_close(stats["conflict"], torch.tensor([0.2, 0.4, 0.0, 0.2], dtype=torch.float64))


def test_cmo_anti_correlated_pair_gets_more_weight_than_independent():
    names, groups = ["A", "B", "C"], ["object"] * 3
    w = CMO()(ANTI, names, groups, ids(0, 0, 0, 0)).weights
    assert torch.allclose(w[:, 0], w[:, 1]) and (w[:, 0] > w[:, 2] + 1e-3).all()
    w_var = CMO(mode="variance")(ANTI, names, groups, ids(0, 0, 0, 0)).weights  # no correlation term
    torch.testing.assert_close(w_var, torch.full((4, 3), 1 / 3))


@pytest.mark.parametrize("mode", ["full", "variance", "correlation"])
@pytest.mark.parametrize("scope", ["group", "global"])
def test_cmo_always_satisfied_concept_gets_lowest_weight(mode, scope):
    gen = torch.Generator().manual_seed(3)
    scores = torch.rand(16, 5, generator=gen)
    scores[:, 1] = 1.0  # column 1 is always satisfied
    groups = ["object", "object", "object", "attribute", "relation"]
    out = CMO(mode=mode, scope=scope)(scores, list("abcde"), groups, torch.arange(16) // 8)
    w = CMO(mode=mode, scope=scope).concept_weights(scores, groups, torch.arange(16) // 8)[0]
    others = w[:, [0, 2]] if scope == "group" else w[:, [0, 2, 3, 4]]
    assert (w[:, 1:2] < others).all()
    assert (out.weights[:, 1:2] < out.weights[:, [0, 2]]).all()


def test_cmo_weights_sum_to_one_within_each_concept_group():
    gen = torch.Generator().manual_seed(4)
    scores = torch.rand(12, 6, generator=gen)
    scores[torch.rand(12, 6, generator=gen) < 0.3] = NAN
    scores[:, 0] = torch.rand(12, generator=gen)  # no all-NaN row
    groups = ["object", "object", "attribute", "attribute", "relation", "quality"]
    gid = torch.arange(12) % 3
    w, _ = CMO().concept_weights(scores, groups, gid)
    applies = ~torch.isnan(scores)
    for g, total in scope_sums(w, groups).items():
        present = scope_sums(applies.float(), groups)[g] > 0
        torch.testing.assert_close(total[present], torch.ones(int(present.sum())))
        assert (total[~present] == 0).all()
    out = CMO()(scores, list("abcdef"), groups, gid)
    torch.testing.assert_close(out.weights.sum(1), torch.ones(12))
    n_applicable = applies.sum(1).float()
    for g, total in scope_sums(out.weights, groups).items():  # "count": each group keeps its share n_g / N
        torch.testing.assert_close(total, scope_sums(applies.float(), groups)[g] / n_applicable)
    out = CMO(group_weighting="mean")(scores, list("abcdef"), groups, gid)
    n_groups = sum((scope_sums(applies.float(), groups)[g] > 0).float() for g in set(groups))
    for g, total in scope_sums(out.weights, groups).items():  # "mean": 1 / number of groups present
        present = scope_sums(applies.float(), groups)[g] > 0
        torch.testing.assert_close(total[present], 1 / n_groups[present])
    w_global, _ = CMO(scope="global").concept_weights(scores, groups, gid)
    torch.testing.assert_close(w_global.sum(1), torch.ones(12))


def test_cmo_uniform_mode_equals_plain_mean():
    gen = torch.Generator().manual_seed(5)
    scores = torch.rand(9, 4, generator=gen)
    scores[[0, 4, 7], [1, 2, 3]] = NAN
    groups = ["object", "attribute", "attribute", "relation"]
    args = (list("abcd"), groups, torch.arange(9) // 3)
    out = CMO(mode="uniform")(scores, *args)
    torch.testing.assert_close(out.rewards, torch.nanmean(scores, 1))
    torch.testing.assert_close(out.rewards, WeightedSum()(scores, *args).rewards)
    torch.testing.assert_close(CMO(mode="uniform", group_weighting="mean")(scores, *args).rewards, out.rewards)
    assert not torch.allclose(CMO()(scores, *args).rewards, out.rewards)  # the full mode does reweight


@pytest.mark.parametrize("mode", ["full", "correlation"])
def test_cmo_is_permutation_equivariant(mode):
    gen = torch.Generator().manual_seed(6)
    scores = torch.rand(15, 5, generator=gen).round(decimals=1)  # ties and constant stretches
    scores[torch.rand(15, 5, generator=gen) < 0.25] = NAN
    scores[:, 4] = torch.rand(15, generator=gen)
    groups = ["object", "object", "attribute", "relation", "relation"]
    gid = torch.arange(15) % 3
    agg = CMO(mode=mode)
    base = agg(scores, list("abcde"), groups, gid)
    perm = torch.randperm(15, generator=gen)
    relabel = torch.tensor([7, 2, 5])[gid]  # new ids in a different order
    out = agg(scores[perm], list("abcde"), groups, relabel[perm])
    torch.testing.assert_close(out.rewards, base.rewards[perm])
    torch.testing.assert_close(out.weights, base.weights[perm])


@pytest.mark.parametrize(
    "scores, gid",
    [
        (T([[0.5, 0.5, 1.0], [0.5, 0.5, 0.0], [0.5, 0.5, 1.0]]), ids(0, 0, 0)),  # constant columns
        (T([[0.3, NAN, 0.1], [0.9, NAN, 0.2], [0.1, 0.4, NAN], [0.2, 0.8, NAN]]), ids(0, 0, 1, 1)),  # all-NaN cols
        (T([[0.3, 0.9, NAN], [0.1, NAN, 0.7]]), ids(0, 1)),  # G = 1
        (T([[0.3, 0.9, 0.0], [0.1, 0.2, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), ids(0, 0, 1, 1)),  # G = 2
        (T([[0.1, 0.1, 0.1]]), ids(0)),  # one image
    ],
)
@pytest.mark.parametrize("mode", CMO.MODES)
@pytest.mark.parametrize("scope", ["group", "global"])
def test_cmo_never_nan(scores, gid, mode, scope):
    groups = ["object", "object", "attribute"]
    agg = CMO(mode=mode, scope=scope)
    out = agg(scores, list("abc"), groups, gid)
    assert torch.isfinite(out.rewards).all() and torch.isfinite(out.weights).all()
    torch.testing.assert_close(out.weights.sum(1), torch.ones(len(scores)))
    assert (out.weights[torch.isnan(scores)] == 0).all()
    assert all(math.isfinite(v) for v in out.metrics.values())
    stats = agg.group_stats(scores.double())
    assert all(torch.isfinite(v).all() for v in stats.values())


def test_cmo_g2_correlation_is_shrunk():
    stats = CMO(shrink=2.0).group_stats(torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64))
    torch.testing.assert_close(stats["conflict"], torch.tensor([1 / 3, 1 / 3], dtype=torch.float64))


# ---------------------------------------------------------------------------------------------- fuzz


@st.composite
def score_problems(draw):
    b, k = draw(st.integers(1, 10)), draw(st.integers(1, 6))
    value = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(-50, 50, allow_nan=False, width=32))
    values = draw(st.lists(value, min_size=b * k, max_size=b * k))
    missing = draw(st.lists(st.booleans(), min_size=b * k, max_size=b * k))
    scores = torch.tensor(values, dtype=torch.float32).view(b, k)
    scores[torch.tensor(missing).view(b, k)] = NAN
    for i in range(b):  # every image needs one applicable column
        if torch.isnan(scores[i]).all():
            scores[i, i % k] = values[i * k + i % k]
    gid = torch.tensor(draw(st.lists(st.integers(0, 3), min_size=b, max_size=b)))
    groups = draw(st.lists(st.sampled_from(CONCEPT_GROUPS), min_size=k, max_size=k))
    return scores, [f"c{j}" for j in range(k)], groups, gid


@settings(max_examples=150, deadline=None)
@given(
    problem=score_problems(),
    mode=st.sampled_from(CMO.MODES),
    scope=st.sampled_from(["group", "global"]),
    tau=st.sampled_from([0.05, 1.0, 10.0]),
    shrink=st.sampled_from([0.0, 2.0]),
)
def test_fuzz_cmo_finite_and_normalised(problem, mode, scope, tau, shrink):
    scores, names, groups, gid = problem
    agg = CMO(mode=mode, scope=scope, tau=tau, shrink=shrink)
    out = agg(scores, names, groups, gid)
    assert torch.isfinite(out.rewards).all() and torch.isfinite(out.weights).all()
    assert (out.weights >= 0).all()
    torch.testing.assert_close(out.weights.sum(1), torch.ones(len(scores)))
    w, metrics = agg.concept_weights(scores, groups, gid)
    applies = ~torch.isnan(scores)
    scopes = groups if scope == "group" else ["all"] * len(groups)
    counts = scope_sums(applies.float(), scopes)
    for g, total in scope_sums(w, scopes).items():
        torch.testing.assert_close(total, (counts[g] > 0).float())
    assert all(math.isfinite(v) for v in (metrics | out.metrics).values())


@settings(max_examples=80, deadline=None)
@given(problem=score_problems())
def test_fuzz_gdpo_and_lsc_finite(problem):
    scores, names, groups, gid = problem
    assert torch.isfinite(GDPO()(scores, names, groups, gid).rewards).all()
    assert torch.isfinite(GDPO(eps=0.0, normalize=True)(scores, names, groups, gid).rewards).all()
    assert torch.isfinite(LogSigmoidAnd(temperature=1e-3)(scores, names, groups, gid).rewards).all()
