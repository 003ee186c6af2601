"""Aggregators: the per-concept reward matrix ``R[B, K]`` -> one reward per image ``r[B]``.

Every aggregator is called on the *global* batch (gathered across processes), with ``group_ids[B]`` saying
which images share a prompt, so that statistics within a prompt's group of images are exact. ``NaN`` in ``R``
means "this column does not apply to this image's prompt" and is never propagated into ``r``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch


@dataclass
class Aggregated:
    rewards: torch.Tensor  # [B] float32, finite
    weights: torch.Tensor | None = None  # [B, K] per-image column weights actually used, if meaningful
    metrics: dict[str, float] = field(default_factory=dict)


class Aggregator:
    """Base class. Stateless aggregators need only ``aggregate``; stateful ones override the state methods."""

    def aggregate(
        self, scores: torch.Tensor, names: Sequence[str], groups: Sequence[str], group_ids: torch.Tensor
    ) -> Aggregated:
        raise NotImplementedError

    def __call__(
        self, scores: torch.Tensor, names: Sequence[str], groups: Sequence[str], group_ids: torch.Tensor
    ) -> Aggregated:
        check_scores(scores, names, groups, group_ids)
        out = self.aggregate(scores.float(), names, groups, group_ids)
        if not torch.isfinite(out.rewards).all():
            raise FloatingPointError(f"{type(self).__name__} produced non-finite rewards: {out.rewards}")
        return out

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} is stateless but got state keys {sorted(state)}")


def check_scores(
    scores: torch.Tensor, names: Sequence[str], groups: Sequence[str], group_ids: torch.Tensor
) -> None:
    """Reject inputs an aggregator cannot interpret, naming the problem."""
    if scores.ndim != 2 or scores.shape[1] != len(names) or len(groups) != len(names):
        raise ValueError(
            f"scores {tuple(scores.shape)} must be [B, K] with K = len(names) = len(groups) "
            f"(got {len(names)} names, {len(groups)} groups)"
        )
    if group_ids.shape != scores.shape[:1]:
        raise ValueError(f"group_ids {tuple(group_ids.shape)} must be [B] for scores {tuple(scores.shape)}")
    if torch.isinf(scores).any():
        bad = [names[k] for k in torch.isinf(scores).any(0).nonzero().flatten().tolist()]
        raise FloatingPointError(f"reward columns {bad} contain +/-inf; return NaN for 'not applicable' instead")
    all_nan = torch.isnan(scores).all(1)
    if all_nan.any():
        rows = all_nan.nonzero().flatten().tolist()[:8]
        raise FloatingPointError(
            f"images {rows} have NaN in every reward column ({list(names)}): no reward applies to them. "
            "A reward returned NaN for an applicable concept (a failed model call?) or the prompt has no concepts."
        )


class WeightedSum(Aggregator):
    """flow_grpo's default: ``r = sum_k w_k R_k`` over the columns that apply (NaN columns count as absent).

    ``weights`` maps column names to weights; columns not named get ``default_weight``. With ``normalize`` the
    sum is divided by the total weight of the columns that apply to each image, i.e. a weighted mean, so that
    prompts with more concepts are not rewarded more.
    """

    def __init__(
        self, weights: dict[str, float] | None = None, default_weight: float = 1.0, normalize: bool = True
    ) -> None:
        self.weights = dict(weights or {})
        self.default_weight = default_weight
        self.normalize = normalize

    def column_weights(self, names: Sequence[str]) -> torch.Tensor:
        return torch.tensor([self.weights.get(n, self.default_weight) for n in names], dtype=torch.float32)

    def aggregate(self, scores, names, groups, group_ids) -> Aggregated:
        applies = ~torch.isnan(scores)
        w = self.column_weights(names).to(scores.device).expand_as(scores) * applies
        total = (torch.nan_to_num(scores) * w).sum(1)
        if self.normalize:
            total = total / w.sum(1).clamp_min(1e-12)
            w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
        return Aggregated(total, w)


def prompt_groups(group_ids: torch.Tensor) -> list[torch.Tensor]:
    """Row indices of each prompt group (images sharing a ``group_id``), groups in ascending id order."""
    if group_ids.numel() == 0:
        return []
    _, inverse = torch.unique(group_ids, return_inverse=True)
    return [(inverse == g).nonzero().flatten() for g in range(int(inverse.max()) + 1)]


def _column_moments(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per column of ``x[G, K]`` over the rows where ``mask``: mean, population std, and whether it is constant.

    A column is *constant* when its max equals its min over those rows (exactly; also when it applies to one row
    or none); then the std is set to exactly 0, so that rounding in the mean cannot fake a tiny spread.
    """
    n = mask.sum(0).clamp_min(1)
    mean = torch.where(mask, x, 0.0).sum(0) / n
    var = torch.where(mask, x - mean, 0.0).pow(2).sum(0) / n
    constant = torch.where(mask, x, -torch.inf).amax(0) <= torch.where(mask, x, torch.inf).amin(0)
    return mean, torch.where(constant, 0.0, var.sqrt()), constant


class GDPO(WeightedSum):
    """Group reward-Decoupled normalisation (GDPO; Liu et al. 2026, "GDPO: Group reward-Decoupled Normalization
    Policy Optimization for Multi-reward RL Optimization", arXiv 2601.05242).

    Instead of normalising the *summed* reward within a prompt group (GRPO), every column is normalised on its own
    within each prompt group ``g``, over the images ``i in g`` where it applies, and the results are summed::

        A_ik = (R_ik - mean_g(R_k)) / (std_g(R_k) + eps)     (population std; A_ik = 0 if R_k is constant in g)
        r_i  = sum_{k applies to i} w_k A_ik                 (or / sum_k w_k with ``normalize=True``)

    so that a column whose values happen to be larger or more spread out cannot drown the others and distinct
    reward combinations keep distinct advantages. Constant columns (including those applying to a single image of
    the group) contribute exactly 0. ``w_k`` comes from ``weights`` / ``default_weight`` as in :class:`WeightedSum`.
    The paper follows with a batch-wise normalisation of ``r``; here it is optional (``batch_normalize``,
    ``r <- (r - mean_B r) / (std_B r + eps)``) because the trainer's advantage step normally normalises again.
    """

    def __init__(
        self,
        weights: dict[str, float] | None = None,
        default_weight: float = 1.0,
        normalize: bool = False,
        eps: float = 1e-4,
        batch_normalize: bool = False,
    ) -> None:
        super().__init__(weights, default_weight, normalize)
        self.eps = eps
        self.batch_normalize = batch_normalize

    def normalized(self, scores: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
        """``A[B, K]`` as above, ``NaN`` where the column does not apply."""
        adv = torch.full_like(scores, torch.nan)
        for rows in prompt_groups(group_ids):
            x = scores[rows].double()
            mask = ~torch.isnan(x)
            mean, std, constant = _column_moments(x, mask)
            a = torch.where(constant, 0.0, (x - mean) / (std + self.eps))
            adv[rows] = torch.where(mask, a, torch.nan).to(scores.dtype)
        return adv

    def aggregate(self, scores, names, groups, group_ids) -> Aggregated:
        adv = self.normalized(scores, group_ids)
        out = super().aggregate(adv, names, groups, group_ids)
        if self.batch_normalize and out.rewards.numel() > 1:
            r = out.rewards
            out.rewards = (r - r.mean()) / (r.std(unbiased=False) + self.eps)
        out.metrics["gdpo/abs_advantage"] = float(adv.nan_to_num().abs().sum() / (~adv.isnan()).sum().clamp_min(1))
        return out


class LogSigmoidAnd(Aggregator):
    """Soft AND of the concepts ("lsc"): ``r_i = sum_{k applies to i} log sigmoid((R_ik - ref_k) / temperature)``.

    ``log prod_k sigmoid(.)``: an image is rewarded for beating the reference on *every* concept; one concept far
    below its reference costs about ``(ref_k - R_ik) / temperature``, one far above gains at most ~0. With
    ``normalize=True`` the sum becomes a mean over the applicable columns. The result is always finite (<= 0).

    State: ``r_ref`` maps column names to reference scores, normally the column means of base-model samples set
    with :meth:`set_reference`. A column that has no reference when a batch arrives gets one from that batch (its
    mean over the images where it applies) and keeps it thereafter; so without :meth:`set_reference` the
    references are initialised from the first batch seen (every process sees the same global batch, so the
    references agree across processes). ``state_dict()/load_state_dict()`` carry ``r_ref`` for checkpoints.
    """

    def __init__(self, temperature: float = 0.1, normalize: bool = False) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.normalize = normalize
        self.r_ref: dict[str, float] = {}

    def set_reference(self, scores: torch.Tensor, names: Sequence[str]) -> None:
        """``r_ref[name] = nanmean(scores[:, k])`` for each column that applies somewhere (others are left alone)."""
        if scores.ndim != 2 or scores.shape[1] != len(names):
            raise ValueError(f"scores {tuple(scores.shape)} must be [N, {len(names)}]")
        means = torch.nanmean(scores.float(), 0)
        self.r_ref.update({n: float(m) for n, m in zip(names, means.tolist()) if m == m})

    def aggregate(self, scores, names, groups, group_ids) -> Aggregated:
        self.set_reference(scores[:, [k for k, n in enumerate(names) if n not in self.r_ref]],
                           [n for n in names if n not in self.r_ref])
        applies = ~torch.isnan(scores)
        ref = torch.tensor([self.r_ref.get(n, 0.0) for n in names], dtype=scores.dtype, device=scores.device)
        terms = torch.where(applies, torch.nn.functional.logsigmoid((scores - ref) / self.temperature), 0.0)
        rewards = terms.sum(1)
        weights = applies.to(scores.dtype)
        if self.normalize:
            weights = weights / weights.sum(1, keepdim=True).clamp_min(1)
            rewards = (terms * weights).sum(1)
        metrics = {"lsc/mean_log_sigmoid": float(terms.sum() / applies.sum().clamp_min(1))}
        return Aggregated(rewards, weights, metrics)

    def state_dict(self) -> dict[str, Any]:
        return {"r_ref": dict(self.r_ref)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        unknown = sorted(set(state) - {"r_ref"})
        if unknown:
            raise ValueError(f"LogSigmoidAnd state has unknown keys {unknown}")
        self.r_ref = {str(k): float(v) for k, v in state.get("r_ref", {}).items()}


def _pairwise_correlation(x: torch.Tensor, mask: torch.Tensor, shrink: float) -> torch.Tensor:
    """Shrunk Pearson correlations ``rho~[K, K]`` of the columns of ``x[G, K]`` over pairwise-complete rows.

    For columns k, j with ``n_kj`` rows where both apply: ``rho_kj`` is the Pearson correlation over those rows,
    defined as 0 when ``n_kj < 2``, when either column is constant on them, and on the diagonal; then
    ``rho~_kj = rho_kj * (n_kj - 1) / (n_kj - 1 + shrink)`` pulls small-sample estimates toward 0.
    """
    both = mask[:, :, None] & mask[:, None, :]  # [G, K, K]: rows where k (dim 1) and j (dim 2) both apply
    n = both.sum(0)
    xk = x[:, :, None].expand(both.shape)
    mean_k = torch.where(both, xk, 0.0).sum(0) / n.clamp_min(1)
    ck = torch.where(both, xk - mean_k, 0.0)  # column k centred on the rows shared with j
    cj = ck.transpose(1, 2)
    var_k = ck.pow(2).sum(0)  # exactly 0 for a constant column: float32 scores are centred exactly in float64
    eye = torch.eye(x.shape[1], dtype=torch.bool, device=x.device)
    valid = ~eye & (var_k * var_k.T > 0)
    rho = torch.where(valid, (ck * cj).sum(0) / (var_k * var_k.T).sqrt().where(valid, 1.0), 0.0).clamp(-1, 1)
    return rho * (n - 1).clamp_min(0) / (n - 1 + shrink).clamp_min(1)


def _scoped_softmax(logits: torch.Tensor, mask: torch.Tensor, scope: torch.Tensor, n_scopes: int) -> torch.Tensor:
    """Per row, softmax of ``logits[B, K]`` over the applicable columns of each scope (``scope[K]`` in
    ``[0, n_scopes)``); 0 where not applicable. Every scope with an applicable column sums to 1."""
    idx = scope.expand(logits.shape)
    masked = logits.masked_fill(~mask, -torch.inf)
    top = torch.full((logits.shape[0], n_scopes), -torch.inf, dtype=logits.dtype, device=logits.device)
    top = top.scatter_reduce(1, idx, masked, "amax")
    e = torch.where(mask, (masked - top.gather(1, idx)).exp(), 0.0)
    total = torch.zeros_like(top).scatter_add(1, idx, e)
    return torch.where(mask, e / total.gather(1, idx).where(mask, 1.0), 0.0)


class CMO(Aggregator):
    """Correlation-weighted Multi-reward Optimisation (CMO; arXiv 2603.18528), **reconstructed**.

    The paper (abstract) decomposes a prompt into concept groups (objects, attributes, relations), scores each
    concept, and reweights "assigning higher weights to conflicting or hard-to-satisfy concepts using
    correlation-based difficulty estimation", emphasising concepts "partially satisfied yet inconsistently
    generated across samples" and "the most challenging concepts within each group". The exact formulas are not
    available to us; everything below the line is OUR reconstruction of that description, not the paper's.

    ----
    Per prompt group ``g`` (its ``G`` images) and column ``k`` applying to the images ``A_k`` of ``g``
    (scores assumed to be satisfaction scores in ``[0, 1]``):

    * success        ``mu_k    = mean_{i in A_k} R_ik``
    * inconsistency  ``sigma_k = std_{i in A_k} R_ik``  (population std; exactly 0 for a constant column)
    * conflict       ``c_k = 1/max(1, P-1) * sum_{j != k, j applies in g} max(0, -rho~_kj)``, ``P`` = number of
      columns applying in ``g``, ``rho~`` = Pearson correlation over the images where both apply, shrunk toward 0
      for small samples: ``rho~ = rho * (n_kj - 1) / (n_kj - 1 + shrink)``; ``rho = 0`` if either is constant
      there or ``n_kj < 2`` (so ``G = 1, 2`` are safe: G = 2 gives ``|rho~| <= 1/(1 + shrink)``)
    * difficulty     ``d_k = (1 - mu_k) + lambda_var * sigma_k + lambda_corr * c_k``
      (mode ``"variance"`` drops the conflict term, ``"correlation"`` drops the inconsistency term)
    * within-scope weights, per image i over the columns applying to i:
      ``w_ik = exp(d_k / tau) / sum_{j in scope(k), j applies to i} exp(d_j / tau)``, scope = the column's
      concept group (``groups[k]``; scope ``"group"``) or all columns (scope ``"global"``)
    * combination of scopes: ``W_ik = pi_i(s(k)) * w_ik`` with ``pi_i(s) = n_i(s) / N_i`` (``group_weighting=
      "count"``: each concept group keeps its share of the image's ``N_i`` applicable concepts, so CMO only
      moves weight *within* a group) or ``pi_i(s) = 1 / #groups present`` (``"mean"``); ``sum_k W_ik = 1``
    * reward ``r_i = sum_k W_ik R_ik``; the weights are constants (computed under ``torch.no_grad``).

    Mode ``"uniform"`` is the ablation baseline ``W_ik = 1 / N_i``: the plain mean of the applicable concepts.
    A concept always fully satisfied (``R_k = 1`` on every image) has ``d_k = 0``, the smallest possible
    difficulty for scores in ``[0, 1]``, hence the lowest weight in its scope. ``Aggregated.weights = W``.
    """

    MODES = ("full", "uniform", "variance", "correlation")

    def __init__(
        self,
        mode: str = "full",
        scope: str = "group",
        tau: float = 1.0,
        lambda_var: float = 1.0,
        lambda_corr: float = 1.0,
        shrink: float = 2.0,
        group_weighting: str = "count",
    ) -> None:
        if mode not in self.MODES or scope not in ("group", "global") or group_weighting not in ("count", "mean"):
            raise ValueError(f"bad CMO options mode={mode!r} scope={scope!r} group_weighting={group_weighting!r}")
        if not tau > 0 or shrink < 0:
            raise ValueError(f"need tau > 0 and shrink >= 0, got tau={tau}, shrink={shrink}")
        self.mode, self.scope, self.tau, self.group_weighting = mode, scope, tau, group_weighting
        self.lambda_var = lambda_var if mode in ("full", "variance") else 0.0
        self.lambda_corr = lambda_corr if mode in ("full", "correlation") else 0.0
        self.shrink = shrink

    def group_stats(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``mu, sigma, conflict, difficulty`` (each ``[K]``) and ``present`` for one prompt group ``x[G, K]``."""
        mask = ~torch.isnan(x)
        mu, sigma, _ = _column_moments(x, mask)
        present = mask.any(0)
        rho = _pairwise_correlation(x, mask, self.shrink)
        conflict = (-rho).clamp_min(0).sum(1) / (present.sum() - 1).clamp_min(1)
        difficulty = (1 - mu) + self.lambda_var * sigma + self.lambda_corr * conflict
        return {"mu": mu, "sigma": sigma, "conflict": conflict, "difficulty": difficulty, "present": present}

    def _scopes(self, groups: Sequence[str], device: torch.device) -> tuple[torch.Tensor, int]:
        if self.scope == "global":
            return torch.zeros(len(groups), dtype=torch.long, device=device), 1
        labels = sorted(set(groups))
        return torch.tensor([labels.index(g) for g in groups], dtype=torch.long, device=device), len(labels)

    @torch.no_grad()
    def concept_weights(
        self, scores: torch.Tensor, groups: Sequence[str], group_ids: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Within-scope weights ``w[B, K]`` (each applicable scope of each row sums to 1) and summary metrics."""
        mask = ~torch.isnan(scores)
        difficulty = torch.zeros_like(scores, dtype=torch.float64)
        seen: dict[str, list[torch.Tensor]] = {"mu": [], "sigma": [], "conflict": [], "difficulty": []}
        if self.mode != "uniform":
            for rows in prompt_groups(group_ids):
                stats = self.group_stats(scores[rows].double())
                difficulty[rows] = stats["difficulty"].expand(len(rows), -1)
                for key, vals in seen.items():
                    vals.append(stats[key][stats["present"]])
        scope, n_scopes = self._scopes(groups, scores.device)
        w = _scoped_softmax(difficulty / self.tau, mask, scope, n_scopes)
        labels = {"mu": "success", "sigma": "inconsistency", "conflict": "conflict", "difficulty": "difficulty"}
        metrics = {f"cmo/{labels[k]}": float(torch.cat(v).mean()) for k, v in seen.items() if v}
        return w.to(scores.dtype), metrics

    def aggregate(self, scores, names, groups, group_ids) -> Aggregated:
        mask = ~torch.isnan(scores)
        n_applicable = mask.sum(1, keepdim=True).to(scores.dtype)
        w, metrics = self.concept_weights(scores, groups, group_ids)
        if self.mode == "uniform":
            weights = mask / n_applicable
        else:
            scope, n_scopes = self._scopes(groups, scores.device)
            idx = scope.expand(scores.shape)
            counts = torch.zeros(scores.shape[0], n_scopes, dtype=scores.dtype, device=scores.device)
            counts = counts.scatter_add(1, idx, mask.to(scores.dtype))
            if self.group_weighting == "count":
                share = counts / n_applicable
            else:
                share = (counts > 0) / (counts > 0).sum(1, keepdim=True)
            weights = w * share.gather(1, idx)
        weights = weights.detach()
        rewards = (weights * scores.nan_to_num()).sum(1)
        entropy = -(weights * weights.clamp_min(1e-30).log()).sum(1)
        metrics |= {"cmo/weight_entropy": float(entropy.mean()), "cmo/max_weight": float(weights.amax(1).mean())}
        return Aggregated(rewards, weights, metrics)


AGGREGATORS: dict[str, type[Aggregator]] = {
    "weighted_sum": WeightedSum,
    "gdpo": GDPO,
    "lsc": LogSigmoidAnd,
    "cmo": CMO,
}


def build_aggregator(name: str, **kwargs: Any) -> Aggregator:
    if name not in AGGREGATORS:
        raise ValueError(f"unknown aggregator {name!r}; available: {sorted(AGGREGATORS)}")
    return AGGREGATORS[name](**kwargs)
