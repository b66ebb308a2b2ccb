"""Out-of-core benchmarks: fits that read an ``np.memmap`` chunk by chunk.

    O1  GaussianMixture full, N=50_000_000, D=16, K=16, float32 (3.2 GB file)
    O2  GaussianHMM diag, 10_000 sequences x 1_000 frames, D=10, K=8,
        float32 (400 MB file) + lengths

(see ``oocore.py``).  Targets of the design, full sizes: out-of-core
s/iteration <= 1.3x the in-memory fit's; peak RssAnon of the out-of-core
fit <= 0.5 GB.

Parameter ``case`` (library-data-size):
  O1  "gmscore-memmap-50M"   the memmap of the whole file
      "gmscore-memmap-10M"   a memmap of its first 10M rows
      "gmscore-memory-10M"   an in-memory copy (np.array) of those rows
      "sklearn-memory-10M"   scikit-learn on that copy (~8 GB, minutes)
  O2  "gmscore-memmap", "gmscore-memory"
With ``GMSCORE_BENCH_PROFILE=fast`` every size is divided by 10 (the case
names keep the full-size labels).

Every fit runs exactly ``oocore.N_ITER`` iterations (``tol=0``) from the
same starting parameters; gmscore with ``n_threads=2``, scikit-learn with
its BLAS pinned to 2 threads.  ``time_fit / N_ITER`` is s/iteration.

Memory: ``track_peak_rss_anon`` is the peak RssAnon (MiB) of the benchmark
process during the fit, sampled every ~10 ms by a background thread: the
memmap's file-backed pages do not count, the in-memory copy does.
``peakmem_fit`` is asv's peak RSS of the whole process, which for the memmap
cases includes every file page the fit has touched (up to the file's size)
and so is reference only.

The data file is written by ``setup_cache``, block by block, into the
temporary directory asv creates for it under ``tempfile.gettempdir()`` and
removes after the class's benchmarks have run.
"""
import os

from threadpoolctl import threadpool_limits

from . import oocore

N_THREADS = 2


class _OutOfCore:
    # Subclasses set ``workload`` and ``params``; the leading underscore keeps
    # asv from collecting this base class itself.
    workload = None
    param_names = ["case"]
    # Long single fits: one call per sample, few samples, no warm-up.
    number = 1
    repeat = (1, 3, 120.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 3600

    def _write(self):
        # asv runs setup_cache in a fresh temporary directory (mkdtemp) that
        # it deletes afterwards: the file goes there.
        path = os.path.abspath(oocore.data_filename(self.workload))
        oocore.write_data(self.workload, path)
        return path

    def setup(self, path, case):
        library, source, size = (case.split("-") + [None])[:3]
        rows = None
        if size == "10M":
            rows = oocore.small_rows(self.workload)
        self.library = library
        self.X = oocore.load_data(source, self.workload, path, n_rows=rows)
        self.lengths = oocore.lengths(self.workload, n_rows=len(self.X))
        self.start = oocore.get_start(self.workload)

    def teardown(self, path, case):
        self.X = None

    def _estimator(self):
        # A fresh estimator per fit: an HMM with init_params='' would start a
        # second fit from the first one's result.
        return oocore.make_estimator(self.library, self.workload, n_threads=N_THREADS,
                                     start=self.start)

    def _fit(self):
        est = self._estimator()
        with threadpool_limits(limits=N_THREADS, user_api="blas"):
            oocore.quiet_fit(est, self.X, self.lengths)

    def time_fit(self, path, case):
        self._fit()

    def peakmem_fit(self, path, case):
        self._fit()

    def track_peak_rss_anon(self, path, case):
        return oocore.measure_fit(self._estimator(), self.X, self.lengths,
                                  blas_threads=N_THREADS)["peak_anon"]

    track_peak_rss_anon.unit = "MiB"


class O1GMMFullMemmap(_OutOfCore):
    """GaussianMixture full, N=50_000_000 (memmap) / 10_000_000, D=16, K=16, float32"""
    workload = "O1"
    params = [["gmscore-memmap-50M", "gmscore-memmap-10M", "gmscore-memory-10M",
               "sklearn-memory-10M"]]

    # asv keys its cache by the setup_cache function's definition, so each
    # class defines its own (an inherited one would be shared).
    def setup_cache(self):
        return self._write()


class O2GaussianHMMDiagMemmap(_OutOfCore):
    """GaussianHMM diag, 10_000 sequences x 1_000 frames, D=10, K=8, float32"""
    workload = "O2"
    params = [["gmscore-memmap", "gmscore-memory"]]

    def setup_cache(self):
        return self._write()

