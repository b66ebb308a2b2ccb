"""Report of ``compare.py --endtoend``: the end-to-end default fits of
``benchmarks/endtoend_cases.py`` (E1-E3, N5), gmscore vs scikit-learn /
hmmlearn, total time, time per iteration, iterations, convergence and the
agreement of the results."""
import statistics
import time

from benchmarks import common
from benchmarks.endtoend_cases import CASES, fit, matched_means_diff, outcome, reference


def run(args, cases, settle, fmt, print_table):
    """The end-to-end table of ``cases``; ``settle``, ``fmt`` and
    ``print_table`` are compare.py's helpers."""
    print(f"profile: {args.profile}  ("
          + ("1/10 sizes: smoke test, targets do not apply" if args.quick else "full sizes")
          + f"); median of {args.repeat} fit(s) per library, interleaved")
    print(f"each library's defaults plus random_state=0; initialisation (k-means) included; "
          f"float64 data; gmscore n_threads={args.threads}, the peers' BLAS pinned to "
          f"{args.threads} threads with threadpoolctl")
    print("each library runs its own initialisation from random_state=0 (gmscore's k-means "
          "follows scikit-learn's random stream, so the GMM starts can coincide; hmmlearn's "
          "differs): iterations and the optimum reached may differ (see the outcome table)")
    print()
    rows, checks = [], []
    for case in cases:
        c = CASES[case]
        ref = reference(case)
        t0 = time.perf_counter()
        common.get_data(c.workload, "float64", args.profile)
        print(f"{case}: {c.description(args.profile)}: data in "
              f"{time.perf_counter() - t0:.1f} s; timing ...", flush=True)
        configs = [("gmscore", args.threads), (ref, None)]
        times = {lib: [] for lib, _ in configs}
        fitted = {}
        for _ in range(args.repeat):
            for lib, nt in configs:
                elapsed, fitted[lib] = fit(lib, case, nt, args.threads, args.profile)
                times[lib].append(elapsed)
                settle(lib)
                print(f"  {lib}: {elapsed:.3f} s", flush=True)
        t = {lib: statistics.median(v) for lib, v in times.items()}
        out = {lib: outcome(est) for lib, est in fitted.items()}
        speedup = t[ref] / t["gmscore"]
        # With n_init > 1 the iterations of the other initialisations are
        # not reported by either library: no time per iteration.
        spi = ({lib: None for lib in t} if c.kwargs.get("n_init", 1) > 1
               else {lib: t[lib] / max(out[lib][0], 1) for lib in t})
        verdict = "-" if c.target is None else (
            f"{c.target:g}x" + ("" if args.quick else
                                (" met" if speedup >= c.target else " MISSED")))
        rows.append([case, c.description(args.profile), fmt(t["gmscore"]), fmt(t[ref]), ref,
                     f"{speedup:.2f}x", verdict, fmt(spi["gmscore"]), fmt(spi[ref]),
                     "-" if spi[ref] is None else f"{spi[ref] / spi['gmscore']:.2f}x"])
        gm, pe = out["gmscore"], out[ref]
        checks.append([case, f"{gm[0]} / {pe[0]}", f"{gm[1]} / {pe[1]}", f"{gm[2]:.10g}",
                       f"{pe[2]:.10g}", f"{abs(gm[2] - pe[2]) / abs(pe[2]):.1e}",
                       f"{matched_means_diff(fitted['gmscore'].means_, fitted[ref].means_):.1e}"])
    print()
    print_table(["case", "description", "gmscore s", "reference s", "reference",
                 "speed-up (total)", "target", "gmscore s/it", "reference s/it",
                 "speed-up per iteration"], rows)
    print()
    print("outcome (gmscore / reference): iterations of the best initialisation, converged "
          "(GMM: converged_; HMM: the last gain below tol, not merely n_iter reached); "
          "final lower bound (GMM, per sample) or log-likelihood (HMM, last E-step); means "
          "after matching components, max |gmscore - reference| / max |reference|:")
    print_table(["case", "n_iter", "converged", "gmscore bound / log-lik",
                 "reference bound / log-lik", "relative difference", "matched means_"], checks)
