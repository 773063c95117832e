"""The class-balanced binary cross-entropy of OSVOS, in the numerically stable from-logits form."""
from __future__ import annotations

from keras import ops


def balanced_bce(labels, logits):
    """Mean over the batch of the per-image class-balanced BCE, averaged over pixels.

    Per image: L = −β Σ_{Y+} log σ(x) − (1−β) Σ_{Y−} log(1−σ(x)), with β = |Y−|/|Y|, divided by |Y| so the
    scale does not depend on the image size. ``−log σ(x)`` and ``−log(1−σ(x))`` are computed as
    ``softplus(−x)`` and ``softplus(x)``: finite for any logit. An image without foreground (β = 1) gives
    no weight to its background, as in the original OSVOS loss.
    """
    logits = ops.cast(logits, "float32")
    labels = ops.cast(labels, "float32")
    return _balanced(labels, logits, ops.cast(ops.prod(ops.shape(labels)[1:]), "float32"))


def weighted_balanced_bce(labels, logits):
    """``balanced_bce`` over the pixels that count: ``labels[..., 0]`` is the target, ``labels[..., 1]`` 1 where the
    pixel counts and 0 where it is ignored (|Y|, |Y+| and |Y−| are counted over the counted pixels only). With every
    pixel counted it equals ``balanced_bce``."""
    logits = ops.cast(logits, "float32")[..., 0]
    labels = ops.cast(labels, "float32")
    target, counted = labels[..., 0], labels[..., 1]
    count = ops.maximum(ops.sum(counted, axis=tuple(range(1, len(logits.shape)))), 1.0)
    return _balanced(target, logits, count, counted)


def _balanced(target, logits, count, counted=None):
    """The batch mean of β Σ_{Y+} softplus(−x) + (1−β) Σ_{Y−} softplus(x), over ``count`` pixels per image; only
    where ``counted`` is 1 when it is given (every pixel when None)."""
    axes = tuple(range(1, len(logits.shape)))

    def total(values):
        return ops.sum(values if counted is None else counted * values, axis=axes)

    beta = (count - total(target)) / count
    loss_pos = total(target * ops.softplus(-logits))
    loss_neg = total((1.0 - target) * ops.softplus(logits))
    return ops.mean((beta * loss_pos + (1.0 - beta) * loss_neg) / count)
