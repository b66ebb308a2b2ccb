"""Work memory and threads of a fit (issue "Trust", items 11 and 12).

Item 11: the full-covariance statistics form their per-row products in row
groups sized from D, so a thread's scratch stays within a few MiB plus
O(block x D) instead of growing as 256 x D^2 (4 GB per thread at D = 2000).
Item 12: ``reserve_fit_memory`` checks a fit's memory before its threads and
BLAS buffers exist, so an address-space limit gives MemoryError (or fewer
threads) instead of libgomp aborting the process or OpenBLAS retrying an
allocation forever.

Memory-limit experiments run in a subprocess under ``RLIMIT_AS``, with a
timeout, so that a failure cannot take the test process with it.
"""
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

from gmscore import _kernels
from gmscore._gaussian import COV_CODE
from gmscore._threads import reserve_fit_memory

resource = pytest.importorskip("resource")
if not os.path.exists("/proc/self/status"):
    pytest.skip("needs /proc/self/status to size the limits", allow_module_level=True)

_PRELUDE = """
import resource, sys
import numpy as np

def vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

def limit_address_space(extra_mib):
    # the soft limit only, so that it can be lifted again
    limit = vm_size() + extra_mib * (1 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))

def lift_limit():
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
"""


# AddressSanitizer reserves terabytes of shadow address space at start-up
# and aborts when its own allocator is refused memory: an address-space
# limit cannot be exercised under it (.ci/run's sanitizer stage preloads
# it). The stage without sanitizers runs these tests.
under_asan = pytest.mark.skipif(
    "libasan" in os.environ.get("LD_PRELOAD", ""),
    reason="RLIMIT_AS cannot be tested under AddressSanitizer (shadow memory)")


def run_limited(body, timeout=120):
    """Run PRELUDE + body in a fresh interpreter; (returncode, stdout,
    stderr), or returncode None when it hung past the timeout."""
    code = _PRELUDE + textwrap.dedent(body)
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="1")
    try:
        # from outside the source tree, so the installed package is imported
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=timeout, env=env, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", e.stderr or ""
    return p.returncode, p.stdout, p.stderr


# ------------------------------------------------- item 11: scratch bounds
@under_asan
def test_full_statistics_fit_a_tight_address_space():
    """D = 1000, soft responsibilities (the dense one-product path), two
    threads, 600 MiB of address space beyond what the process holds: the
    old scratch of (256 + K) x D^2 / 2 doubles (1 GB per thread) raised
    MemoryError; the statistics must now be computed, and match numpy."""
    rc, out, err = run_limited("""
        from gmscore import _kernels
        rng = np.random.default_rng(0)
        k, d, n = 2, 1000, 512
        X = rng.standard_normal((n, d))
        resp = rng.dirichlet(np.ones(k), size=n)
        centres = X[:k].copy()
        nk, s1 = np.zeros(k), np.zeros((k, d))
        s2 = np.zeros(_kernels.s2_size(0, k, d))
        # threads and BLAS buffers first (a small problem), then the limit
        _kernels.accumulate(0, X[:300, :8].copy(), resp[:300], None, None,
                            centres[:, :8].copy(), nk, s1[:, :8].copy(),
                            np.zeros(_kernels.s2_size(0, k, 8)), 2)
        limit_address_space(600)
        _kernels.accumulate(0, X, resp, None, None, centres, nk, s1, s2, 2)
        lift_limit()
        s2 = s2.reshape(k, d, d)
        for c in range(k):
            z = np.sqrt(resp[:, c])[:, None] * (X - centres[c])
            ref = np.triu(z.T @ z)
            assert np.allclose(np.triu(s2[c]), ref, rtol=1e-10, atol=1e-9), c
        print("OK")
    """)
    assert rc == 0 and out.strip() == "OK", (rc, out, err[-2000:])


@pytest.mark.parametrize("cov_type", ["full", "tied"])
def test_per_thread_work_memory_is_bounded_in_d(cov_type):
    """Per thread: O(block x D) + GMS_SCRATCH_DOUBLES (+ the thread's own
    statistics leaf, K x D x D for full), never O(block x D^2)."""
    k = 2
    for d in (10, 100, 500, 2000, 3000):
        shared, per_thread = _kernels.fit_work_bytes(COV_CODE[cov_type], k, d, 3000)
        leaf = 8 * (k + k * d + _kernels.s2_size(COV_CODE[cov_type], k, d) + 2)
        block_rows = _kernels.BLOCK_ROWS
        bound = leaf + 8 * (_kernels.SCRATCH_DOUBLES + 8 * block_rows * (d + 16))
        assert per_thread <= bound, (d, per_thread, bound)
    # the D = 2000 case of the issue: ~13 MB of scratch besides the 64 MB leaf
    _, per_thread = _kernels.fit_work_bytes(0, 2, 2000, 3000)
    assert per_thread - 8 * (2 + 2 * 2000 + 2 * 2000**2 + 2) < 16 << 20


def ref_full_s2(X, r, centres):
    out = []
    for c in range(len(centres)):
        z = np.sqrt(r[:, c])[:, None] * (X - centres[c])
        out.append(z.T @ z)
    return np.stack(out)


def run_accumulate(code, X, resp, centres, n_threads):
    k, d = centres.shape
    nk, s1 = np.zeros(k), np.zeros((k, d))
    s2 = np.zeros(_kernels.s2_size(code, k, d))
    _kernels.accumulate(code, X, resp, None, None, centres, nk, s1, s2, n_threads)
    return nk, s1, s2


def run_chunks(code, X, resp, centres, cuts, n_threads):
    k, d = centres.shape
    red = _kernels.stats_reducer(code, k, d)
    for a, b in zip(cuts[:-1], cuts[1:]):
        _kernels.accumulate_into(red, code, np.ascontiguousarray(X[a:b]),
                                 np.ascontiguousarray(resp[a:b]), None, None, centres,
                                 n_threads)
    return red.total()


@pytest.mark.parametrize("d, k", [(100, 3), (60, 40), (300, 2)])
def test_dense_full_statistics_in_row_groups(d, k):
    """Dimensions whose dense statistics take sub-blocks of 64 or 128 rows
    (or, at (300, 2), none: the sparse path): same statistics as numpy,
    bitwise the same for every thread count and for chunks of whole
    blocks."""
    rng = np.random.default_rng([d, k])
    n = 700
    X = rng.normal(loc=0.5, size=(n, d))
    resp = rng.dirichlet(np.ones(k), size=n)
    centres = rng.normal(size=(k, d))
    nk, s1, s2 = run_accumulate(0, X, resp, centres, 1)
    ref = ref_full_s2(X, resp, centres)
    iu = np.triu_indices(d)
    s2 = s2.reshape(k, d, d)
    for c in range(k):
        scale = np.abs(ref[c]).max()
        np.testing.assert_allclose(s2[c][iu], ref[c][iu], rtol=0, atol=1e-12 * scale * n)
    np.testing.assert_allclose(nk, resp.sum(0), rtol=1e-13)
    for a, b in zip(run_accumulate(0, X, resp, centres, 2), (nk, s1, s2.ravel())):
        np.testing.assert_array_equal(a, b)
    whole = run_chunks(0, X, resp, centres, [0, n], 2)
    split = run_chunks(0, X, resp, centres, [0, 256, 512, n], 1)
    np.testing.assert_array_equal(whole, split)


@pytest.mark.parametrize("cov_type", ["full", "tied"])
def test_sparse_statistics_in_row_groups(cov_type):
    """D = 2100: the rank updates take fewer rows than a block at a time;
    the statistics still match numpy, for 1 and 2 threads alike."""
    code = COV_CODE[cov_type]
    rng = np.random.default_rng(5)
    n, d, k = 300, 2100, 2
    X = rng.standard_normal((n, d))
    labels = rng.integers(k, size=n)
    resp = np.eye(k)[labels]  # hard: the sparse path
    centres = rng.normal(scale=0.1, size=(k, d))
    nk, s1, s2 = run_accumulate(code, X, resp, centres, 1)
    refs = ref_full_s2(X, resp, centres)
    ref = refs if cov_type == "full" else refs.sum(0)[None]
    got = s2.reshape(-1, d, d)
    for c in range(len(ref)):
        np.testing.assert_allclose(np.triu(got[c]), np.triu(ref[c]), rtol=0,
                                   atol=1e-11 * np.abs(ref[c]).max())
    for a, b in zip(run_accumulate(code, X, resp, centres, 2), (nk, s1, s2)):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------- item 12: claim before the fit
def test_reserve_fit_memory_in_process():
    assert reserve_fit_memory("full", 3, 10, 1, n_samples=1000) == 1
    assert reserve_fit_memory(COV_CODE["diag"], 3, 10, 2, n_samples=1000) in (1, 2)
    with pytest.raises(ValueError):
        reserve_fit_memory("full", 3, 10, 0)


@under_asan
def test_reserve_fit_memory_reduces_threads_then_refuses():
    """300 MiB of address space: room for the calling thread and one more
    (64 MiB of BLAS buffers, then 136 MiB of stack, arena and buffers per
    started thread) but not for two more; a model that needs more than
    the limit is refused with a MemoryError that says what it needs."""
    rc, out, err = run_limited("""
        from gmscore import _kernels
        from gmscore._threads import reserve_fit_memory
        limit_address_space(300)
        assert _kernels.reserve_trial(0, 0, 1)
        assert not _kernels.reserve_trial(0, 0, 3)
        print("threads", reserve_fit_memory("diag", 2, 3, 3, n_samples=100))
        try:
            reserve_fit_memory("full", 2, 2000, 1, n_samples=3000, extra_bytes=1 << 30)
        except MemoryError as e:
            print("refused", "RLIMIT_AS" in str(e))
    """, timeout=60)
    assert rc == 0, (rc, out, err[-2000:])
    assert out.split() == ["threads", "2", "refused", "True"], (out, err[-2000:])


@under_asan
@pytest.mark.parametrize("extra_mib", [5, 60, 130])
def test_fit_under_an_address_space_limit_fails_cleanly(extra_mib):
    """A cold process (no OpenMP thread, no BLAS buffer yet) whose address
    space is limited to a little more than it holds: with the fit's memory
    and threads claimed first, the fit raises MemoryError or succeeds
    (with the threads it could have). Without it (and before the scratch
    fix), 5 MiB made libgomp abort the process ("Thread creation failed")
    and 60 or 130 MiB left OpenBLAS retrying its buffer allocation
    forever."""
    rc, out, err = run_limited(f"""
        from gmscore.mixture import GaussianMixture
        from gmscore._threads import reserve_fit_memory
        import warnings
        warnings.simplefilter("ignore")
        X = np.random.default_rng(0).standard_normal((3000, 200))
        limit_address_space({extra_mib})
        try:
            t = reserve_fit_memory("full", 4, 200, 2, n_samples=len(X))
            GaussianMixture(4, max_iter=2, n_threads=t, random_state=0).fit(X)
            print("fitted", t)
        except MemoryError:
            print("MemoryError")
    """, timeout=60)
    assert rc is not None, f"the fit hung: {err[-2000:]}"
    assert rc == 0, (rc, out, err[-2000:])
    assert out.split()[0] in ("fitted", "MemoryError"), (out, err[-2000:])


@under_asan
@pytest.mark.parametrize("model", ["mixture", "hmm"])
@pytest.mark.parametrize("extra_mib", [5, 60, 130])
def test_plain_fit_under_an_address_space_limit_fails_cleanly(model, extra_mib):
    """The same with a plain fit: GaussianMixture.fit and GaussianHMM.fit
    claim their memory and threads themselves."""
    make = ("GaussianMixture(4, max_iter=2, n_threads=2, random_state=0).fit(X)"
            if model == "mixture" else
            "GaussianHMM(4, covariance_type='full', n_iter=2, n_threads=2, "
            "random_state=0).fit(X, [1000] * 3)")
    rc, out, err = run_limited(f"""
        from gmscore import GaussianMixture, GaussianHMM
        import warnings
        warnings.simplefilter("ignore")
        X = np.random.default_rng(0).standard_normal((3000, 200))
        limit_address_space({extra_mib})
        try:
            {make}
            print("fitted")
        except MemoryError:
            print("MemoryError")
    """, timeout=90)
    assert rc is not None, f"the fit hung: {err[-2000:]}"
    assert rc == 0, (rc, out, err[-2000:])
    assert out.split()[0] in ("fitted", "MemoryError"), (out, err[-2000:])
