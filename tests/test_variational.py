"""gmscore._core.variational: the Dirichlet, stick-breaking and Wishart
expectations and normalisers against quadrature, scipy's densities and
exact special cases, and the KL divergences against hmmlearn's."""
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import digamma

from gmscore._core import variational as vb


def test_dirichlet_expected_log_by_quadrature():
    a, b = 2.5, 0.7      # the Beta marginal of a two-component Dirichlet
    ref = integrate.quad(lambda x: np.log(x) * stats.beta.pdf(x, a, b), 0, 1)[0]
    assert abs(vb.dirichlet_expected_log([a, b])[0] - ref) < 1e-8
    rows = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]])
    got = vb.dirichlet_expected_log(rows)
    for r, g in zip(rows, got):
        assert np.allclose(g, [digamma(x) - digamma(r.sum()) for x in r])


def test_stick_breaking_by_quadrature():
    a = np.array([2.0, 1.5, 3.0])
    b = np.array([1.2, 0.8, 2.0])

    def e_log(fn, ai, bi):
        return integrate.quad(lambda v: fn(v) * stats.beta.pdf(v, ai, bi), 0, 1)[0]

    ref = [e_log(np.log, a[k], b[k]) + sum(e_log(lambda v: np.log1p(-v), a[j], b[j])
                                          for j in range(k)) for k in range(3)]
    assert np.allclose(vb.stick_breaking_expected_log(a, b), ref, atol=1e-8)
    w = [a[k] / (a[k] + b[k]) * np.prod([b[j] / (a[j] + b[j]) for j in range(k)])
         for k in range(3)]
    assert np.allclose(vb.stick_breaking_mean_weights(a, b), np.array(w) / sum(w))


def test_wishart_helpers_against_scipy():
    rng = np.random.RandomState(0)
    d, nu = 3, 5.5
    A = rng.randn(d, d)
    W = A @ A.T + d * np.eye(d)
    lam = stats.wishart.rvs(nu, W, random_state=1)
    # log Z from scipy's density: logpdf = (nu-D-1)/2 log|L| - tr(W^-1 L)/2 - log Z
    log_z = ((nu - d - 1) / 2 * np.linalg.slogdet(lam)[1]
             - np.trace(np.linalg.solve(W, lam)) / 2 - stats.wishart.logpdf(lam, nu, W))
    assert abs(vb.wishart_log_partition(nu, W) - log_z) < 1e-10
    log_det_chol = 0.5 * np.linalg.slogdet(W)[1]
    assert abs(-vb.log_wishart_norm(nu, log_det_chol, d)
               - (log_z - d * (d - 1) / 4 * np.log(np.pi))) < 1e-10
    # D = 1: Wishart(nu, w) is Gamma(nu / 2, scale 2 w): E[log x] exactly
    assert abs(vb.wishart_expected_log_det(nu, 1, np.log(0.3))
               - (digamma(nu / 2) + np.log(2 * 0.3))) < 1e-12
    draws = stats.wishart.rvs(nu, W, size=40000, random_state=2)
    mc = np.linalg.slogdet(draws)[1].mean()
    assert abs(vb.wishart_expected_log_det(nu, d, np.linalg.slogdet(W)[1]) - mc) < 0.02


def test_kl_divergences_against_hmmlearn_and_zero():
    kl = pytest.importorskip("hmmlearn._kl_divergence")
    rng = np.random.RandomState(3)
    q, p = rng.rand(4) + 0.5, rng.rand(4) + 0.2
    assert abs(vb.kl_dirichlet(q, p) - kl.kl_dirichlet(q, p)) < 1e-12
    assert abs(vb.kl_dirichlet(q, q)) < 1e-12
    d = 3
    A, B = rng.randn(d, d), rng.randn(d, d)
    Sq, Sp = A @ A.T + np.eye(d), B @ B.T + np.eye(d)
    mq, mp = rng.randn(d), rng.randn(d)
    assert abs(vb.kl_multivariate_normal(mq, Sq, mp, Sp)
               - kl.kl_multivariate_normal_distribution(mq, Sq, mp, Sp)) < 1e-10
    # hmmlearn's Wishart takes the inverse scale (density ~ exp(-tr(B R) / 2))
    inv = np.linalg.inv
    assert abs(vb.kl_wishart(6.0, Sq, 4.5, Sp)
               - kl.kl_wishart_distribution(6.0, inv(Sq), 4.5, inv(Sp))) < 1e-9
    assert abs(vb.kl_wishart(6.0, Sq, 6.0, Sq)) < 1e-10
    assert abs(vb.kl_gamma(2.0, 3.0, 1.5, 0.5) - kl.kl_gamma_distribution(2.0, 3.0, 1.5, 0.5)) \
        < 1e-12
    assert abs(vb.kl_normal(0.3, 2.0, -1.0, 0.5)
               - kl.kl_normal_distribution(0.3, 2.0, -1.0, 0.5)) < 1e-12
    # a stack of Wisharts at once equals the one-by-one values
    stack = vb.kl_wishart(np.array([6.0, 7.0]), np.stack([Sq, Sp]), 4.5, Sp)
    assert np.allclose(stack, [vb.kl_wishart(6.0, Sq, 4.5, Sp), vb.kl_wishart(7.0, Sp, 4.5, Sp)])
