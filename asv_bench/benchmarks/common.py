"""Shared workloads for the gmscore benchmarks (asv suite and compare.py).

Workloads of the design:

    G1  GaussianMixture full,  N=200_000,   D=16, K=16
    G2  GaussianMixture diag,  N=1_000_000, D=8,  K=8
    G3  GaussianMixture full,  N=100_000,   D=64, K=32
    H1  GaussianHMM diag,  100 sequences x 1000 frames, D=10, K=8
    H2  GaussianHMM full,   20 sequences x 5000 frames, D=8,  K=16
    H3  GMMHMM diag,        50 sequences x 2000 frames, D=13, K=5, n_mix=4

and two memory workloads (peak RSS of a fit on large data):

    M1  GaussianMixture full, N=5_000_000, D=16, K=32, float32 (320 MB of data)
    M2  GaussianHMM full, one sequence of T=1_000_000 frames, D=8, K=16
        (float64; float32 as well)

GMM data is a fixed-seed draw from a random mixture of K correlated Gaussian
clusters.  Both libraries (gmscore, scikit-learn) start from the same
parameters (gmscore's k-means initialisation, computed once) and run a fixed
number of EM iterations with ``tol=0``, so a fit times exactly ``n_iter``
iterations and nothing else.

HMM data is a fixed-seed draw from a random sticky HMM with fairly separated
Gaussian (mixture) emissions.  Both libraries (gmscore, hmmlearn) start from
the same deterministic parameters, set on the model with ``init_params=''``,
and run exactly ``n_iter`` Baum-Welch iterations (gmscore ``tol=0``,
hmmlearn ``tol=-inf``).

The memory workloads are generated directly in their dtype, in blocks, and
start from parameters derived from the generating model (no data pass, no
k-means), so that nothing besides the data itself is resident when the fit
starts: their memory ceilings are on the process's peak RSS, data included.

The environment variable ``GMSCORE_BENCH_PROFILE`` picks the sizes:
"regular" (default) uses the sizes above, "fast" divides N (GMM) or the
number of sequences (HMM) by 10; for M1 and M2 it divides N and T by 10.
Data and starting parameters are cached per process.
"""
import os
import sys
import warnings
from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

#: EM iterations per timed GMM fit.
N_ITER = 5
#: Baum-Welch iterations per timed HMM fit (hmmlearn's full-size H2 takes
#: ~4.6 s per iteration, so fewer than for the GMMs).
HMM_N_ITER = 3

PROFILE_ENV = "GMSCORE_BENCH_PROFILE"
PROFILES = {"regular": 1, "fast": 10}  # profile -> divisor of n_samples / n_sequences

#: EM / Baum-Welch iterations per fit of the memory workloads M1, M2: the
#: peak is reached in the first iteration, and the peers are slow there.
MEM_N_ITER = 2

LIBRARIES = ("gmscore", "sklearn")
HMM_LIBRARIES = ("gmscore", "hmmlearn")
DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class Workload:
    name: str
    covariance_type: str
    n_samples: int
    n_features: int
    n_components: int
    seed: int

    @property
    def description(self):
        return (f"{self.covariance_type}, N={self.n_samples:_}, "
                f"D={self.n_features}, K={self.n_components}")


@dataclass(frozen=True)
class HMMWorkload:
    name: str
    model: str  # "GaussianHMM" or "GMMHMM"
    covariance_type: str
    n_sequences: int
    n_frames: int  # frames per sequence
    n_features: int
    n_components: int  # hidden states
    n_mix: int  # mixture components per state (GMMHMM; 1 for GaussianHMM)
    seed: int

    @property
    def n_samples(self):
        return self.n_sequences * self.n_frames

    @property
    def lengths(self):
        return np.full(self.n_sequences, self.n_frames, dtype=np.int64)

    @property
    def description(self):
        mix = f", M={self.n_mix}" if self.model == "GMMHMM" else ""
        return (f"{self.model} {self.covariance_type}, {self.n_sequences}x{self.n_frames}, "
                f"D={self.n_features}, K={self.n_components}{mix}")


WORKLOADS = {
    "G1": Workload("G1", "full", 200_000, 16, 16, seed=1001),
    "G2": Workload("G2", "diag", 1_000_000, 8, 8, seed=1002),
    "G3": Workload("G3", "full", 100_000, 64, 32, seed=1003),
}

HMM_WORKLOADS = {
    "H1": HMMWorkload("H1", "GaussianHMM", "diag", 100, 1000, 10, 8, 1, seed=2001),
    "H2": HMMWorkload("H2", "GaussianHMM", "full", 20, 5000, 8, 16, 1, seed=2002),
    "H3": HMMWorkload("H3", "GMMHMM", "diag", 50, 2000, 13, 5, 4, seed=2003),
}

ALL_WORKLOADS = {**WORKLOADS, **HMM_WORKLOADS}

#: Memory workloads (not in ALL_WORKLOADS: compare.py's timing runs leave
#: them out; compare.py --peakmem and bench_memory.py use them).
MEMORY_WORKLOADS = {
    "M1": Workload("M1", "full", 5_000_000, 16, 32, seed=3001),
    "M2": HMMWorkload("M2", "GaussianHMM", "full", 1, 1_000_000, 8, 16, 1, seed=3002),
}
#: dtypes of the memory workloads (M1 is a float32 case by design).
MEMORY_DTYPES = {"M1": ("float32",), "M2": ("float64", "float32")}
#: Ceilings of the design on the process's peak RSS during the fit (bytes,
#: decimal GB: 0.6 GB = 572.2 MiB, 1 GB = 953.7 MiB), data included.
MEMORY_CEILINGS = {"M1": 0.6e9, "M2": 1.0e9}

#: Speed-up targets of the design (reference time / gmscore float64 time;
#: the reference is scikit-learn for G*, hmmlearn for H*).
TARGETS = {"G1": 15.0, "G2": 15.0, "G3": 8.0, "H1": 30.0, "H2": 50.0, "H3": 30.0}


def _base_workload(name):
    for table in (WORKLOADS, HMM_WORKLOADS, MEMORY_WORKLOADS):
        if name in table:
            return table[name]
    raise KeyError(f"unknown workload {name!r}")


def is_hmm(name):
    return isinstance(_base_workload(name), HMMWorkload)


def is_memory(name):
    return name in MEMORY_WORKLOADS


def current_profile():
    profile = os.environ.get(PROFILE_ENV, "regular").strip().lower() or "regular"
    if profile not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={profile!r}: expected one of {sorted(PROFILES)}")
    return profile


def get_workload(name, profile=None):
    """The workload ``name`` ("G1".."G3", "H1".."H3", "M1", "M2") at the
    sizes of ``profile``."""
    divisor = PROFILES[profile or current_profile()]
    w = _base_workload(name)
    if is_hmm(name) and is_memory(name):  # one long sequence: shorten it
        return replace(w, n_frames=w.n_frames // divisor)
    if is_hmm(name):
        return replace(w, n_sequences=max(1, w.n_sequences // divisor))
    return replace(w, n_samples=w.n_samples // divisor)


def default_n_iter(name):
    if is_memory(name):
        return MEM_N_ITER
    return HMM_N_ITER if is_hmm(name) else N_ITER


def make_data(w):
    """Draw ``w.n_samples`` float64 points from a fixed random mixture.

    Means are spread uniformly in a cube wide enough that the clusters are
    fairly (not perfectly) separated; each cluster has its own random
    correlated covariance.  Sampling is done cluster by cluster, so the only
    temporaries are one cluster's worth of draws.
    """
    rng = np.random.default_rng(w.seed)
    k, d, n = w.n_components, w.n_features, w.n_samples
    weights = rng.dirichlet(np.full(k, 5.0))
    means = rng.uniform(-4.0, 4.0, size=(k, d))
    labels = rng.choice(k, size=n, p=weights)
    X = np.empty((n, d))
    for j in range(k):
        a = rng.normal(size=(d, d))
        chol = np.linalg.cholesky(a @ a.T / d + 0.1 * np.eye(d))
        rows = np.flatnonzero(labels == j)
        X[rows] = rng.standard_normal((rows.size, d)) @ chol.T + means[j]
    return X


#: Rows per block of the blocked GMM generator (M1): ~8 MB of float64 temporaries.
GEN_BLOCK = 1 << 16


def gmm_generator(w):
    """The generating mixture of a memory GMM workload (M1): ``weights`` (K,),
    ``means`` (K, D), ``covariances`` (K, D, D)."""
    rng = np.random.default_rng([w.seed, 0])
    k, d = w.n_components, w.n_features
    a = rng.normal(size=(k, d, d))
    return {
        "weights": rng.dirichlet(np.full(k, 5.0)),
        "means": rng.uniform(-4.0, 4.0, size=(k, d)),
        "covariances": a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d),
    }


def gmm_blocks(w):
    """The ``w.n_samples`` points of a memory GMM workload (M1, O1) as
    consecutive float64 blocks of :data:`GEN_BLOCK` rows (the last one
    shorter): the whole data set is never allocated at once, and the sequence
    of draws depends on GEN_BLOCK only."""
    gen = gmm_generator(w)
    chols = np.linalg.cholesky(gen["covariances"])
    rng = np.random.default_rng([w.seed, 1])
    n, d = w.n_samples, w.n_features
    for lo in range(0, n, GEN_BLOCK):
        m = min(GEN_BLOCK, n - lo)
        labels = rng.choice(w.n_components, size=m, p=gen["weights"])
        block = rng.standard_normal((m, d))
        for j in range(w.n_components):
            rows = np.flatnonzero(labels == j)
            block[rows] = block[rows] @ chols[j].T + gen["means"][j]
        yield block


def make_blocked_gmm_data(w, dtype="float64"):
    """Draw the ``w.n_samples`` points of a memory GMM workload directly into
    a ``dtype`` array, :data:`GEN_BLOCK` rows at a time (:func:`gmm_blocks`):
    besides the result, only one block of float64 draws is ever allocated
    (float32 data is float64 data rounded)."""
    X = np.empty((w.n_samples, w.n_features), dtype=dtype)
    lo = 0
    for block in gmm_blocks(w):
        X[lo:lo + len(block)] = block
        lo += len(block)
    return X


def make_gmm_start(w):
    """Starting parameters of a memory GMM workload, from its generating
    mixture without looking at the data (so no k-means and no pass over the
    data): uniform weights, the generating means plus noise, and the
    precisions of the generating covariances widened by 0.25 I."""
    gen = gmm_generator(w)
    rng = np.random.default_rng([w.seed, 2])
    k, d = w.n_components, w.n_features
    prec = np.linalg.inv(gen["covariances"] + 0.25 * np.eye(d))
    return {
        "weights_init": np.full(k, 1.0 / k),
        "means_init": gen["means"] + rng.normal(scale=0.5, size=(k, d)),
        "precisions_init": 0.5 * (prec + prec.transpose(0, 2, 1)),  # exactly symmetric
    }


# ------------------------------------------------------------------ HMM data
def hmm_generator(w):
    """The generating HMM of workload ``w`` (independent of the number of
    sequences): a dict of ``stay``, ``jump`` (the chain), ``means`` (K, D) or
    (K, M, D), ``covars`` ((K, D) diag or (K, D, D) full; (K, M, D) for
    GMMHMM) and, for GMMHMM, ``weights`` (K, M)."""
    rng = np.random.default_rng([w.seed, 0])
    k, d, m = w.n_components, w.n_features, w.n_mix
    # Sticky chain: stay with probability ``stay``, else jump to a state drawn
    # from ``jump`` (possibly the same one).  The transition matrix is
    # stay * I + (1 - stay) * 1 jump^T, whose stationary distribution is jump.
    gen = {"stay": 0.9, "jump": rng.dirichlet(np.full(k, 5.0))}
    centres = rng.uniform(-4.0, 4.0, size=(k, d))
    if w.model == "GMMHMM":
        # Each state's mixture: components around the state's centre.
        gen["means"] = centres[:, None, :] + rng.normal(scale=1.5, size=(k, m, d))
        gen["covars"] = rng.uniform(0.2, 0.8, size=(k, m, d))
        gen["weights"] = rng.dirichlet(np.full(m, 5.0), size=k)
    elif w.covariance_type == "diag":
        gen["means"] = centres
        gen["covars"] = rng.uniform(0.3, 1.5, size=(k, d))
    elif w.covariance_type == "full":
        gen["means"] = centres
        a = rng.normal(size=(k, d, d))
        gen["covars"] = a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d)
    else:
        raise ValueError(f"unsupported workload {w}")
    return gen


def sample_states(w, gen, rng):
    """Concatenated state paths of all sequences of ``w``, vectorised.

    In the sticky chain a frame either keeps the previous state or takes a
    fresh draw from ``jump``; the first frame of every sequence is a fresh
    draw (``jump`` is also the start distribution).  Each frame's state is the
    fresh draw of the last jump at or before it."""
    n = w.n_samples
    fresh = rng.choice(w.n_components, size=n, p=gen["jump"])
    jumps = rng.random(n) >= gen["stay"]
    jumps[::w.n_frames] = True  # sequence starts
    last_jump = np.maximum.accumulate(np.where(jumps, np.arange(n), 0))
    return fresh[last_jump]


def make_hmm_data(w, dtype="float64"):
    """Draw all sequences of HMM workload ``w`` (concatenated) as ``dtype``
    (float32: the float64 draws rounded; the full-covariance case writes
    into the ``dtype`` array directly)."""
    gen = hmm_generator(w)
    rng = np.random.default_rng([w.seed, 1])
    states = sample_states(w, gen, rng)
    n, d = w.n_samples, w.n_features
    noise = rng.standard_normal((n, d))
    if w.model == "GMMHMM":
        # Mixture component of each frame by inverse CDF of its state's weights.
        cum = np.cumsum(gen["weights"], axis=1)
        u = rng.random(n)[:, None]
        comp = np.minimum((u > cum[states]).sum(axis=1), w.n_mix - 1)
        X = gen["means"][states, comp] + noise * np.sqrt(gen["covars"][states, comp])
        return X.astype(dtype, copy=False)
    if w.covariance_type == "diag":
        X = gen["means"][states] + noise * np.sqrt(gen["covars"][states])
        return X.astype(dtype, copy=False)
    X = np.empty((n, d), dtype=dtype)
    for j in range(w.n_components):  # full: one Cholesky factor per state
        rows = np.flatnonzero(states == j)
        X[rows] = noise[rows] @ np.linalg.cholesky(gen["covars"][j]).T + gen["means"][j]
    return X


def make_hmm_start(w, X):
    """Deterministic starting parameters of HMM workload ``w`` (the model
    attributes, in the shapes both libraries accept): uniform startprob_,
    sticky Dirichlet rows for transmat_, the generating means plus noise,
    the data's (co)variance for every state (and mixture component), uniform
    GMMHMM weights_.  With ``X=None`` (the memory workloads, GaussianHMM
    only) the (co)variance is the generating model's marginal one (of its
    stationary distribution, ``jump``) instead of the data's: the same
    thing, without a pass over the data."""
    gen = hmm_generator(w)
    rng = np.random.default_rng([w.seed, 2])
    k, m = w.n_components, w.n_mix
    alpha = np.ones((k, k)) + 4.0 * np.eye(k)
    start = {
        "startprob_": np.full(k, 1.0 / k),
        "transmat_": np.array([rng.dirichlet(a) for a in alpha]),
        "means_": gen["means"] + rng.normal(scale=0.5, size=gen["means"].shape),
    }
    if X is None:
        if w.model == "GMMHMM":
            raise ValueError("make_hmm_start(w, None) supports GaussianHMM only")
        p, mu, cov = gen["jump"], gen["means"], gen["covars"]
        if w.covariance_type == "diag":
            cov = cov[:, :, None] * np.eye(w.n_features)
        centre = p @ mu
        marginal = np.einsum("k,kij->ij", p, cov + mu[:, :, None] * mu[:, None, :]) \
            - np.outer(centre, centre)
        if w.covariance_type == "diag":
            start["covars_"] = np.tile(np.diag(marginal), (k, 1))
        else:
            start["covars_"] = np.tile(0.5 * (marginal + marginal.T), (k, 1, 1))
    elif w.model == "GMMHMM":
        start["weights_"] = np.full((k, m), 1.0 / m)
        start["covars_"] = np.tile(X.var(axis=0), (k, m, 1))
    elif w.covariance_type == "diag":
        start["covars_"] = np.tile(X.var(axis=0), (k, 1))
    else:
        start["covars_"] = np.tile(np.cov(X, rowvar=False), (k, 1, 1))
    return start


_data_cache = {}
_start_cache = {}


def get_data(name, dtype="float64", profile=None):
    """Cached data of workload ``name`` as a C-contiguous ``dtype`` array.

    Memory workloads are generated directly in ``dtype`` (nothing else is
    cached); the others convert (and keep) the float64 data."""
    key = (name, profile or current_profile(), np.dtype(dtype).name)
    if key not in _data_cache and is_memory(name):
        w = get_workload(name, key[1])
        _data_cache[key] = (make_hmm_data(w, key[2]) if is_hmm(name)
                            else make_blocked_gmm_data(w, key[2]))
    if key not in _data_cache:
        if key[2] == "float64":
            w = get_workload(name, key[1])
            _data_cache[key] = make_hmm_data(w) if is_hmm(name) else make_data(w)
        else:
            _data_cache[key] = get_data(name, "float64", key[1]).astype(key[2])
    return _data_cache[key]


def get_lengths(name, profile=None):
    """Sequence lengths of HMM workload ``name``."""
    return get_workload(name, profile).lengths


def get_start(name, profile=None):
    """Cached starting parameters of workload ``name`` (the same for every
    library and dtype).  GMM: gmscore's default k-means initialisation, seed
    0, computed on the float64 data; HMM: :func:`make_hmm_start`; memory
    workloads: from the generating model, without the data
    (:func:`make_gmm_start`, ``make_hmm_start(w, None)``)."""
    profile = profile or current_profile()
    key = (name, profile)
    if key not in _start_cache and is_memory(name):
        w = get_workload(name, profile)
        _start_cache[key] = make_hmm_start(w, None) if is_hmm(name) else make_gmm_start(w)
    if key not in _start_cache and is_hmm(name):
        w = get_workload(name, profile)
        _start_cache[key] = make_hmm_start(w, get_data(name, "float64", profile))
    if key not in _start_cache:
        import gmscore

        w = get_workload(name, profile)
        init = gmscore.GaussianMixture(w.n_components, covariance_type=w.covariance_type,
                                       random_state=0, max_iter=0)
        init.fit(get_data(name, "float64", profile))
        _start_cache[key] = {"weights_init": init.weights_, "means_init": init.means_,
                             "precisions_init": init.precisions_}
    return _start_cache[key]


def make_estimator(library, name, n_threads=None, n_iter=None, profile=None, start=None,
                   implementation="log"):
    """An unfitted estimator of ``library`` that runs exactly ``n_iter`` EM
    iterations (default :func:`default_n_iter`) of workload ``name`` from the
    shared start (or from ``start``, a dict like :func:`get_start` returns).
    GMM workloads give a GaussianMixture, HMM workloads a GaussianHMM or
    GMMHMM (with the forward-backward ``implementation``)."""
    if n_iter is None:
        n_iter = default_n_iter(name)
    if start is None:
        start = get_start(name, profile)
    if is_hmm(name):
        return _make_hmm(library, get_workload(name, profile), n_threads, n_iter, start,
                         implementation)
    w = get_workload(name, profile)
    kwargs = dict(covariance_type=w.covariance_type, max_iter=n_iter, tol=0, **start)
    if library == "gmscore":
        import gmscore

        return gmscore.GaussianMixture(w.n_components, n_threads=n_threads, **kwargs)
    if library == "sklearn":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(w.n_components, **kwargs)
    raise ValueError(f"unknown library {library!r}")


def _make_hmm(library, w, n_threads, n_iter, start, implementation):
    kwargs = dict(covariance_type=w.covariance_type, n_iter=n_iter,
                  init_params="", implementation=implementation)
    if w.model == "GMMHMM":
        kwargs["n_mix"] = w.n_mix
    if library == "gmscore":
        import gmscore

        model = getattr(gmscore, w.model)(w.n_components, tol=0, n_threads=n_threads, **kwargs)
    elif library == "hmmlearn":
        import hmmlearn.hmm

        cls = _hmmlearn_gmmhmm() if w.model == "GMMHMM" else getattr(hmmlearn.hmm, w.model)
        # tol=-inf: hmmlearn stops on a gain below tol, which includes 0.
        model = cls(w.n_components, tol=-np.inf, random_state=0, **kwargs)
    else:
        raise ValueError(f"unknown library {library!r}")
    for attr, value in start.items():  # copies: fits must not alter the start
        setattr(model, attr, np.array(value, copy=True))
    return model


_gmmhmm_class = None


def _hmmlearn_gmmhmm():
    """hmmlearn's GMMHMM, except that with ``init_params=''`` its fit skips
    the k-means that hmmlearn (0.3) runs at every fit regardless of
    ``init_params`` (1 + n_components KMeans fits with n_init=10) only to
    discard the result.  That is initialisation, not Baum-Welch, and would
    inflate hmmlearn's time per iteration; the iterations are unchanged.
    Defined on first use so that importing this module does not import
    hmmlearn."""
    global _gmmhmm_class
    if _gmmhmm_class is None:
        from hmmlearn.hmm import GMMHMM

        class GMMHMMNoInitKMeans(GMMHMM):
            def _init(self, X, lengths=None):
                if self.init_params:
                    return super()._init(X, lengths)
                # What GMMHMM._init does besides the k-means.
                super(GMMHMM, self)._init(X, lengths=None)
                self._init_covar_priors()
                self._fix_priors_shape()

        _gmmhmm_class = GMMHMMNoInitKMeans
    return _gmmhmm_class


def _convergence_warnings():
    # Only from modules already loaded: silencing a warning must not import
    # a library (that would distort memory measurements).
    classes = []
    for module in ("sklearn.exceptions", "gmscore"):
        cls = getattr(sys.modules.get(module), "ConvergenceWarning", None)
        if cls is not None:
            classes.append(cls)
    return tuple(classes)


def fit_quietly(estimator, X, lengths=None):
    """``estimator.fit(X)`` (``fit(X, lengths)`` when ``lengths`` is given,
    for the HMMs) without the expected ConvergenceWarning (``tol=0`` never
    converges)."""
    args = (X,) if lengths is None else (X, lengths)
    with warnings.catch_warnings():
        for cls in _convergence_warnings():
            warnings.simplefilter("ignore", cls)
        return estimator.fit(*args)


class _FitBenchmark:
    """time_fit / peakmem_fit of one workload, parametrised by library,
    dtype and n_threads. Subclasses set ``workload``, ``params`` (libraries
    first), ``repeat`` and ``timeout``; the leading underscore keeps asv from
    collecting the base classes themselves. The peers have no threading of
    their own besides BLAS, so they run only with n_threads=1."""

    workload = None
    param_names = ["library", "dtype", "n_threads"]
    number = 1
    warmup_time = 0.0

    def setup(self, library, dtype, n_threads):
        if library != "gmscore" and n_threads != 1:
            raise NotImplementedError(f"{library} runs with n_threads=1 only")
        self.X = get_data(self.workload, dtype)
        self.lengths = get_lengths(self.workload) if is_hmm(self.workload) else None
        self.estimator = make_estimator(library, self.workload, n_threads=n_threads)
        self._blas_limit = threadpool_limits(limits=n_threads, user_api="blas")

    def teardown(self, library, dtype, n_threads):
        limit = getattr(self, "_blas_limit", None)
        if limit is not None:
            limit.restore_original_limits()

    def time_fit(self, library, dtype, n_threads):
        fit_quietly(self.estimator, self.X, self.lengths)

    def peakmem_fit(self, library, dtype, n_threads):
        fit_quietly(self.estimator, self.X, self.lengths)
