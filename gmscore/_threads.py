"""Thread-count policy shared by every estimator.

``n_threads=None`` follows OpenMP's own default, which honours
``OMP_NUM_THREADS`` and threadpoolctl limits, capped at the CPUs this process
may run on. The kernels never call BLAS from inside a parallel region, and the
Python M-step runs between kernel calls, so BLAS is pinned to one thread
during a fit only to keep its small factorisations from spinning up a pool
that would compete with the OpenMP threads.
"""
import os
from contextlib import contextmanager
from numbers import Integral

import numpy as np

from . import _kernels

_controller = None


def available_cpus():
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def effective_n_threads(n_threads=None):
    """Resolve an estimator's ``n_threads`` to the count the kernels use."""
    if n_threads is None:
        n_threads = _kernels.omp_max_threads()
    elif isinstance(n_threads, bool) or not isinstance(n_threads, Integral) or n_threads < 1:
        raise ValueError(
            f"n_threads must be None or a positive integer, got {n_threads!r}"
        )
    if not _kernels.has_openmp():
        return 1
    return int(max(1, min(int(n_threads), available_cpus())))


def _threadpool_controller():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread for the duration of a fit."""
    with _threadpool_controller().limit(limits=1, user_api="blas"):
        yield


# ------------------------------------------------------------ fit memory
_MIB = 1 << 20


def _cov_code(cov_type):
    if isinstance(cov_type, Integral) and not isinstance(cov_type, bool):
        return int(cov_type)
    from ._core.covariance import COVARIANCE

    return COVARIANCE[cov_type].code


def _mstep_bytes(code, k, d):
    """The M-step's arrays, roughly: covariances, precision factors and
    precisions of the new parameters, the old ones kept to restore a failed
    fit and the best restart's, the statistics' total, and (full, tied) the
    D x D temporaries of the factorisations."""
    s2 = _kernels.s2_size(code, k, d)
    square = d * d if code in (0, 1) else 0
    return 8 * (10 * s2 + 4 * square + 4 * k * (d + 1))


def _address_space_limit():
    try:
        import resource
    except ImportError:  # not on a POSIX system
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def _strict_overcommit():
    """Linux's vm.overcommit_memory = 2: every mapping is committed."""
    try:
        with open("/proc/sys/vm/overcommit_memory") as f:
            return f.read().strip() == "2"
    except OSError:
        return False


def _largest_fitting(shared, per_thread, n_threads):
    """Most threads in [1, n_threads] whose memory can be mapped now (0 if
    not even one); the test is monotone in the thread count."""
    if _kernels.reserve_trial(shared, per_thread, n_threads):
        return n_threads
    lo, hi = 0, n_threads  # lo fits (or is 0), hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _kernels.reserve_trial(shared, per_thread, mid):
            lo = mid
        else:
            hi = mid
    return lo


def reserve_fit_memory(cov_type, n_components, n_features, n_threads, n_samples=0,
                       extra_bytes=0):
    """Check that a fit's memory can be had, then start its threads.

    Call at the start of ``fit``, before any kernel or BLAS call. It maps
    and releases the work memory the kernels will allocate for a model of
    this size (``_kernels.fit_work_bytes``) plus the M-step's arrays and
    ``extra_bytes``, and, for each thread, its stack, malloc arena and BLAS
    buffers; then it runs one parallel region of that many threads in which
    each thread calls BLAS once, and calls numpy's BLAS once on this thread.
    The threads and the BLAS libraries' buffers stay, so the fit cannot hit
    the two failures that cannot be caught once they happen (libgomp aborts
    the process when it cannot create a thread; OpenBLAS retries forever
    when it cannot map a thread's buffer), and its own allocations fail
    with MemoryError.

    Parameters
    ----------
    cov_type : str or int
        Covariance type ('full', 'tied', 'diag', 'spherical') or its kernel
        code.
    n_components, n_features : int
        Model size (for a GMM-HMM, states x mixture components).
    n_threads : int
        Threads the fit would use (``effective_n_threads``).
    n_samples : int, default=0
        Rows of the largest kernel call (sizes the statistics reducer).
    extra_bytes : int, default=0
        Further memory the caller will need during the fit.

    Returns
    -------
    n_threads : int
        The thread count the fit must use: ``n_threads``, or fewer when the
        memory of that many threads cannot be had.

    Raises
    ------
    MemoryError
        When not even one thread's worth can be had.

    Examples
    --------
    >>> from gmscore._threads import reserve_fit_memory
    >>> reserve_fit_memory("full", 3, 10, 1, n_samples=1000)
    1
    """
    code = _cov_code(cov_type)
    k, d, n_threads = int(n_components), int(n_features), int(n_threads)
    if n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
    shared, per_thread = _kernels.fit_work_bytes(code, k, d, int(n_samples))
    shared += _mstep_bytes(code, k, d) + int(extra_bytes)
    if _address_space_limit() is None and not _strict_overcommit():
        # No limit on the address space and lazy commit: mapping the
        # headroom cannot fail and thread stacks are always mapped, so the
        # two uncatchable failures cannot happen; the kernels' own
        # allocations still fail with MemoryError. Skip the trial (it
        # costs ~1 ms a fit, a tenth of a small HMM fit).
        return n_threads
    usable = _largest_fitting(shared, per_thread, n_threads)
    if usable == 0:
        headroom = _kernels.thread_headroom()
        first = _kernels.BLAS_HEADROOM
        limit = _address_space_limit()
        where = (f"the address-space limit (RLIMIT_AS) is {limit / _MIB:.0f} MiB"
                 if limit is not None else "the system refused the memory")
        raise MemoryError(
            f"gmscore: fitting {k} components of {d} features (covariance code {code}) "
            f"needs about {(shared + per_thread + first) / _MIB:.0f} MiB besides the "
            f"data ({shared / _MIB:.0f} MiB of parameters and statistics, "
            f"{per_thread / _MIB:.0f} MiB of scratch per thread, and up to "
            f"{headroom / _MIB:.0f} MiB of stack and buffers per thread), and {where}. Use fewer components or "
            "features, a 'diag' or 'spherical' covariance_type, or allow the process "
            "more memory.")
    with single_threaded_blas():
        _kernels.warm_threads(usable)
        a = np.ones((256, 256))
        np.dot(a, a)  # numpy's BLAS sets up this thread's buffer
    return usable
