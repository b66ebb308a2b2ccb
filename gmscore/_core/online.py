"""Online EM (``partial_fit``) on top of the statistics seam.

Stepwise EM (Cappe & Moulines 2009; Liang & Klein 2009 for mini-batches;
for HMMs, mini-batch stepwise EM over whole sequences): each mini-batch's
expected statistics, per unit of sample weight, are blended into running
statistics

    s <- (1 - eta_k) s + eta_k s_batch / n_batch,   eta_k = (k + 2) ** -alpha

(k = 0 for the first blended batch, so alpha = 1 is the running average of
the batches) or with a constant ``eta`` to track drifting data. The M-step
is the model's own ``maximize`` on s scaled to the weight seen so far, so
priors and floors act as in ``fit`` on all the data seen.

The running state lives on the model as ``_online_state`` (a dict of plain
numbers and arrays, saved and loaded with the model and validated before
use).
"""
import hashlib

import numpy as np

from .stats import STATS_KINDS, ChainStats, GaussianStats

__all__ = ["partial_fit"]


def _check_schedule(alpha, eta, burn_in):
    if eta is not None:
        if isinstance(eta, bool) or not isinstance(eta, (int, float, np.number)) \
                or not 0.0 < float(eta) <= 1.0:
            raise ValueError(f"eta must be a number in (0, 1] (or None for the decaying "
                             f"schedule), got {eta!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) \
            or not 0.5 < float(alpha) <= 1.0:
        raise ValueError(f"alpha must be a number in (0.5, 1], got {alpha!r}")
    if isinstance(burn_in, bool) or not isinstance(burn_in, (int, np.integer)) or burn_in < 0:
        raise ValueError(f"burn_in must be a non-negative integer, got {burn_in!r}")


def _mass(stats):
    """Total sample weight behind the statistics (frames, for a chain:
    one start per sequence plus one transition per later frame)."""
    if isinstance(stats, ChainStats):
        return float(stats.start.sum() + stats.trans.sum())
    return float(stats.weight_sum)


def _blend(old, new, eta):
    """(1 - eta) old + eta new, fixed size (a chain keeps one
    log-likelihood entry instead of concatenating sequences)."""
    if isinstance(new, GaussianStats):
        return old.scaled(1.0 - eta) + new.scaled(eta)
    em = None
    if new.emissions is not None:
        em = old.emissions.scaled(1.0 - eta) + new.emissions.scaled(eta)
    ll = (1.0 - eta) * old.loglik + eta * new.loglik
    return ChainStats((1.0 - eta) * old.start + eta * new.start,
                      (1.0 - eta) * old.trans + eta * new.trans, [ll], em, ll)


def _per_unit(stats):
    n = _mass(stats)
    if not n > 0:
        raise ValueError("the mini-batch holds no sample weight")
    if isinstance(stats, GaussianStats):
        return stats.scaled(1.0 / n), n
    em = None if stats.emissions is None else stats.emissions.scaled(1.0 / n)
    return ChainStats(stats.start / n, stats.trans / n, [stats.loglik / n], em,
                      stats.loglik / n), n


# ------------------------------------------------ the state on the model
def _parameters_digest(model):
    """A fingerprint of the means the running statistics belong to: when
    ``fit`` or the user has changed them since, online EM starts afresh
    from the model as it is."""
    means = np.ascontiguousarray(getattr(model, "means_"), dtype=np.float64)
    return hashlib.sha256(means.tobytes() + str(means.shape).encode()).hexdigest()


def _state_to_plain(stats, step, seen, digest):
    em = stats if isinstance(stats, GaussianStats) else stats.emissions
    arrays = {} if em is None else {k: np.array(v, dtype=np.float64)
                                    for k, v in em._to_arrays("e_").items()}
    plain = {"step": int(step), "seen": float(seen), "digest": digest,
             "kind": "none" if em is None else em.kind, "arrays": arrays}
    if isinstance(stats, ChainStats):
        plain["arrays"].update(start=stats.start.copy(), trans=stats.trans.copy(),
                               loglik=np.array([stats.loglik]))
    return plain


def _state_from_plain(plain, chain):
    """Running statistics from the model's ``_online_state`` (checked)."""
    try:
        step, seen, kind = int(plain["step"]), float(plain["seen"]), str(plain["kind"])
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in plain["arrays"].items()}
        if kind not in STATS_KINDS + ("none",) or step < 1 or not seen > 0 \
                or not np.isfinite(seen):
            raise ValueError("bad step, weight or kind")
        em = None if kind == "none" else GaussianStats._from_arrays(kind, arrays, "e_")
        if chain:
            ll = arrays["loglik"]
            stats = ChainStats(arrays["start"], arrays["trans"], ll, em, float(ll[0]))
        elif em is None:
            raise ValueError("no statistics")
        else:
            stats = em
        stats.check_valid("online statistics")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ValueError(f"the model's online EM state (_online_state) is malformed ({exc}); "
                         "delete it to restart online EM from the current parameters") \
            from None
    return stats, step, seen


def _compatible(model, running, batch):
    """Running statistics that no longer fit the model (n_components or
    covariance_type changed, parameters set by hand to another shape)."""
    a = running if isinstance(running, GaussianStats) else running.emissions
    b = batch if isinstance(batch, GaussianStats) else batch.emissions
    if (a is None) != (b is None):
        return False
    if isinstance(batch, ChainStats) and running.start.shape != batch.start.shape:
        return False
    return a is None or (a.kind == b.kind and a.centres.shape == b.centres.shape)


def partial_fit(model, accumulate, fit, *, alpha, eta, burn_in):
    """One stepwise EM update of ``model``.

    ``accumulate()`` returns the mini-batch's statistics under the current
    parameters; ``fit()`` initialises an unfitted model on the batch (as
    ``fit`` does). Errors leave the model as it was.
    """
    _check_schedule(alpha, eta, burn_in)
    is_fitted = getattr(model, "__sklearn_is_fitted__", None)
    fitted = is_fitted() if is_fitted is not None else hasattr(model, "precisions_cholesky_")
    plain = vars(model).get("_online_state")
    if not fitted:
        fit()   # restores the model on failure
        batch, n = _per_unit(accumulate())
        model._online_state = _state_to_plain(batch, 1, n, _parameters_digest(model))
        return model
    batch, n = _per_unit(accumulate())
    chain = isinstance(batch, ChainStats)
    if plain is not None:
        running, step, seen = _state_from_plain(plain, chain)
        if not _compatible(model, running, batch) or \
                plain.get("digest") != _parameters_digest(model):
            plain = None
    if plain is None:       # a fitted model, first online step: start from its batch
        running, step, seen = batch, 1, n
        new = batch
    else:
        rate = float(eta) if eta is not None else (step + 1.0) ** -float(alpha)
        new = _blend(running, batch, rate)
        step, seen = step + 1, seen + n
    if step > burn_in:
        model.maximize(new.scaled(seen))
    model._online_state = _state_to_plain(new, step, seen, _parameters_digest(model))
    return model
