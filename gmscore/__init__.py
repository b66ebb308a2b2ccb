"""gmscore: fast, exact Gaussian mixture models with compiled,
multi-threaded kernels and the scikit-learn API."""

__version__ = "0.1.0"

from ._config import get_config, show_config
from ._hmm_base import ConvergenceMonitor, LikelihoodDecreaseWarning
from .hmm import GMMHMM, GaussianHMM
from .mixture import ConvergenceWarning, GaussianMixture

__all__ = [
    "GaussianMixture",
    "GaussianHMM",
    "GMMHMM",
    "ConvergenceMonitor",
    "ConvergenceWarning",
    "LikelihoodDecreaseWarning",
    "get_config",
    "show_config",
    "__version__",
]
