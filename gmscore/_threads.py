"""Thread-count policy shared by every estimator.

``n_threads=None`` follows OpenMP's own default, which honours
``OMP_NUM_THREADS`` and threadpoolctl limits, capped at the CPUs this process
may run on, except that a problem too small to gain from threads runs on one
(``fit_n_threads``).

The kernels call BLAS from inside their OpenMP regions (the full and tied
products), so that BLAS must not start threads of its own under them.
BLAS libraries keep one thread count per process (OpenBLAS's
``openblas_set_num_threads_local`` too, in the pthreads builds the wheels
ship), so the limit is shared: a reference count under a lock, the first
holder saving the count and setting one thread, the last restoring exactly
what it saved. Where the kernels found their library's thread-count
functions (``_kernels.blas_pins_itself()``: OpenBLAS, BLIS), each kernel
call that uses BLAS holds that library, and only it (for scipy's wheels,
scipy's OpenBLAS, never numpy's), for the length of the call, and a fit
(``single_threaded_blas`` in the EM driver, for the M-step's scipy.linalg
calls) holds the same library and nothing else, so other threads' numpy
BLAS keeps its threads. Otherwise (MKL, an unknown BLAS) every BLAS library
is limited, with the same counting, for the length of the fit.
"""
import os
import threading
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


# One kernel pass below this much work (kernel_work's units) runs on one
# thread by default. Measured on 2 shared, loaded cores: one thread does
# about 1e10 units a second (a pass of 2**21 takes ~0.2 ms); starting and
# joining two threads takes ~3 us at the median but 12 ms at the 99th
# percentile and a mean of up to ~0.8 ms when the cores are contended (a
# descheduled thread holds up the region), so below this size a second
# thread can save at most ~0.1 ms a pass and risks milliseconds.
SMALL_WORK = 1 << 21


def kernel_work(n_samples, n_components, n_features, covariance_type="full"):
    """Work of one kernel pass, in multiply-adds: rows x components x
    (features^2 for 'full' and 'tied', features for 'diag' and 'spherical').

    Examples
    --------
    >>> kernel_work(1000, 4, 8, "diag")
    32000
    """
    n, k, d = int(n_samples), int(n_components), int(n_features)
    code = _cov_code(covariance_type)
    per = d * d if code in (0, 1) else d
    return max(0, n) * max(1, k) * max(1, per)


def effective_n_threads(n_threads=None, work=None):
    """Resolve an estimator's ``n_threads`` to the count the kernels use.

    An explicit ``n_threads`` is honoured (capped at the available CPUs);
    ``None`` is OpenMP's default, or 1 when ``work`` (``kernel_work`` of one
    pass) is given and below ``SMALL_WORK``. The results do not depend on
    the thread count, only the speed does.

    Examples
    --------
    >>> effective_n_threads(1)
    1
    >>> effective_n_threads(None, work=1000)
    1
    """
    if n_threads is None:
        if work is not None and work < SMALL_WORK:
            return 1
        n_threads = _kernels.omp_max_threads()
    elif isinstance(n_threads, bool) or not isinstance(n_threads, Integral) or n_threads < 1:
        raise ValueError(
            f"n_threads must be None or a positive integer, got {n_threads!r}"
        )
    if not _kernels.has_openmp():
        return 1
    return int(max(1, min(int(n_threads), available_cpus())))


def fit_n_threads(n_threads, n_samples, n_components, n_features, covariance_type="full"):
    """The thread count for a model of this size: ``effective_n_threads``
    with the work of one kernel pass over ``n_samples`` rows (for an HMM,
    ``n_components`` = states, or states x mixture components).

    Examples
    --------
    >>> fit_n_threads(None, 309, 3, 4, "diag")
    1
    >>> fit_n_threads(2, 309, 3, 4, "diag") == min(2, effective_n_threads(2))
    True
    """
    return effective_n_threads(
        n_threads, work=kernel_work(n_samples, n_components, n_features, covariance_type))


def _threadpool_controller():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


class _SharedLimit:
    """A one-thread limit on some BLAS libraries (threadpoolctl's
    controllers), shared by every thread: the first holder saves their
    counts and limits them, the last restores what it saved."""

    def __init__(self, select):
        self._select = select
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = ()

    def acquire(self):
        with self._lock:
            if self._depth == 0:
                libs = [lib for lib in _threadpool_controller().lib_controllers
                        if lib.user_api == "blas" and self._select(lib)]
                saved = []
                try:
                    for lib in libs:
                        n = lib.num_threads
                        saved.append((lib, n))
                        if n != 1:
                            lib.set_num_threads(1)
                except BaseException:
                    for lib, n in saved:
                        lib.set_num_threads(n)
                    raise
                self._saved = tuple(saved)
            self._depth += 1

    def release(self):
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                saved, self._saved = self._saved, ()
                for lib, n in saved:
                    if n != 1:
                        lib.set_num_threads(n)

    @property
    def depth(self):
        return self._depth


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _not_the_kernels(lib):
    path = _kernels.blas_library()
    return path is None or not _same_file(lib.filepath, path)


# every BLAS library (when the kernels cannot pin theirs), and the others
_all_blas = _SharedLimit(lambda lib: True)
_other_blas = _SharedLimit(_not_the_kernels)


@contextmanager
def single_threaded_blas():
    """Hold the BLAS the kernels call at one thread for the block.

    Thread-safe and nestable, and exact: when the last holder leaves, each
    library has the count it had when the first came in. Where the kernels
    pin their library themselves this is that same pin (and redundant around
    kernel calls); otherwise it limits every BLAS library.
    """
    if _kernels.blas_pins_itself():
        _kernels.blas_pin()
        try:
            yield
        finally:
            _kernels.blas_unpin()
    else:
        _all_blas.acquire()
        try:
            yield
        finally:
            _all_blas.release()


@contextmanager
def _every_blas_single_threaded():
    """Every BLAS library at one thread (reserve_fit_memory's warm-up),
    with the same shared counting."""
    with single_threaded_blas():
        if not _kernels.blas_pins_itself():
            yield
            return
        _other_blas.acquire()
        try:
            yield
        finally:
            _other_blas.release()


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
    with _every_blas_single_threaded():
        _kernels.warm_threads(usable)
        a = np.ones((256, 256))
        np.dot(a, a)  # numpy's BLAS sets up this thread's buffer
    return usable
