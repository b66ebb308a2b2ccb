"""D1 / D2: gmscore on a Dask LocalCluster against single-process gmscore.

    python asv_bench/dask_bench.py            # D1 and D2 at the issue's sizes
    python asv_bench/dask_bench.py --quick    # a tenth of the rows, a smoke run

D1  GaussianMixture full, N=10M, D=16, K=16, float32
D2  GaussianHMM diag, 10,000 sequences x 1,000 frames, D=10, K=8

The cluster is a LocalCluster of 2 worker processes with 1 thread each; the
single-process fit uses 2 threads on the same data in memory. Both start
from the same explicit parameters (no k-means) and run a fixed number of
iterations (tol=0). Seconds per iteration = (time of a fit of ``n`` + 1
iterations - time of a fit of 1 iteration) / n, so the data checks, the
start-up of the fit and the final pass are not counted. On the cluster X is
generated on the workers and persisted before the timings (as a user would
persist it), in chunks of 2^18 rows.

Scheduler overhead per iteration = the iteration's wall time minus the
kernel tasks' compute time divided by the number of workers (Dask's task
stream gives each task's compute interval). Its fixed and per-task parts
come from fits of a tiny data set (2,048-row chunks, D=2, K=2: kernel time
negligible) in 2 and in 256 chunks. From the per-row kernel time and those
two parts the script projects an iteration on 1e10 rows and 100 workers
(assumptions printed with the figure).
"""
import argparse
import json
import sys
import time
import warnings

import numpy as np

CHUNK_ROWS = 2 ** 18
PROJECTED_ROWS = 1e10
PROJECTED_WORKERS = 100
PROJECTED_CHUNK_ROWS = 2 ** 20


def gmm_block(i, rows, d, k, dtype):
    """Rows of a fixed random mixture, block i (deterministic per block)."""
    centres = np.random.RandomState(0).uniform(-6, 6, size=(k, d))
    rng = np.random.RandomState(1000 + i)
    labels = rng.randint(0, k, size=rows)
    return (centres[labels] + rng.standard_normal((rows, d))).astype(dtype)


def hmm_block(i, n_seq, frames, d, k):
    """n_seq sequences of a sticky HMM (block i), stacked."""
    means = np.random.RandomState(1).uniform(-4, 4, size=(k, d))
    rng = np.random.RandomState(2000 + i)
    stay = 0.9
    states = np.empty((n_seq, frames), dtype=np.int64)
    states[:, 0] = rng.randint(0, k, size=n_seq)
    moves = rng.uniform(size=(n_seq, frames)) > stay
    jumps = rng.randint(1, k, size=(n_seq, frames))
    for t in range(1, frames):   # a benchmark's data generator, not library code
        states[:, t] = np.where(moves[:, t], (states[:, t - 1] + jumps[:, t]) % k,
                                states[:, t - 1])
    return (means[states.ravel()] + rng.standard_normal((n_seq * frames, d)))


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def per_iteration(make, n_iter, repeat):
    """(fit of n_iter + 1 iterations - fit of 1) / n_iter, medians."""
    one = timed(lambda: make(1), repeat)
    many = timed(lambda: make(n_iter + 1), repeat)
    return (many - one) / n_iter


def kernel_seconds(stream, prefix):
    total, count = 0.0, 0
    for task in stream:
        if not str(task["key"]).startswith(prefix) and prefix not in str(task["key"]):
            continue
        for ss in task["startstops"]:
            if ss["action"] == "compute":
                total += ss["stop"] - ss["start"]
                count += 1
    return total, count


def d1(client, n, n_iter, repeat, workers):
    import dask
    import dask.array as da
    from distributed import get_task_stream

    from gmscore import GaussianMixture

    d, k, dtype = 16, 16, np.float32
    blocks = [min(CHUNK_ROWS, n - s) for s in range(0, n, CHUNK_ROWS)]
    dx = da.concatenate([da.from_delayed(dask.delayed(gmm_block)(i, r, d, k, dtype),
                                         shape=(r, d), dtype=dtype)
                         for i, r in enumerate(blocks)]).persist()
    X = np.concatenate([gmm_block(i, r, d, k, dtype) for i, r in enumerate(blocks)])
    rng = np.random.RandomState(5)
    start = dict(weights_init=np.full(k, 1.0 / k), means_init=X[rng.choice(n, k)].astype(
        np.float64), precisions_init=np.repeat(np.eye(d)[None] / 4.0, k, axis=0))

    def fit(data, iters, threads):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return GaussianMixture(k, covariance_type="full", max_iter=iters, tol=0,
                                   n_threads=threads, **start).fit(data)

    fit(dx, 1, 1)   # warm the workers (imports, first-touch)
    single = per_iteration(lambda it: fit(X, it, 2), n_iter, repeat)
    clustered = per_iteration(lambda it: fit(dx, it, 1), n_iter, repeat)
    with get_task_stream(client) as ts:
        a = fit(dx, n_iter + 1, 1)
    b = fit(X, n_iter + 1, 2)
    kernel, tasks = kernel_seconds(ts.data, "_chunk_estep")
    passes = tasks / len(blocks)   # the fit's passes over X (one task per chunk)
    equal = all(np.array_equal(getattr(a, p), getattr(b, p))
                for p in ("weights_", "means_", "covariances_"))
    return case("D1", f"GaussianMixture full N={n:_} D={d} K={k} float32", single, clustered,
                kernel / passes, len(blocks), workers, n, equal, 0.0 if equal else
                max_rel(a.means_, b.means_))


def d2(client, n_seq, n_iter, repeat, workers):
    import dask
    import dask.array as da
    from distributed import get_task_stream

    from gmscore import GaussianHMM

    frames, d, k = 1000, 10, 8
    per_block = max(1, CHUNK_ROWS // frames)
    counts = [min(per_block, n_seq - s) for s in range(0, n_seq, per_block)]
    dx = da.concatenate([da.from_delayed(dask.delayed(hmm_block)(i, c, frames, d, k),
                                         shape=(c * frames, d), dtype=np.float64)
                         for i, c in enumerate(counts)]).persist()
    X = np.concatenate([hmm_block(i, c, frames, d, k) for i, c in enumerate(counts)])
    lengths = np.full(n_seq, frames)
    rng = np.random.RandomState(6)
    means = X[rng.choice(len(X), k)]

    def fit(data, iters, threads):
        m = GaussianHMM(k, covariance_type="diag", n_iter=iters, tol=0, init_params="",
                        n_threads=threads)
        m.startprob_ = np.full(k, 1.0 / k)
        m.transmat_ = np.full((k, k), 0.1 / (k - 1)) + np.eye(k) * (0.9 - 0.1 / (k - 1))
        m.means_ = means.copy()
        m.covars_ = np.ones((k, d)) * 2.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return m.fit(data, lengths)

    fit(dx, 1, 1)
    single = per_iteration(lambda it: fit(X, it, 2), n_iter, repeat)
    clustered = per_iteration(lambda it: fit(dx, it, 1), n_iter, repeat)
    with get_task_stream(client) as ts:
        a = fit(dx, n_iter + 1, 1)
    b = fit(X, n_iter + 1, 2)
    kernel, tasks = kernel_seconds(ts.data, "_hmm_chunk_stats")
    from gmscore._core.sources import _sequence_cuts

    offsets = np.concatenate([[0], np.cumsum(lengths)])
    # gmscore.dask groups whole sequences into chunks of at most X's largest chunk
    chunks = len(_sequence_cuts(offsets, per_block * frames)) - 1
    passes = tasks / chunks        # the fit's passes over X (one task per chunk)
    return case("D2", f"GaussianHMM diag {n_seq:_}x{frames}, D={d}, K={k} float64", single,
                clustered, kernel / passes, chunks, workers, n_seq * frames,
                None, max_rel(a.means_, b.means_))


def scheduler_cost(n_iter, repeat):
    """(fixed seconds per iteration, seconds per task) of a Dask fit whose
    kernels take no time: 2 and 256 chunks of 2048 rows."""
    import dask.array as da

    from gmscore import GaussianMixture

    def per_it(n_chunks):
        X = np.random.RandomState(7).standard_normal((2048 * n_chunks, 2))
        dx = da.from_array(X, chunks=2048).persist()
        start = dict(weights_init=[0.5, 0.5], means_init=[[-1.0, 0], [1.0, 0]],
                     precisions_init=np.ones((2, 2)))

        def fit(iters):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                GaussianMixture(2, covariance_type="diag", max_iter=iters, tol=0,
                                n_threads=1, **start).fit(dx)
        fit(1)
        return per_iteration(fit, n_iter, repeat)

    few, many = per_it(2), per_it(256)
    per_task = max(many - few, 0.0) / 254
    return few - 2 * per_task, per_task


def max_rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def case(name, what, single, clustered, kernel_per_iter, tasks_per_iter, workers, rows,
         bitwise, rel):
    overhead = clustered - kernel_per_iter / workers
    row_seconds = kernel_per_iter / rows        # one kernel thread per task
    return dict(name=name, what=what, single_s_per_iter=single, dask_s_per_iter=clustered,
                ratio=clustered / single, overhead_ms_per_iter=1e3 * overhead,
                kernel_s_per_iter=kernel_per_iter, tasks_per_iter=tasks_per_iter,
                kernel_ns_per_row=1e9 * row_seconds, bitwise_equal=bitwise,
                max_rel_means=rel)


def project(result, fixed, per_task):
    """An iteration on PROJECTED_ROWS rows over PROJECTED_WORKERS workers."""
    tasks = PROJECTED_ROWS / PROJECTED_CHUNK_ROWS
    kernel = PROJECTED_ROWS * result["kernel_ns_per_row"] * 1e-9 / PROJECTED_WORKERS
    result.update(projected_tasks=tasks, projected_kernel_s=kernel,
                  projected_scheduler_s=fixed + per_task * tasks,
                  projected_s_per_iter=kernel + fixed + per_task * tasks)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a tenth of the rows")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--n-iter", type=int, default=4)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    from distributed import Client, LocalCluster

    scale = 10 if args.quick else 1
    workers = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40,
                               memory_limit="8GiB")
    results = []
    with cluster, Client(cluster) as client:
        results.append(d1(client, 10_000_000 // scale, args.n_iter, args.repeat, workers))
        results.append(d2(client, 10_000 // scale, args.n_iter, args.repeat, workers))
        fixed, per_task = scheduler_cost(args.n_iter, args.repeat)
    for r in results:
        project(r, fixed, per_task)
    print(f"{workers} worker processes x 1 thread vs single process x 2 threads; "
          f"median of {args.repeat}; {args.n_iter} iterations timed")
    for r in results:
        print(f"{r['name']}  {r['what']}\n"
              f"    single-process {r['single_s_per_iter']:.4f} s/it, Dask "
              f"{r['dask_s_per_iter']:.4f} s/it, ratio {r['ratio']:.3f}x (target <= 1.5x)\n"
              f"    kernel tasks {r['kernel_s_per_iter']:.4f} s/it over {r['tasks_per_iter']}"
              f" tasks ({r['kernel_ns_per_row']:.1f} ns per row per thread); scheduler "
              f"overhead {r['overhead_ms_per_iter']:.1f} ms/it\n"
              f"    equal to the single-process fit: bitwise={r['bitwise_equal']}, max "
              f"relative difference of the means {r['max_rel_means']:.2e}\n"
              f"    projection: {PROJECTED_ROWS:.0e} rows on {PROJECTED_WORKERS} workers "
              f"~{r['projected_s_per_iter']:.1f} s per iteration = kernels "
              f"{r['projected_kernel_s']:.1f} s + scheduler {r['projected_scheduler_s']:.1f} s")
    print(f"scheduler cost measured here: {1e3 * fixed:.1f} ms per iteration + "
          f"{1e3 * per_task:.3f} ms per task (fits of 2 and 256 chunks of 2048 rows).\n"
          f"Projection assumptions: 1 kernel thread per worker at this machine's per-row "
          f"kernel speed, chunks of {PROJECTED_CHUNK_ROWS} rows (one task each, spread "
          f"evenly), the scheduler's per-task cost as measured here and serial (one "
          f"scheduler), statistics tree-reduced on the workers (the client receives one "
          f"vector), X persisted in the workers' memory, network transfer of the "
          f"parameters and statistics (a few KiB per task) not counted.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
