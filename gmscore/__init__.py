"""gmscore: fast, exact Gaussian mixture models with compiled,
multi-threaded kernels and the scikit-learn API.

The public names load on first use (PEP 562), so ``import gmscore`` costs
little more than numpy; ``from gmscore import GaussianMixture`` loads the
compiled kernels (and scipy.linalg, whose BLAS they call).
"""
import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {
    "GaussianMixture": ".mixture",
    "ConvergenceWarning": ".mixture",
    "BayesianGaussianMixture": ".bayesian_mixture",
    "GaussianHMM": ".hmm",
    "GMMHMM": ".hmm",
    "CategoricalHMM": ".discrete",
    "PoissonHMM": ".discrete",
    "MultinomialHMM": ".discrete",
    "VariationalGaussianHMM": ".variational_hmm",
    "VariationalCategoricalHMM": ".variational_hmm",
    "BaseHMM": "._custom_hmm",
    "ConvergenceMonitor": "._monitor",
    "LikelihoodDecreaseWarning": "._monitor",
    "GaussianStats": "._core.stats",
    "ChainStats": "._core.stats",
    "load_stats": "._core.stats_io",
    "DegenerateComponentWarning": "._repair",
    "get_config": "._config",
    "show_config": "._config",
    "load": "._persistence",
    "GaussianMixtureRegressor": ".regressor",
    "GaussianMixtureOutlierDetector": ".outliers",
    "select_mixture": ".selection",
    "sequences_from_frame": "._frames",
    "HMMFilter": ".streaming",
    "GaussianMixtureClassifier": ".classifier",
    "HMMClassifier": ".hmm_classifier",
}

__all__ = list(_PUBLIC) + ["__version__"]


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'gmscore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
