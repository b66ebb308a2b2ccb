"""GaussianMixture's restarts in lockstep (n_init > 1): one pass over the
data computes the E-step statistics of every restart still running (the
kernel in src_c/gms_restarts_impl.h; each restart gets the bits of its own
E-step), then each restart takes its own M-step. The EM driver
(gmscore._core.em) decides when to call these hooks; ``_em_lockstep``
says where sharing the pass pays (see ``shares_pass``)."""
import numpy as np

from . import _kernels, _restartsc
from ._core.covariance import COVARIANCE
from ._core.stats import GaussianStats
from ._mixture_em import estep_chunk
from ._validation import aligned

# "auto": shares_pass decides; "always" / "never" force it (tests compare
# the two paths)
POLICY = "auto"


# Bytes of all restarts' precision factors a shared pass may cycle through
# per block of rows (about an L2 cache; see shares_pass).
FACTOR_BUDGET = 256 << 10


def shares_pass(covariance_type, n_features, n_components, n_init, itemsize, in_memory):
    """Whether one pass for all restarts beats one pass per restart.

    - a source that is not in memory: always (each shared pass reads the
      chunks once instead of once per restart);
    - diag, spherical: always (memory-bound: a block read once serves every
      restart, and there are n_init times fewer parallel passes);
    - full, tied: compute-bound, so the shared block saves little; the pass
      switches between the restarts' precision factors block by block,
      which pays only while all of them stay in cache: n_init x factor
      bytes <= FACTOR_BUDGET (full D=16, K=16, n_init=5: 160 KiB, shared;
      full D=64, K=32: 5 MiB, restart after restart).
    """
    if not in_memory or covariance_type in ("diag", "spherical"):
        return True
    factor = int(np.prod(COVARIANCE[covariance_type].shape(n_components, n_features)))
    return n_init * factor * itemsize <= FACTOR_BUDGET


class LockstepRestarts:
    """The lockstep hooks of the EM driver for GaussianMixture."""

    def _em_lockstep(self, source, n_init):
        if POLICY == "never":
            return False
        # what the shared pass does not cover runs restart after restart:
        # verbose output (per restart, in order), re-seeding (extra passes
        # per restart), partial labels, missing values, a cluster
        if (self.verbose > 0 or self.on_degenerate != "raise"
                or vars(self).get("_clamp") is not None
                or getattr(source, "missing", None) is not None
                or getattr(source, "distributed", False)):
            return False
        if POLICY == "always":
            return True
        return shares_pass(self.covariance_type, source.n_features, self.n_components, n_init,
                           np.dtype(source.dtype).itemsize, source.in_memory)

    def _load_em_params(self, params):
        self.weights_, self.means_, self.covariances_, self.precisions_cholesky_ = params

    def _em_iterate_many(self, source, runs, params):
        """One EM iteration of every restart in ``runs`` (restart i at
        ``params[i]``): returns their lower bounds and new parameters."""
        kernel_models = []
        for p in params:
            self._load_em_params(p)
            kernel_models.append(self._kernel_parameters(source.dtype))
        stats = self._estep_many(source, kernel_models, [p[1] for p in params])
        values, out = [], []
        for run, p, kernel_model, st in zip(runs, params, kernel_models, stats):
            self._load_em_params(p)
            self._mstep(st, source, kernel_model)
            run.reseeded = False        # on_degenerate='raise' only
            values.append(st.loglik / st.weight_sum)
            out.append(self._em_params())
        return values, out

    def _estep_many(self, source, kernel_models, means):
        """_estep for several parameter sets: each restart's statistics
        about its means, and again about better centres for the restarts
        that need them (as _estep does for one)."""
        centres = [aligned(m, np.float64) for m in means]
        stats = self._estep_many_about(source, kernel_models, centres)
        pending = list(range(len(stats)))
        for _ in range(GaussianStats.MAX_CENTRING_PASSES - 1):
            redo = [(i, stats[i].better_centres()) for i in pending]
            redo = [(i, aligned(c, np.float64)) for i, c in redo if c is not None]
            if not redo:
                break
            again = self._estep_many_about(source, [kernel_models[i] for i, _ in redo],
                                           [c for _, c in redo])
            for (i, _), st in zip(redo, again):
                stats[i] = st
            pending = [i for i, _ in redo]
        return stats

    def _estep_many_about(self, source, kernel_models, centres):
        ct = self.covariance_type
        code = COVARIANCE[ct].code
        k, d = self.means_.shape
        reds = [_restartsc.stats_reducer(code, k, d) for _ in kernel_models]
        count = 0
        for chunk in source.chunks():
            self._check_source_features(source)
            try:
                _restartsc.estep_restarts_into(reds, code, chunk.X, kernel_models,
                                               chunk.sample_weight, centres, source.n_threads)
            except _restartsc.NonFiniteRestartError:
                # the restarts' own E-steps of this chunk raise the fit's error
                for kernel_model, c in zip(kernel_models, centres):
                    estep_chunk(_kernels.stats_reducer(code, k, d), code, source, chunk,
                                kernel_model, c)
                raise
            count += chunk.X.shape[0]
        return [GaussianStats.from_leaf(ct, c, red.total(), count)
                for c, red in zip(centres, reds)]
