"""The command line's task commands: ``select`` (gmscore.select_mixture's
table over a grid of n_components x covariance types) and ``bench`` (a
quick comparison with scikit-learn / hmmlearn, gmscore._cli_bench)."""
import sys

import numpy as np

from ._cli_io import write_table


def add_task_parsers(sub, add_data_options, add_output_options, int_range):
    p = sub.add_parser("select", help="the model-selection table over a grid of "
                       "n_components x covariance types (GaussianMixture)")
    add_data_options(p, sequences=False)
    p.add_argument("-k", "--n-components", type=int_range, default=list(range(1, 9)),
                   metavar="RANGE", help="components to try: 1..20, 2,4,8 or 5 "
                   "(default 1..8)")
    p.add_argument("--covariance", default="full,tied,diag,spherical", metavar="TYPES",
                   help="covariance types to try, comma separated (default all four)")
    p.add_argument("--criterion", choices=("bic", "aic", "icl", "held_out"), default="bic",
                   help="what picks the best cell (default bic)")
    p.add_argument("--validation-fraction", type=float, default=0.2,
                   help="share of rows held out for held_out_log_likelihood (default 0.2; "
                        "0: none)")
    p.add_argument("--max-iter", type=int, metavar="N", help="EM iterations per fit")
    p.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    p.add_argument("--n-threads", type=int, help="kernel threads")
    p.add_argument("-o", "--output", metavar="MODEL",
                   help="write the best model (refitted on all rows) here")
    p.add_argument("--table", metavar="OUT", help="also write the table as .csv or .npy")
    add_output_options(p)

    from ._cli_bench import add_bench_parser

    add_bench_parser(sub)


def cmd_select(args, stack):
    from . import select_mixture
    from ._cli_io import CliError
    from ._cli_progress import CountProgress, progress_mode
    from ._core.em import reporting
    from .cli import _data, _flat, _status

    cts = [c.strip() for c in args.covariance.split(",") if c.strip()]
    bad = [c for c in cts if c not in ("full", "tied", "diag", "spherical")]
    if bad or not cts:
        raise CliError(f"--covariance {args.covariance!r}: use some of full, tied, diag, "
                       "spherical, comma separated")
    data = _data(args, stack, sequences=False)
    X = np.asarray(data.X)          # select_mixture holds the rows in memory
    params = {k: v for k, v in (("max_iter", args.max_iter), ("n_threads", args.n_threads))
              if v is not None}
    mode = progress_mode(args)
    bar = None
    if mode == "bar":
        bar = CountProgress(sys.stderr, len(args.n_components) * len(cts) + 1, "select")
    try:
        with reporting(bar):
            result = select_mixture(X, args.n_components, cts, criterion=args.criterion,
                                    validation_fraction=args.validation_fraction or None,
                                    random_state=args.seed, progress=mode == "lines",
                                    **params)
    finally:
        if bar is not None:
            bar.close()
    sys.stdout.write(repr(result) + "\n")
    if args.table is not None:
        from .selection import COLUMNS

        table = {c: np.array([np.nan if r[c] is None else r[c] for r in result.rows])
                 for c in COLUMNS}
        write_table(args.table, table, sys.stdout)
    if args.output is not None:
        try:
            result.best_.save(args.output)
        except (OSError, TypeError, ValueError) as exc:
            raise CliError(f"{args.output}: cannot write the model: {_flat(exc)}") from None
        _status(args, f"wrote {args.output}: the best model {result.best_params_}")
    return 0


def cmd_bench(args, stack):
    from ._cli_bench import run_bench

    return run_bench(args)


TASK_COMMANDS = {"select": cmd_select, "bench": cmd_bench}
