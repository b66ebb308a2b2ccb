"""gmscore._hmm_params: the constructor and parameter-check helpers of the
HMMs, against scikit-learn's constructor checks and direct numpy."""
import inspect
import warnings

import numpy as np
import pytest

from gmscore import VariationalCategoricalHMM, VariationalGaussianHMM
from gmscore._hmm_params import (
    broadcast_prior,
    positive_array,
    require_attributes,
    store_init_args,
)

VARIATIONAL = (VariationalGaussianHMM, VariationalCategoricalHMM)


@pytest.mark.parametrize("cls", VARIATIONAL)
def test_constructor_stores_exactly_its_arguments(cls):
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    values = {name: object() for name in names}   # distinct sentinels
    est = cls(**values)
    assert sorted(vars(est)) == sorted(names)
    assert all(getattr(est, name) is values[name] for name in names)
    defaults = cls()
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name != "self":
            assert getattr(defaults, name) is p.default or getattr(defaults, name) == p.default


@pytest.mark.parametrize("cls", VARIATIONAL)
def test_sklearn_constructor_checks(cls):
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    est = cls(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for check in ("check_no_attributes_set_in_init",
                      "check_parameters_default_constructible",
                      "check_get_params_invariance", "check_set_params"):
            getattr(estimator_checks, check)(cls.__name__, est)


def test_a_subclass_stores_its_own_and_its_parents_arguments():
    class Sticky(VariationalCategoricalHMM):
        def __init__(self, n_components=2, stickiness=5.0, **kwargs):
            super().__init__(n_components=n_components, **kwargs)
            self.stickiness = stickiness

    m = Sticky(stickiness=2.0, n_iter=7)
    assert m.stickiness == 2.0 and m.n_iter == 7 and m.n_components == 2
    assert m.get_params()["stickiness"] == 2.0


def test_require_attributes():
    class Fitted:
        startprob_ = np.ones(2) / 2

    require_attributes(Fitted(), ("startprob_",))
    with pytest.raises(ValueError, match=r"^transmat_ must be set \(fit the model or "
                                         r"assign it\)$"):
        require_attributes(Fitted(), ("startprob_", "transmat_", "means_"))
    with pytest.raises(ValueError, match="^covars must be set"):
        require_attributes(Fitted(), ("_covars_",), shown=lambda n: n.strip("_"))


def test_positive_array_and_broadcast_prior():
    got = positive_array([1, 2.5], "beta", (2,))
    assert got.dtype == np.float64 and np.array_equal(got, [1.0, 2.5])
    for bad, msg in (([1.0, 0.0], "finite, positive"), ([1.0, np.inf], "finite, positive"),
                     ([1.0, 2.0, 3.0], r"shape \(2,\)")):
        with pytest.raises(ValueError, match=msg):
            positive_array(bad, "beta", (2,))
    row = np.array([1.0, 2.0, 3.0])
    full = broadcast_prior(row, (2, 3), "transmat_prior")
    assert np.array_equal(full, np.vstack([row, row]))
    full[0, 0] = 9.0          # a copy, not a view of the input
    assert row[0] == 1.0
    with pytest.raises(ValueError, match="does not broadcast"):
        broadcast_prior(np.ones(4), (2, 3), "transmat_prior")
