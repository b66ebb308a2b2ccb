"""End-to-end default fits: gmscore vs scikit-learn / hmmlearn with their
defaults (``random_state=0``), k-means initialisation included, run to
convergence (see ``endtoend_cases.py``):

    E1  G1 data, GaussianMixture defaults (full)            target 25x
    E2  G2 data, GaussianMixture covariance_type='diag'     target 25x
    E3  H1 data, GaussianHMM n_iter=50                      target 50x
    N5  G1 data, GaussianMixture n_init=5

The iteration counts may differ between the libraries (their
initialisations are their own): ``compare.py --endtoend`` reports them next
to the times.

Parameters:
  library    "gmscore" or the peer ("sklearn" for E1, E2, N5; "hmmlearn" for E3)

float64 data; gmscore runs with n_threads=2 and every library's BLAS is
pinned to 2 threads with threadpoolctl.  Set GMSCORE_BENCH_PROFILE=fast for
1/10 of the sizes.
"""
from threadpoolctl import threadpool_limits

from . import common, endtoend_cases

#: gmscore's n_threads and the BLAS threads of every library.
N_THREADS = 2


class _EndToEnd:
    # Subclasses set ``case`` and ``params``; the leading underscore keeps
    # asv from collecting this base class.
    case = None
    param_names = ["library"]
    number = 1
    warmup_time = 0.0
    repeat = (1, 3, 60.0)
    timeout = 1800

    def setup(self, library):
        c = endtoend_cases.CASES[self.case]
        self.X = common.get_data(c.workload, "float64")
        self.lengths = common.get_lengths(c.workload) if common.is_hmm(c.workload) else None
        self.estimator = endtoend_cases.make_estimator(library, self.case, N_THREADS)
        self._blas_limit = threadpool_limits(limits=N_THREADS, user_api="blas")

    def teardown(self, library):
        self._blas_limit.restore_original_limits()

    def time_fit(self, library):
        common.fit_quietly(self.estimator, self.X, self.lengths)


class E1Default(_EndToEnd):
    """G1 data, GaussianMixture defaults"""
    case = "E1"
    params = [["gmscore", "sklearn"]]


class E2Diag(_EndToEnd):
    """G2 data, GaussianMixture covariance_type='diag'"""
    case = "E2"
    params = [["gmscore", "sklearn"]]


class E3HMM(_EndToEnd):
    """H1 data, GaussianHMM n_iter=50"""
    case = "E3"
    params = [["gmscore", "hmmlearn"]]


class N5NInit(_EndToEnd):
    """G1 data, GaussianMixture n_init=5"""
    case = "N5"
    params = [["gmscore", "sklearn"]]
    timeout = 3600
