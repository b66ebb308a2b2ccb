"""The timing harness of the peer-comparison scripts (asv_bench/*_bench.py):
their common options, a warmed-up timed fit under a BLAS thread limit,
interleaved repeats, and the table of medians.

Nothing here is named like an asv benchmark (time_*, track_*, ...), so asv
collects no benchmark from this module.
"""
import argparse
import os
import platform
import statistics
import time

from threadpoolctl import threadpool_limits


def parse_args(doc, argv=None, n_iter=5, extra=None):
    """--quick, --threads (default 2), --n-iter, --repeat (default 3), and
    whatever ``extra(parser)`` adds; the description is the first
    paragraph of ``doc``."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-iter", type=int, default=n_iter)
    p.add_argument("--repeat", type=int, default=3)
    if extra is not None:
        extra(p)
    return p.parse_args(argv)


def machine():
    """The processor and CPU count, for the header line."""
    return f"{platform.processor() or ''} {os.cpu_count()} CPUs"


def seconds_per_iteration(make, fit, n_iter, blas_threads):
    """Fit ``make(1)`` untimed (warm-up), then time ``fit(make(n_iter))``,
    both with BLAS pinned to ``blas_threads``; returns (seconds per
    iteration, the timed model)."""
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        fit(make(1))
        m = make(n_iter)
        t0 = time.perf_counter()
        fit(m)
        elapsed = time.perf_counter() - t0
    return elapsed / n_iter, m


def interleaved(libraries, run, repeat):
    """``run(library) -> (seconds, check value)``, ``repeat`` rounds with
    the libraries interleaved (so that load drifts hit both alike);
    returns ({library: [seconds]}, {library: last check value})."""
    times = {lib: [] for lib in libraries}
    last = {}
    for _ in range(repeat):
        for lib in libraries:
            seconds, value = run(lib)
            times[lib].append(seconds)
            last[lib] = value
    return times, last


def speedup(times, ours, peer):
    """The peer's median time over ours."""
    return statistics.median(times[peer]) / statistics.median(times[ours])


def _widths(libraries):
    return max(10, *(len(lib) for lib in libraries))


def print_header(libraries, check_name, lead_name=None, check_width=20):
    """The table's header; ``lead_name`` names an extra first column."""
    lead = "" if lead_name is None else f"{lead_name:>8s} "
    print(f"{lead}{'library':>{_widths(libraries)}s} {'s/it (median)':>14s} "
          f"{'all s/it':>30s} {check_name:>{check_width}s}")


def print_rows(times, last, lead=None, check_format="20.10f"):
    """One row a library: median s/it, every repeat's s/it, the last check
    value (the final log-likelihood or bound: both did the same work)."""
    width = _widths(times)
    lead = "" if lead is None else f"{lead:>8s} "
    for lib, spi in times.items():
        print(f"{lead}{lib:>{width}s} {statistics.median(spi):14.4g} "
              f"{' '.join(f'{t:.4g}' for t in spi):>30s} {last[lib]:{check_format}}")
