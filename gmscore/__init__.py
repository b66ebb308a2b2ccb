"""gmscore: fast, exact Gaussian mixture models with compiled,
multi-threaded kernels and the scikit-learn API."""

__version__ = "0.1.0"

from ._config import get_config, show_config
from ._core.stats import ChainStats, GaussianStats
from ._core.stats_io import load_stats
from ._hmm_base import ConvergenceMonitor, LikelihoodDecreaseWarning
from ._persistence import load
from ._repair import DegenerateComponentWarning
from .hmm import GMMHMM, GaussianHMM
from .mixture import ConvergenceWarning, GaussianMixture

__all__ = [
    "GaussianMixture",
    "GaussianHMM",
    "GMMHMM",
    "ConvergenceMonitor",
    "GaussianStats",
    "ChainStats",
    "load_stats",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "LikelihoodDecreaseWarning",
    "get_config",
    "show_config",
    "load",
    "__version__",
]
