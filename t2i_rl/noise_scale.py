"""How many images one flow-GRPO update needs: the gradient noise scale of McCandlish et al. (2018).

"An Empirical Model of Large-Batch Training" (arXiv 1812.06162), Appendix A.1: with ``G`` the true gradient and
``Sigma`` the per-example gradient covariance, a gradient averaged over ``B`` examples has
``E|g_B|^2 = |G|^2 + tr(Sigma) / B``. Measuring ``|g|^2`` at two batch sizes ``B_small < B_big`` gives the unbiased
estimates

    |G|^2     = (B_big |g_big|^2 - B_small |g_small|^2) / (B_big - B_small)
    tr(Sigma) = (|g_small|^2 - |g_big|^2) / (1 / B_small - 1 / B_big)

and the *simple noise scale* ``B_simple = tr(Sigma) / |G|^2``: updates on batches much smaller than ``B_simple``
are mostly noise, batches much larger waste samples. Here ``K`` independent batches of ``b`` images give
``B_small = b`` (``|g_small|^2`` averaged over the K batches) and ``B_big = K b`` (their mean gradient).
"""

from __future__ import annotations

import math

import torch


def gradient_noise_scale(grads: torch.Tensor, batch_size: int) -> dict[str, float]:
    """``grads[k]``: the gradient of batch ``k`` (``[K, D]``, ``K >= 2`` independent batches of ``batch_size``).

    Returns ``grad_sq`` (estimate of ``|G|^2``), ``trace_sigma``, ``b_simple`` (``inf`` when ``|G|^2 <= 0``: no
    signal measurable with ``K * batch_size`` examples), ``mean_pairwise_cosine`` of the batch gradients (``~0``
    when noise dominates; ``|G|^2 / (|G|^2 + tr(Sigma) / b)`` in expectation) and ``signal_fraction_per_batch``
    (``|G|^2`` over ``E|g_b|^2``, the share of a batch gradient's squared norm that is signal).
    """
    if grads.ndim != 2 or grads.shape[0] < 2:
        raise ValueError(f"need [K >= 2, D] batch gradients, got shape {tuple(grads.shape)}")
    grads = grads.double()
    k = grads.shape[0]
    b_small, b_big = batch_size, k * batch_size
    small_sq = grads.pow(2).sum(dim=1).mean().item()
    big_sq = grads.mean(dim=0).pow(2).sum().item()
    grad_sq = (b_big * big_sq - b_small * small_sq) / (b_big - b_small)
    trace_sigma = (small_sq - big_sq) / (1 / b_small - 1 / b_big)
    unit = torch.nn.functional.normalize(grads, dim=1)
    cos = unit @ unit.T
    off_diagonal = cos[~torch.eye(k, dtype=torch.bool)]
    return {
        "grad_sq": grad_sq,
        "trace_sigma": trace_sigma,
        "b_simple": trace_sigma / grad_sq if grad_sq > 0 else math.inf,
        "mean_pairwise_cosine": off_diagonal.mean().item(),
        "signal_fraction_per_batch": grad_sq / small_sq if small_sq > 0 else 0.0,
    }
