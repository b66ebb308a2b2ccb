/* The BLAS block path of the missing-value kernel for full / tied
 * covariances (see gms_missing.c for the maths and gms_missing.h for the
 * API): blocks of GMS_MISSING_BLAS_ROWS+ rows of one pattern form their
 * log-densities with one product for all components and their statistics
 * from moments, as the complete-data kernel does. */
#include "gms_missing_internal.h"

#include <math.h>
#include <string.h>

/* be (nb x d, row-major) = xfill - mu of component c for the block, with
 * BLAS for the conditional means' shifts (bd: the observed deviations). */
static void block_fill(const pass_args *a, scratch *s, const int64_t *order, ptrdiff_t lo,
                       ptrdiff_t nb, ptrdiff_t c)
{
    const ptrdiff_t d = a->d, q = s->q, m = s->m;
    const double *mu = a->means + c * d;
    for (ptrdiff_t i = 0; i < nb; i++) {
        const double *x = a->X + order[lo + i] * d;
        double *dst = s->bd + i * q, *e = s->be + i * d;
        for (ptrdiff_t b = 0; b < q; b++) e[s->o[b]] = dst[b] = x[s->o[b]] - mu[s->o[b]];
    }
    if (m == 0) return;
    if (q > 0) {
        int im = (int)m, iq = (int)q, inb = (int)nb;
        double minus = -1.0, zero = 0.0;
        char no = 'N';
        /* H^T (m x nb) = -B (m x q) D_o^T (q x nb), column-major */
        a->dgemm(&no, &no, &im, &inb, &iq, &minus, s->f[c].bm, &im, s->bd, &iq, &zero, s->bz,
                 &im);
    }
    for (ptrdiff_t i = 0; i < nb; i++) {
        double *e = s->be + i * d;
        for (ptrdiff_t j = 0; j < m; j++) e[s->mi[j]] = q > 0 ? s->bz[i * m + j] : 0.0;
    }
}


/* L^{-1} of every component's observed block S_oo (Cholesky of S_oo,
 * forward substitution), as one column-major (n_w q) x q matrix, and
 * wv_c = L_c^{-1} (mu_co - g_o): z = L^{-1} (x_o - g_o) - wv gives
 * x_o's whitened deviation from mu_o for all components in one product.
 * -1 when an S_oo is not positive definite. */
static int whitening(const pass_args *a, scratch *s)
{
    const ptrdiff_t d = a->d, k = a->k, q = s->q;
    const ptrdiff_t n_w = a->cov_type == GMS_FULL ? k : 1, ld = n_w * q;
    double *L = s->work;
    for (ptrdiff_t w = 0; w < n_w; w++) {
        const double *S = a->covs + w * d * d;
        for (ptrdiff_t j = 0; j < q; j++)
            for (ptrdiff_t i = j; i < q; i++) {
                double v = S[s->o[i] * d + s->o[j]];
                for (ptrdiff_t t = 0; t < j; t++) v -= L[i * q + t] * L[j * q + t];
                if (i == j) {
                    if (!(v > 0.0) || !isfinite(v)) return -1;
                    L[j * q + j] = sqrt(v);
                } else {
                    L[i * q + j] = v / L[j * q + j];
                }
            }
        /* column b of L^{-1} into rows w q .. w q + q of the stacked matrix */
        for (ptrdiff_t b = 0; b < q; b++) {
            double *col = s->wall + b * ld + w * q;
            for (ptrdiff_t i = 0; i < b; i++) col[i] = 0.0;
            for (ptrdiff_t i = b; i < q; i++) {
                double v = (i == b) ? 1.0 : 0.0;
                for (ptrdiff_t t = b; t < i; t++) v -= L[i * q + t] * col[t];
                col[i] = v / L[i * q + i];
            }
        }
    }
    for (ptrdiff_t c = 0; c < k; c++) {
        const ptrdiff_t w = a->cov_type == GMS_FULL ? c : 0;
        const double *mu = a->means + c * d;
        double *v = s->wv + c * d;
        for (ptrdiff_t i = 0; i < q; i++) {
            double t = 0.0;
            for (ptrdiff_t b = 0; b <= i; b++)
                t += s->wall[b * ld + w * q + i] * (mu[s->o[b]] - a->g[s->o[b]]);
            v[i] = t;
        }
    }
    return 0;
}

/* Full / tied statistics of a block from moments, as the complete-data
 * kernel forms them: with y = x - g (0 in the missing slots) and the
 * missing shifts dl_c = xhat_cm - g_m, xfill_c - g = y + dl_c, so
 *   sum r (xfill - g)(xfill - g)^T = R^T [y y^T]  (one product for all
 *   components) + the (o, m), (m, o) and (m, m) blocks of the shifts,
 * then moved to each component's centre c = g + dk:
 *   s2 = W - dk W1^T - W1 dk^T + n dk dk^T.
 * Returns 1 (nothing added) when that move would lose more than 16 bits
 * of a variance (centres far from the block's centre): the caller then
 * takes the rank-update path. */
static int block_moments(const pass_args *a, scratch *s, const int64_t *order, ptrdiff_t lo,
                         ptrdiff_t nb, double *acc)
{
    const ptrdiff_t d = a->d, k = a->k, q = s->q, m = s->m;
    const ptrdiff_t qq = d + d * (d + 1) / 2 + 1, per = m + q * m + m * m;
    const double *g = a->g;
    double *sm = s->sm;
    for (ptrdiff_t j = 0; j < k * qq; j++) sm[j] = 0.0;
    for (ptrdiff_t j = 0; j < k * per; j++) s->mk[j] = 0.0;
    for (ptrdiff_t i = 0; i < nb; i++) {
        const double w = a->sw ? a->sw[order[lo + i]] : 1.0;
        for (ptrdiff_t c = 0; c < k; c++) s->rw[i * k + c] = s->r[i * k + c] * w;
    }
    for (ptrdiff_t i0 = 0; i0 < nb; i0 += s->prows) {
        const ptrdiff_t n1 = nb - i0 < s->prows ? nb - i0 : s->prows;
        for (ptrdiff_t i = 0; i < n1; i++) {
            const double *x = a->X + order[lo + i0 + i] * d;
            double *p = s->pm + i * qq, *y = s->e;
            for (ptrdiff_t j = 0; j < d; j++) y[j] = 0.0;
            for (ptrdiff_t b = 0; b < q; b++) y[s->o[b]] = x[s->o[b]] - g[s->o[b]];
            for (ptrdiff_t j = 0; j < d; j++) p[j] = y[j];
            double *u = p + d;
            for (ptrdiff_t aa = 0; aa < d; aa++) {
                const double ya = y[aa];
                for (ptrdiff_t bb = aa; bb < d; bb++) u[bb - aa] = ya * y[bb];
                u += d - aa;
            }
            p[qq - 1] = 1.0;
        }
        /* S^T (qq x k) += P^T (qq x n1) RW (n1 x k), column-major */
        char no = 'N', tr = 'T';
        int m_ = (int)qq, n_ = (int)k, k_ = (int)n1, lda = (int)qq, ldb = (int)k;
        double one = 1.0;
        a->dgemm(&no, &tr, &m_, &n_, &k_, &one, s->pm, &lda, s->rw + i0 * k, &ldb, &one, sm,
                 &lda);
    }
    if (m > 0) {
        /* the shifts: dl_c = (mu_cm - g_m) - B_c (x_o - mu_co), per row */
        for (ptrdiff_t i = 0; i < nb; i++) {
            const double *x = a->X + order[lo + i] * d;
            for (ptrdiff_t c = 0; c < k; c++) {
                const double rk = s->rw[i * k + c];
                if (rk == 0.0) continue;
                const double *mu = a->means + c * d, *bm = s->f[c].bm;
                double *dl = s->dl, *mk = s->mk + c * per;
                for (ptrdiff_t j = 0; j < m; j++) dl[j] = mu[s->mi[j]] - g[s->mi[j]];
                for (ptrdiff_t b = 0; b < q; b++) {
                    const double db = x[s->o[b]] - mu[s->o[b]];
                    for (ptrdiff_t j = 0; j < m; j++) dl[j] -= bm[b * m + j] * db;
                }
                for (ptrdiff_t j = 0; j < m; j++) mk[j] += rk * dl[j];
                double *cross = mk + m;   /* q x m */
                for (ptrdiff_t b = 0; b < q; b++) {
                    const double yb = rk * (x[s->o[b]] - g[s->o[b]]);
                    for (ptrdiff_t j = 0; j < m; j++) cross[b * m + j] += yb * dl[j];
                }
                double *dd = cross + q * m;   /* m x m */
                for (ptrdiff_t j = 0; j < m; j++) {
                    const double v = rk * dl[j];
                    for (ptrdiff_t l = 0; l < m; l++) dd[j * m + l] += v * dl[l];
                }
            }
        }
    }
    /* per component: W (d x d) and W1 (d) about g, then about c */
    for (int pass = 0; pass < 2; pass++) {
        for (ptrdiff_t c = 0; c < k; c++) {
            const double *sc = sm + c * qq, *mk = s->mk + c * per;
            const double n_c = sc[qq - 1];
            double *W = s->ww, *W1 = s->dl;
            const double *u = sc + d;
            for (ptrdiff_t aa = 0; aa < d; aa++) {
                for (ptrdiff_t bb = aa; bb < d; bb++) W[aa * d + bb] = W[bb * d + aa] = u[bb - aa];
                u += d - aa;
            }
            for (ptrdiff_t j = 0; j < d; j++) W1[j] = sc[j];
            for (ptrdiff_t j = 0; j < m; j++) W1[s->mi[j]] += mk[j];
            for (ptrdiff_t b = 0; b < q; b++)
                for (ptrdiff_t j = 0; j < m; j++) {
                    const double v = mk[m + b * m + j];
                    W[s->o[b] * d + s->mi[j]] += v;
                    W[s->mi[j] * d + s->o[b]] += v;
                }
            for (ptrdiff_t i = 0; i < m; i++)
                for (ptrdiff_t j = 0; j < m; j++)
                    W[s->mi[i] * d + s->mi[j]] += mk[m + q * m + i * m + j];
            const double *cen = a->centres + c * d;
            if (pass == 0) {
                if (gms_missing_shift_loses_bits(W, W1, cen, g, n_c, d)) return 1;
                continue;
            }
            double *nk = acc, *s1 = acc + k + c * d, *s2 = acc + k + k * d;
            double *m2 = s2 + (a->cov_type == GMS_FULL ? c * d * d : 0);
            nk[c] += n_c;
            for (ptrdiff_t aa = 0; aa < d; aa++) {
                const double da = cen[aa] - g[aa];
                s1[aa] += W1[aa] - n_c * da;
                for (ptrdiff_t bb = aa; bb < d; bb++) {
                    const double db = cen[bb] - g[bb];
                    m2[aa * d + bb] += W[aa * d + bb] - da * W1[bb] - W1[aa] * db + n_c * da * db;
                }
            }
            gms_missing_add_conditional(a, s, c, n_c, s2);
        }
    }
    return 0;
}

/* Full / tied covariances with BLAS: per component, the quadratic forms
 * from one product with U, the second moments from one rank-nb update
 * (rows scaled by the square roots of their weights). */
int gms_missing_block_dense(const pass_args *a, scratch *s, const int64_t *order,
                           ptrdiff_t lo, ptrdiff_t nb, double *acc)
{
    const ptrdiff_t d = a->d, k = a->k;
    int id = (int)d, inb = (int)nb;
    double one = 1.0, zero = 0.0;
    char no = 'N', lower = 'L';
    double lse_blk[GMS_BLOCK_ROWS];
    for (ptrdiff_t i = 0; i < nb; i++) lse_blk[i] = 0.0;
    if (a->resp_in == NULL || a->lse || a->logp) {
        const ptrdiff_t q = s->q, n_w = a->cov_type == GMS_FULL ? k : 1;
        if (s->w_pattern != s->pattern) {
            if (whitening(a, s) != 0) return GMS_ERR_NONFINITE;
            s->w_pattern = s->pattern;
        }
        int ldw = (int)(n_w * q), iq = (int)q;
        for (ptrdiff_t i0 = 0; i0 < nb; i0 += s->zrows) {
            const ptrdiff_t n1 = nb - i0 < s->zrows ? nb - i0 : s->zrows;
            int in1 = (int)n1;
            for (ptrdiff_t i = 0; i < n1; i++) {
                const double *x = a->X + order[lo + i0 + i] * d;
                for (ptrdiff_t b = 0; b < q; b++) s->bd[i * q + b] = x[s->o[b]] - a->g[s->o[b]];
            }
            if (q > 0)   /* Z^T (n_w q x n1) = Wall (n_w q x q) (x_o - g_o)^T (q x n1) */
                a->dgemm(&no, &no, &ldw, &in1, &iq, &one, s->wall, &ldw, s->bd, &iq, &zero,
                         s->zall, &ldw);
            for (ptrdiff_t i = 0; i < n1; i++)
                for (ptrdiff_t c = 0; c < k; c++) {
                    const double *z = s->zall + i * n_w * q
                                      + (a->cov_type == GMS_FULL ? c * q : 0);
                    const double *v = s->wv + c * d;
                    double maha = 0.0;
                    for (ptrdiff_t b = 0; b < q; b++) {
                        const double t = z[b] - v[b];
                        maha += t * t;
                    }
                    s->lp[(i0 + i) * k + c] = s->f[c].lognorm - 0.5 * maha;
                }
        }
        for (ptrdiff_t i = 0; i < nb; i++) {
            int rc = gms_missing_row_posteriors(a, s, order[lo + i], i, &lse_blk[i]);
            if (rc != GMS_OK) return rc;
        }
    } else {
        for (ptrdiff_t i = 0; i < nb; i++)
            memcpy(s->r + i * k, a->resp_in + order[lo + i] * k, sizeof(double) * (size_t)k);
    }
    if (!acc) return GMS_OK;
    double *nk = acc, *s1 = acc + k, *s2 = acc + k + k * d;
    for (ptrdiff_t i = 0; i < nb; i++) {
        const double w = a->sw ? a->sw[order[lo + i]] : 1.0;
        acc[a->stride - 2] += w * lse_blk[i];
        acc[a->stride - 1] += w;
    }
    if (block_moments(a, s, order, lo, nb, acc) == 0) return GMS_OK;
    for (ptrdiff_t c = 0; c < k; c++) {
        const double *mu = a->means + c * d, *cen = a->centres + c * d;
        block_fill(a, s, order, lo, nb, c);
        double rs = 0.0, *m1 = s1 + c * d;
        for (ptrdiff_t i = 0; i < nb; i++) {
            const int64_t row = order[lo + i];
            const double *x = a->X + row * d;
            const double rk = s->r[i * k + c] * (a->sw ? a->sw[row] : 1.0);
            double *y = s->be + i * d;   /* becomes sqrt(rk) (xfill - centre) */
            for (ptrdiff_t b = 0; b < s->q; b++) y[s->o[b]] = x[s->o[b]] - cen[s->o[b]];
            for (ptrdiff_t j = 0; j < s->m; j++)
                y[s->mi[j]] = (mu[s->mi[j]] + y[s->mi[j]]) - cen[s->mi[j]];
            rs += rk;
            for (ptrdiff_t j = 0; j < d; j++) m1[j] += rk * y[j];
            const double sq = sqrt(rk);
            for (ptrdiff_t j = 0; j < d; j++) y[j] *= sq;
        }
        nk[c] += rs;
        if (rs == 0.0) continue;
        double *m2 = s2 + (a->cov_type == GMS_FULL ? c * d * d : 0);
        /* row-major upper triangle = column-major lower */
        a->dsyrk(&lower, &no, &id, &inb, &one, s->be, &id, &one, m2, &id);
        gms_missing_add_conditional(a, s, c, rs, s2);
    }
    return GMS_OK;
}
