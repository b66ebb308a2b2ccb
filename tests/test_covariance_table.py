"""The covariance-type table (gmscore._core.covariance) against direct
numpy/scipy formulas, for every type, on small random cases: shapes,
parameter counts, the positive-definiteness test, precision factors and
their round trips, log-determinants, kernel packing, sampling and the
always-full view. Every reference works on the (K, D, D) matrices the
type's parameters stand for."""
import itertools

import numpy as np
import pytest
from scipy import linalg

from gmscore import _gaussian, _kernels
from gmscore._core.covariance import COV_TYPES, COVARIANCE, PRECISION_ERROR

K, D = 3, 4


def random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.5 * np.eye(d)


def parameters(ct, rng, k=K, d=D):
    """(covariances in the type's own shape, the (K, D, D) matrices they mean)."""
    if ct == "full":
        cov = np.stack([random_spd(rng, d) for _ in range(k)])
        return cov, cov
    if ct == "tied":
        cov = random_spd(rng, d)
        return cov, np.broadcast_to(cov, (k, d, d))
    if ct == "diag":
        cov = rng.uniform(0.2, 3.0, (k, d))
        return cov, np.stack([np.diag(c) for c in cov])
    cov = rng.uniform(0.2, 3.0, k)
    return cov, cov[:, None, None] * np.eye(d)


def as_matrices(ct, arr, k=K, d=D):
    """A covariance-shaped parameter (covariances, precisions or factors) as
    (K, D, D) matrices: the reference view."""
    arr = np.asarray(arr)
    if ct == "full":
        return arr
    if ct == "tied":
        return np.broadcast_to(arr, (k, d, d))
    if ct == "diag":
        return np.stack([np.diag(a) for a in arr])
    return arr[:, None, None] * np.eye(d)


def graded_precisions():
    """Symmetric positive definite 3 x 3 matrices whose scales span 1e16
    (variances 1e-8, 1, 1e8, in every order) with small correlations:
    S C S with C = (1 - r) I + r 11^T (eigenvalues 1 - r, 1 + 2r > 0) and S
    a positive diagonal, so positive definite by congruence. eigvalsh's
    absolute error (~eps * 1e8) exceeds their smallest eigenvalue (~1e-8),
    so it calls some of them indefinite."""
    out = []
    for scales in itertools.permutations([1e-8, 1.0, 1e8]):
        s = np.sqrt(np.array(scales))
        for r in (0.01, 0.1):
            c = np.full((3, 3), r)
            np.fill_diagonal(c, 1.0)
            out.append(s[:, None] * c * s[None, :])
    return out


def test_types_codes_and_order():
    # the order and the codes are the C enum gms_cov_type's
    assert COV_TYPES == ("full", "tied", "diag", "spherical")
    assert {ct: COVARIANCE[ct].code for ct in COV_TYPES} == {
        "full": 0, "tied": 1, "diag": 2, "spherical": 3}
    assert all(COVARIANCE[ct].name == ct for ct in COV_TYPES)
    assert _gaussian.COV_TYPES == COV_TYPES
    assert _gaussian.COV_CODE == {ct: COVARIANCE[ct].code for ct in COV_TYPES}


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("k, d", [(1, 1), (3, 4), (5, 2)])
def test_shape(ct, k, d):
    rng = np.random.default_rng(0)
    cov, _ = parameters(ct, rng, k, d)
    assert COVARIANCE[ct].shape(k, d) == cov.shape
    assert COVARIANCE[ct].shape(k, d) == {
        "full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[ct]


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("k, d", [(1, 1), (3, 4), (5, 2)])
def test_n_parameters(ct, k, d):
    # free entries: a symmetric matrix's upper triangle, a diagonal, a scalar
    per_matrix = len(np.triu_indices(d)[0])
    expected = {"full": k * per_matrix, "tied": per_matrix, "diag": k * d, "spherical": k}[ct]
    got = COVARIANCE[ct].n_parameters(k, d)
    assert got == expected and isinstance(got, int)


def test_is_positive_definite_matrices():
    rng = np.random.default_rng(1)
    spd = random_spd(rng, D)
    indefinite = spd - (np.linalg.eigvalsh(spd)[0] + 1.0) * np.eye(D)
    singular = np.zeros((D, D))
    with_nan = spd.copy()
    with_nan[1, 2] = with_nan[2, 1] = np.nan
    with_inf = spd.copy()
    with_inf[0, 0] = np.inf
    stack = np.stack([spd, indefinite, singular, with_nan, with_inf, spd])
    got = COVARIANCE["full"].is_positive_definite(stack)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, [True, False, False, False, False, True])
    for m, want in [(spd, True), (indefinite, False), (with_nan, False)]:
        got = COVARIANCE["tied"].is_positive_definite(m)
        assert got.shape == () and bool(got) is want


def test_is_positive_definite_vectors():
    diag = np.array([[1.0, 2.0], [1.0, 0.0], [1.0, -1.0], [np.nan, 1.0], [np.inf, 1.0],
                     [1e-300, 1e300]])
    np.testing.assert_array_equal(COVARIANCE["diag"].is_positive_definite(diag),
                                  [True, False, False, False, False, True])
    sph = np.array([2.0, 0.0, -1.0, np.nan, np.inf, 1e-300])
    np.testing.assert_array_equal(COVARIANCE["spherical"].is_positive_definite(sph),
                                  [True, False, False, False, False, True])


def test_is_positive_definite_when_scales_span_1e8():
    mats = graded_precisions()
    for m in mats:
        # the reference: an exact congruence argument (see graded_precisions)
        linalg.cholesky(m, lower=True)
        assert COVARIANCE["tied"].is_positive_definite(m)
    assert COVARIANCE["full"].is_positive_definite(np.stack(mats)).all()
    # and the covariances they imply, inv(S C S) = S^-1 inv(C) S^-1, whose
    # scales span 1e16 the other way
    covs = []
    for m in mats:
        s = np.sqrt(np.diag(m))
        covs.append(np.linalg.inv(m / np.outer(s, s)) / np.outer(s, s))
    assert COVARIANCE["full"].is_positive_definite(np.stack(covs)).all()


@pytest.mark.parametrize("ct", COV_TYPES)
def test_precision_cholesky_against_inverse(ct):
    cov, full = parameters(ct, np.random.default_rng(2))
    u = COVARIANCE[ct].precision_cholesky(cov)
    assert u.shape == COVARIANCE[ct].shape(K, D)
    u_mats = as_matrices(ct, u)
    np.testing.assert_array_equal(u_mats, np.triu(u_mats))
    assert (np.diagonal(u_mats, axis1=1, axis2=2) > 0).all()
    np.testing.assert_allclose(u_mats @ np.transpose(u_mats, (0, 2, 1)), np.linalg.inv(full),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_precision_cholesky_refuses_bad_covariances(ct):
    cov, _ = parameters(ct, np.random.default_rng(3))
    bad_value = cov.copy()
    bad_value.flat[0] = -1.0  # a negative (co)variance on the diagonal
    nan = cov.copy()
    nan.flat[0] = np.nan
    for bad in (bad_value, nan):
        with pytest.raises(ValueError) as exc:
            COVARIANCE[ct].precision_cholesky(bad)
        assert str(exc.value) == PRECISION_ERROR


@pytest.mark.parametrize("ct", COV_TYPES)
def test_factor_round_trips(ct):
    entry = COVARIANCE[ct]
    cov, full = parameters(ct, np.random.default_rng(4))
    u = entry.precision_cholesky(cov)
    u_mats = as_matrices(ct, u)
    prec = entry.precisions_from_cholesky(u)
    assert prec.shape == entry.shape(K, D)
    np.testing.assert_allclose(as_matrices(ct, prec), u_mats @ np.transpose(u_mats, (0, 2, 1)),
                               rtol=1e-12)
    back = entry.precision_cholesky_from_precisions(prec)
    assert back.shape == u.shape
    np.testing.assert_allclose(back, u, rtol=1e-10, atol=1e-12)
    cov_back = entry.covariances_from_cholesky(u)
    assert cov_back.shape == cov.shape
    np.testing.assert_allclose(cov_back, cov, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(as_matrices(ct, cov_back), full, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_log_det_cholesky_against_slogdet(ct):
    cov, full = parameters(ct, np.random.default_rng(5))
    u = COVARIANCE[ct].precision_cholesky(cov)
    got = COVARIANCE[ct].log_det_cholesky(u, D)
    sign, logdet_cov = np.linalg.slogdet(full)
    assert (sign == 1).all()
    # det(U)^2 = det(precision) = 1 / det(covariance)
    if ct == "tied":
        assert isinstance(got, float)
        np.testing.assert_allclose(got, -0.5 * logdet_cov[0], rtol=1e-12)
    else:
        assert got.shape == (K,)
        np.testing.assert_allclose(got, -0.5 * logdet_cov, rtol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_arguments_packing(ct, dtype):
    rng = np.random.default_rng(6)
    cov, _ = parameters(ct, rng)
    # non-contiguous inputs: a transposed copy of the means, a Fortran factor
    means = np.asfortranarray(rng.standard_normal((K, D)))
    u = np.asfortranarray(COVARIANCE[ct].precision_cholesky(cov))
    m_out, p_out = COVARIANCE[ct].kernel_arguments(means, u, dtype)
    assert m_out.dtype == dtype and p_out.dtype == dtype
    assert m_out.flags.c_contiguous and p_out.flags.c_contiguous
    assert m_out.shape == (K, D) and p_out.shape == (u.size,)
    np.testing.assert_array_equal(m_out, means.astype(dtype))
    # row-major order: component by component, row by row
    np.testing.assert_array_equal(p_out, np.array(u.tolist(), dtype=dtype).reshape(-1))
    np.testing.assert_array_equal(COVARIANCE[ct].kernel_factor(u, dtype), p_out)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_arguments_are_what_the_kernels_read(ct, dtype):
    # the packed factor, the type code and the log-determinant give the
    # Gaussian log-densities of the (K, D, D) matrices the type stands for
    rng = np.random.default_rng(10)
    entry = COVARIANCE[ct]
    cov, full = parameters(ct, rng)
    means = rng.standard_normal((K, D))
    X = rng.standard_normal((50, D)).astype(dtype)
    u = entry.precision_cholesky(cov)
    log_norm = np.ascontiguousarray(np.broadcast_to(
        entry.log_det_cholesky(u, D) - 0.5 * D * np.log(2 * np.pi), (K,)))
    out = np.empty((X.shape[0], K))
    _kernels.weighted_log_prob(entry.code, X, *entry.kernel_arguments(means, u, dtype),
                               log_norm, out, 1)
    x64 = X.astype(np.float64)
    m32 = means.astype(dtype).astype(np.float64)
    ref = np.stack([
        -0.5 * (D * np.log(2 * np.pi) + np.linalg.slogdet(full[k])[1]
                + np.einsum("ij,ij->i", x64 - m32[k], np.linalg.solve(full[k], (x64 - m32[k]).T).T))
        for k in range(K)], axis=1)
    np.testing.assert_allclose(out, ref, rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_sample_moments(ct):
    cov, full = parameters(ct, np.random.default_rng(7))
    rng = np.random.RandomState(0)
    n = 200_000
    for k in range(K):
        mean = np.arange(D, dtype=np.float64) - k
        x = COVARIANCE[ct].sample(rng, mean, cov, k, n)
        assert x.shape == (n, D)
        scale = np.sqrt(np.diag(full[k]))
        # standard errors ~ scale / sqrt(n) = 0.002 scale; 5x margin and more
        np.testing.assert_allclose(x.mean(axis=0), mean, atol=0.02 * scale.max())
        emp = np.cov(x.T)
        np.testing.assert_allclose(emp, full[k], atol=0.03 * scale.max() ** 2)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_as_full(ct):
    cov, full = parameters(ct, np.random.default_rng(9))
    got = COVARIANCE[ct].as_full(cov, K, D)
    assert got.shape == (K, D, D)
    np.testing.assert_array_equal(got, full)


@pytest.mark.parametrize("ct", ["full", "tied"])
def test_check_precisions_accepts_spd_precisions_whose_scales_span_1e8(ct):
    # the eigvalsh test called some of these indefinite (an absolute error
    # of ~eps * 1e8 against a smallest eigenvalue of ~1e-8)
    for p in graded_precisions():
        arg = p[None] if ct == "full" else p
        got = _gaussian.check_precisions(arg, ct, 1, 3)
        np.testing.assert_array_equal(got, arg)
        u = COVARIANCE[ct].precision_cholesky_from_precisions(got)
        np.testing.assert_allclose(as_matrices(ct, u, 1, 3)[0] @ as_matrices(ct, u, 1, 3)[0].T,
                                   p, rtol=1e-9, atol=1e-6 * np.abs(p).min())


@pytest.mark.parametrize("ct", ["full", "tied"])
def test_check_precisions_still_refuses_bad_matrices(ct):
    p = graded_precisions()[0]
    asymmetric = p.copy()
    asymmetric[0, 1] += 1.0
    indefinite = p.copy()
    indefinite[0, 0] = -1.0
    for bad in (asymmetric, indefinite):
        with pytest.raises(ValueError, match="symmetric, positive-definite"):
            _gaussian.check_precisions(bad[None] if ct == "full" else bad, ct, 1, 3)
