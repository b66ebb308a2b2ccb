"""What the restarting examples (digits, regimes) share as scripts: their
command line (--n-init, --quick, --seed, --out) and writing a figure."""
import argparse


def parse_run_options(doc, argv, n_init, quick_n_init, n_init_help, quick_help, out_help):
    """The keyword arguments of the example's ``run`` from its command
    line: ``n_init`` (``quick_n_init`` under --quick), ``random_state``
    (--seed) and ``out``; the description is the first line of ``doc``."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--n-init", type=int, default=n_init, help=n_init_help)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help=out_help)
    a = p.parse_args(argv)
    return {"n_init": quick_n_init if a.quick else a.n_init, "random_state": a.seed,
            "out": a.out}


def save_figure(fig, path, dpi):
    """Write ``fig`` as a PNG cropped to its contents, and close it (the
    examples run in loops and tests: no figure is left open)."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
