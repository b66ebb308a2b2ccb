"""n_init restarts in lockstep (gmscore._mixture_lockstep): one pass over
the data for every running restart must give exactly what the restarts
give one after another, and what scikit-learn gives from the same starts."""
import warnings

import numpy as np
import pytest

from gmscore import ConvergenceWarning, GaussianMixture, _kernels, _mixture_lockstep, _restartsc
from gmscore._core.covariance import COVARIANCE

SHARED_PASS = _restartsc.estep_restarts_into
COV_TYPES = ["full", "tied", "diag", "spherical"]
FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
          "lower_bound_", "n_iter_", "converged_", "lower_bounds_", "restart_histories_")


def make_blobs(n_per=600, d=4, k=4, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    parts = [rng.randn(n_per, d) @ rng.randn(d, d) + 4.0 * rng.randn(d) for _ in range(k)]
    return np.vstack(parts).astype(dtype)


def fit(policy, monkeypatch, X, **kw):
    monkeypatch.setattr(_mixture_lockstep, "POLICY", policy)
    calls = []

    def counted(reds, *args):
        calls.append(len(reds))
        return SHARED_PASS(reds, *args)

    monkeypatch.setattr(_restartsc, "estep_restarts_into", counted)
    sample_weight = kw.pop("sample_weight", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(**kw).fit(X, sample_weight=sample_weight)
    return gm, calls


def assert_same_fit(a, b):
    for name in FITTED:
        np.testing.assert_array_equal(np.asarray(getattr(a, name), dtype=object),
                                      np.asarray(getattr(b, name), dtype=object), err_msg=name)


def chunked(X, rows):
    return lambda: (X[i:i + rows] for i in range(0, len(X), rows))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_lockstep_equals_sequential_restarts(monkeypatch, covariance_type, dtype, init_params):
    X = make_blobs(seed=1, dtype=dtype)
    kw = dict(n_components=4, covariance_type=covariance_type, n_init=4, random_state=3,
              init_params=init_params, max_iter=40, tol=1e-4)
    seq, none = fit("never", monkeypatch, X, **kw)
    lock, calls = fit("always", monkeypatch, X, **kw)
    assert none == [] and calls and calls[0] == 4
    assert_same_fit(seq, lock)
    # restarts dropped out as they converged: the shared passes shrank
    lengths = [len(h) for h in lock.restart_histories_]
    assert sorted(set(calls), reverse=True)[0] == 4
    if len(set(lengths)) > 1:
        assert min(calls) < 4
    assert sum(calls) >= sum(lengths)      # plus re-centring passes, if any


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("rows", [512, 700])
def test_lockstep_on_chunked_source_with_weights(monkeypatch, covariance_type, rows):
    X = make_blobs(n_per=500, d=3, k=3, seed=2)
    w = np.random.RandomState(0).uniform(0.2, 3.0, len(X))
    source = lambda: ((X[i:i + rows], w[i:i + rows]) for i in range(0, len(X), rows))
    kw = dict(n_components=3, covariance_type=covariance_type, n_init=3, random_state=0,
              init_params="random_from_data", max_iter=25)
    seq, _ = fit("never", monkeypatch, source, **kw)
    lock, calls = fit("always", monkeypatch, source, **kw)
    assert calls
    assert_same_fit(seq, lock)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_lockstep_is_thread_count_invariant(monkeypatch, covariance_type):
    X = make_blobs(n_per=2000, seed=4)        # > 8 leaves of blocks
    kw = dict(n_components=4, covariance_type=covariance_type, n_init=3, random_state=1,
              max_iter=15)
    one, _ = fit("always", monkeypatch, X, n_threads=1, **kw)
    two, calls = fit("always", monkeypatch, X, n_threads=2, **kw)
    assert calls
    assert_same_fit(one, two)


def test_max_iter_drop_out_and_best_choice(monkeypatch):
    """tol=0 runs every restart to max_iter; the best is the first highest."""
    X = make_blobs(seed=5)
    kw = dict(n_components=4, n_init=5, random_state=2, init_params="random", max_iter=7,
              tol=0.0)
    seq, _ = fit("never", monkeypatch, X, **kw)
    lock, calls = fit("always", monkeypatch, X, **kw)
    assert calls[:7] == [5] * 7
    assert_same_fit(seq, lock)
    finals = [h[-1] for h in lock.restart_histories_]
    assert lock.lower_bound_ == max(finals)
    assert lock.lower_bounds_ == lock.restart_histories_[int(np.argmax(finals))]


def test_n_init_one_and_warm_start_stay_sequential(monkeypatch):
    X = make_blobs(seed=6)
    _, calls = fit("always", monkeypatch, X, n_components=3, n_init=1, random_state=0)
    assert calls == []
    monkeypatch.setattr(_mixture_lockstep, "POLICY", "always")
    gm = GaussianMixture(3, n_init=3, warm_start=True, random_state=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
        before = list(gm.restart_histories_)
        gm.fit(X)            # continues the fit: one run, never in lockstep
    assert len(before) == 3 and len(gm.restart_histories_) == 1


def test_restarts_match_sklearn_from_identical_starts(monkeypatch):
    """Each restart's history, and the chosen fit, are scikit-learn's EM
    from that restart's starting parameters."""
    sk_mixture = pytest.importorskip("sklearn.mixture")
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

    X = make_blobs(n_per=400, d=3, k=3, seed=7)
    for covariance_type in COV_TYPES:
        starts = []
        original = GaussianMixture._em_start

        def spy(self, source, random_state, index):
            run = original(self, source, random_state, index)
            starts.append(self._em_params())
            return run

        monkeypatch.setattr(GaussianMixture, "_em_start", spy)
        gm, calls = fit("always", monkeypatch, X, n_components=3,
                        covariance_type=covariance_type, n_init=3, random_state=0,
                        init_params="random", max_iter=12, tol=0.0)
        monkeypatch.setattr(GaussianMixture, "_em_start", original)
        assert calls and len(starts) == 3
        for index, (weights, means, _, prec_chol) in enumerate(starts):
            precisions = COVARIANCE[covariance_type].precisions_from_cholesky(prec_chol)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SkConvergenceWarning)
                sk = sk_mixture.GaussianMixture(
                    3, covariance_type=covariance_type, weights_init=weights,
                    means_init=means, precisions_init=precisions, max_iter=12,
                    tol=0.0).fit(X)
            np.testing.assert_allclose(gm.restart_histories_[index], sk.lower_bounds_,
                                       rtol=1e-12)
            if gm.restart_histories_[index] is gm.lower_bounds_ or (
                    gm.lower_bounds_ == gm.restart_histories_[index]):
                for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
                    np.testing.assert_allclose(getattr(gm, name), getattr(sk, name),
                                               rtol=1e-10, atol=1e-12, err_msg=name)


def kernel_models(covariance_type, d, k, n_models, dtype, seed):
    """Random valid parameters: (kernel means, kernel factors, log_norm,
    means, covariances, log weights)."""
    rng = np.random.RandomState(seed)
    table = COVARIANCE[covariance_type]
    out = []
    for _ in range(n_models):
        means = rng.randn(k, d) * 2
        if covariance_type == "full":
            A = rng.randn(k, d, d)
            cov = A @ A.transpose(0, 2, 1) / d + np.eye(d)
        elif covariance_type == "tied":
            A = rng.randn(d, d)
            cov = A @ A.T / d + np.eye(d)
        elif covariance_type == "diag":
            cov = rng.uniform(0.5, 2.0, (k, d))
        else:
            cov = rng.uniform(0.5, 2.0, k)
        prec_chol = table.precision_cholesky(cov)
        log_w = np.log(rng.dirichlet(np.ones(k)))
        log_norm = log_w + table.log_det_cholesky(prec_chol, d) - 0.5 * d * np.log(2 * np.pi)
        m, p = table.kernel_arguments(means, prec_chol, dtype)
        out.append((m, p, np.ascontiguousarray(np.broadcast_to(log_norm, (k,)), np.float64),
                    means, cov, log_w))
    return out


def reference_estep(X, w, means, cov, log_w, centres, covariance_type):
    """nk, s1 about the centres and the log-likelihood, by scipy's densities."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    k, d = means.shape
    X = X.astype(np.float64)
    joint = np.empty((len(X), k))
    for c in range(k):
        C = {"full": lambda: cov[c], "tied": lambda: cov, "diag": lambda: np.diag(cov[c]),
             "spherical": lambda: cov[c] * np.eye(d)}[covariance_type]()
        joint[:, c] = log_w[c] + multivariate_normal(means[c], C).logpdf(X)
    ll = logsumexp(joint, axis=1)
    resp = np.exp(joint - ll[:, None]) * w[:, None]
    s1 = np.stack([resp[:, c] @ (X - centres[c]) for c in range(k)])
    return resp.sum(0), s1, float(w @ ll)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_kernel_gives_each_model_its_own_estep_bits(covariance_type, dtype, n_threads):
    rng = np.random.RandomState(0)
    n, d, k, nm = 5000, 5, 6, 3
    X = (rng.randn(n, d) * 2).astype(dtype)
    w = rng.uniform(0, 2, n)
    code = COVARIANCE[covariance_type].code
    models = kernel_models(covariance_type, d, k, nm, dtype, seed=1)
    centres = [np.ascontiguousarray(rng.randn(k, d)) for _ in range(nm)]
    reds = [_restartsc.stats_reducer(code, k, d) for _ in range(nm)]
    # two calls (a chunk boundary inside a leaf of blocks): the reducers
    # carry on as estep_into's do
    for lo, hi in ((0, 256 * 3), (256 * 3, n)):
        _restartsc.estep_restarts_into(reds, code, X[lo:hi], [m[:3] for m in models],
                                       w[lo:hi], centres, n_threads)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    for m, c, red in zip(models, centres, reds):
        own = _kernels.stats_reducer(code, k, d)
        _kernels.estep_into(own, code, X, m[0], m[1], m[2], w, c, 1)
        total = red.total()
        np.testing.assert_array_equal(total, own.total())
        nk, s1, ll = reference_estep(X, w, m[3], m[4], m[5], c, covariance_type)
        np.testing.assert_allclose(total[:k], nk, rtol=tol)
        np.testing.assert_allclose(total[k:k + k * d].reshape(k, d), s1, rtol=tol,
                                   atol=tol * np.abs(s1).max())
        assert total[-2] == pytest.approx(ll, rel=tol)
        assert total[-1] == pytest.approx(w.sum(), rel=1e-12)


def test_kernel_rejects_mismatched_models():
    X = np.zeros((10, 2))
    code = COVARIANCE["diag"].code
    models = kernel_models("diag", 2, 3, 2, np.float64, seed=0)
    reds = [_restartsc.stats_reducer(code, 3, 2) for _ in range(2)]
    centres = [np.zeros((3, 2))] * 2
    with pytest.raises(ValueError):
        _restartsc.estep_restarts_into(reds[:1], code, X, [m[:3] for m in models], None,
                                       centres, 1)
    with pytest.raises(ValueError):
        _restartsc.estep_restarts_into(reds, code, X, [m[:3] for m in models], None,
                                       [np.zeros((2, 2))] * 2, 1)


@pytest.mark.parametrize("covariance_type,d,k,shared", [
    ("full", 4, 4, True),          # 3 x 512 B of factors: in cache
    ("full", 40, 20, False),       # 3 x 250 KiB: restart after restart
    ("tied", 40, 20, True),        # 3 x 12.5 KiB
    ("diag", 40, 20, True),        # memory-bound: always
    ("spherical", 40, 20, True),
])
def test_auto_policy_follows_the_rule(monkeypatch, covariance_type, d, k, shared):
    X = np.random.RandomState(0).randn(400, d)
    kw = dict(n_components=k, covariance_type=covariance_type, n_init=3, random_state=0,
              init_params="random_from_data", max_iter=2, reg_covar=1e-2)
    _, calls = fit("auto", monkeypatch, X, **kw)
    assert bool(calls) == shared
    assert _mixture_lockstep.shares_pass(covariance_type, d, k, 3, 8, True) == shared
    # a source that is not in memory always shares its passes
    assert _mixture_lockstep.shares_pass(covariance_type, d, k, 3, 8, False)


def test_verbose_reseed_and_reporter_stay_sequential(monkeypatch):
    from gmscore._core.em import reporting

    X = make_blobs(n_per=200, seed=9)
    kw = dict(n_components=3, n_init=2, random_state=0, max_iter=3)
    _, calls = fit("always", monkeypatch, X, on_degenerate="reseed", **kw)
    assert calls == []

    class Quiet:
        def __getattr__(self, name):
            return lambda *args: None

    with reporting(Quiet()):
        _, calls = fit("always", monkeypatch, X, **kw)
    assert calls == []


def test_nonfinite_loglik_raises_the_sequential_error(monkeypatch):
    """A restart whose quadratic form overflows (means far outside the
    data) fails the fit with the message of its own E-step, and leaves the
    model as it was."""
    X = make_blobs(n_per=300, d=2, k=2, seed=10)
    errors = []
    for policy in ("never", "always"):
        for ct in COV_TYPES:
            monkeypatch.setattr(_mixture_lockstep, "POLICY", policy)
            gm = GaussianMixture(2, covariance_type=ct, n_init=2, random_state=0,
                                 means_init=np.full((2, 2), 1e200))
            with pytest.raises(ValueError, match="non-finite log-likelihood") as info:
                gm.fit(X)
            errors.append(str(info.value))
            assert not hasattr(gm, "means_")
    assert errors[:4] == errors[4:]
