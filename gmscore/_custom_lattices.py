"""What ``gmscore.BaseHMM`` (gmscore._custom_hmm) hands a custom emission
model and takes back from it: X in memory with its sequences, hmmlearn's
checks of X and of the frame log-likelihoods a subclass returns, and
hmmlearn's forward and backward lattices (log-space and scaled), which the
compiled forward-backward pass does not keep, recomputed in numpy: one
step per frame position, vectorised over the sequences that long.
"""
import numpy as np

from ._validation import check_array


class _Sequences:
    """In-memory X with its sequences, shaped as the chain machinery reads
    a data source: one chunk holding every sequence."""

    def __init__(self, X, offsets, n_threads):
        self.X = X
        self.offsets = offsets
        self.n_threads = n_threads

    @property
    def lengths(self):
        return np.diff(self.offsets)

    def chunks(self):
        yield self


def _check_sequences_X(X):
    """hmmlearn's ``check_array(X)``: a finite 2-D numeric array; integer,
    boolean and floating dtypes are kept (count and symbol emissions need
    their integers), anything else becomes float64."""
    dtype = getattr(X, "dtype", None)
    if not isinstance(dtype, np.dtype):
        try:
            dtype = np.asarray(X).dtype
        except (TypeError, ValueError):
            dtype = None
    keep = (dtype,) if dtype is not None and dtype.kind in "biuf" else (np.float64,)
    return check_array(X, dtypes=keep)


def _check_frame_log_likelihood(flp, n_frames, n_components):
    try:
        arr = np.ascontiguousarray(flp, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("_compute_log_likelihood must return an array of numbers of shape "
                        f"(n_samples, n_components), got {type(flp).__name__}") from None
    if arr.shape != (n_frames, n_components):
        raise ValueError(
            f"_compute_log_likelihood returned shape {arr.shape}; it must return one "
            f"log-likelihood per frame and state, shape ({n_frames}, {n_components})")
    if np.isnan(arr).any() or np.isposinf(arr).any():
        raise ValueError("_compute_log_likelihood returned NaN or +inf; log-likelihoods "
                         "must be finite or -inf (an impossible emission)")
    return arr


def _by_length(offsets):
    """Sequence starts, ends and lengths, longest first, and per step t the
    number of sequences longer than t (those still active at step t)."""
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    order = np.argsort(-lengths, kind="stable")
    starts, lengths = starts[order], lengths[order]
    active = np.searchsorted(-lengths, -np.arange(int(lengths[0])), side="left")
    return starts, starts + lengths - 1, active


def _log_lattices(flp, offsets, startprob, transmat):
    """hmmlearn's log-space lattices of every sequence (rows as in flp):

        log alpha_0 = log pi + l_0,  log alpha_t = logsumexp_i(log alpha_{t-1,i} + log A_ij) + l_t
        log beta_{T-1} = 0,          log beta_t = logsumexp_j(log A_ij + l_{t+1,j} + log beta_{t+1,j})

    One numpy step per frame position, over all sequences that long."""
    starts, ends, active = _by_length(offsets)
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(startprob), np.log(transmat)
    fwd = np.empty_like(flp)
    bwd = np.empty_like(flp)
    fwd[starts] = log_start + flp[starts]
    bwd[ends] = 0.0
    for t in range(1, len(active)):
        r = starts[:active[t]] + t
        fwd[r] = np.logaddexp.reduce(fwd[r - 1][:, :, None] + log_trans, axis=1) + flp[r]
        r = ends[:active[t]] - t
        bwd[r] = np.logaddexp.reduce(log_trans + (flp[r + 1] + bwd[r + 1])[:, None, :], axis=2)
    return fwd, bwd


def _scaled_lattices(frameprob, offsets, startprob, transmat):
    """hmmlearn's scaled lattices of every sequence, with c_t = 1 / (mass
    of the unscaled forward step):

        alpha_0 = c_0 pi * p_0,  alpha_t = c_t (alpha_{t-1} A) * p_t
        beta_{T-1} = c_{T-1},    beta_t = c_t A (p_{t+1} * beta_{t+1})
    """
    starts, ends, active = _by_length(offsets)
    fwd = np.empty_like(frameprob)
    bwd = np.empty_like(frameprob)
    scale = np.empty(frameprob.shape[0])

    def forward_step(r, step):
        with np.errstate(divide="ignore"):
            scale[r] = 1.0 / step.sum(axis=1)
        fwd[r] = step * scale[r, None]

    forward_step(starts, startprob * frameprob[starts])
    for t in range(1, len(active)):
        r = starts[:active[t]] + t
        forward_step(r, (fwd[r - 1] @ transmat) * frameprob[r])
    bwd[ends] = scale[ends, None]
    for t in range(1, len(active)):
        r = ends[:active[t]] - t
        bwd[r] = scale[r, None] * ((frameprob[r + 1] * bwd[r + 1]) @ transmat.T)
    return fwd, bwd
