"""GaussianMixtureClassifier against independent references: per-class
scikit-learn GaussianMixture fits from identical starts, per-class gmscore
fits, posteriors from scipy's densities, accuracies next to QDA and
GaussianNB, scikit-learn's check_estimator, and the bad inputs of the
issue."""
import functools
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmscore import GaussianMixture, GaussianMixtureClassifier, GaussianHMM
from gmscore.classifier import class_seeds

sklearn = pytest.importorskip("sklearn", minversion="1.6")
from sklearn.mixture import GaussianMixture as SkGM  # noqa: E402
from sklearn.utils import estimator_checks, get_tags  # noqa: E402

COV_TYPES = ("full", "tied", "diag", "spherical")
_NOT_BASE_ESTIMATOR = r".*does not inherit from `sklearn.base.BaseEstimator`"


def _blobs(n_per_class=(120, 80, 150), d=3, k=2, seed=0):
    rng = np.random.RandomState(seed)
    X, y = [], []
    for c, n in enumerate(n_per_class):
        centres = rng.randn(k, d) * 3 + 6 * c
        lab = rng.randint(k, size=n)
        X.append(centres[lab] + rng.randn(n, d) @ (np.eye(d) + 0.3 * rng.randn(d, d)))
        y.append(np.full(n, c))
    X, y = np.vstack(X), np.concatenate(y)
    perm = rng.permutation(len(y))   # classes interleaved, as real data are
    return X[perm], y[perm]


def _sk_precisions(sk, ct):
    return sk.precisions_


def _init_arrays(X, y, k, ct, seed=1):
    """Explicit per-class starting parameters (rows of the class as means)."""
    rng = np.random.RandomState(seed)
    d = X.shape[1]
    classes = np.unique(y)
    w = np.full((len(classes), k), 1.0 / k)
    means = np.stack([X[y == c][rng.choice((y == c).sum(), k, replace=False)]
                      for c in classes])
    prec = {"full": np.tile(np.eye(d), (len(classes), k, 1, 1)) * 0.5,
            "tied": np.tile(np.eye(d), (len(classes), 1, 1)) * 0.5,
            "diag": np.full((len(classes), k, d), 0.5),
            "spherical": np.full((len(classes), k), 0.5)}[ct]
    return w, means, prec


# ======================================================= identical starts
@pytest.mark.parametrize("ct", COV_TYPES)
def test_each_class_equals_sklearn_from_identical_starts(ct):
    X, y = _blobs()
    w, m, p = _init_arrays(X, y, 2, ct)
    clf = GaussianMixtureClassifier(2, covariance_type=ct, weights_init=w, means_init=m,
                                    precisions_init=p, tol=1e-8, max_iter=60).fit(X, y)
    for c in range(3):
        sk = SkGM(2, covariance_type=ct, weights_init=w[c], means_init=m[c],
                  precisions_init=p[c], tol=1e-8, max_iter=60).fit(X[y == c])
        ours = clf.estimators_[c]
        assert ours.n_iter_ == sk.n_iter_ == clf.n_iter_[c]
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            assert_allclose(getattr(ours, name), getattr(sk, name), rtol=1e-10, atol=1e-10)
        assert_allclose(ours.lower_bound_, sk.lower_bound_, rtol=1e-10)


@pytest.mark.parametrize("init_params", ["random", "random_from_data"])
@pytest.mark.parametrize("ct", ["full", "diag"])
def test_random_state_derived_starts_equal_sklearn(init_params, ct):
    # class c is GaussianMixture(random_state=class_seeds(rs, C)[c]); these
    # two initialisations draw scikit-learn's random stream
    X, y = _blobs(seed=3)
    clf = GaussianMixtureClassifier(2, covariance_type=ct, init_params=init_params,
                                    random_state=7, tol=1e-6, max_iter=200).fit(X, y)
    seeds = class_seeds(7, 3)
    for c in range(3):
        assert clf.estimators_[c].random_state == seeds[c]
        sk = SkGM(2, covariance_type=ct, init_params=init_params, random_state=int(seeds[c]),
                  tol=1e-6, max_iter=200).fit(X[y == c])
        assert clf.n_iter_[c] == sk.n_iter_
        assert_allclose(clf.estimators_[c].means_, sk.means_, rtol=1e-10, atol=1e-10)
        assert_allclose(clf.estimators_[c].covariances_, sk.covariances_, rtol=1e-10,
                        atol=1e-10)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("n_init", [1, 3])
def test_each_class_is_the_per_class_gmscore_fit_bitwise(ct, n_init):
    X, y = _blobs(seed=5)
    clf = GaussianMixtureClassifier(2, covariance_type=ct, n_init=n_init, random_state=11,
                                    n_threads=1).fit(X, y)
    seeds = class_seeds(11, 3)
    for c in range(3):
        gm = GaussianMixture(2, covariance_type=ct, n_init=n_init, random_state=int(seeds[c]),
                             n_threads=1).fit(X[y == c])
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            assert_array_equal(getattr(clf.estimators_[c], name), getattr(gm, name))
        assert clf.n_iter_[c] == gm.n_iter_ and clf.converged_[c] == gm.converged_


def test_converged_classes_stop_while_others_go_on():
    X, y = _blobs(seed=2)
    w, m, p = _init_arrays(X, y, 2, "full")
    clf = GaussianMixtureClassifier(2, weights_init=w, means_init=m, precisions_init=p,
                                    tol=1e-10, max_iter=500).fit(X, y)
    # each class ran exactly the iterations its own fit needs
    own = [GaussianMixture(2, weights_init=w[c], means_init=m[c], precisions_init=p[c],
                           tol=1e-10, max_iter=500).fit(X[y == c]).n_iter_ for c in range(3)]
    assert clf.n_iter_.tolist() == own
    assert len(set(own)) > 1


def test_one_pass_over_x_per_iteration(monkeypatch):
    # every E-step reads one class's rows, all of them views of one sorted
    # copy of X; over the fit each class's rows are read once per iteration
    from gmscore import _kernels

    X, y = _blobs(seed=4)
    w, m, p = _init_arrays(X, y, 2, "diag")
    calls = []
    real = _kernels.estep_into

    def spy(red, code, Xc, *args):
        calls.append((Xc.shape[0], Xc.base if Xc.base is not None else Xc))
        return real(red, code, Xc, *args)

    monkeypatch.setattr(_kernels, "estep_into", spy)
    clf = GaussianMixtureClassifier(2, covariance_type="diag", weights_init=w, means_init=m,
                                    precisions_init=p, tol=1e-6).fit(X, y)
    counts = np.bincount(y)
    assert sum(r for r, _ in calls) == int((counts * clf.n_iter_).sum())
    assert len({id(b) for _, b in calls}) == 1


# ================================================ posteriors and priors
def _reference_log_proba(clf, X):
    """log P(c | x) from scipy's densities of the fitted parameters."""
    cols = []
    for gm in clf.estimators_:
        cov = gm.covariances_
        parts = []
        for k in range(gm.n_components):
            ck = {"full": lambda: cov[k], "tied": lambda: cov,
                  "diag": lambda: np.diag(cov[k]),
                  "spherical": lambda: cov[k] * np.eye(X.shape[1])}[gm.covariance_type]()
            parts.append(np.log(gm.weights_[k]) + multivariate_normal(gm.means_[k], ck).logpdf(X))
        cols.append(logsumexp(np.stack(parts, 1), axis=1))
    joint = np.stack(cols, 1) + np.log(clf.priors_)
    return joint - logsumexp(joint, axis=1, keepdims=True)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_posteriors_equal_scipy_reference(ct):
    X, y = _blobs(seed=6)
    clf = GaussianMixtureClassifier(2, covariance_type=ct, random_state=0).fit(X, y)
    ref = _reference_log_proba(clf, X)
    assert_allclose(clf.predict_log_proba(X), ref, atol=1e-8)
    assert_allclose(clf.predict_proba(X), np.exp(ref), atol=1e-10)
    assert_allclose(clf.predict_proba(X).sum(1), 1.0, rtol=1e-12)
    assert_array_equal(clf.predict(X), clf.classes_[np.argmax(ref, 1)])
    assert clf.score(X, y) == np.mean(clf.predict(X) == y)


def test_priors_frequency_uniform_and_given():
    X, y = _blobs(seed=7)
    sw = np.random.RandomState(0).rand(len(y))
    freq = GaussianMixtureClassifier(random_state=0).fit(X, y, sample_weight=sw)
    assert_allclose(freq.priors_, [sw[y == c].sum() / sw.sum() for c in range(3)], rtol=1e-12)
    uni = GaussianMixtureClassifier(priors="uniform", random_state=0).fit(X, y)
    assert_allclose(uni.priors_, np.full(3, 1 / 3))
    given = GaussianMixtureClassifier(priors=[0.2, 0.3, 0.5], random_state=0).fit(X, y)
    assert_allclose(given.priors_, [0.2, 0.3, 0.5])
    assert_allclose(given.predict_log_proba(X), _reference_log_proba(given, X), atol=1e-8)
    # a zero prior rules the class out
    zero = GaussianMixtureClassifier(priors=[0.0, 0.5, 0.5], random_state=0).fit(X, y)
    assert (zero.predict(X) != 0).all()
    assert (zero.predict_proba(X)[:, 0] == 0).all()


def test_integer_weights_equal_repeated_rows():
    X, y = _blobs(seed=8)
    sw = np.random.RandomState(1).randint(0, 4, len(y))
    w, m, p = _init_arrays(X, y, 2, "full")
    kw = dict(weights_init=w, means_init=m, precisions_init=p, tol=1e-8)
    a = GaussianMixtureClassifier(2, **kw).fit(X, y, sample_weight=sw)
    b = GaussianMixtureClassifier(2, **kw).fit(np.repeat(X, sw, 0), np.repeat(y, sw))
    assert_allclose(a.priors_, b.priors_, rtol=1e-12)
    for ga, gb in zip(a.estimators_, b.estimators_):
        assert_allclose(ga.means_, gb.means_, rtol=1e-9, atol=1e-9)
    assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-9)


def test_string_and_object_labels():
    X, y = _blobs(seed=9)
    names = np.array(["setosa", "versicolor", "virginica"])
    s = GaussianMixtureClassifier(random_state=0).fit(X, names[y])
    assert_array_equal(s.classes_, names)
    o = GaussianMixtureClassifier(random_state=0).fit(X, names[y].astype(object))
    assert o.classes_.dtype == object
    assert_array_equal(s.predict(X), o.predict(X))
    assert s.score(X, names[y]) > 0.9


@pytest.mark.parametrize("y", [
    np.array([-100, 100, 5, -100, 7, 100], dtype=np.int8),   # y - min overflows int8
    np.array([3, 1000, 3, 7] * 300, dtype=np.int64),
    np.array([2, 0, 2, 1, 0], dtype=np.uint8),
    np.array([5, 9, 5], dtype=np.uint64),
    np.array([2 ** 62, -2 ** 62, 5]),                         # too wide: sorted
    np.array([2 ** 64 - 1, 2 ** 64 - 2], dtype=np.uint64),    # beyond intp: sorted
])
def test_integer_labels_are_indexed_as_np_unique(y):
    from gmscore._labels import check_labels

    classes, indices = check_labels(y, y.shape[0])
    ref_classes, ref_indices = np.unique(y, return_inverse=True)
    assert classes.dtype == ref_classes.dtype
    assert_array_equal(classes, ref_classes)
    assert_array_equal(indices, ref_indices.ravel())


def test_many_classes_keep_their_rows_in_order():
    # more than 256 classes: the stable sort runs on uint16 labels
    rng = np.random.RandomState(3)
    y = np.repeat(np.arange(300), 3)
    rng.shuffle(y)
    X = rng.standard_normal((y.size, 2)) + y[:, None]
    clf = GaussianMixtureClassifier(1, covariance_type="spherical").fit(X, y)
    for c in (0, 137, 299):
        assert_allclose(clf.estimators_[c].means_[0], X[y == c].mean(axis=0), rtol=1e-12)


def test_float32_input():
    X, y = _blobs(seed=10)
    a = GaussianMixtureClassifier(2, random_state=0).fit(X, y)
    b = GaussianMixtureClassifier(2, random_state=0).fit(X.astype(np.float32), y)
    assert (a.predict(X) == b.predict(X)).mean() > 0.97


def test_n_threads_do_not_change_the_fit():
    X, y = _blobs((3000, 2000, 2500), d=4, seed=11)
    a = GaussianMixtureClassifier(3, random_state=0, n_threads=1).fit(X, y)
    b = GaussianMixtureClassifier(3, random_state=0, n_threads=2).fit(X, y)
    for ga, gb in zip(a.estimators_, b.estimators_):
        assert_array_equal(ga.means_, gb.means_)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))


# ============================================= accuracy next to the peers
DATASETS = {
    # dataset: (classifier settings, accuracy a correct implementation reaches)
    "wine": (dict(covariance_type="full", reg_covar=1e-2), 0.95),
    "breast_cancer": (dict(covariance_type="full", reg_covar=1e-2), 0.93),
    "digits": (dict(covariance_type="full", reg_covar=1e-2), 0.90),
}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_cross_validated_accuracy_next_to_qda_and_gaussian_nb(name):
    from sklearn import datasets
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.naive_bayes import GaussianNB

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    settings, level = DATASETS[name]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    ours = cross_val_score(GaussianMixtureClassifier(1, random_state=0, **settings), X, y,
                           cv=cv).mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # QDA warns about collinear variables
        qda = cross_val_score(QuadraticDiscriminantAnalysis(reg_param=0.1), X, y, cv=cv).mean()
    gnb = cross_val_score(GaussianNB(), X, y, cv=cv).mean()
    print(f"\n{name}: GaussianMixtureClassifier {ours:.3f}  QDA(reg_param=0.1) {qda:.3f}  "
          f"GaussianNB {gnb:.3f}")
    assert ours >= level
    # one full-covariance Gaussian per class is a regularised QDA: not far off it
    assert ours >= qda - 0.05


def test_more_components_per_class_fit_non_gaussian_classes():
    # clusters of the two classes alternate along a line: one Gaussian per
    # class (a quadratic boundary) cannot separate them, three can
    rng = np.random.RandomState(0)
    y = np.arange(1800) % 2
    centre = 6.0 * (rng.randint(3, size=1800) - 1) + 3 * y   # -6, 0, 6 | -3, 3, 9
    X = np.c_[centre + 0.5 * rng.randn(1800), rng.randn(1800)]
    one = GaussianMixtureClassifier(1, random_state=0).fit(X, y).score(X, y)
    many = GaussianMixtureClassifier(3, random_state=0).fit(X, y).score(X, y)
    assert many > 0.97 and one < 0.8


# ================================================ scikit-learn conformance
INSTANCES = [GaussianMixtureClassifier(),
             *(GaussianMixtureClassifier(covariance_type=ct) for ct in COV_TYPES[1:]),
             GaussianMixtureClassifier(priors="uniform", n_init=2, max_iter=5)]


def _name(check):
    func = check.func if isinstance(check, functools.partial) else check
    return getattr(func, "__name__", repr(func))


def _checks():
    cases = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NOT_BASE_ESTIMATOR, category=UserWarning)
        for est in INSTANCES:
            for e, check in estimator_checks.estimator_checks_generator(
                    est, legacy=True, expected_failed_checks=None, mark=None):
                cases.append(pytest.param(e, check, id=f"{e!r}-{_name(check)}"))
    return cases


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings(f"ignore:{_NOT_BASE_ESTIMATOR}:UserWarning")
@pytest.mark.parametrize("estimator, check", _checks())
def test_passes_sklearn_check(estimator, check):
    check(estimator)


def test_classifier_tags_and_sklearn_tools():
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import GridSearchCV

    tags = get_tags(GaussianMixtureClassifier())
    assert tags.estimator_type == "classifier" and tags.target_tags.required
    assert is_classifier(GaussianMixtureClassifier())
    X, y = _blobs(seed=12)
    gs = GridSearchCV(GaussianMixtureClassifier(random_state=0),
                      {"n_components": [1, 2], "covariance_type": ["full", "diag"]}, cv=3)
    gs.fit(X, y)
    assert gs.best_score_ > 0.9
    c = clone(GaussianMixtureClassifier(3, priors=[0.5, 0.5]))
    assert c.get_params()["priors"] == [0.5, 0.5]


# ================================================================ bad input
def _fitted():
    X, y = _blobs(seed=13)
    return GaussianMixtureClassifier(2, random_state=0).fit(X, y), X, y


def _same_model(a, b):
    assert_array_equal(a.classes_, b.classes_)
    for ga, gb in zip(a.estimators_, b.estimators_):
        assert_array_equal(ga.means_, gb.means_)


@pytest.mark.parametrize("make_bad, message", [
    (lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
    (lambda X, y: (X, np.zeros(len(y))), "single class"),
    (lambda X, y: (X, np.where(np.arange(len(y)) == 0, 7, y)), "class 7 has 1 sample"),
    (lambda X, y: (X, y + 0.5), "Unknown label type: continuous"),
    (lambda X, y: (X, np.c_[y, y]), "1d array"),
    (lambda X, y: (X, None), "requires y"),
    (lambda X, y: (X, np.where(np.arange(len(y)) == 0, np.nan, y)), "NaN"),
])
def test_bad_labels_raise_and_leave_the_model(make_bad, message):
    clf, X, y = _fitted()
    before = GaussianMixtureClassifier(2, random_state=0).fit(X, y)
    Xb, yb = make_bad(X, y)
    with pytest.raises(ValueError, match=message):
        clf.fit(Xb, yb)
    _same_model(clf, before)


def test_class_with_fewer_samples_than_components_is_named():
    X, y = _blobs(seed=14)
    labels = np.array(["cat", "dog", "eel"])[y]
    labels[:2] = "fox"          # two samples of a fourth class
    with pytest.raises(ValueError, match="class 'fox' has 2 sample.*n_components=3"):
        GaussianMixtureClassifier(3).fit(X, labels)
    clf = GaussianMixtureClassifier(2, random_state=0).fit(X, labels)   # 2 are enough
    assert "fox" in clf.classes_


@pytest.mark.parametrize("priors, message", [
    ([0.5, 0.5], "one entry per class"),
    ([0.5, 0.6, -0.1], "non-negative"),
    ([0.2, 0.2, 0.2], "sum to 1"),
    ("often", "priors"),
])
def test_bad_priors(priors, message):
    X, y = _blobs(seed=15)
    with pytest.raises(ValueError, match=message):
        GaussianMixtureClassifier(priors=priors).fit(X, y)


def test_bad_inits_and_bad_predict_input():
    clf, X, y = _fitted()
    with pytest.raises(ValueError, match="one entry per class"):
        GaussianMixtureClassifier(2, means_init=np.zeros((2, 2, 3))).fit(X, y)
    with pytest.raises(ValueError, match="expecting 3 features"):
        clf.predict(X[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(np.where(X == X[0, 0], np.nan, X))
    with pytest.raises(ValueError, match="one label per sample"):
        clf.score(X, y[:-1])


def test_labels_given_to_models_that_take_none():
    # GaussianMixture ignores y, as scikit-learn's does; an HMM's second
    # argument is lengths, so per-frame labels there are an error, not labels
    X, y = _blobs(seed=16)
    a = GaussianMixture(2, random_state=0).fit(X, y)
    b = GaussianMixture(2, random_state=0).fit(X)
    assert_array_equal(a.means_, b.means_)
    with pytest.raises(ValueError, match="lengths"):
        GaussianHMM(2).fit(X, y)


def test_works_without_sklearn_installed(tmp_path):
    import subprocess
    import sys

    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import numpy as np\n"
            "from gmscore import GaussianMixtureClassifier\n"
            "rng = np.random.RandomState(0)\n"
            "X = np.vstack([rng.randn(50, 2), rng.randn(50, 2) + 6])\n"
            "y = np.repeat(['a', 'b'], 50)\n"
            "clf = GaussianMixtureClassifier(random_state=0).fit(X, y)\n"
            "assert clf.score(X, y) == 1.0\n"
            "try:\n    clf.fit(X, y[:-1])\nexcept ValueError as e:\n    print('ok', e)\n")
    # run outside the source tree, so the installed package is imported
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_em_failure_names_the_class_and_leaves_the_model():
    clf, X, y = _fitted()
    before = GaussianMixtureClassifier(2, random_state=0).fit(X, y)
    Xb = X.copy()
    Xb[y == 1, 2] = 1.0           # class 1 has no variance in feature 2
    with pytest.raises(ValueError, match="class 1.*reg_covar"):
        clf.set_params(reg_covar=0.0).fit(Xb, y)
    clf.set_params(reg_covar=1e-6)
    _same_model(clf, before)
