"""The fused conditional-moments kernel (src_c/gms_condition.c, used by
GaussianMixtureRegressor.predict and condition_rows for means and
variances) against the chunked path (marginal predict_proba + component
means, numpy) and against the textbook formulas (scipy), at 1e-12
relative to each output's scale (the largest absolute difference at most
1e-12 times the largest absolute reference entry)."""
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmscore import GaussianMixture, GaussianMixtureRegressor
from gmscore._core.covariance import COV_TYPES, COVARIANCE
from gmscore.conditional import condition_rows, conditional_parts

TOL = 1e-12


def close_to_scale(got, want, what):
    scale = np.abs(want).max()
    err = np.abs(got - want).max()
    assert got.shape == want.shape and np.isfinite(got).all(), what
    assert err <= TOL * scale, f"{what}: max |diff| {err:.3e} > {TOL:g} x {scale:.3e}"


def joint(ct, d_in, d_out, k, seed=0):
    rng = np.random.RandomState(seed)
    d = d_in + d_out
    Z = np.vstack([rng.randn(400, d) @ (rng.randn(d, d) / np.sqrt(d)) + 3 * rng.randn(d)
                   for _ in range(k)])
    gm = GaussianMixture(k, covariance_type=ct, random_state=seed, max_iter=30).fit(Z)
    return gm, Z


def chunked(parts, V):
    """Today's path: responsibilities and component means, then numpy."""
    r, m = condition_rows(parts, V, resp=True, means=True)
    mean = np.einsum("nk,nkb->nb", r, m)
    cv = np.diagonal(parts.cond_full, axis1=1, axis2=2)
    var = np.einsum("nk,nkb->nb", r, (m - mean[:, None, :]) ** 2 + cv[None])
    return mean, var


def textbook(gm, given, V):
    k, d = gm.means_.shape
    rest = np.setdiff1d(np.arange(d), given)
    full = COVARIANCE[gm.covariance_type].as_full(np.asarray(gm.covariances_), k, d)
    lw, ms, vs = [], [], []
    for j in range(k):
        S, mu = full[j], gm.means_[j]
        Saa, Sba = S[np.ix_(given, given)], S[np.ix_(rest, given)]
        lw.append(np.log(gm.weights_[j]) + multivariate_normal(mu[given], Saa).logpdf(V))
        ms.append(mu[rest] + np.linalg.solve(Saa, (V - mu[given]).T).T @ Sba.T)
        vs.append(np.diag(S[np.ix_(rest, rest)] - Sba @ np.linalg.solve(Saa, Sba.T)))
    lw = np.array(lw).T
    r = np.exp(lw - logsumexp(lw, axis=1, keepdims=True))
    ms = np.stack(ms, axis=1)
    mean = np.einsum("nk,nkb->nb", r, ms)
    var = np.einsum("nk,nkb->nb", r, (ms - mean[:, None, :]) ** 2 + np.array(vs)[None])
    return mean, var


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("d_in", (3, 18))      # 18: the marginal's GEMM path (> 16)
def test_fused_moments_equal_chunked_and_textbook(ct, d_in):
    gm, Z = joint(ct, d_in, 2, 4)
    given = np.arange(d_in)
    parts = conditional_parts(gm, given)
    V = Z[::3, :d_in] + 0.1
    mean, var = condition_rows(parts, V, mean=True, var=True)
    only_mean, = condition_rows(parts, V, mean=True)
    only_var, = condition_rows(parts, V, var=True)
    np.testing.assert_array_equal(only_mean, mean)
    np.testing.assert_array_equal(only_var, var)
    want_mean, want_var = chunked(parts, V)
    close_to_scale(mean, want_mean, "mean vs chunked")
    close_to_scale(var, want_var, "var vs chunked")
    if d_in == 3:
        t_mean, t_var = textbook(gm, given, V)
        close_to_scale(mean, t_mean, "mean vs textbook")
        close_to_scale(var, t_var, "var vs textbook")


@pytest.mark.parametrize("ct", ("full", "diag"))
def test_regressor_predict_threads_and_blocks(ct):
    gm, Z = joint(ct, 4, 2, 3, seed=2)
    reg = GaussianMixtureRegressor(3, covariance_type=ct, random_state=0, n_threads=2)
    reg.fit(Z[:, :4], Z[:, 4:])
    X = np.vstack([Z[:, :4]] * 2)[:1037]         # blocks of 256 and a partial one
    mean, std = reg.predict(X, return_std=True)
    reg.set_params(n_threads=1)
    reg.mixture_.set_params(n_threads=1)
    mean1, std1 = reg.predict(X, return_std=True)
    np.testing.assert_array_equal(mean, mean1)      # rows independent of threads
    np.testing.assert_array_equal(std, std1)
    np.testing.assert_array_equal(reg.predict(X[:5]), mean[:5])   # and of blocks
    want_mean, want_var = chunked(conditional_parts(reg.mixture_, np.arange(4)), X)
    close_to_scale(mean, want_mean, "mean")
    close_to_scale(std, np.sqrt(want_var), "std")


def test_nonfinite_row_reported_as_before():
    gm, _ = joint("full", 2, 1, 2, seed=3)
    parts = conditional_parts(gm, np.array([0, 1]))
    V = np.array([[0.0, 0.0], [1e200, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"conditioning values.*samples \[1\].*no finite"):
        condition_rows(parts, V, mean=True)
