"""Compiled kernels (gmscore._kernels) against slow, independent references.

Every kernel result is compared with a direct numpy/scipy computation on the
same (dtype-rounded) inputs; thread counts must give bitwise equal results.
The kernels work in blocks of BLOCK_ROWS rows grouped into at most MAX_SLOTS
reduction slots, so the sizes below cover one row, a partial block, a block
boundary, more blocks than slots and many blocks per slot.
"""
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmscore import GaussianMixture, _kernels
from gmscore._gaussian import COV_CODE

COV_TYPES = ("full", "tied", "diag", "spherical")
DTYPES = (np.float32, np.float64)
LOG_2PI = np.log(2.0 * np.pi)

# 1 row, one short block, one block + 1, 17 blocks (> MAX_SLOTS, uneven
# slots), 20 blocks.
SIZES = (1, 255, 257, 4097, 5000)
# Tolerances for log-densities (absolute and relative).
LP_TOL = {np.float32: 1e-4, np.float64: 1e-10}
# Relative tolerance of a sum against the sum of its terms' magnitudes.
SUM_TOL = {np.float32: 1e-4, np.float64: 1e-10}


# --------------------------------------------------------------- references
def random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


def random_mixture(rng, cov_type, k, d):
    """weights (K,), means (K, D) and dense covariances (K, D, D)."""
    weights = rng.dirichlet(np.full(k, 2.0))
    means = rng.normal(scale=2.0, size=(k, d))
    if cov_type == "full":
        covs = np.stack([random_spd(rng, d) for _ in range(k)])
    elif cov_type == "tied":
        covs = np.repeat(random_spd(rng, d)[None], k, axis=0)
    elif cov_type == "diag":
        covs = np.stack([np.diag(v) for v in rng.uniform(0.3, 2.0, (k, d))])
    else:
        covs = rng.uniform(0.3, 2.0, k)[:, None, None] * np.eye(d)
    return weights, means, covs


def upper_precision_factor(cov):
    """U upper triangular with U U^T = inv(cov)."""
    return np.linalg.inv(np.linalg.cholesky(cov)).T


def precision_cholesky(cov_type, covs):
    """precisions_cholesky_ in sklearn's shape for dense covariances."""
    if cov_type == "full":
        return np.stack([upper_precision_factor(c) for c in covs])
    if cov_type == "tied":
        return upper_precision_factor(covs[0])
    variances = np.diagonal(covs, axis1=1, axis2=2)
    if cov_type == "diag":
        return 1.0 / np.sqrt(variances)
    return 1.0 / np.sqrt(variances[:, 0])


def log_det_factor(cov_type, prec_chol, k, d):
    if cov_type == "full":
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    if cov_type == "tied":
        return np.full(k, np.log(np.diag(prec_chol)).sum())
    if cov_type == "diag":
        return np.log(prec_chol).sum(axis=1)
    return d * np.log(prec_chol)


def kernel_parameters(cov_type, weights, means, covs, dtype):
    """(means, flat precision factor, log_norm) as the kernels take them."""
    k, d = means.shape
    prec_chol = precision_cholesky(cov_type, covs)
    log_norm = np.log(weights) + log_det_factor(cov_type, prec_chol, k, d) - 0.5 * d * LOG_2PI
    return (np.ascontiguousarray(means, dtype=dtype),
            np.ascontiguousarray(prec_chol, dtype=dtype).ravel(),
            np.ascontiguousarray(log_norm, dtype=np.float64))


def ref_weighted_log_prob(X, weights, means, covs):
    """log w_k + log N(x_i; mu_k, Sigma_k) by scipy, in float64."""
    X = np.asarray(X, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    return np.column_stack([
        np.log(w) + np.atleast_1d(multivariate_normal.logpdf(X, m, c)).reshape(len(X))
        for w, m, c in zip(weights, means, covs)
    ])


def ref_stats(cov_type, X, r, centres):
    """(nk, s1, s2) from weighted responsibilities r (N, K), each with the sum
    of its terms' magnitudes. s2 is (K, D, D) for full, (K, D) for diag and
    spherical, (D, D) for tied (the pooled within-component scatter, each
    component about its own centre)."""
    diff = np.asarray(X, dtype=np.float64)[:, None, :] - centres[None]
    nk = r.sum(axis=0)
    ar = np.abs(r)
    s1 = np.einsum("nk,nkd->kd", r, diff)
    s1_mag = np.einsum("nk,nkd->kd", ar, np.abs(diff))
    if cov_type == "full":
        s2 = np.einsum("nk,nka,nkb->kab", r, diff, diff)
        s2_mag = np.einsum("nk,nka,nkb->kab", ar, np.abs(diff), np.abs(diff))
    elif cov_type in ("diag", "spherical"):
        s2 = np.einsum("nk,nkd->kd", r, diff**2)
        s2_mag = np.einsum("nk,nkd->kd", ar, diff**2)
    else:
        s2 = np.einsum("nk,nka,nkb->ab", r, diff, diff)
        s2_mag = np.einsum("nk,nka,nkb->ab", ar, np.abs(diff), np.abs(diff))
    return (nk, ar.sum(axis=0)), (s1, s1_mag), (s2, s2_mag)


def assert_sum_close(actual, expected, magnitude, rtol):
    """|actual - expected| <= rtol * (sum of the terms' magnitudes)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    err = np.abs(actual - expected)
    bound = rtol * np.asarray(magnitude) + 1e-300
    assert np.all(err <= bound), (
        f"max error {err.max():.3e}, worst error/bound {(err / bound).max():.3e}")


def check_stats(cov_type, got, ref, rtol):
    nk, s1, s2 = got
    (rnk, nk_mag), (rs1, s1_mag), (rs2, s2_mag) = ref
    k, d = s1.shape
    assert_sum_close(nk, rnk, nk_mag, rtol)
    assert_sum_close(s1, rs1, s1_mag, rtol)
    if cov_type == "full":
        # Only the upper triangle (a <= b) is defined.
        iu = np.triu_indices(d)
        full = s2.reshape(k, d, d)
        assert_sum_close(full[:, iu[0], iu[1]], rs2[:, iu[0], iu[1]],
                         s2_mag[:, iu[0], iu[1]], rtol)
    elif cov_type == "tied":
        iu = np.triu_indices(d)
        pooled = s2.reshape(d, d)
        assert_sum_close(pooled[iu], rs2[iu], s2_mag[iu], rtol)
    else:
        assert_sum_close(s2.reshape(k, d), rs2, s2_mag, rtol)


def make_data(rng, n, means, dtype, scale=1.5):
    labels = rng.integers(len(means), size=n)
    X = means[labels] + scale * rng.standard_normal((n, means.shape[1]))
    return np.ascontiguousarray(X, dtype=dtype)


def make_weights(rng, n):
    w = rng.uniform(0.0, 3.0, n)
    w[::7] = 0.0
    return w


def empty_stats(cov_type, k, d):
    return (np.full(k, np.nan), np.full((k, d), np.nan),
            np.full(_kernels.s2_size(COV_CODE[cov_type], k, d), np.nan))


def run_estep(cov_type, X, means, prec, log_norm, w, centres, n_threads):
    k, d = means.shape
    nk, s1, s2 = empty_stats(cov_type, k, d)
    ll = _kernels.estep(COV_CODE[cov_type], X, means, prec, log_norm, w, centres,
                        nk, s1, s2, n_threads)
    return ll, nk, s1, s2


def run_accumulate(cov_type, X, resp, labels, w, centres, n_threads):
    k, d = centres.shape
    nk, s1, s2 = empty_stats(cov_type, k, d)
    _kernels.accumulate(COV_CODE[cov_type], X, resp, labels, w, centres, nk, s1, s2, n_threads)
    return nk, s1, s2


def run_weighted_log_prob(cov_type, X, means, prec, log_norm, n_threads):
    out = np.full((X.shape[0], means.shape[0]), np.nan)
    _kernels.weighted_log_prob(COV_CODE[cov_type], X, means, prec, log_norm, out, n_threads)
    return out


def read_only(*arrays):
    out = []
    for a in arrays:
        if a is not None:
            a = a.copy()
            a.setflags(write=False)
        out.append(a)
    return out


# ------------------------------------------------------------ log-densities
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k, d", [(3, 4), (1, 1), (2, 7)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_weighted_log_prob_matches_scipy(cov_type, dtype, k, d, n):
    rng = np.random.default_rng([n, k, d, COV_CODE[cov_type]])
    weights, means, covs = random_mixture(rng, cov_type, k, d)
    X = make_data(rng, n, means, dtype)
    m, prec, log_norm = kernel_parameters(cov_type, weights, means, covs, dtype)

    out = run_weighted_log_prob(cov_type, X, m, prec, log_norm, 1)
    expected = ref_weighted_log_prob(X, weights, m, covs)
    tol = LP_TOL[dtype]
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    for n_threads in (2, 3):
        np.testing.assert_array_equal(
            run_weighted_log_prob(cov_type, X, m, prec, log_norm, n_threads), out)


# Full covariance: the triangle loop two columns at a time (odd and even D
# up to 16), then products over column bands of U (D / 4 bands, widths
# uneven past 32 bands) in chunks of 512 / D components (K spanning more
# than one chunk).
@pytest.mark.parametrize("k, d", [(5, 15), (4, 16), (31, 17), (3, 33), (9, 64), (2, 131)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_full_log_prob_over_feature_counts(dtype, k, d):
    rng = np.random.default_rng([k, d, 11])
    weights, means, covs = random_mixture(rng, "full", k, d)
    X = make_data(rng, 300, means, dtype)
    m, prec, log_norm = kernel_parameters("full", weights, means, covs, dtype)
    out = run_weighted_log_prob("full", X, m, prec, log_norm, 1)
    expected = ref_weighted_log_prob(X, weights, m, covs)
    # float32 forms the products in float32: its error grows with D
    tol = LP_TOL[dtype] * (d / 4 if dtype == np.float32 else 1)
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    # the prediction pass: thread-invariant, its log-sum-exp the reference one
    lse, _, _ = run_log_prob_rows("full", X, m, prec, log_norm, 2)
    np.testing.assert_array_equal(lse, run_log_prob_rows("full", X, m, prec, log_norm, 1)[0])
    np.testing.assert_allclose(lse, logsumexp(expected, axis=1), rtol=tol, atol=tol)
    np.testing.assert_array_equal(run_weighted_log_prob("full", X, m, prec, log_norm, 2), out)


def run_log_prob_rows(cov_type, X, means, prec, log_norm, n_threads):
    n, k = X.shape[0], means.shape[0]
    lse, proba = np.full(n, np.nan), np.full((n, k), np.nan)
    labels = np.full(n, -1, dtype=np.int64)
    _kernels.log_prob_rows(COV_CODE[cov_type], X, means, prec, log_norm, lse, proba, labels,
                           n_threads)
    lse_only = np.full(n, np.nan)
    _kernels.log_prob_rows(COV_CODE[cov_type], X, means, prec, log_norm, lse_only, None, None,
                           n_threads)
    np.testing.assert_array_equal(lse_only, lse)  # the same values without the outputs
    return lse, proba, labels


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k, d", [(3, 4), (1, 1), (9, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_log_prob_rows_matches_scipy(cov_type, dtype, k, d, n):
    """The prediction pass: per-sample log-likelihood, posteriors and most
    probable component against scipy on the reference log-densities."""
    rng = np.random.default_rng([n, k, d, COV_CODE[cov_type], 7])
    weights, means, covs = random_mixture(rng, cov_type, k, d)
    X = make_data(rng, n, means, dtype)
    m, prec, log_norm = kernel_parameters(cov_type, weights, means, covs, dtype)
    lse, proba, labels = run_log_prob_rows(cov_type, X, m, prec, log_norm, 1)
    lp = ref_weighted_log_prob(X, weights, m, covs)
    ref_lse = logsumexp(lp, axis=1)
    tol = LP_TOL[dtype]
    np.testing.assert_allclose(lse, ref_lse, rtol=tol, atol=tol)
    np.testing.assert_allclose(proba, np.exp(lp - ref_lse[:, None]), rtol=0, atol=10 * tol)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # the kernel's own log-densities decide the label (ties: the first)
    np.testing.assert_array_equal(
        labels, run_weighted_log_prob(cov_type, X, m, prec, log_norm, 1).argmax(axis=1))
    for n_threads in (2, 3):
        for a, b in zip(run_log_prob_rows(cov_type, X, m, prec, log_norm, n_threads),
                        (lse, proba, labels)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k, d", [(3, 4), (1, 1), (9, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_log_prob_labels_is_argmax_and_max(cov_type, dtype, k, d, n):
    """predict's pass: the labels of log_prob_rows and, per row, the largest
    weighted log-density (the kernel's own values, bit for bit); a row with
    NaN gets NaN."""
    rng = np.random.default_rng([n, k, d, COV_CODE[cov_type], 8])
    weights, means, covs = random_mixture(rng, cov_type, k, d)
    X = make_data(rng, n, means, dtype)
    if n > 2:
        X[1, 0] = np.nan
    m, prec, log_norm = kernel_parameters(cov_type, weights, means, covs, dtype)
    lp = run_weighted_log_prob(cov_type, X, m, prec, log_norm, 1)
    for n_threads in (1, 2, 3):
        rowmax, labels = np.full(n, 7.0), np.full(n, -1, dtype=np.int64)
        _kernels.log_prob_labels(COV_CODE[cov_type], X, m, prec, log_norm, rowmax, labels,
                                 n_threads)
        ok = ~np.isnan(lp).any(axis=1)
        np.testing.assert_array_equal(labels[ok], lp[ok].argmax(axis=1))
        np.testing.assert_array_equal(rowmax[ok], lp[ok].max(axis=1))
        assert np.isnan(rowmax[~ok]).all() and (~ok).sum() == (n > 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_log_prob_labels_ties_go_to_the_first_component(cov_type, dtype):
    """Components repeated exactly (same weight, mean and covariance) give
    equal log-densities bit for bit: predict's pass labels every row with
    the first of them, as numpy's argmax (and scikit-learn) do."""
    rng = np.random.default_rng([COV_CODE[cov_type], 11])
    k, d, n = 5, 3, 777
    weights, means, covs = random_mixture(rng, cov_type, k, d)
    # components 1 and 3 copy component 0 (tied: one shared covariance)
    for c in (1, 3):
        means[c] = means[0]
        if cov_type != "tied":
            covs[c] = covs[0]
    weights[[1, 3]] = weights[0]
    weights /= weights.sum()
    X = make_data(rng, n, means, dtype)
    m, prec, log_norm = kernel_parameters(cov_type, weights, means, covs, dtype)
    lp = run_weighted_log_prob(cov_type, X, m, prec, log_norm, 1)
    np.testing.assert_array_equal(lp[:, 1], lp[:, 0])
    rowmax, labels = np.empty(n), np.empty(n, dtype=np.int64)
    _kernels.log_prob_labels(COV_CODE[cov_type], X, m, prec, log_norm, rowmax, labels, 2)
    np.testing.assert_array_equal(labels, lp.argmax(axis=1))
    assert not np.isin(labels, [1, 3]).any()
    assert (labels == 0).any()


@pytest.mark.parametrize("cov_type", ["diag", "spherical"])
def test_scratch_does_not_grow_with_a_full_covariance(cov_type):
    """Diag and spherical kernels size their scratch for their own
    statistics: 6000 features must not ask for the ~(256 + K) D^2 / 2 doubles
    (~37 GB here) that the full-covariance statistics would need."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((40, 6000))
    gm = GaussianMixture(2, covariance_type=cov_type, max_iter=2, random_state=0)
    gm.fit(X)
    assert np.isfinite(gm.score_samples(X)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_weighted_log_prob_far_from_means(cov_type, dtype):
    """Samples many standard deviations away: large quadratic forms."""
    rng = np.random.default_rng(5)
    weights, means, covs = random_mixture(rng, cov_type, 3, 3)
    X = make_data(rng, 300, means, dtype, scale=50.0)
    m, prec, log_norm = kernel_parameters(cov_type, weights, means, covs, dtype)
    out = run_weighted_log_prob(cov_type, X, m, prec, log_norm, 2)
    np.testing.assert_allclose(out, ref_weighted_log_prob(X, weights, m, covs),
                               rtol=LP_TOL[dtype], atol=LP_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_weighted_log_prob_no_samples(cov_type, dtype):
    rng = np.random.default_rng(3)
    weights, means, covs = random_mixture(rng, cov_type, 2, 3)
    m, prec, log_norm = kernel_parameters(cov_type, weights, means, covs, dtype)
    out = run_weighted_log_prob(cov_type, np.empty((0, 3), dtype), m, prec, log_norm, 2)
    assert out.shape == (0, 2)


# ------------------------------------------------------------------ E-step
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_estep_matches_direct_formulas(cov_type, dtype, weighted, n):
    k, d = 3, 4
    rng = np.random.default_rng([n, int(weighted), COV_CODE[cov_type], 11])
    weights, means, covs = random_mixture(rng, cov_type, k, d)
    X = make_data(rng, n, means, dtype)
    m, prec, log_norm = kernel_parameters(cov_type, weights, means, covs, dtype)
    w = make_weights(rng, n) if weighted else None
    # Centres differ from the means: the statistics are centred at them.
    centres = means + rng.normal(scale=0.3, size=means.shape)

    ll, nk, s1, s2 = run_estep(cov_type, X, m, prec, log_norm, w, centres, 1)

    lp = ref_weighted_log_prob(X, weights, m, covs)
    lse = logsumexp(lp, axis=1)
    sw = np.ones(n) if w is None else w
    r = sw[:, None] * np.exp(lp - lse[:, None])
    rtol = SUM_TOL[dtype]
    assert_sum_close(ll, np.sum(sw * lse), np.sum(sw * np.abs(lse)) + np.sum(sw), rtol)
    check_stats(cov_type, (nk, s1, s2), ref_stats(cov_type, X, r, centres), rtol)

    for n_threads in (2, 3):
        ll_t, nk_t, s1_t, s2_t = run_estep(cov_type, X, m, prec, log_norm, w, centres, n_threads)
        assert ll_t == ll
        np.testing.assert_array_equal(nk_t, nk)
        np.testing.assert_array_equal(s1_t, s1)
        np.testing.assert_array_equal(s2_t, s2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_many_blocks_thread_count_invariance(cov_type, dtype):
    """Many blocks per slot (N = 40000: 157 blocks): every thread count gives
    the same bits, and the statistics still match the reference."""
    n, k, d = 40_000, 4, 3
    rng = np.random.default_rng(COV_CODE[cov_type])
    weights, means, covs = random_mixture(rng, cov_type, k, d)
    X = make_data(rng, n, means, dtype)
    m, prec, log_norm = kernel_parameters(cov_type, weights, means, covs, dtype)
    w = make_weights(rng, n)
    centres = np.ascontiguousarray(means)

    results = [run_estep(cov_type, X, m, prec, log_norm, w, centres, t) for t in (1, 2, 4, 16)]
    for other in results[1:]:
        assert other[0] == results[0][0]
        for a, b in zip(other[1:], results[0][1:]):
            np.testing.assert_array_equal(a, b)

    lp = ref_weighted_log_prob(X, weights, m, covs)
    lse = logsumexp(lp, axis=1)
    r = w[:, None] * np.exp(lp - lse[:, None])
    ll, nk, s1, s2 = results[0]
    rtol = SUM_TOL[dtype]
    assert_sum_close(ll, np.sum(w * lse), np.sum(w * np.abs(lse)) + np.sum(w), rtol)
    check_stats(cov_type, (nk, s1, s2), ref_stats(cov_type, X, r, centres), rtol)


# -------------------------------------------------------------- accumulate
@pytest.mark.parametrize("n", (0, 1, 257, 5000))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("mode", ["resp", "labels", "none"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_accumulate_matches_direct_formulas(cov_type, dtype, mode, weighted, n):
    d = 4
    k = 1 if mode == "none" else 3
    rng = np.random.default_rng([n, int(weighted), COV_CODE[cov_type], len(mode)])
    X = np.ascontiguousarray(rng.normal(loc=1.0, scale=2.0, size=(n, d)), dtype=dtype)
    centres = rng.normal(size=(k, d))
    w = make_weights(rng, n) if weighted else None
    sw = np.ones(n) if w is None else w
    resp = labels = None
    if mode == "resp":
        resp = rng.dirichlet(np.ones(k), size=n)
        resp[::5, 0] = 0.0  # exact zeros are skipped by the kernel
        r = sw[:, None] * resp
    elif mode == "labels":
        labels = rng.integers(k, size=n).astype(np.int64)
        r = sw[:, None] * (labels[:, None] == np.arange(k))
    else:
        r = sw[:, None]

    got = run_accumulate(cov_type, X, resp, labels, w, centres, 1)
    # X is exact in float64 and the kernel accumulates in float64.
    check_stats(cov_type, got, ref_stats(cov_type, X, r, centres), 1e-12)
    got2 = run_accumulate(cov_type, X, resp, labels, w, centres, 2)
    for a, b in zip(got2, got):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8, 11])
@pytest.mark.parametrize("d", [1, 2, 7, 16, 17, 32, 33])
def test_dense_full_statistics_over_component_and_feature_counts(d, k):
    """Mostly non-zero responsibilities take the dense full path (one
    product R^T P for all components; up to 32 features by register tiles
    of four components, with a tail of 1-3): against the direct formulas
    for every tail, on data far enough from the centres' mean that the
    path is not refused, and thread-count invariant."""
    n = 1500
    rng = np.random.default_rng([d, k])
    X = rng.normal(loc=0.5, scale=2.0, size=(n, d))
    centres = rng.normal(scale=0.5, size=(k, d))
    resp = rng.dirichlet(np.ones(k), size=n)
    w = make_weights(rng, n)
    got = run_accumulate("full", X, resp, None, w, centres, 1)
    check_stats("full", got, ref_stats("full", X, w[:, None] * resp, centres), 1e-12)
    got2 = run_accumulate("full", X, resp, None, w, centres, 2)
    for a, b in zip(got2, got):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("d", [1, 16, 32, 33, 40])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", ["full", "tied"])
def test_hard_label_statistics_either_side_of_the_rowwise_width(cov_type, dtype, d):
    """Hard labels (k-means initialisations) up to 32 features add each row
    into its component's sums, beyond that by per-component rank updates:
    both against the direct formulas, unlabelled rows (-1, k) and weight-0
    rows adding nothing, and thread-count invariant."""
    n, k = 3000, 5
    rng = np.random.default_rng([d, COV_CODE[cov_type]])
    X = np.ascontiguousarray(rng.normal(loc=3.0, scale=2.0, size=(n, d)), dtype=dtype)
    centres = rng.normal(size=(k, d))
    labels = rng.integers(-1, k + 1, size=n).astype(np.int64)   # -1 and k: no component
    for w in (None, make_weights(rng, n)):
        sw = np.ones(n) if w is None else w
        r = sw[:, None] * (labels[:, None] == np.arange(k))
        got = run_accumulate(cov_type, X, None, labels, w, centres, 1)
        check_stats(cov_type, got, ref_stats(cov_type, X, r, centres), 1e-12)
        for a, b in zip(run_accumulate(cov_type, X, None, labels, w, centres, 2), got):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("far", [1e3, 1e6])
def test_full_statistics_of_a_far_cluster_keep_their_digits(far):
    """Dense responsibilities (the one-GEMM path), one cluster of unit spread
    centred `far` away from the others: its scatter must be as accurate as
    the direct sum about its own centre, not lose digits to a shift shared
    by all components."""
    rng = np.random.default_rng(int(far))
    n, d = 600, 3
    m = n // 3
    centres = np.array([[far] * d, [0.0] * d, [1.0] * d])
    X = np.concatenate([centres[0] + rng.standard_normal((m, d)),
                        rng.standard_normal((n - m, d))])
    resp = np.full((n, 3), 1e-20)  # non-zero everywhere: the dense path
    resp[:m, 0] = 1.0
    resp[m:, 1:] = 0.5
    got = run_accumulate("full", X, resp, None, None, centres, 1)
    (nk, _), _, (s2, _) = ref_stats("full", X, resp, centres)
    np.testing.assert_allclose(got[0], nk, rtol=1e-13)
    s2_got = got[2].reshape(3, d, d)
    upper = np.triu_indices(d)
    for c in range(3):  # each component against its own scale
        np.testing.assert_allclose(s2_got[c][upper], s2[c][upper], rtol=0,
                                   atol=1e-12 * np.abs(s2[c]).max())


# ------------------------------------------------------------ k-means step
@pytest.mark.parametrize("n", (1, 257, 5000))
@pytest.mark.parametrize("k", (1, 5))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kmeans_step_matches_numpy(dtype, weighted, k, n):
    d = 3
    rng = np.random.default_rng([n, k, int(weighted)])
    X = np.ascontiguousarray(rng.normal(scale=3.0, size=(n, d)), dtype=dtype)
    centers = rng.normal(scale=3.0, size=(k, d))
    w = make_weights(rng, n) if weighted else None
    sw = np.ones(n) if w is None else w

    def run(n_threads):
        labels = np.full(n, -1, dtype=np.int64)
        sums, counts = np.full((k, d), np.nan), np.full(k, np.nan)
        inertia = _kernels.kmeans_step(X, centers, w, labels, sums, counts, n_threads)
        return inertia, labels, sums, counts

    inertia, labels, sums, counts = run(1)
    X64 = X.astype(np.float64)
    sq = ((X64[:, None, :] - centers[None]) ** 2).sum(axis=2)
    ref_labels = sq.argmin(axis=1)
    np.testing.assert_array_equal(labels, ref_labels)
    onehot = sw[:, None] * (ref_labels[:, None] == np.arange(k))
    np.testing.assert_allclose(counts, onehot.sum(axis=0), rtol=1e-12)
    assert_sum_close(sums, onehot.T @ X64, onehot.T @ np.abs(X64), 1e-12)
    best = sq[np.arange(n), ref_labels]
    np.testing.assert_allclose(inertia, np.sum(sw * best), rtol=1e-12)

    for a, b in zip(run(2), (inertia, labels, sums, counts)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", (1, 257, 5000))
@pytest.mark.parametrize("with_out", [False, True], ids=["no_out", "out"])
@pytest.mark.parametrize("with_closest", [False, True], ids=["no_closest", "closest"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sqdist_potential_matches_numpy(dtype, weighted, with_closest, with_out, n):
    d = 5
    rng = np.random.default_rng([n, int(weighted), int(with_closest), int(with_out)])
    X = np.ascontiguousarray(rng.normal(size=(n, d)), dtype=dtype)
    point = rng.normal(size=d)
    w = make_weights(rng, n) if weighted else None
    closest = rng.uniform(0.0, 10.0, n) if with_closest else None

    sq = ((X.astype(np.float64) - point) ** 2).sum(axis=1)
    expected = sq if closest is None else np.minimum(sq, closest)
    sw = np.ones(n) if w is None else w

    def run(n_threads):
        out = np.full(n, np.nan) if with_out else None
        pot = _kernels.sqdist_potential(X, point, closest, w, out, n_threads)
        return pot, out

    pot, out = run(1)
    np.testing.assert_allclose(pot, np.sum(sw * expected), rtol=1e-12)
    if with_out:
        np.testing.assert_allclose(out, expected, rtol=1e-12)
    pot2, out2 = run(2)
    assert pot2 == pot
    if with_out:
        np.testing.assert_array_equal(out2, out)


# ------------------------------------------------- read-only / memory order
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_read_only_inputs(cov_type, dtype):
    n, k, d = 600, 3, 4
    rng = np.random.default_rng(COV_CODE[cov_type])
    weights, means, covs = random_mixture(rng, cov_type, k, d)
    X = make_data(rng, n, means, dtype)
    m, prec, log_norm = kernel_parameters(cov_type, weights, means, covs, dtype)
    w = make_weights(rng, n)
    centres = np.ascontiguousarray(means)
    resp = rng.dirichlet(np.ones(k), size=n)
    labels = rng.integers(k, size=n).astype(np.int64)
    point = rng.normal(size=d)
    closest = rng.uniform(0.0, 10.0, n)
    ro = read_only(X, m, prec, log_norm, w, centres, resp, labels, point, closest)
    rX, rm, rprec, rlog_norm, rw, rcentres, rresp, rlabels, rpoint, rclosest = ro

    np.testing.assert_array_equal(
        run_weighted_log_prob(cov_type, rX, rm, rprec, rlog_norm, 2),
        run_weighted_log_prob(cov_type, X, m, prec, log_norm, 2))
    for a, b in zip(run_estep(cov_type, rX, rm, rprec, rlog_norm, rw, rcentres, 2),
                    run_estep(cov_type, X, m, prec, log_norm, w, centres, 2)):
        np.testing.assert_array_equal(a, b)
    for args, rargs in [((resp, None), (rresp, None)), ((None, labels), (None, rlabels))]:
        for a, b in zip(run_accumulate(cov_type, rX, *rargs, rw, rcentres, 2),
                        run_accumulate(cov_type, X, *args, w, centres, 2)):
            np.testing.assert_array_equal(a, b)

    def kmeans(X_, c_, w_):
        lab, sums, counts = np.empty(n, np.int64), np.empty((k, d)), np.empty(k)
        return _kernels.kmeans_step(X_, c_, w_, lab, sums, counts, 2), lab, sums, counts

    for a, b in zip(kmeans(rX, rcentres, rw), kmeans(X, centres, w)):
        np.testing.assert_array_equal(a, b)
    assert (_kernels.sqdist_potential(rX, rpoint, rclosest, rw, None, 2)
            == _kernels.sqdist_potential(X, point, closest, w, None, 2))


def dense_covariances(gm):
    k, d = gm.means_.shape
    cov = gm.covariances_
    if gm.covariance_type == "full":
        return cov
    if gm.covariance_type == "tied":
        return np.repeat(cov[None], k, axis=0)
    if gm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(d)


@pytest.mark.filterwarnings("ignore:Best performing initialization")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_estimator_fortran_order_and_read_only(cov_type, dtype):
    rng = np.random.default_rng(COV_CODE[cov_type] + 100)
    _, means, _ = random_mixture(rng, "full", 3, 4)
    X = make_data(rng, 700, means, dtype)  # > 2 blocks
    gm = GaussianMixture(3, covariance_type=cov_type, random_state=0, max_iter=20).fit(X)

    scores = gm.score_samples(X)
    np.testing.assert_array_equal(gm.score_samples(np.asfortranarray(X)), scores)
    (X_ro,) = read_only(X)
    np.testing.assert_array_equal(gm.score_samples(X_ro), scores)
    np.testing.assert_array_equal(gm.predict_proba(np.asfortranarray(X)), gm.predict_proba(X))

    # The public path agrees with scipy on the fitted parameters.
    expected = logsumexp(
        ref_weighted_log_prob(X, gm.weights_, gm.means_.astype(dtype), dense_covariances(gm)),
        axis=1)
    np.testing.assert_allclose(scores, expected, rtol=LP_TOL[dtype], atol=LP_TOL[dtype])

    # Fitting Fortran-ordered data gives the same model.
    gm_f = GaussianMixture(3, covariance_type=cov_type, random_state=0,
                           max_iter=20).fit(np.asfortranarray(X))
    np.testing.assert_array_equal(gm_f.means_, gm.means_)
    np.testing.assert_array_equal(gm_f.precisions_cholesky_, gm.precisions_cholesky_)


# ------------------------------------------------------------- bad arguments
def _bad_argument_cases():
    n, k, d = 10, 2, 3
    X = np.zeros((n, d))
    means = np.zeros((k, d))
    prec = np.tile(np.eye(d), (k, 1, 1)).ravel()  # full
    ln = np.zeros(k)
    cen = np.zeros((k, d))
    s2 = np.zeros(k * d * d)
    wlp = _kernels.weighted_log_prob
    est = _kernels.estep
    acc = _kernels.accumulate
    km = _kernels.kmeans_step
    sq = _kernels.sqdist_potential
    lab = np.zeros(n, np.int64)
    E = np.empty
    return {
        "wlp-means-d": lambda: wlp(0, X, np.zeros((k, d + 1)), prec, ln, E((n, k)), 1),
        "wlp-prec-size": lambda: wlp(0, X, means, prec[:-1], ln, E((n, k)), 1),
        "wlp-prec-size-diag": lambda: wlp(2, X, means, np.ones(k), ln, E((n, k)), 1),
        "wlp-log-norm": lambda: wlp(0, X, means, prec, np.zeros(k + 1), E((n, k)), 1),
        "wlp-out-rows": lambda: wlp(0, X, means, prec, ln, E((n - 1, k)), 1),
        "wlp-out-cols": lambda: wlp(0, X, means, prec, ln, E((n, k + 1)), 1),
        "wlp-cov-code": lambda: wlp(7, X, means, np.ones(k), ln, E((n, k)), 1),
        "wlp-fortran-X": lambda: wlp(0, np.asfortranarray(E((n, d))), means, prec, ln,
                                     E((n, k)), 1),
        "wlp-strided-X": lambda: wlp(0, E((2 * n, d))[::2], means, prec, ln, E((n, k)), 1),
        "estep-s2": lambda: est(0, X, means, prec, ln, None, cen, E(k), E((k, d)), E(k * d), 1),
        "estep-s2-tied": lambda: est(1, X, means, np.eye(d).ravel(), ln, None, cen, E(k),
                                     E((k, d)), E(1), 1),
        "estep-nk": lambda: est(0, X, means, prec, ln, None, cen, E(k + 1), E((k, d)), s2, 1),
        "estep-s1": lambda: est(0, X, means, prec, ln, None, cen, E(k), E((k, d + 1)), s2, 1),
        "estep-centres": lambda: est(0, X, means, prec, ln, None, np.zeros((k + 1, d)), E(k),
                                     E((k, d)), s2, 1),
        "estep-weights": lambda: est(0, X, means, prec, ln, np.ones(n - 1), cen, E(k),
                                     E((k, d)), s2, 1),
        "estep-no-samples": lambda: est(0, E((0, d)), means, prec, ln, None, cen, E(k),
                                        E((k, d)), s2, 1),
        "estep-cov-code": lambda: est(-1, X, means, np.ones(k), ln, None, cen, E(k),
                                      E((k, d)), E(0), 1),
        "acc-resp-and-labels": lambda: acc(0, X, np.ones((n, k)), lab, None, cen, E(k),
                                           E((k, d)), s2, 1),
        "acc-none-two-centres": lambda: acc(0, X, None, None, None, cen, E(k), E((k, d)), s2, 1),
        "acc-resp-shape": lambda: acc(0, X, np.ones((n, k + 1)), None, None, cen, E(k),
                                      E((k, d)), s2, 1),
        "acc-labels-length": lambda: acc(0, X, None, lab[:-1], None, cen, E(k), E((k, d)), s2, 1),
        "acc-centres-d": lambda: acc(0, X, None, lab, None, np.zeros((k, d + 1)), E(k),
                                     E((k, d)), s2, 1),
        "acc-s2": lambda: acc(2, X, None, lab, None, cen, E(k), E((k, d)), s2, 1),
        "acc-weights": lambda: acc(0, X, None, lab, np.ones(n + 1), cen, E(k), E((k, d)), s2, 1),
        "km-centers-d": lambda: km(X, np.zeros((k, d + 1)), None, lab, E((k, d)), E(k), 1),
        "km-labels": lambda: km(X, cen, None, lab[:-1], E((k, d)), E(k), 1),
        "km-sums": lambda: km(X, cen, None, lab, E((k + 1, d)), E(k), 1),
        "km-counts": lambda: km(X, cen, None, lab, E((k, d)), E(k - 1), 1),
        "km-weights": lambda: km(X, cen, np.ones(n - 1), lab, E((k, d)), E(k), 1),
        "km-no-samples": lambda: km(E((0, d)), cen, None, E(0, np.int64), E((k, d)), E(k), 1),
        "sq-point": lambda: sq(X, np.zeros(d + 1), None, None, None, 1),
        "sq-closest": lambda: sq(X, np.zeros(d), np.zeros(n + 1), None, None, 1),
        "sq-weights": lambda: sq(X, np.zeros(d), None, np.ones(n - 1), None, 1),
        "sq-out": lambda: sq(X, np.zeros(d), None, None, E(n - 1), 1),
        "sq-no-samples": lambda: sq(E((0, d)), np.zeros(d), None, None, None, 1),
    }


BAD_ARGUMENTS = _bad_argument_cases()


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_bad_arguments_raise_value_error(case):
    with pytest.raises(ValueError):
        BAD_ARGUMENTS[case]()


def test_mixed_dtypes_are_rejected():
    X = np.zeros((4, 2))
    with pytest.raises((TypeError, ValueError)):
        _kernels.weighted_log_prob(2, X, np.zeros((1, 2), np.float32), np.ones(2, np.float32),
                                   np.zeros(1), np.empty((4, 1)), 1)
    with pytest.raises((TypeError, ValueError)):
        _kernels.weighted_log_prob(2, X, np.zeros((1, 2)), np.ones(2, np.float32),
                                   np.zeros(1), np.empty((4, 1)), 1)


# ----------------------------------------------------------------- overflow
def isotropic_precision(cov_type, factors, d, dtype):
    """Flat precision factors factors[k] * I and their log det U per component
    (tied: factors[0] for every component)."""
    factors = np.asarray(factors, dtype=np.float64)
    k = len(factors)
    if cov_type == "full":
        prec = factors[:, None, None] * np.eye(d)
    elif cov_type == "tied":
        prec = factors[0] * np.eye(d)
        factors = np.full(k, factors[0])
    elif cov_type == "diag":
        prec = np.repeat(factors[:, None], d, axis=1)
    else:
        prec = factors
    return np.ascontiguousarray(prec, dtype=dtype).ravel(), d * np.log(factors)


def _overflow_problem(cov_type, dtype, x_value, mean_value, factor, n=300, d=3):
    """One component, X ~ N(0, 1) with row 7 set to x_value, mean mean_value
    and precision factor `factor` times the identity."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    X[7] = x_value
    X = np.ascontiguousarray(X, dtype=dtype)
    means = np.full((1, d), mean_value, dtype=dtype)
    prec, log_det = isotropic_precision(cov_type, [factor], d, dtype)
    return X, means, prec, log_det - 0.5 * d * LOG_2PI


@pytest.mark.parametrize("n_threads", (1, 2))
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype, x_value, mean_value, factor", [
    (np.float64, 1e200, 0.0, 1e200),   # q = 3e800 overflows float64
    (np.float32, 3e38, -3e38, 1e10),   # x - mean overflows float32
], ids=["float64", "float32"])
def test_estep_overflowing_distance_raises(cov_type, dtype, x_value, mean_value, factor,
                                          n_threads):
    X, means, prec, log_norm = _overflow_problem(cov_type, dtype, x_value, mean_value, factor)
    with pytest.raises(_kernels.NonFiniteLogLikelihoodError) as info:
        run_estep(cov_type, X, means, prec, log_norm, None, np.zeros((1, X.shape[1])),
                  n_threads)
    assert isinstance(info.value, FloatingPointError)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_estep_float32_large_values(cov_type):
    """float32 data ~1e30 with a precision factor of 1e10: every type forms
    the scaled difference (x - mu) * U in float32, which overflows, and must
    report it rather than return a non-finite log-likelihood."""
    X, means, prec, log_norm = _overflow_problem(cov_type, np.float32, 1e30, 0.0, 1e10)
    centres = np.zeros((1, X.shape[1]))
    with pytest.raises(_kernels.NonFiniteLogLikelihoodError):
        run_estep(cov_type, X, means, prec, log_norm, None, centres, 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", ["full", "diag", "spherical"])
def test_estep_overflow_in_one_component_only(cov_type, dtype):
    """A sample whose distance overflows for one component but not another has
    a finite log-likelihood: no error, responsibility 0 for that component."""
    n, d = 300, 3
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))
    X[7] = 1e30 if dtype is np.float32 else 1e150
    X = np.ascontiguousarray(X, dtype=dtype)
    means = np.zeros((2, d), dtype=dtype)
    factors = np.array([1e10 if dtype is np.float32 else 1e200, 1e-30])
    prec, log_det = isotropic_precision(cov_type, factors, d, dtype)
    log_norm = np.log(0.5) + log_det - 0.5 * d * LOG_2PI
    centres = np.zeros((2, d))

    ll, nk, s1, s2 = run_estep(cov_type, X, means, prec, log_norm, None, centres, 2)

    # Direct float64 formula; component 0 gives -inf or about -1e80 for row 7.
    X64 = X.astype(np.float64)
    with np.errstate(over="ignore"):
        q = (X64**2).sum(axis=1)[:, None] * factors**2
    lp = log_norm - 0.5 * q
    lse = logsumexp(lp, axis=1)
    r = np.exp(lp - lse[:, None])
    assert np.isfinite(ll)
    assert_sum_close(ll, lse.sum(), np.abs(lse).sum() + n, SUM_TOL[dtype])
    check_stats(cov_type, (nk, s1, s2), ref_stats(cov_type, X, r, centres), SUM_TOL[dtype])


@pytest.mark.parametrize("kernel", ["estep", "weighted_log_prob"])
def test_spherical_large_float64_distance_is_finite(kernel):
    """float64, |x - mu| = 1.7e160 with precision factor 1e-30: the squared
    Mahalanobis distance is 3e260, finite in float64."""
    X, means, prec, log_norm = _overflow_problem("spherical", np.float64, 1e160, 0.0, 1e-30)
    q = ((X * 1e-30) ** 2).sum(axis=1)
    if kernel == "estep":
        ll = run_estep("spherical", X, means, prec, log_norm, None, np.zeros((1, 3)), 1)[0]
        np.testing.assert_allclose(ll, np.sum(log_norm[0] - 0.5 * q), rtol=1e-12)
    else:
        out = run_weighted_log_prob("spherical", X, means, prec, log_norm, 1)
        np.testing.assert_allclose(out[:, 0], log_norm[0] - 0.5 * q, rtol=1e-12)


# ------------------------------------------------------------ row gather
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int8, np.complex128])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_take_rows_is_np_take(dtype, n_threads):
    rng = np.random.default_rng(7)
    for n, d in [(0, 3), (1, 1), (5, 0), (300_000, 7), (1000, 33)]:
        X = (rng.normal(size=(n, d)) * 50).astype(dtype)
        order = rng.integers(0, max(n, 1), size=2 * n if n else 0)   # repeats
        got = _kernels.take_rows(X, order, n_threads)
        np.testing.assert_array_equal(got, np.take(X, order, axis=0))
        assert got.dtype == X.dtype and got.shape == (order.size, d)


def test_take_rows_rejects_bad_indices_and_layouts():
    X = np.arange(40.0).reshape(10, 4)
    for bad in ([0, 10], [-1, 2], [3, 2**40]):
        with pytest.raises(IndexError, match="out of range"):
            _kernels.take_rows(X, np.array(bad, dtype=np.int64), 2)
    with pytest.raises(IndexError):
        _kernels.take_rows(np.empty((3, 0)), np.array([5], dtype=np.int64), 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.take_rows(X[:, ::2], np.array([0], dtype=np.int64), 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.take_rows(X.astype(object), np.array([0], dtype=np.int64), 1)
