"""The command line: ``gmscore COMMAND ...`` (also ``python -m gmscore``).

Commands: ``fit`` a model on a data file and save it; ``predict``,
``score``, ``decode`` and ``sample`` with a saved model; ``info`` (a
readable summary of a model file); ``select`` (the model-selection table);
``bench`` (a quick comparison with scikit-learn / hmmlearn); ``demo`` and
``config``.

Exit status: 0 on success; 1 for an error in the files or the data (a
missing or unreadable file, a bad column, a model file that does not load,
data the model refuses), printed as one line ``gmscore: error: ...`` on
stderr; 2 for bad options (also one line, naming the command's --help).

Built on argparse (the standard library: subcommands, help and option
checks with nothing to install, so ``gmscore demo`` runs with the runtime
dependencies only). Progress bars use tqdm when it is installed (the
``cli`` extra) and a plain one-line status otherwise; see _cli_progress.
"""
import argparse
import os
import sys
import warnings
from contextlib import ExitStack

import numpy as np

from ._cli_io import CliError, UsageError, matrix_columns, read_data, write_table

EXIT_ERROR = 1   # files, data, model files
EXIT_USAGE = 2   # options


class _Family:
    """A model family of ``fit --model``: its class in gmscore, the name of
    its iteration-count parameter, whether it takes sequences
    (``--lengths``), and what its EM iterations report. Options apply
    where the class has the parameter (``--covariance``: covariance_type)."""

    def __init__(self, cls, iters, sequences, help, objective=None):
        self.cls, self.iters, self.sequences, self.help = cls, iters, sequences, help
        # what the EM driver reports per iteration, for the progress output
        self.objective = objective or ("log-likelihood" if sequences else
                                       "mean log-likelihood")


FAMILIES = {
    "gmm": _Family("GaussianMixture", "max_iter", False, "Gaussian mixture (EM)"),
    "bgmm": _Family("BayesianGaussianMixture", "max_iter", False,
                    "variational Bayesian Gaussian mixture", "lower bound"),
    "hmm": _Family("GaussianHMM", "n_iter", True, "HMM with Gaussian states"),
    "gmmhmm": _Family("GMMHMM", "n_iter", True,
                      "HMM with Gaussian mixture states (--n-mix)"),
    "vhmm": _Family("VariationalGaussianHMM", "n_iter", True,
                    "variational Bayesian Gaussian HMM", "lower bound"),
    "categorical": _Family("CategoricalHMM", "n_iter", True,
                           "HMM over symbols 0..n-1 (one column)"),
    "poisson": _Family("PoissonHMM", "n_iter", True, "HMM with Poisson counts"),
    "multinomial": _Family("MultinomialHMM", "n_iter", True,
                           "HMM with multinomial counts per row"),
}


def _available_families():
    """The families whose class this gmscore has (the variational ones
    appear once they are part of the package)."""
    import gmscore

    return {name: f for name, f in FAMILIES.items() if f.cls in gmscore.__all__}


def _model_class(family):
    import gmscore

    return getattr(gmscore, family.cls)


def _is_sequence_model(model):
    return "transmat_prior" in model._get_param_names()


# -- the parser ---------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (and exit status 2) for bad options."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_range(text):
    """``1..20``, ``1-20``, ``3`` or ``2,4,8`` as a list of ints."""
    try:
        for sep in ("..", "-"):
            if sep in text:
                lo, hi = (int(t) for t in text.split(sep, 1))
                if lo > hi:
                    break
                return list(range(lo, hi + 1))
        else:
            return [int(t) for t in text.split(",")]
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a range of integers like 1..20 or 2,4,8")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _columns(text):
    return [c.strip() for c in text.split(",") if c.strip()]


def _add_output_options(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no progress and no status lines on stderr")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="a line per EM iteration on stderr (instead of a progress bar)")


def _add_data_options(p, sequences=True):
    p.add_argument("data", metavar="DATA",
                   help="data file: .npy, .csv/.tsv/.txt, .parquet, .h5 (FILE.h5:DATASET) "
                        "or .zarr")
    p.add_argument("--columns", type=_columns, metavar="A,B,...",
                   help="feature columns (names from a header row, or numbers from 0)")
    p.add_argument("--dataset", metavar="NAME", help="the array inside an .h5 or .zarr file")
    if sequences:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--lengths", metavar="FILE",
                       help="HMMs: sequence lengths (.npy, or one integer per line)")
        g.add_argument("--sequence-column", metavar="COL",
                       help="HMMs: the column holding each row's sequence id (.csv, .parquet)")


def build_parser():
    parser = _Parser(prog="gmscore", description="Gaussian mixtures and HMMs from the "
                     "command line.", epilog="Exit status: 0 success, 1 error in a file or "
                     "the data, 2 bad options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    families = _available_families()
    p = sub.add_parser("fit", help="fit a model on a data file and save it")
    _add_data_options(p)
    p.add_argument("-m", "--model", choices=list(families), default="gmm",
                   help="; ".join(f"{k}: {f.help}" for k, f in families.items())
                   + " (default gmm)")
    p.add_argument("-k", "--n-components", type=_positive_int, default=1, metavar="K",
                   help="components (mixtures) or states (HMMs); default 1")
    p.add_argument("--covariance", choices=("full", "tied", "diag", "spherical"),
                   help="covariance type (Gaussian models; default: the model's, full for "
                        "mixtures, diag for HMMs)")
    p.add_argument("--n-init", type=_positive_int, help="restarts, the best one kept")
    p.add_argument("--max-iter", type=int, metavar="N",
                   help="EM iterations per restart (max_iter / n_iter)")
    p.add_argument("--tol", type=float, help="convergence tolerance")
    p.add_argument("--init", metavar="INIT", help="init_params (e.g. kmeans, k-means++, "
                   "random, random_from_data; letters such as stmc for HMMs)")
    p.add_argument("--n-mix", type=_positive_int, help="gmmhmm: mixture components per state")
    p.add_argument("--seed", type=int, help="random_state")
    p.add_argument("--n-threads", type=_positive_int, help="kernel threads")
    p.add_argument("-o", "--output", metavar="MODEL",
                   help="write the fitted model here (gmscore's format; without -o the "
                        "summary is printed and nothing is saved)")
    _add_output_options(p)

    for name, what in (("predict", "labels (components, or states of an HMM) per row"),
                       ("score", "the log-likelihood of the data"),
                       ("decode", "an HMM's most likely state sequence")):
        p = sub.add_parser(name, help=what)
        p.add_argument("model", metavar="MODEL", help="a model file written by fit")
        _add_data_options(p)
        p.add_argument("-o", "--output", metavar="OUT", help=".npy, .csv or .tsv "
                       "(default: CSV on stdout)")
        if name == "predict":
            p.add_argument("--proba", action="store_true",
                           help="posterior probabilities per row instead of labels")
        if name == "score":
            p.add_argument("--per-sample", action="store_true",
                           help="a value per row: log p(x) (mixtures), log p(x_t | x_<t) "
                                "(HMMs)")
        if name == "decode":
            p.add_argument("--algorithm", choices=("viterbi", "map"), default="viterbi")
        _add_output_options(p)

    p = sub.add_parser("sample", help="draw samples from a model")
    p.add_argument("model", metavar="MODEL", help="a model file written by fit")
    p.add_argument("-n", "--n-samples", type=_positive_int, default=100,
                   help="rows to draw (one sequence for an HMM); default 100")
    p.add_argument("--seed", type=int, help="random seed (default: the model's random_state)")
    p.add_argument("-o", "--output", metavar="OUT", help=".npy (the samples only), .csv or "
                   ".tsv (samples and their component/state; default: CSV on stdout)")
    _add_output_options(p)

    p = sub.add_parser("info", help="a readable summary of a model file")
    p.add_argument("model", metavar="MODEL")

    from ._cli_tasks import add_task_parsers

    add_task_parsers(sub, _add_data_options, _add_output_options, _int_range)

    demo = sub.add_parser("demo", help="fit models on a built-in dataset and report")
    demo.add_argument("--n-samples", type=int, default=200_000,
                      help="rows of the built-in GMM dataset (default 200000)")
    demo.add_argument("--n-threads", type=int, default=None)
    demo.add_argument("--no-compare", action="store_true",
                      help="skip the scikit-learn comparison")
    sub.add_parser("config", help="print the build/runtime configuration")
    return parser


# -- shared steps -------------------------------------------------------------

def load_model(path):
    """A model file, or a CliError saying why it does not load."""
    from ._persistence import load

    if not os.path.exists(path):
        raise CliError(f"{path}: no such model file")
    try:
        return load(path)
    except (OSError, ValueError) as exc:
        raise CliError(_flat(exc)) from None


def _flat(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _data(args, stack, sequences):
    lengths = getattr(args, "lengths", None)
    seq_col = getattr(args, "sequence_column", None)
    if not sequences and (lengths is not None or seq_col is not None):
        raise UsageError("--lengths / --sequence-column are for the HMMs (sequences); a "
                         "mixture takes rows")
    return read_data(args.data, stack, columns=args.columns, dataset=args.dataset,
                     sequence_column=seq_col, lengths=lengths, sequences=sequences)


def _status(args, message):
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr, flush=True)


def _fit_params(args, family, cls):
    given = {"n_components": args.n_components, "covariance_type": args.covariance,
             "n_init": args.n_init, family.iters: args.max_iter, "tol": args.tol,
             "init_params": args.init, "n_mix": args.n_mix, "random_state": args.seed,
             "n_threads": args.n_threads}
    flags = {"covariance_type": "--covariance", "n_init": "--n-init", family.iters:
             "--max-iter", "tol": "--tol", "init_params": "--init", "n_mix": "--n-mix",
             "random_state": "--seed", "n_threads": "--n-threads"}
    names = set(cls._get_param_names())
    params = {}
    for name, value in given.items():
        if value is None:
            continue
        if name not in names:
            raise UsageError(f"{flags[name]} does not apply to --model {args.model} "
                             f"({family.cls})")
        params[name] = value
    return params


# -- commands -----------------------------------------------------------------

def cmd_fit(args, stack):
    from ._cli_progress import fit_progress
    from ._core.em import reporting

    family = _available_families()[args.model]
    cls = _model_class(family)
    model = cls(**_fit_params(args, family, cls))
    data = _data(args, stack, family.sequences)
    if args.output is not None and os.path.isdir(args.output):
        raise CliError(f"{args.output}: is a directory; -o takes a model file name")
    fit_args = (data.X, data.lengths) if family.sequences else (data.X,)
    progress = fit_progress(args, family.objective)
    try:
        with reporting(progress):
            model.fit(*fit_args)
    finally:
        if progress is not None:
            progress.close()     # a failed fit's bar is cleared before its error line
    if args.output is not None:
        try:
            model.save(args.output)
        except (OSError, TypeError, ValueError) as exc:
            raise CliError(f"{args.output}: cannot write the model: {_flat(exc)}") from None
        _status(args, f"wrote {args.output}: {_headline(model)}")
    else:
        sys.stdout.write(summary(model))
    return 0


def _labels_name(model):
    return "state" if _is_sequence_model(model) else "component"


def _predict_like(args, stack):
    model = load_model(args.model)
    seq = _is_sequence_model(model)
    data = _data(args, stack, seq)
    call = (data.X, data.lengths) if seq else (data.X,)
    return model, seq, data, call


def cmd_predict(args, stack):
    model, seq, data, call = _predict_like(args, stack)
    if args.proba:
        table = matrix_columns("p", model.predict_proba(*call))
    else:
        table = {_labels_name(model): model.predict(*call)}
    write_table(args.output, table, sys.stdout)
    return 0


def cmd_score(args, stack):
    model, seq, data, call = _predict_like(args, stack)
    if args.per_sample:
        if seq:
            table = {"log_predictive": -model.anomaly_scores(*call)}
        else:
            table = {"log_likelihood": model.score_samples(*call)}
    elif seq:
        n_seq = 1 if data.lengths is None else len(data.lengths)
        table = {"log_likelihood": [model.score(*call)], "n_samples": [data.n_rows],
                 "n_sequences": [n_seq]}
    else:
        mean = model.score(*call)
        table = {"mean_log_likelihood": [mean], "log_likelihood": [mean * data.n_rows],
                 "n_samples": [data.n_rows]}
    write_table(args.output, table, sys.stdout)
    return 0


def cmd_decode(args, stack):
    model, seq, data, call = _predict_like(args, stack)
    if not seq:
        raise CliError(f"{args.model}: decode is for the HMMs; this is a "
                       f"{type(model).__name__} (use predict)")
    log_prob, states = model.decode(*call, algorithm=args.algorithm)
    write_table(args.output, {"state": states}, sys.stdout)
    _status(args, f"{args.algorithm} log probability: {log_prob!r}")
    return 0


def cmd_sample(args, stack):
    model = load_model(args.model)
    if _is_sequence_model(model):
        X, labels = model.sample(args.n_samples, random_state=args.seed)
    else:
        if args.seed is not None:
            # GaussianMixture.sample draws from random_state, as scikit-learn's
            model.set_params(random_state=args.seed)
        X, labels = model.sample(args.n_samples)
    table = matrix_columns("x", X)
    if args.output is None or not args.output.lower().endswith(".npy"):
        table[_labels_name(model)] = labels
    write_table(args.output, table, sys.stdout)
    return 0


def cmd_info(args, stack):
    sys.stdout.write(summary(load_model(args.model), path=args.model))
    return 0


# -- info ---------------------------------------------------------------------

def _fmt(a, indent="    "):
    text = np.array2string(np.asarray(a), precision=4, suppress_small=True, max_line_width=88,
                           threshold=200)
    return "\n".join((indent + line).rstrip() for line in text.split("\n"))


def _headline(model):
    name = type(model).__name__
    if not _fitted(model):
        return f"{name}, not fitted"
    if _is_sequence_model(model):
        mon = model.monitor_
        last = mon.history[-1] if mon.history else float("nan")
        # monitor_.converged is hmmlearn's (also true at n_iter): say which
        done = getattr(mon, "converged_by_tol", mon.converged)
        state = "converged" if done else (
            "not converged (iteration limit)" if mon.iter >= mon.n_iter else "not converged")
        return (f"{name}, {model.n_components} states, {mon.iter} iterations, {state}, "
                f"log-likelihood {last:.6g}")
    return (f"{name}, {model.n_components} components, {model.n_iter_} iterations, "
            f"{'converged' if model.converged_ else 'not converged'}, lower bound "
            f"{model.lower_bound_:.6g} per sample")


def _fitted(model):
    return hasattr(model, "transmat_" if _is_sequence_model(model) else "n_iter_")


def summary(model, path=None):
    """A readable, multi-line summary of a model (``gmscore info``)."""
    lines = [f"{path}: " if path else ""]
    lines[0] += _headline(model)
    lines.append(f"  parameters: {model!r}")
    if not _fitted(model):
        return "\n".join(lines) + "\n"
    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None:
        lines.append(f"  features: {n_features}")
    if _is_sequence_model(model):
        shown = ["startprob_", "transmat_", "means_", "covars_", "weights_",
                 "emissionprob_", "lambdas_"]
    else:
        shown = ["weights_", "means_", "covariances_"]
    for name in shown:
        if hasattr(model, name):
            value = np.asarray(getattr(model, name))
            lines.append(f"  {name} {value.shape}:")
            lines.append(_fmt(value))
    return "\n".join(lines) + "\n"


COMMANDS = {"fit": cmd_fit, "predict": cmd_predict, "score": cmd_score, "decode": cmd_decode,
            "sample": cmd_sample, "info": cmd_info}


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"gmscore: warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv=None):
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); returns
    the exit status."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # the reader of stdout went away (``gmscore predict ... | head``):
        # stop quietly, as other command-line tools do
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_ERROR


def _main(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "demo":
        from ._demo import run_demo

        return run_demo(n_samples=args.n_samples, n_threads=args.n_threads,
                        compare=not args.no_compare)
    if args.command == "config":
        from . import show_config

        show_config()
        return 0
    from ._cli_tasks import TASK_COMMANDS

    command = {**COMMANDS, **TASK_COMMANDS}[args.command]
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warnings
        if getattr(args, "quiet", False):
            warnings.simplefilter("ignore")
        try:
            with ExitStack() as stack:
                return command(args, stack)
        except UsageError as exc:
            print(f"gmscore {args.command}: error: {exc} (see gmscore {args.command} --help)",
                  file=sys.stderr)
            return EXIT_USAGE
        except CliError as exc:
            return _error(str(exc))
        except (ValueError, TypeError, MemoryError, OSError) as exc:
            # the models' and numpy's own messages say what is wrong
            return _error(f"{type(exc).__name__}: {_flat(exc)}"
                          if isinstance(exc, MemoryError) else _flat(exc))
        except KeyboardInterrupt:
            print("\ngmscore: interrupted", file=sys.stderr)
            return 130


def _error(message):
    print(f"gmscore: error: {message}", file=sys.stderr)
    return EXIT_ERROR
