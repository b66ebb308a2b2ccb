"""Build and runtime configuration report."""
import sys

from . import _kernels
from ._threads import available_cpus, effective_n_threads


def get_config():
    """Return the build/runtime configuration as a dict.

    Keys: ``version``, ``openmp`` (kernels compiled with OpenMP),
    ``default_n_threads`` (what ``n_threads=None`` resolves to now),
    ``available_cpus`` and ``blas`` (a list of dicts from threadpoolctl).
    """
    from threadpoolctl import threadpool_info

    from . import __version__
    import numpy  # noqa: F401  (loads numpy's BLAS so threadpoolctl sees it)
    import scipy.linalg  # noqa: F401

    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "filepath")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return {
        "version": __version__,
        "openmp": _kernels.has_openmp(),
        "default_n_threads": effective_n_threads(None),
        "available_cpus": available_cpus(),
        "blas": blas,
    }


def show_config(file=None):
    """Print the version, OpenMP status, default thread count and BLAS in use."""
    file = sys.stdout if file is None else file
    cfg = get_config()
    print(f"gmscore {cfg['version']}", file=file)
    print(f"  OpenMP:            {'enabled' if cfg['openmp'] else 'disabled (single-threaded kernels)'}", file=file)
    print(f"  default n_threads: {cfg['default_n_threads']} (of {cfg['available_cpus']} available CPUs)", file=file)
    if not cfg["blas"]:
        print("  BLAS:              none found by threadpoolctl", file=file)
    for b in cfg["blas"]:
        print(
            f"  BLAS:              {b['internal_api']} {b['version']} "
            f"({b['num_threads']} threads) {b['filepath']}",
            file=file,
        )
