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
