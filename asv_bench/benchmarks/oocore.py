"""Out-of-core workloads (shared by bench_outofcore.py and compare.py --outofcore).

    O1  GaussianMixture full, N=50_000_000, D=16, K=16, float32 (3.2 GB file),
        fitted from an ``np.memmap`` of the file; at N=10_000_000 (the first
        10M rows of the same file) also from the memmap, from an in-memory
        copy, and by scikit-learn from the in-memory copy
    O2  GaussianHMM diag, 10_000 sequences x 1_000 frames, D=10, K=8, float32
        (400 MB file) + lengths, from the memmap and from an in-memory copy

Targets of the design, full sizes only: out-of-core s/iteration <= 1.3x the
in-memory fit's, peak anonymous memory (RssAnon) of the out-of-core fit
<= 0.5 GB (decimal).

The data is a fixed-seed draw, generated in blocks and written to a raw
float32 file (C order, no header) that is then opened read-only as an
``np.memmap``: neither the generator nor the out-of-core fit ever holds the
whole array in memory.  O1 is the blocked mixture of the memory workloads
(:func:`common.gmm_blocks`), O2 a sticky HMM drawn a batch of sequences at a
time.  Both start from parameters derived from the generating model (no
k-means, no pass over the data): O1 ``weights_init`` / ``means_init`` /
``precisions_init``, O2 ``init_params=''`` with preset ``startprob_``,
``transmat_``, ``means_``, ``covars_``; every fit runs exactly ``n_iter``
iterations (``tol=0``).

Memory measure: ``RssAnon`` of /proc/self/status (anonymous pages: the heap,
the thread stacks, the in-memory copy of the data, but not the memmap's
file-backed pages, which are page cache the kernel can drop), sampled by a
background thread every ~10 ms during the fit (:class:`RssSampler`), plus
``VmHWM`` (peak total RSS, file pages included, reset just before the fit)
for reference.

``GMSCORE_BENCH_PROFILE=fast`` divides N (O1) and the number of sequences
(O2) by :data:`FAST_DIVISOR`.
"""
import os
import threading
import time
import warnings
from dataclasses import replace

import numpy as np
from threadpoolctl import threadpool_limits

from . import common

DTYPE = "float32"

WORKLOADS = {
    "O1": common.Workload("O1", "full", 50_000_000, 16, 16, seed=4001),
    "O2": common.HMMWorkload("O2", "GaussianHMM", "diag", 10_000, 1_000, 10, 8, 1, seed=4002),
}
#: O1 rows of the in-memory comparison (the first rows of the O1 file).
O1_SMALL_N = 10_000_000
#: EM / Baum-Welch iterations per fit.
N_ITER = {"O1": 3, "O2": 3}
#: Divisor of N / n_sequences of the fast profile.
FAST_DIVISOR = 10

#: Targets of the design (full sizes): out-of-core s/it over in-memory s/it,
#: and peak RssAnon of the out-of-core fit (bytes, decimal: 476.8 MiB).
RATIO_TARGET = 1.3
ANON_CEILING = 0.5e9

#: Sequences per generated block of O2 (100k frames, ~8 MB of float64 draws).
HMM_GEN_SEQUENCES = 100
#: Seconds between two RssAnon samples.
SAMPLE_INTERVAL = 0.01

MIB = 2**20


def divisor(profile=None):
    return FAST_DIVISOR if (profile or common.current_profile()) == "fast" else 1


def get_workload(name, profile=None):
    """Workload ``name`` ("O1", "O2") at the sizes of ``profile``."""
    w, div = WORKLOADS[name], divisor(profile)
    if isinstance(w, common.HMMWorkload):
        return replace(w, n_sequences=w.n_sequences // div)
    return replace(w, n_samples=w.n_samples // div)


def small_rows(name, profile=None):
    """Rows of the in-memory comparison of ``name``: the first O1_SMALL_N
    (/ divisor) rows for O1, all frames for O2."""
    if name == "O1":
        return O1_SMALL_N // divisor(profile)
    return get_workload(name, profile).n_samples


def is_hmm(name):
    return isinstance(WORKLOADS[name], common.HMMWorkload)


def default_n_iter(name):
    return N_ITER[name]


def lengths(name, profile=None, n_rows=None):
    """Sequence lengths of O2 (None for O1)."""
    if not is_hmm(name):
        return None
    w = get_workload(name, profile)
    n_rows = w.n_samples if n_rows is None else n_rows
    return np.full(n_rows // w.n_frames, w.n_frames, dtype=np.int64)


# ------------------------------------------------------------------ data
def hmm_blocks(w):
    """The frames of an HMM workload (GaussianHMM diag) as float64 blocks of
    :data:`HMM_GEN_SEQUENCES` whole sequences, each block drawn from the
    generating sticky HMM (:func:`common.hmm_generator`) like
    :func:`common.make_hmm_data` draws all of them at once."""
    if w.model != "GaussianHMM" or w.covariance_type != "diag":
        raise ValueError(f"hmm_blocks supports GaussianHMM diag only, not {w}")
    gen = common.hmm_generator(w)
    rng = np.random.default_rng([w.seed, 1])
    sd = np.sqrt(gen["covars"])
    for lo in range(0, w.n_sequences, HMM_GEN_SEQUENCES):
        part = replace(w, n_sequences=min(HMM_GEN_SEQUENCES, w.n_sequences - lo))
        states = common.sample_states(part, gen, rng)
        noise = rng.standard_normal((part.n_samples, w.n_features))
        yield gen["means"][states] + noise * sd[states]


def data_filename(name, profile=None):
    w = get_workload(name, profile)
    return f"gmscore-bench-{name}-{w.n_samples}x{w.n_features}-{DTYPE}.bin"


def write_data(name, path, profile=None):
    """Write the data of workload ``name`` to ``path`` block by block (raw
    float32, C order), through ``path + '.part'`` renamed at the end, so an
    interrupted run never leaves a complete-looking file.  Returns seconds."""
    w = get_workload(name, profile)
    blocks = hmm_blocks(w) if is_hmm(name) else common.gmm_blocks(w)
    t0 = time.perf_counter()
    tmp = path + ".part"
    rows = 0
    try:
        with open(tmp, "wb") as f:
            for block in blocks:
                f.write(np.ascontiguousarray(block, dtype=DTYPE).data)
                rows += len(block)
        if rows != w.n_samples:
            raise RuntimeError(f"{name}: wrote {rows} rows, expected {w.n_samples}")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return time.perf_counter() - t0


def open_data(name, path, profile=None, n_rows=None):
    """Read-only ``np.memmap`` of the first ``n_rows`` rows (default all)
    of the data file of ``name``."""
    w = get_workload(name, profile)
    n_rows = w.n_samples if n_rows is None else n_rows
    expected = w.n_samples * w.n_features * np.dtype(DTYPE).itemsize
    size = os.path.getsize(path)
    if size != expected:
        raise ValueError(f"{path}: {size} bytes, expected {expected} for {name}")
    return np.memmap(path, dtype=DTYPE, mode="r", shape=(n_rows, w.n_features))


def load_data(source, name, path, profile=None, n_rows=None):
    """The data a fit reads: the memmap itself (``source='memmap'``) or an
    in-memory copy of it (``'memory'``: ``np.array(memmap)``, a plain
    ndarray; ``np.asarray`` of a memmap would be a view of the mapping)."""
    mm = open_data(name, path, profile, n_rows)
    if source == "memmap":
        return mm
    if source == "memory":
        X = np.array(mm, copy=True)
        assert not isinstance(X, np.memmap) and X.base is None
        del mm
        return X
    raise ValueError(f"unknown source {source!r}")


# ------------------------------------------------------------------ models
def get_start(name, profile=None):
    """Starting parameters of ``name`` from the generating model (no data
    pass): :func:`common.make_gmm_start` / ``common.make_hmm_start(w, None)``."""
    w = get_workload(name, profile)
    return common.make_hmm_start(w, None) if is_hmm(name) else common.make_gmm_start(w)


def make_estimator(library, name, n_threads=2, n_iter=None, profile=None, start=None):
    """An unfitted estimator that runs exactly ``n_iter`` iterations of
    ``name`` from its start: gmscore or scikit-learn GaussianMixture (O1),
    gmscore GaussianHMM (O2)."""
    n_iter = default_n_iter(name) if n_iter is None else n_iter
    start = get_start(name, profile) if start is None else start
    w = get_workload(name, profile)
    if is_hmm(name):
        if library != "gmscore":
            raise ValueError(f"{name} is run with gmscore only")
        return common._make_hmm(library, w, n_threads, n_iter, start, "log")
    kwargs = dict(covariance_type=w.covariance_type, max_iter=n_iter, tol=0, **start)
    if library == "gmscore":
        import gmscore

        return gmscore.GaussianMixture(w.n_components, n_threads=n_threads, **kwargs)
    if library == "sklearn":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(w.n_components, **kwargs)
    raise ValueError(f"unknown library {library!r}")


# ------------------------------------------------------------------ memory
_STATUS_FIELDS = ("RssAnon", "RssFile", "VmRSS", "VmHWM")


def read_status():
    """{field: MiB} of :data:`_STATUS_FIELDS` from /proc/self/status (empty
    where there is no /proc)."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in _STATUS_FIELDS:
                    out[key] = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return out


def reset_peak_rss():
    """Reset VmHWM to the current RSS (Linux /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Context manager: a daemon thread reads /proc/self/status every
    ``interval`` seconds while the block runs and keeps the peaks of RssAnon,
    RssFile and VmRSS (MiB), the number of samples and the longest gap
    between two samples (a long gap means a peak may have been missed: the
    thread needs the GIL, which gmscore's kernels release).  One sample is
    also taken on entry and on exit."""

    def __init__(self, interval=SAMPLE_INTERVAL):
        self.interval = interval
        self.peak = {}
        self.n_samples = 0
        self.max_gap = 0.0
        self._stop = threading.Event()
        self._last = None
        self._thread = None

    def _sample(self):
        now = time.perf_counter()
        if self._last is not None:
            self.max_gap = max(self.max_gap, now - self._last)
        self._last = now
        for key, value in read_status().items():
            if key != "VmHWM" and value > self.peak.get(key, -1.0):
                self.peak[key] = value
        self.n_samples += 1

    def _run(self):
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
        return False


def quiet_fit(est, X, lengths_):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0 never converges
        return est.fit(X) if lengths_ is None else est.fit(X, lengths_)


def measure_fit(est, X, lengths_=None, blas_threads=None, interval=SAMPLE_INTERVAL):
    """Fit ``est`` once on ``X`` while sampling the memory: a dict of the
    fit's seconds and the MiB figures (``anon_before``: RssAnon just before
    the fit; ``peak_anon``: sampled peak RssAnon during it; ``peak_file``:
    sampled peak RssFile; ``vmhwm``: VmHWM after resetting it just before
    the fit, total RSS with file pages), ``n_samples``, ``max_gap_ms``."""
    before = read_status()
    was_reset = reset_peak_rss()
    limits = (threadpool_limits(limits=blas_threads, user_api="blas")
              if blas_threads is not None else None)
    try:
        with RssSampler(interval) as s:
            t0 = time.perf_counter()
            quiet_fit(est, X, lengths_)
            seconds = time.perf_counter() - t0
    finally:
        if limits is not None:
            limits.restore_original_limits()
    after = read_status()
    return {
        "seconds": seconds,
        "anon_before": before.get("RssAnon"),
        "peak_anon": s.peak.get("RssAnon"),
        "peak_file": s.peak.get("RssFile"),
        "peak_rss_sampled": s.peak.get("VmRSS"),
        "vmhwm": after.get("VmHWM"),
        "vmhwm_was_reset": was_reset,
        "n_samples": s.n_samples,
        "max_gap_ms": 1e3 * s.max_gap,
    }
