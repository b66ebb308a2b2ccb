"""What a fitted hidden Markov chain answers: log-likelihoods, posteriors,
decoding (Viterbi / MAP), per-frame anomaly scores, the streaming filter,
sampling, the stationary distribution and the information criteria. Mixed
into ``BaseHMM`` (``_hmm_base.py``), which fits the chain."""
from contextlib import contextmanager

import numpy as np
from scipy import linalg

from . import _hmmc
from ._core.covariance import COVARIANCE
from ._core.prepared import DerivedValues
from ._core.sources import as_source
from ._threads import effective_n_threads, fit_n_threads, single_threaded_blas
from ._validation import check_feature_names, check_finite, check_is_fitted, check_random_state

DECODER_ALGORITHMS = ("viterbi", "map")


# Largest set of work arrays a model keeps between calls.
_SCRATCH_KEPT_BYTES = 64 << 20


class _CallScratch:
    """Work arrays of one scoring or decoding call that never leave it
    (the frame log-likelihoods): kept on the model between calls, so that
    a repeated call reuses their pages instead of faulting in fresh ones
    (about a millisecond per 10 MB)."""

    __slots__ = ("_buffers",)

    def __init__(self):
        self._buffers = {}

    def buffer(self, name, shape):
        size = int(np.prod(shape))
        flat = self._buffers.get(name)
        if flat is None or flat.size < size:
            flat = self._buffers[name] = np.empty(size)
        return flat[:size].reshape(shape)

    def nbytes(self):
        return sum(b.nbytes for b in self._buffers.values())


class ChainInference:
    """Scoring, decoding and sampling methods of ``BaseHMM``; they read the
    fitted ``startprob_`` / ``transmat_`` and the emission hooks."""

    # values derived from the fitted parameters (gmscore._core.prepared)
    # and the lent work arrays: slots, so that pickles, save and __dict__
    # never hold them
    __slots__ = ("_derived_cache", "_scratch_pool")

    @contextmanager
    def _lent_scratch(self):
        """Work arrays for one call (see _CallScratch), from the model's
        pool and back into it afterwards (at most two sets, each at most
        _SCRATCH_KEPT_BYTES)."""
        pool = getattr(self, "_scratch_pool", None)
        if pool is None:
            pool = self._scratch_pool = []
        try:
            scratch = pool.pop()     # atomic: concurrent calls get their own
        except IndexError:
            scratch = _CallScratch()
        try:
            yield scratch
        finally:
            if scratch.nbytes() <= _SCRATCH_KEPT_BYTES and len(pool) < 2:
                pool.append(scratch)

    def _derived(self, key, values, make):
        """``make()``, or what it gave last time for ``key`` if ``values``
        (the parameters it reads) are still byte for byte the same."""
        cache = getattr(self, "_derived_cache", None)
        if cache is None:
            cache = self._derived_cache = DerivedValues()
        return cache.get(key, values, make)

    def _validated_source(self, X, lengths, check_finite=True):
        check_is_fitted(self, ("startprob_", "transmat_"))
        from . import _missing_hmm   # nan_policy='marginalize' (None: not in use)

        source = _missing_hmm.source(self, X, lengths, False) or as_source(
            X, lengths=lengths, sequences=True, multi_pass=False,
            n_threads=effective_n_threads(self.n_threads), check_finite=check_finite)
        check_feature_names(self, source.feature_names)
        self._size_threads(source)
        return source

    def _size_threads(self, source):
        """One thread for a small call when n_threads is None."""
        kind = (self._emission_kind() if hasattr(self, "_emission_kind")
                else self.covariance_type)
        if source.n_samples and source.n_features and kind in COVARIANCE:
            k = self.n_components * getattr(self, "n_mix", 1)
            source.n_threads = fit_n_threads(self.n_threads, source.largest_chunk_rows(), k,
                                             source.n_features, kind)

    def _chunk_passes(self, source, scratch=None):
        """Per chunk: (chunk, frame log-likelihoods, index of its first
        sequence). With ``scratch`` (a _CallScratch) the frame
        log-likelihoods live in its arrays, valid until the next chunk."""
        first = 0
        for chunk in source.chunks():
            self._check_chunk_features(chunk)
            with single_threaded_blas():  # the kernels call BLAS from their threads
                if getattr(source, "missing", None) is not None:   # NaN marginalised
                    from ._missing_hmm import frame_log_likelihood

                    framelogprob, _ = frame_log_likelihood(self, source)
                else:
                    framelogprob, _ = self._frame_log_likelihood(chunk.X, source.n_threads,
                                                                 scratch)
            yield chunk, framelogprob, first
            first += len(chunk.offsets) - 1

    def _score(self, X, lengths, compute_posteriors):
        """(total log-likelihood, posteriors or None, rows) over a source."""
        source = self._validated_source(X, lengths)
        if getattr(source, "distributed", False):   # gmscore.dask: lazy posteriors
            with self._checked_parameters():
                if compute_posteriors:
                    total, post = source.lazy_sequences((self, "posteriors", None),
                                                        self.n_components)
                    return total, post, source.n_samples
                parts = source.map_sequences((self, "score", None))
            return float(np.sum([p[0] for p in parts])), None, source.n_samples
        total, parts, rows = 0.0, [], 0
        with self._checked_parameters(), self._lent_scratch() as scratch:
            for chunk, framelogprob, first in self._chunk_passes(source, scratch):
                posteriors = np.empty_like(framelogprob) if compute_posteriors else None
                seq_ll = self._forward_backward(framelogprob, chunk.offsets, posteriors, None,
                                                None, source.n_threads, first_sequence=first)
                total += float(seq_ll.sum())
                parts.append(posteriors)
                rows += chunk.X.shape[0]
        if not compute_posteriors:
            return total, None, rows
        return total, parts[0] if len(parts) == 1 else np.concatenate(parts), rows

    def score(self, X, lengths=None):
        """Log-likelihood of X under the model (sum over sequences)."""
        return self._score(X, lengths, False)[0]

    def score_samples(self, X, lengths=None):
        """(log-likelihood, state posteriors of shape (n_samples, n_components))."""
        return self._score(X, lengths, True)[:2]

    def predict_proba(self, X, lengths=None, causal=False):
        """State posteriors, shape (n_samples, n_components).

        ``causal=True``: forward-only posteriors p(z_t | x_1..t) of every
        frame (what a streaming filter reports), see gmscore.streaming.
        """
        if causal:
            from .streaming import causal_posteriors

            return causal_posteriors(self, X, lengths)
        return self._score(X, lengths, True)[1]

    def decode(self, X, lengths=None, algorithm=None):
        """Most likely states.

        ``algorithm='viterbi'`` gives the jointly most likely path and its log
        probability; ``'map'`` the per-frame most likely states and, as in
        hmmlearn, the sum over frames of their posterior probabilities.

        Returns
        -------
        log_prob : float
        state_sequence : ndarray of shape (n_samples,)
        """
        algorithm = self.algorithm if algorithm is None else algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(
                f"Unknown decoder {algorithm!r}; use one of {list(DECODER_ALGORITHMS)}"
            )
        if algorithm == "map":
            _, posteriors = self.score_samples(X, lengths)
            log_prob = posteriors.max(axis=1).sum()
            if isinstance(posteriors, np.ndarray):
                log_prob = float(log_prob)   # a dask array's stays lazy, as its states
            return log_prob, posteriors.argmax(axis=1)
        # Gaussian emissions turn a NaN / infinite entry of X into a NaN or
        # -inf frame log-likelihood under every state, which Viterbi reports
        # (NaN) or which makes its sequence -inf: X is scanned only then
        deferred = getattr(self, "_emissions_reveal_non_finite", False)
        source = self._validated_source(X, lengths, check_finite=not deferred)
        if getattr(source, "distributed", False):   # gmscore.dask: lazy states
            with self._checked_parameters():
                return source.lazy_sequences((self, "viterbi", None), self.n_components)
        total, parts = 0.0, []
        with self._checked_parameters(), self._lent_scratch() as scratch:
            for chunk, framelogprob, _ in self._chunk_passes(source, scratch):
                states = np.empty(chunk.X.shape[0], dtype=np.int64)
                seq_lp = np.empty(len(chunk.offsets) - 1)
                try:
                    _hmmc.viterbi(framelogprob, chunk.offsets, self.startprob_,
                                  self.transmat_, states, seq_lp, source.n_threads)
                except FloatingPointError:
                    if deferred:
                        check_finite(chunk.X, "X")
                    raise
                if deferred and not np.isfinite(seq_lp).all():
                    check_finite(chunk.X, "X")   # (an impossible path alone passes)
                total += float(seq_lp.sum())
                parts.append(states)
        return total, parts[0] if len(parts) == 1 else np.concatenate(parts)

    def anomaly_scores(self, X, lengths=None):
        """Per-frame anomaly scores: the negative log predictive density
        -log p(x_t | x_1..t-1) of each frame given the frames before it in
        its sequence (higher is more surprising), shape (n_samples,). The
        scores of a stream are what ``filter()`` reports frame by frame."""
        from .streaming import log_predictive_densities

        return -log_predictive_densities(self, X, lengths)

    def predict(self, X, lengths=None, causal=False):
        """Most likely state of each sample (by ``algorithm``); with
        ``causal=True`` the most probable state given frames up to each
        one (argmax of ``predict_proba(X, lengths, causal=True)``)."""
        if causal:
            return self.predict_proba(X, lengths, causal=True).argmax(axis=1)
        return self.decode(X, lengths)[1]

    def filter(self, max_lag=64, decode=True):
        """A streaming filter over a copy of this fitted model
        (gmscore.streaming.HMMFilter): ``update(x)``, ``update_many(X)``,
        ``smoothed(lag)``, ``viterbi_path(lag)``, ``forecast(h)``, ...;
        ``max_lag`` bounds how far back smoothing and decoding reach;
        ``decode=False`` skips the Viterbi recursion (no online decoding)."""
        from .streaming import HMMFilter

        return HMMFilter(self, max_lag=max_lag, decode=decode)

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Generate a sequence.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        state_sequence : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, ("startprob_", "transmat_"))
        with self._checked_parameters():
            return self._sample(n_samples, random_state, currstate)

    def _sample(self, n_samples, random_state, currstate):
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        k = self.n_components
        if currstate is not None and not (isinstance(currstate, (int, np.integer))
                                          and 0 <= currstate < k):
            raise ValueError(f"currstate must be a state index in [0, {k}), got {currstate!r}")
        rs = check_random_state(self.random_state if random_state is None else random_state)
        uniforms = rs.random_sample(n_samples)
        states = np.empty(n_samples, dtype=np.int64)
        _hmmc.sample_states(np.cumsum(self.startprob_), np.cumsum(self.transmat_, axis=1),
                            uniforms, -1 if currstate is None else int(currstate), states)
        X = np.empty((n_samples, self._n_features_of_emissions()))
        for state in range(k):
            idx = np.flatnonzero(states == state)
            if idx.size:
                X[idx] = self._sample_emissions(state, idx.size, rs)
        return X, states

    def get_stationary_distribution(self):
        """Stationary distribution of the chain (left eigenvector of
        ``transmat_`` for eigenvalue 1)."""
        check_is_fitted(self, ("transmat_",))
        eigvals, eigvecs = linalg.eig(np.asarray(self.transmat_).T)
        v = np.real_if_close(eigvecs[:, np.argmax(eigvals.real)])
        return np.real(v / v.sum())

    def _n_parameters(self):
        k = self.n_components
        return (k - 1) + k * (k - 1) + self._emission_n_parameters()

    def aic(self, X, lengths=None):
        """Akaike information criterion: -2 log L + 2 n_parameters."""
        return -2 * self.score(X, lengths) + 2 * self._n_parameters()

    def bic(self, X, lengths=None):
        """Bayesian information criterion: -2 log L + n_parameters log(n_samples)."""
        log_lik, _, rows = self._score(X, lengths, False)
        return -2 * log_lik + self._n_parameters() * np.log(rows)
