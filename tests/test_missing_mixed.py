"""The mixed-pattern blocks of the missing-value kernel (full / tied with
BLAS: rows of many patterns share a block, each row's marginal from the
Schur complement of its missing block of the precision) against the
brute-force numpy reference (tests/missing_reference.py), the plain-loop
kernel, and themselves at other thread counts."""
import os
import sys

import numpy as np
import pytest

from gmscore import GaussianMixture
from gmscore._core.stats import GaussianStats
from gmscore._missing import Patterns, _model_arguments
from gmscore._missingc import NonFiniteMissingError, leaf_size, missing_pass

sys.path.insert(0, os.path.dirname(__file__))
from missing_reference import (full_covariances, precisions_of, ref_em_step,  # noqa: E402
                               ref_estep)

DENSE = ("full", "tied")
pytestmark = pytest.mark.filterwarnings("ignore:Best performing initialization")


def mixed_data(seed=0, d=7, k=3, shift=0.0):
    """Rows with 0, 1, 2 and many missing features: a large complete
    pattern (per-pattern blocks), two large patterns with missing
    features, and ~300 rows of random patterns (1 to d - 1 missing, most
    of them in patterns of a few rows), shuffled; 1000 rows, so mixed blocks
    of 256 rows cut patterns in two."""
    rng = np.random.RandomState(seed)
    centres = rng.randn(k, d) * 3
    n = 1000
    X = centres[rng.randint(k, size=n)] + rng.randn(n, d) @ (rng.randn(d, d) * 0.4) + shift
    X[300:550, 2] = np.nan
    X[550:700, [0, 5]] = np.nan
    for i in range(700, n):
        m = rng.randint(1, d) if i < 980 else d - 1   # the last rows: one feature observed
        X[i, rng.choice(d, m, replace=False)] = np.nan
    return X[rng.permutation(n)]


def start(ct, X, k, seed=1, shift=0.0):
    rng = np.random.RandomState(seed)
    d = X.shape[1]
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    means = filled[rng.choice(X.shape[0], k, replace=False)] + 0.1 * rng.randn(k, d)
    weights = rng.rand(k) + 0.5
    weights /= weights.sum()
    base = np.cov(filled.T) + 0.3 * np.eye(d)
    cov = np.array([base * (1 + 0.2 * j) for j in range(k)]) if ct == "full" else base
    return weights, means, cov


def model(ct, w, mu, cov, **kw):
    kw.setdefault("max_iter", 1)
    return GaussianMixture(len(w), covariance_type=ct, weights_init=w, means_init=mu,
                           precisions_init=precisions_of(ct, cov), tol=0,
                           nan_policy="marginalize", **kw)


def test_data_has_the_intended_patterns():
    X = mixed_data()
    p = Patterns(X)
    counts = np.diff(p.start)
    missing = X.shape[1] - p.n_observed
    assert counts[missing == 0].max() >= 16            # per-pattern blocks
    assert ((missing > 0) & (counts >= 16)).sum() == 2  # long mixed segments
    assert ((missing > 0) & (counts == 1)).sum() >= 20  # one-row patterns
    assert set(missing.tolist()) >= {0, 1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize("ct", DENSE)
@pytest.mark.parametrize("weighted", [False, True])
def test_em_step_matches_brute_force(ct, weighted):
    X = mixed_data(seed=2)
    sw = np.random.RandomState(4).rand(X.shape[0]) * 2 if weighted else None
    w, mu, cov = start(ct, X, 3)
    lower, *ref = ref_em_step(ct, X, w, mu, cov, 1e-6, sw)
    gm = model(ct, w, mu, cov).fit(X, sample_weight=sw)
    np.testing.assert_allclose(gm.lower_bounds_, [lower], rtol=1e-12)
    np.testing.assert_allclose(gm.weights_, ref[0], rtol=1e-10)
    np.testing.assert_allclose(gm.means_, ref[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gm.covariances_, ref[2], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ct", DENSE)
def test_far_from_the_origin_keeps_its_digits(ct):
    # the statistics are taken about each centre directly: no re-centring
    X = mixed_data(seed=3)
    w, mu, cov = start(ct, X, 3)
    _, *ref = ref_em_step(ct, X, w, mu, cov, 1e-6)
    gm = model(ct, w, mu + 1e4, cov).fit(X + 1e4)
    np.testing.assert_allclose(gm.means_, ref[1] + 1e4, rtol=1e-12)
    np.testing.assert_allclose(gm.covariances_, ref[2], rtol=1e-8, atol=1e-10)


def kernel(ct, gm, X, centres=None, resp_in=None, use_blas=True, n_threads=1):
    code, means, covs, log_w = _model_arguments(gm)
    k, d = means.shape
    p = Patterns(X)
    leaf = np.zeros(leaf_size(code, k, d))
    lse, resp = np.empty(len(X)), np.empty((len(X), k))
    missing_pass(code, X, means, covs, log_w, p.order, p.start, p.observed,
                 centres=means if centres is None else centres, stats=leaf, lse=lse,
                 resp_out=resp, resp_in=resp_in, use_blas=use_blas, n_threads=n_threads)
    return leaf, lse, resp


def fitted(ct):
    X = mixed_data(seed=5)
    w, mu, cov = start(ct, X, 3)
    return model(ct, w, mu, cov, max_iter=2).fit(X), X


@pytest.mark.parametrize("ct", DENSE)
def test_kernel_outputs_match_brute_force(ct):
    gm, X = fitted(ct)
    X = mixed_data(seed=6)
    k, d = gm.means_.shape
    S = full_covariances(ct, gm.covariances_, k, d)
    lse, resp, fills, cpads, _ = ref_estep(X, gm.weights_, gm.means_, S)
    centres = gm.means_ + np.random.RandomState(0).randn(k, d)
    leaf, klse, kresp = kernel(ct, gm, X, centres=centres)
    np.testing.assert_allclose(klse, lse, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kresp, resp, rtol=1e-10, atol=1e-13)
    stats = GaussianStats.from_leaf(ct, centres, leaf, len(X))
    y = fills - centres[None]
    s2 = np.einsum("nk,nka,nkb->kab", resp, y, y) + np.einsum("nk,nkab->kab", resp, cpads)
    np.testing.assert_allclose(stats.nk, resp.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.s1, np.einsum("nk,nkd->kd", resp, y), rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(stats.s2, s2 if ct == "full" else s2.sum(axis=0),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(leaf[-2], lse.sum(), rtol=1e-12)


@pytest.mark.parametrize("ct", DENSE)
def test_given_responsibilities_match_brute_force(ct):
    # an HMM's state posteriors replace the model's responsibilities
    gm, X = fitted(ct)
    k, d = gm.means_.shape
    S = full_covariances(ct, gm.covariances_, k, d)
    _, _, fills, cpads, _ = ref_estep(X, gm.weights_, gm.means_, S)
    r = np.random.RandomState(1).dirichlet(np.ones(k), size=len(X))
    leaf, _, _ = kernel(ct, gm, X, resp_in=r)
    stats = GaussianStats.from_leaf(ct, gm.means_, leaf, len(X))
    y = fills - gm.means_[None]
    s2 = np.einsum("nk,nka,nkb->kab", r, y, y) + np.einsum("nk,nkab->kab", r, cpads)
    np.testing.assert_allclose(stats.nk, r.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.s1, np.einsum("nk,nkd->kd", r, y), rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(stats.s2, s2 if ct == "full" else s2.sum(axis=0),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ct", DENSE)
def test_plain_loops_and_thread_counts_agree(ct):
    gm, X = fitted(ct)
    plain = kernel(ct, gm, X, use_blas=False)
    runs = [kernel(ct, gm, X, n_threads=t) for t in (1, 2, 3)]
    np.testing.assert_allclose(runs[0][0], plain[0], rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(runs[0][1], plain[1], rtol=1e-13, atol=1e-12)
    for other in runs[1:]:   # the same bits whatever the thread count
        for a, b in zip(other, runs[0]):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("ct", DENSE)
def test_float32_input(ct):
    X = mixed_data(seed=7)
    w, mu, cov = start(ct, X, 3)
    X32 = X.astype(np.float32)
    _, *ref = ref_em_step(ct, X32.astype(np.float64), w, mu, cov, 1e-6)
    gm = model(ct, w, mu, cov).fit(X32)
    assert gm.means_.dtype == np.float32
    np.testing.assert_allclose(gm.means_, ref[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gm.covariances_, ref[2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("ct", DENSE)
def test_predictions_match_brute_force(ct):
    gm, _ = fitted(ct)
    X = mixed_data(seed=8)
    k, d = gm.means_.shape
    S = full_covariances(ct, gm.covariances_, k, d)
    lse, resp, _, _, _ = ref_estep(X, gm.weights_, gm.means_, S)
    np.testing.assert_allclose(gm.score_samples(X), lse, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gm.predict_proba(X), resp, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("ct", DENSE)
def test_separated_components_match_brute_force(ct):
    # components far apart next to their spread: moments about the mean
    # of the means would lose digits, so the blocks take the rank updates
    X = mixed_data(seed=9)
    k, d = 3, X.shape[1]
    lab = np.random.RandomState(2).randint(k, size=len(X))
    offsets = np.array([[0.0] * d, [3e4] * d, [-2e4] + [1e4] * (d - 1)])
    X = X + offsets[lab]
    w, mu, cov = start(ct, X, k)
    mu = np.array([np.nanmean(X[lab == j], axis=0) for j in range(k)])
    cov = cov / np.abs(cov).max() * 5 + 5 * np.eye(d) if ct == "tied" else np.array(
        [5 * np.eye(d) + np.full((d, d), 1.0)] * k)
    lower, *ref = ref_em_step(ct, X, w, mu, cov, 1e-6)
    gm = model(ct, w, mu, cov).fit(X)
    np.testing.assert_allclose(gm.lower_bounds_, [lower], rtol=1e-12)
    # absolute tolerances at 1e-13 of the data's scale (3e4)
    np.testing.assert_allclose(gm.means_, ref[1], rtol=1e-12, atol=3e-9)
    np.testing.assert_allclose(gm.covariances_, ref[2], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("ct", DENSE)
@pytest.mark.parametrize("use_blas", [True, False])
def test_log_weights_nan_refused_minus_inf_kept(ct, use_blas):
    # the posteriors refuse a NaN log-density (never a silent NaN) and give
    # a component of weight 0 no responsibility, the brute force's answer
    gm, X = fitted(ct)
    code, means, covs, log_w = _model_arguments(gm)
    k, d = means.shape
    p = Patterns(X)
    leaf = np.zeros(leaf_size(code, k, d))
    bad = log_w.copy()
    bad[1] = np.nan
    with pytest.raises(NonFiniteMissingError):
        missing_pass(code, X, means, covs, bad, p.order, p.start, p.observed, centres=means,
                     stats=leaf, use_blas=use_blas)
    zero = log_w.copy()
    zero[1] = -np.inf
    lse, resp = np.empty(len(X)), np.empty((len(X), k))
    missing_pass(code, X, means, covs, zero, p.order, p.start, p.observed, centres=means,
                 stats=leaf, lse=lse, resp_out=resp, use_blas=use_blas)
    w = gm.weights_.copy()
    w[1] = 0.0
    with np.errstate(divide="ignore"):
        rlse, rresp, *_ = ref_estep(X, w, gm.means_, full_covariances(ct, gm.covariances_, k, d))
    assert np.all(resp[:, 1] == 0.0)
    np.testing.assert_allclose(lse, rlse, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(resp, rresp, rtol=1e-10, atol=1e-13)
