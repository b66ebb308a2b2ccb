"""Hyper-parameter plumbing shared by the estimators (scikit-learn's
conventions without depending on scikit-learn)."""
import inspect


class ParamsMixin:
    """get_params / set_params / repr from the constructor's signature."""

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep=True):
        """Hyper-parameters as a dict (``deep`` is accepted for compatibility)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set hyper-parameters; unknown names raise ValueError."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags, as ``BaseEstimator`` gives them.

        Only scikit-learn calls this, so scikit-learn is imported here rather
        than at gmscore's import (gmscore does not depend on it).
        """
        from sklearn.utils import Tags, TargetTags

        tags = Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            regressor_tags=None,
            classifier_tags=None,
        )
        # scikit-learn's meta-estimators (RFE, SelectFromModel, ...) read this
        # to decide whether NaN may reach the model
        tags.input_tags.allow_nan = getattr(self, "nan_policy", "raise") == "marginalize"
        return tags

    def __repr__(self):
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = []
        for name in self._get_param_names():
            value = getattr(self, name)
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = value is default or (
                    type(value) is type(default) and bool(value == default)
                )
            except (TypeError, ValueError):  # arrays
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def save(self, path):
        """Save the model to ``path`` in gmscore's pickle-free, versioned format.

        The file (a zip of ``.npy`` arrays, JSON metadata with a format
        version, and a SHA-256 digest) holds the hyper-parameters and every
        fitted attribute; ``gmscore.load(path)`` gives back a model with
        bitwise identical predictions. Loading never unpickles or runs code
        from the file. An unfitted model saves its hyper-parameters only.
        A ``RandomState`` random_state is saved with its current state.
        ``path`` may be a path (written atomically, no extension added) or
        a binary file object. Raises TypeError, writing nothing, when the
        model holds a value the format cannot store exactly, and ValueError
        when its fitted arrays do not match its hyper-parameters.
        See ``gmscore._persistence`` for the format.
        """
        from ._persistence import save

        save(self, path)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_gmscore_version"] = _version()
        return state

    def __setstate__(self, state):
        state = dict(state)
        state.pop("_gmscore_version", None)
        self.__dict__.update(state)


def inner_mixture(estimator):
    """An unfitted GaussianMixture with the estimator's hyper-parameters of
    the same names (the estimators built on one mixture)."""
    from .mixture import GaussianMixture

    names = set(GaussianMixture._get_param_names()) & set(estimator._get_param_names())
    return GaussianMixture(**{name: getattr(estimator, name) for name in names})


def _version():
    from . import __version__

    return __version__
