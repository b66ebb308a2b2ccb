"""Brute-force numpy references for the missing-value tests: EM with
missing data (Ghahramani & Jordan 1994) written row by row, no kernels."""
import numpy as np

COV_TYPES = ("full", "tied", "diag", "spherical")


# ------------------------------------------------------------ reference
def full_covariances(ct, covariances, k, d):
    """Any covariance type as K full matrices."""
    c = np.asarray(covariances, dtype=np.float64)
    if ct == "full":
        return c
    if ct == "tied":
        return np.repeat(c[None], k, axis=0)
    if ct == "diag":
        return np.array([np.diag(v) for v in c])
    return np.array([np.eye(d) * v for v in c])


def ref_row(x, w, mu, S):
    """Per component: log w_k N(x_o), xhat (x with conditional means in the
    missing slots), conditional covariance padded to D x D."""
    o = ~np.isnan(x)
    m = ~o
    k, d = mu.shape
    logp, xfill, cpad = np.empty(k), np.empty((k, d)), np.zeros((k, d, d))
    for j in range(k):
        Soo = S[j][np.ix_(o, o)]
        diff = x[o] - mu[j][o]
        if o.any():
            _, logdet = np.linalg.slogdet(Soo)
            maha = diff @ np.linalg.solve(Soo, diff)
        else:
            logdet = maha = 0.0
        with np.errstate(divide="ignore"):
            logp[j] = np.log(w[j]) - 0.5 * (o.sum() * np.log(2 * np.pi) + logdet + maha)
        xf = x.copy()
        if m.any():
            Smo = S[j][np.ix_(m, o)]
            A = Smo @ np.linalg.inv(Soo) if o.any() else np.zeros((m.sum(), 0))
            xf[m] = mu[j][m] + A @ diff
            cpad[j][np.ix_(m, m)] = S[j][np.ix_(m, m)] - A @ Smo.T
        xfill[j] = xf
    return logp, xfill, cpad


def ref_estep(X, weights, means, S, sw=None):
    n, d = X.shape
    k = means.shape[0]
    sw = np.ones(n) if sw is None else sw
    lse = np.empty(n)
    resp = np.empty((n, k))
    fills = np.empty((n, k, d))
    cpads = np.empty((n, k, d, d))
    for i in range(n):
        logp, xf, cp = ref_row(X[i], weights, means, S)
        mx = logp.max()
        lse[i] = mx + np.log(np.exp(logp - mx).sum())
        resp[i] = np.exp(logp - lse[i])
        fills[i], cpads[i] = xf, cp
    return lse, resp, fills, cpads, sw


def ref_em_step(ct, X, weights, means, covariances, reg_covar, sw=None):
    """One EM iteration from the given parameters; rows that observe
    nothing are left out. Returns (lower bound, new weights, means, covs)."""
    k, d = means.shape
    keep = ~np.isnan(X).all(axis=1)
    X = X[keep]
    sw = None if sw is None else sw[keep]
    S = full_covariances(ct, covariances, k, d)
    lse, resp, fills, cpads, sw = ref_estep(X, weights, means, S, sw)
    r = resp * sw[:, None]
    nk = r.sum(axis=0)
    new_means = np.einsum("nk,nkd->kd", r, fills) / nk[:, None]
    scat = np.empty((k, d, d))
    for j in range(k):
        y = fills[:, j] - new_means[j]
        scat[j] = (np.einsum("n,na,nb->ab", r[:, j], y, y)
                   + np.einsum("n,nab->ab", r[:, j], cpads[:, j]))
    if ct == "full":
        cov = scat / nk[:, None, None] + reg_covar * np.eye(d)
    elif ct == "tied":
        cov = scat.sum(axis=0) / nk.sum() + reg_covar * np.eye(d)
    elif ct == "diag":
        cov = np.diagonal(scat, axis1=1, axis2=2) / nk[:, None] + reg_covar
    else:
        cov = (np.diagonal(scat, axis1=1, axis2=2) / nk[:, None] + reg_covar).mean(axis=1)
    lower = float((sw * lse).sum() / sw.sum())
    return lower, nk / nk.sum(), new_means, cov


def precisions_of(ct, cov):
    if ct in ("full", "tied"):
        return np.linalg.inv(cov)
    return 1.0 / np.asarray(cov)


