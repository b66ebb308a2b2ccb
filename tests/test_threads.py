"""Thread policy: the shared, exact BLAS limit (two fits in two Python
threads leave the BLAS thread counts as they were; other threads' numpy
BLAS keeps its threads during a fit) and the one-thread rule for small
problems."""
import os
import threading

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_info

from gmscore import _kernels, _threads
from gmscore.hmm import GaussianHMM
from gmscore.mixture import GaussianMixture


def blas_counts():
    return [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()
            if lib["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    """Every BLAS at two threads for the test (where it can have two), put
    back afterwards."""
    ctl = ThreadpoolController()
    with ctl.limit(limits=2, user_api="blas"):
        yield


def test_two_fits_in_two_threads_leave_blas_as_it_was(two_blas_threads):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 6))
    seqs = rng.normal(size=(600, 3))
    before = blas_counts()
    errors = []

    def gmm(seed):
        try:
            GaussianMixture(3, covariance_type="full", max_iter=4, tol=0, n_threads=2,
                            random_state=seed).fit(X)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def hmm(seed):
        try:
            GaussianHMM(3, covariance_type="full", n_iter=3, n_threads=2,
                        random_state=seed).fit(seqs, [300, 300])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    for round_ in range(6):
        threads = [threading.Thread(target=gmm, args=(round_,)),
                   threading.Thread(target=gmm if round_ % 2 else hmm, args=(round_ + 1,))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert blas_counts() == before, f"round {round_}"
    assert _kernels.blas_pin_depth() == 0


def test_limit_is_exact_nested_and_shared(two_blas_threads):
    before = blas_counts()
    with _threads.single_threaded_blas():
        inside = dict(blas_counts())
        with _threads.single_threaded_blas():
            assert dict(blas_counts()) == inside
        assert dict(blas_counts()) == inside
    assert blas_counts() == before
    if _kernels.blas_pins_itself():
        # the kernels' library alone is limited
        kernels = _kernels.blas_library()
        for path, n in inside.items():
            assert n == (1 if os.path.samefile(path, kernels) else dict(before)[path])
    else:
        assert all(n == 1 for n in inside.values())


@pytest.mark.parametrize("limit", [_threads._all_blas, _threads._other_blas])
def test_shared_limit_many_threads(two_blas_threads, limit):
    """Entries and exits interleaved over threads: the last one out puts
    back what the first one in saw."""
    before = blas_counts()
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        for _ in range(50):
            limit.acquire()
            limit.release()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limit.depth == 0
    assert blas_counts() == before


def test_kernel_pin_many_threads(two_blas_threads):
    before = blas_counts()
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        for _ in range(200):
            _kernels.blas_pin()
            _kernels.blas_unpin()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _kernels.blas_pin_depth() == 0
    assert blas_counts() == before


def _numpy_blas():
    """numpy's BLAS controller, when it is not the library the kernels call."""
    import numpy  # noqa: F401

    kernels = _kernels.blas_library()
    if kernels is None:
        return None
    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and "numpy" in lib.filepath \
                and not os.path.samefile(lib.filepath, kernels):
            return lib
    return None


def test_other_threads_numpy_blas_keeps_its_threads(two_blas_threads):
    lib = _numpy_blas()
    if lib is None or lib.num_threads < 2:
        pytest.skip("numpy's BLAS is the kernels' own, or has one thread only")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20000, 8))
    seen, stop = set(), threading.Event()

    def watch():
        a = np.ones((64, 64))
        while not stop.is_set():
            np.dot(a, a)
            seen.add(lib.num_threads)

    t = threading.Thread(target=watch)
    t.start()
    try:
        for ct in ("full", "tied", "diag"):
            GaussianMixture(4, covariance_type=ct, max_iter=5, tol=0, n_threads=2,
                            random_state=0).fit(X)
    finally:
        stop.set()
        t.join()
    assert seen == {2}


def test_small_work_uses_one_thread_by_default():
    assert _threads.kernel_work(309, 4, 3, "diag") < _threads.SMALL_WORK
    assert _threads.fit_n_threads(None, 309, 4, 3, "diag") == 1
    assert _threads.effective_n_threads(None, work=1000) == 1
    assert _threads.effective_n_threads(None, work=0) == 1


def test_large_work_and_no_estimate_follow_the_default():
    default = _threads.effective_n_threads(None)
    assert _threads.effective_n_threads(None, work=_threads.SMALL_WORK) == default
    assert _threads.fit_n_threads(None, 200_000, 16, 16, "full") == default


def test_explicit_n_threads_is_honoured():
    cap = _threads.effective_n_threads(2)
    assert _threads.effective_n_threads(2, work=10) == cap
    assert _threads.fit_n_threads(2, 10, 1, 1, "spherical") == cap
    assert _threads.fit_n_threads(1, 10**7, 16, 16, "full") == 1
    with pytest.raises(ValueError):
        _threads.fit_n_threads(0, 10, 1, 1, "diag")


def test_kernel_work_by_covariance_type():
    assert _threads.kernel_work(10, 2, 3, "full") == 180
    assert _threads.kernel_work(10, 2, 3, "tied") == 180
    assert _threads.kernel_work(10, 2, 3, "diag") == 60
    assert _threads.kernel_work(10, 2, 3, "spherical") == 60
