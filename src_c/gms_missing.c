/* Exact E-step with missing entries: see gms_missing.h.
 *
 * Full / tied covariances are handled through the precision P = S^{-1} =
 * U U^T (U upper triangular, formed once per call from S). For a pattern
 * with observed set o and missing set m (Schur complements of P):
 *   xhat_m - mu_m = -P_mm^{-1} P_mo (x_o - mu_o)      (conditional mean)
 *   C             =  P_mm^{-1}                         (conditional cov.)
 *   log det S_oo  =  log det S + log det P_mm
 *   (x_o - mu_o)^T S_oo^{-1} (x_o - mu_o) = || (xfill - mu)^T U ||^2
 * (the marginal's quadratic form is the full one at the conditional mean,
 * which minimises it over the missing entries), so a pattern costs one
 * factorisation of the small m x m block per component, and a row one
 * triangular product as for complete data, with no cancellation.
 * This file: the driver (blocks, slots, reduction), the pattern factors
 * and the row-by-row path; gms_missing_dense.c: the BLAS block path of one
 * pattern; gms_missing_mixed.c: the BLAS blocks of many patterns. */
#include "gms_missing.h"
#include "gms_missing_internal.h"
#include "gms_fastmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define LOG_2PI 1.8378770664093454835606594728112

static void scratch_free(scratch *s)
{
    free(s->o); free(s->mi); free(s->f); free(s->mat); free(s->work); free(s->lp);
    free(s->r); free(s->e); free(s->z); free(s->xh); free(s->rsum); free(s->bd);
    free(s->be); free(s->bz); free(s->wall); free(s->wv); free(s->zall); free(s->pm);
    free(s->sm); free(s->rw); free(s->dl); free(s->mk); free(s->ww);
    free(s->my); free(s->mv); free(s->mq); free(s->mt); free(s->mf); free(s->ml);
    free(s->mc); free(s->mn); free(s->mseg); free(s->mpat);
}

static int scratch_alloc(scratch *s, ptrdiff_t d, ptrdiff_t k)
{
    memset(s, 0, sizeof(*s));
    const size_t dd = (size_t)d * (size_t)d, B = GMS_BLOCK_ROWS;
    s->o = malloc(sizeof(ptrdiff_t) * (size_t)d);
    s->mi = malloc(sizeof(ptrdiff_t) * (size_t)d);
    s->f = malloc(sizeof(factor) * (size_t)k);
    s->mat = malloc(sizeof(double) * ((size_t)k * (2 * dd + (size_t)d)));
    s->work = malloc(sizeof(double) * dd);
    s->lp = malloc(sizeof(double) * B * (size_t)k);
    s->r = malloc(sizeof(double) * B * (size_t)k);
    s->e = malloc(sizeof(double) * (size_t)d);
    s->z = malloc(sizeof(double) * (size_t)d);
    s->xh = malloc(sizeof(double) * (size_t)k * (size_t)d);
    s->rsum = malloc(sizeof(double) * (size_t)k);
    s->bd = malloc(sizeof(double) * B * (size_t)d);
    s->be = malloc(sizeof(double) * B * (size_t)d);
    s->bz = malloc(sizeof(double) * B * (size_t)d);
    const ptrdiff_t qq = d + d * (d + 1) / 2 + 1;
    s->w_pattern = -1;
    s->wall = malloc(sizeof(double) * (size_t)k * dd);
    s->wv = malloc(sizeof(double) * (size_t)k * (size_t)d);
    s->zrows = GMS_MISSING_SCRATCH / (k * d);
    s->zrows = s->zrows < 1 ? 1 : s->zrows > (ptrdiff_t)B ? (ptrdiff_t)B : s->zrows;
    s->zall = malloc(sizeof(double) * (size_t)(s->zrows * k * d));
    s->prows = GMS_MISSING_SCRATCH / qq;
    s->prows = s->prows < 1 ? 1 : s->prows > (ptrdiff_t)B ? (ptrdiff_t)B : s->prows;
    s->pm = malloc(sizeof(double) * (size_t)(s->prows * qq));
    s->sm = malloc(sizeof(double) * (size_t)(k * qq));
    s->rw = malloc(sizeof(double) * B * (size_t)k);
    s->dl = malloc(sizeof(double) * (size_t)d);
    /* the moment paths: k x (m + q m + m m), or k x (d + d d) and a
     * (d + 1) x k d product (gms_missing_mixed.c) */
    s->mk = malloc(sizeof(double) * (size_t)k * (size_t)(2 * d + 2 * d * d));
    s->ww = malloc(sizeof(double) * dd);
    const size_t nm = (size_t)gms_missing_mixed_rows(d, k), kd = (size_t)k * (size_t)d;
    s->my = malloc(sizeof(double) * nm * (size_t)(d + 1));
    s->mv = malloc(sizeof(double) * nm * kd);
    s->mq = malloc(sizeof(double) * nm * (size_t)k);
    s->mt = malloc(sizeof(double) * nm * kd);
    s->mf = malloc(sizeof(double) * nm * (size_t)d);
    s->ml = malloc(sizeof(double) * (size_t)k * dd);
    s->mc = malloc(sizeof(double) * (size_t)k * dd);
    s->mn = malloc(sizeof(double) * (size_t)k);
    s->mseg = malloc(sizeof(ptrdiff_t) * (nm + 1));
    s->mpat = malloc(sizeof(int64_t) * nm);
    if (!s->my || !s->mv || !s->mq || !s->mt || !s->mf || !s->ml || !s->mc || !s->mn
        || !s->mseg || !s->mpat) {
        scratch_free(s);
        return GMS_ERR_NOMEM;
    }
    if (!s->o || !s->mi || !s->f || !s->mat || !s->work || !s->lp || !s->r || !s->e
        || !s->z || !s->xh || !s->rsum || !s->bd || !s->be || !s->bz || !s->wall || !s->wv
        || !s->zall || !s->pm || !s->sm || !s->rw || !s->dl || !s->mk || !s->ww) {
        scratch_free(s);
        return GMS_ERR_NOMEM;
    }
    for (ptrdiff_t j = 0; j < k; j++) {
        double *base = s->mat + (size_t)j * (2 * dd + (size_t)d);
        s->f[j].bm = base;
        s->f[j].c = base + dd;
        s->f[j].iv = base + 2 * dd;
        s->f[j].u = NULL;
    }
    return GMS_OK;
}

/* U (upper, row-major, P = U U^T), P and log det S of one covariance S
 * (d x d): L = chol(S), U = L^{-T}. Returns -1 when S is not positive
 * definite. */
static int precision_of(const double *S, ptrdiff_t d, double *L, double *u, double *p,
                        double *logdet)
{
    double ld = 0.0;
    for (ptrdiff_t j = 0; j < d; j++)
        for (ptrdiff_t i = j; i < d; i++) {
            double v = S[i * d + j];
            for (ptrdiff_t t = 0; t < j; t++) v -= L[i * d + t] * L[j * d + t];
            if (i == j) {
                if (!(v > 0.0) || !isfinite(v)) return -1;
                L[j * d + j] = sqrt(v);
                ld += 2.0 * log(L[j * d + j]);
            } else {
                L[i * d + j] = v / L[j * d + j];
            }
        }
    /* Linv by forward substitution of e_b (column b), stored transposed:
     * u[b * d + a] = Linv[a][b] = U[b][a] */
    memset(u, 0, sizeof(double) * (size_t)(d * d));
    for (ptrdiff_t b = 0; b < d; b++)
        for (ptrdiff_t a = b; a < d; a++) {
            double v = (a == b) ? 1.0 : 0.0;
            for (ptrdiff_t t = b; t < a; t++) v -= L[a * d + t] * u[b * d + t];
            u[b * d + a] = v / L[a * d + a];
        }
    for (ptrdiff_t i = 0; i < d; i++)
        for (ptrdiff_t j = 0; j < d; j++) {
            double v = 0.0;
            const ptrdiff_t t0 = i > j ? i : j;
            for (ptrdiff_t t = t0; t < d; t++) v += u[i * d + t] * u[j * d + t];
            p[i * d + j] = v;
        }
    *logdet = ld;
    return 0;
}

/* The pattern's factors of component c's precision P: Cholesky Lm of
 * P_mm, C = P_mm^{-1}, B = P_mm^{-1} P_mo. -1 when P_mm is not positive
 * definite. */
static int dense_factor(const pass_args *a, scratch *s, ptrdiff_t cov, factor *f,
                        double log_w)
{
    const ptrdiff_t d = a->d, q = s->q, m = s->m;
    const ptrdiff_t *o = s->o, *mi = s->mi;
    const double *P = a->p + cov * d * d;
    double *L = s->work;   /* m x m lower, row-major */
    double *inv = s->z;    /* 1 / L_ii */
    double logdet_mm;
    if (gms_missing_block_cholesky(P, d, mi, m, L, inv, &logdet_mm) != 0) return -1;
    /* B: solve L L^T B = P_mo, one observed column b at a time */
    for (ptrdiff_t b = 0; b < q; b++) {
        double *col = f->bm + b * m;
        for (ptrdiff_t i = 0; i < m; i++) {
            double v = P[mi[i] * d + o[b]];
            for (ptrdiff_t t = 0; t < i; t++) v -= L[i * m + t] * col[t];
            col[i] = v * inv[i];
        }
        for (ptrdiff_t i = m - 1; i >= 0; i--) {
            double v = col[i];
            for (ptrdiff_t t = i + 1; t < m; t++) v -= L[t * m + i] * col[t];
            col[i] = v * inv[i];
        }
    }
    /* C = P_mm^{-1}, column by column (only where it is used) */
    for (ptrdiff_t b = 0; b < m && a->need_c; b++) {
        double *col = f->c + b * m;  /* symmetric: columns = rows */
        for (ptrdiff_t i = 0; i < m; i++) {
            double v = (i == b) ? 1.0 : 0.0;
            for (ptrdiff_t t = 0; t < i; t++) v -= L[i * m + t] * col[t];
            col[i] = v * inv[i];
        }
        for (ptrdiff_t i = m - 1; i >= 0; i--) {
            double v = col[i];
            for (ptrdiff_t t = i + 1; t < m; t++) v -= L[t * m + i] * col[t];
            col[i] = v * inv[i];
        }
    }
    f->u = a->u + cov * d * d;
    f->lognorm = log_w - 0.5 * ((double)q * LOG_2PI + a->logdet[cov] + logdet_mm);
    return 0;
}

/* The pattern's factors for every component; -1 when one fails. */
static int pattern_factors(const pass_args *a, scratch *s, const uint8_t *obs)
{
    const ptrdiff_t d = a->d, k = a->k;
    s->q = s->m = 0;
    for (ptrdiff_t j = 0; j < d; j++) {
        if (obs[j]) s->o[s->q++] = j;
        else s->mi[s->m++] = j;
    }
    if (a->cov_type == GMS_TIED) {
        /* one factorisation; the components differ only in mean and weight */
        if (dense_factor(a, s, 0, &s->f[0], 0.0) != 0) return -1;
        const double base = s->f[0].lognorm;
        for (ptrdiff_t c = 0; c < k; c++) {
            s->f[c] = s->f[0];
            s->f[c].lognorm = base + a->log_w[c];
        }
        return 0;
    }
    if (a->cov_type == GMS_FULL) {
        for (ptrdiff_t c = 0; c < k; c++)
            if (dense_factor(a, s, c, &s->f[c], a->log_w[c]) != 0) return -1;
        return 0;
    }
    for (ptrdiff_t c = 0; c < k; c++) {
        double ln = a->log_w[c] - 0.5 * (double)s->q * LOG_2PI;
        for (ptrdiff_t j = 0; j < d; j++) {
            double v = a->cov_type == GMS_DIAG ? a->covs[c * d + j] : a->covs[c];
            if (!(v > 0.0) || !isfinite(v)) return -1;
            s->f[c].iv[j] = 1.0 / v;
            if (obs[j]) ln -= 0.5 * log(v);
        }
        s->f[c].lognorm = ln;
    }
    return 0;
}

/* Row x under component c: e = xfill - mu (xfill: x with the conditional
 * means in the missing slots), xh = xfill; returns log w_c N(x_o). */
static double row_component(const pass_args *a, scratch *s, const double *x, ptrdiff_t c,
                            double *xh)
{
    const ptrdiff_t d = a->d, q = s->q, m = s->m;
    const double *mu = a->means + c * d;
    const factor *f = &s->f[c];
    double maha = 0.0;
    if (gms_missing_is_dense(a->cov_type)) {
        double *e = s->e, *z = s->z;
        for (ptrdiff_t j = 0; j < m; j++) e[s->mi[j]] = 0.0;
        for (ptrdiff_t b = 0; b < q; b++) {
            const double db = x[s->o[b]] - mu[s->o[b]];
            e[s->o[b]] = db;
            const double *col = f->bm + b * m;
            for (ptrdiff_t j = 0; j < m; j++) e[s->mi[j]] -= col[j] * db;
        }
        for (ptrdiff_t j = 0; j < d; j++) z[j] = 0.0;
        for (ptrdiff_t i = 0; i < d; i++) {
            const double ei = e[i];
            const double *row = f->u + i * d;
            for (ptrdiff_t j = i; j < d; j++) z[j] += ei * row[j];
        }
        for (ptrdiff_t j = 0; j < d; j++) maha += z[j] * z[j];
        for (ptrdiff_t b = 0; b < q; b++) xh[s->o[b]] = x[s->o[b]];
        for (ptrdiff_t j = 0; j < m; j++) xh[s->mi[j]] = mu[s->mi[j]] + e[s->mi[j]];
    } else {
        for (ptrdiff_t b = 0; b < q; b++) {
            const ptrdiff_t j = s->o[b];
            const double v = x[j] - mu[j];
            maha += v * v * f->iv[j];
            xh[j] = x[j];
        }
        for (ptrdiff_t j = 0; j < m; j++) xh[s->mi[j]] = mu[s->mi[j]];
    }
    return f->lognorm - 0.5 * maha;
}

/* Conditional variance of the jm-th missing feature under component c. */
static double missing_var(const pass_args *a, const scratch *s, ptrdiff_t c, ptrdiff_t jm)
{
    if (gms_missing_is_dense(a->cov_type)) return s->f[c].c[jm * s->m + jm];
    return 1.0 / s->f[c].iv[s->mi[jm]];
}

/* The conditional covariance added to the second moments, once per block
 * and component (rs: the block's weight of the component). */
void gms_missing_add_conditional(const pass_args *a, const scratch *s, ptrdiff_t c, double rs,
                            double *s2)
{
    const ptrdiff_t d = a->d, m = s->m;
    if (rs == 0.0 || m == 0) return;
    if (gms_missing_is_dense(a->cov_type)) {
        double *m2 = s2 + (a->cov_type == GMS_FULL ? c * d * d : 0);
        const double *cc = s->f[c].c;
        for (ptrdiff_t i = 0; i < m; i++)
            for (ptrdiff_t j = i; j < m; j++) m2[s->mi[i] * d + s->mi[j]] += rs * cc[i * m + j];
    } else {
        double *m2 = s2 + c * d;
        for (ptrdiff_t jm = 0; jm < m; jm++) m2[s->mi[jm]] += rs * missing_var(a, s, c, jm);
    }
}

/* Log-sum-exp and responsibilities of row i from lp into r, and the
 * per-row outputs; GMS_ERR_NONFINITE for a row without a finite
 * log-likelihood. */
GMS_HOT int gms_missing_row_posteriors(const pass_args *a, scratch *s, int64_t row,
                                       ptrdiff_t i, double *lse_out)
{
    const ptrdiff_t k = a->k;
    double *lp = s->lp + i * k, *r = s->r + i * k;
    double mx = -INFINITY, sum = 0.0;
    int bad = 0;
    /* no early exit, so the loops vectorise */
    for (ptrdiff_t c = 0; c < k; c++) {
        bad |= isnan(lp[c]);
        mx = lp[c] > mx ? lp[c] : mx;
    }
    if (bad || !isfinite(mx)) return GMS_ERR_NONFINITE;
    /* the exps once: r = exp(lp - max) / sum (the kernels' exp: a few
     * ulp), summed in component order apart from the vectorised exps */
    for (ptrdiff_t c = 0; c < k; c++) r[c] = gms_exp_nonpositive(lp[c] - mx);
    for (ptrdiff_t c = 0; c < k; c++) sum += r[c];
    const double lse = mx + log(sum);
    if (!isfinite(lse)) return GMS_ERR_NONFINITE;
    *lse_out = lse;
    if (a->lse) a->lse[row] = lse;
    if (a->logp) memcpy(a->logp + row * k, lp, sizeof(double) * (size_t)k);
    if (a->resp_in) memcpy(r, a->resp_in + row * k, sizeof(double) * (size_t)k);
    else {
        const double is = 1.0 / sum;
        for (ptrdiff_t c = 0; c < k; c++) r[c] *= is;
    }
    if (a->resp_out) memcpy(a->resp_out + row * k, r, sizeof(double) * (size_t)k);
    return GMS_OK;
}

/* One block, row by row: rows order[lo..hi) of one pattern (factors in s). */
static int run_block(const pass_args *a, scratch *s, const int64_t *order, ptrdiff_t lo,
                     ptrdiff_t hi, double *acc)
{
    const ptrdiff_t d = a->d, k = a->k, nb = hi - lo;
    if (gms_missing_is_dense(a->cov_type) && a->dgemm && a->dsyrk && !a->impute && !a->impute_var
        && nb >= GMS_MISSING_BLAS_ROWS)
        return gms_missing_block_dense(a, s, order, lo, nb, acc);
    const int need_lp = a->resp_in == NULL || a->lse || a->logp;
    const int need_r = acc || a->resp_out || a->impute || a->impute_var;
    double *nk = acc, *s1 = acc ? acc + k : NULL, *s2 = acc ? acc + k + k * d : NULL;
    if (acc) for (ptrdiff_t c = 0; c < k; c++) s->rsum[c] = 0.0;
    for (ptrdiff_t i = 0; i < nb; i++) {
        const int64_t row = order[lo + i];
        const double *x = a->X + row * d;
        double *r = s->r + i * k;
        double lse = 0.0;
        for (ptrdiff_t c = 0; c < k; c++) {
            const double v = row_component(a, s, x, c, s->xh + c * d);
            if (need_lp) s->lp[i * k + c] = v;
        }
        if (need_lp) {
            int rc = gms_missing_row_posteriors(a, s, row, i, &lse);
            if (rc != GMS_OK) return rc;
        } else if (need_r) {
            memcpy(r, a->resp_in + row * k, sizeof(double) * (size_t)k);
        }
        if (!need_r) continue;
        const double w = a->sw ? a->sw[row] : 1.0;
        if (acc) {
            acc[a->stride - 2] += w * lse;
            acc[a->stride - 1] += w;
            for (ptrdiff_t c = 0; c < k; c++) {
                const double rk = r[c] * w;
                if (rk == 0.0) continue;
                const double *cen = a->centres + c * d, *xh = s->xh + c * d;
                double *y = s->z;
                for (ptrdiff_t j = 0; j < d; j++) y[j] = xh[j] - cen[j];
                nk[c] += rk;
                s->rsum[c] += rk;
                double *m1 = s1 + c * d;
                for (ptrdiff_t j = 0; j < d; j++) m1[j] += rk * y[j];
                if (gms_missing_is_dense(a->cov_type)) {
                    double *m2 = s2 + (a->cov_type == GMS_FULL ? c * d * d : 0);
                    for (ptrdiff_t j = 0; j < d; j++) {
                        const double v = rk * y[j];
                        double *rowp = m2 + j * d;
                        for (ptrdiff_t l = j; l < d; l++) rowp[l] += v * y[l];
                    }
                } else {
                    double *m2 = s2 + c * d;
                    for (ptrdiff_t j = 0; j < d; j++) m2[j] += rk * y[j] * y[j];
                }
            }
        }
        if (a->impute || a->impute_var) {
            for (ptrdiff_t b = 0; b < s->q; b++) {
                const ptrdiff_t j = s->o[b];
                if (a->impute) a->impute[row * d + j] = x[j];
                if (a->impute_var) a->impute_var[row * d + j] = 0.0;
            }
            for (ptrdiff_t jm = 0; jm < s->m; jm++) {
                const ptrdiff_t j = s->mi[jm];
                double mean = 0.0;
                for (ptrdiff_t c = 0; c < k; c++) mean += r[c] * s->xh[c * d + j];
                if (a->impute) a->impute[row * d + j] = mean;
                if (a->impute_var) {
                    /* law of total variance over the components */
                    double v = 0.0;
                    for (ptrdiff_t c = 0; c < k; c++) {
                        const double e = s->xh[c * d + j] - mean;
                        v += r[c] * (missing_var(a, s, c, jm) + e * e);
                    }
                    a->impute_var[row * d + j] = v > 0.0 ? v : 0.0;
                }
            }
        }
    }
    if (acc)
        for (ptrdiff_t c = 0; c < k; c++) gms_missing_add_conditional(a, s, c, s->rsum[c], s2);
    return GMS_OK;
}

/* Whether a pattern's rows go through mixed-pattern blocks. */
static int goes_mixed(const uint8_t *obs, ptrdiff_t d, int64_t rows)
{
    if (rows < GMS_MISSING_MIXED_BELOW) return 1;
    for (ptrdiff_t j = 0; j < d; j++)
        if (!obs[j]) return 1;
    return 0;
}

int gms_missing_pass(int cov_type, const double *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                     const double *means, const double *covs, const double *log_w,
                     const int64_t *order, ptrdiff_t n_order, const int64_t *pat_start,
                     ptrdiff_t n_pat, const uint8_t *observed, const double *sample_weight,
                     const double *resp_in, const double *centres, double *stats,
                     double *lse, double *logp, double *resp_out, double *impute,
                     double *impute_var, void *dgemm, void *dsyrk, int n_threads)
{
    if (cov_type < GMS_FULL || cov_type > GMS_SPHERICAL || d < 1 || k < 1 || n < 0
        || n_order < 0 || n_pat < 0 || !means || !covs || !log_w || (stats && !centres)
        || (n_order > 0 && (!X || !order || !pat_start || !observed))
        || d > (1 << 20))
        return GMS_ERR_ARG;
    if (n_pat > 0 && (pat_start[0] != 0 || pat_start[n_pat] != n_order)) return GMS_ERR_ARG;
    for (ptrdiff_t p = 0; p < n_pat; p++)
        if (pat_start[p + 1] < pat_start[p]) return GMS_ERR_ARG;
    for (ptrdiff_t i = 0; i < n_order; i++)
        if (order[i] < 0 || order[i] >= n) return GMS_ERR_ARG;

    pass_args a;
    memset(&a, 0, sizeof(a));
    a.cov_type = cov_type; a.d = d; a.k = k;
    a.dgemm = (dgemm_fn)dgemm; a.dsyrk = (dsyrk_fn)dsyrk;
    a.X = X; a.means = means; a.covs = covs; a.log_w = log_w; a.sw = sample_weight;
    a.resp_in = resp_in; a.centres = centres; a.lse = lse; a.logp = logp;
    a.resp_out = resp_out; a.impute = impute; a.impute_var = impute_var;
    a.stride = k + k * d + gms_s2_size(cov_type, k, d) + 2;
    a.need_c = stats != NULL || impute_var != NULL;

    /* blocks: at most GMS_BLOCK_ROWS rows of one pattern, or (full / tied
     * with BLAS) runs of small patterns cut into mixed-pattern blocks */
    const int mixed = gms_missing_is_dense(cov_type) && dgemm && dsyrk && !impute
                      && !impute_var;
    const ptrdiff_t nm = gms_missing_mixed_rows(d, k);
    const ptrdiff_t max_blocks = 2 * n_pat + n_order / GMS_BLOCK_ROWS + n_order / nm + 1;
    const ptrdiff_t n_cov = cov_type == GMS_FULL ? k : 1;
    int64_t *blk = malloc(sizeof(int64_t) * 4 * (size_t)max_blocks);
    ptrdiff_t *slot_start = malloc(sizeof(ptrdiff_t) * (size_t)(GMS_MAX_SLOTS + 1));
    double *acc = stats ? calloc((size_t)GMS_MAX_SLOTS * (size_t)a.stride, sizeof(double))
                        : NULL;
    double *prec = gms_missing_is_dense(cov_type)
        ? malloc(sizeof(double) * ((size_t)(2 * n_cov + 1) * (size_t)(d * d) + (size_t)n_cov
                                   + (size_t)d + 2 * (size_t)(k * d)))
        : NULL;
    if (!blk || !slot_start || (stats && !acc) || (gms_missing_is_dense(cov_type) && !prec)) {
        free(blk); free(slot_start); free(acc); free(prec);
        return GMS_ERR_NOMEM;
    }
    int rc = GMS_OK;
    if (prec) {
        double *u = prec, *p = prec + n_cov * d * d, *L = prec + 2 * n_cov * d * d;
        double *logdet = L + d * d;
        for (ptrdiff_t c = 0; c < n_cov && rc == GMS_OK; c++)
            if (precision_of(covs + c * d * d, d, L, u + c * d * d, p + c * d * d,
                             logdet + c) != 0)
                rc = GMS_ERR_NONFINITE;
        double *g = logdet + n_cov;
        for (ptrdiff_t j = 0; j < d; j++) {
            double t = 0.0;
            for (ptrdiff_t c = 0; c < k; c++) t += means[c * d + j];
            g[j] = t / (double)k;
        }
        double *dmu = g + d, *pd = dmu + k * d;
        for (ptrdiff_t c = 0; c < k; c++) {
            const double *P = p + (cov_type == GMS_FULL ? c * d * d : 0);
            for (ptrdiff_t j = 0; j < d; j++) dmu[c * d + j] = means[c * d + j] - g[j];
            for (ptrdiff_t i = 0; i < d; i++) {
                double t = 0.0;
                for (ptrdiff_t j = 0; j < d; j++) t += P[i * d + j] * dmu[c * d + j];
                pd[c * d + i] = t;
            }
        }
        a.u = u; a.p = p; a.logdet = logdet; a.g = g; a.dmu = dmu; a.pd = pd;
    }
    ptrdiff_t n_blocks = 0;
    for (ptrdiff_t p = 0; p < n_pat;) {
        if (mixed && goes_mixed(observed + p * d, d, pat_start[p + 1] - pat_start[p])) {
            ptrdiff_t p1 = p, pp = p;
            while (p1 < n_pat
                   && goes_mixed(observed + p1 * d, d, pat_start[p1 + 1] - pat_start[p1]))
                p1++;
            for (int64_t lo = pat_start[p]; lo < pat_start[p1]; lo += nm) {
                while (pat_start[pp + 1] <= lo) pp++;
                int64_t *e = blk + 4 * n_blocks++;
                e[0] = pp; e[1] = lo; e[3] = 1;
                e[2] = lo + nm < pat_start[p1] ? lo + nm : pat_start[p1];
            }
            p = p1;
            continue;
        }
        for (int64_t lo = pat_start[p]; lo < pat_start[p + 1]; lo += GMS_BLOCK_ROWS) {
            int64_t *e = blk + 4 * n_blocks++;
            e[0] = p; e[1] = lo; e[3] = 0;
            e[2] = lo + GMS_BLOCK_ROWS < pat_start[p + 1] ? lo + GMS_BLOCK_ROWS
                                                           : pat_start[p + 1];
        }
        p++;
    }
    const ptrdiff_t n_slots = n_blocks < GMS_MAX_SLOTS ? n_blocks : GMS_MAX_SLOTS;
    /* slots of consecutive blocks holding about n_order / n_slots rows each
     * (many patterns are a few rows): they depend on the row order only */
    slot_start[0] = 0;
    for (ptrdiff_t sl = 1, bi = 0; sl <= n_slots; sl++) {
        const int64_t target = sl == n_slots ? n_order : (int64_t)(sl * (n_order / n_slots));
        while (bi < n_blocks && blk[4 * bi + 2] <= target) bi++;
        if (sl == n_slots) bi = n_blocks;
        slot_start[sl] = bi;
    }

    int failed = 0, nonfinite = 0;
    const int pinned = rc == GMS_OK && dgemm != NULL && gms_missing_is_dense(cov_type);
    if (pinned) gms_blas_pin();   /* BLAS at one thread inside the region */
    if (rc == GMS_OK) {
#ifdef _OPENMP
        if (n_threads < 1) n_threads = 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
#endif
        for (ptrdiff_t sl = 0; sl < n_slots; sl++) {
            scratch s;
            if (scratch_alloc(&s, d, k) != GMS_OK) { gms_set_failed(&failed); continue; }
            const ptrdiff_t b0 = slot_start[sl], b1 = slot_start[sl + 1];
            double *my = acc ? acc + sl * a.stride : NULL;
            int64_t current = -1;
            for (ptrdiff_t bi = b0; bi < b1; bi++) {
                const int64_t p = blk[4 * bi];
                if (blk[4 * bi + 3]) {
                    const int64_t lo = blk[4 * bi + 1];
                    if (gms_missing_block_mixed(&a, &s, order, lo, blk[4 * bi + 2] - lo,
                                                pat_start, p, observed, my) != GMS_OK) {
                        gms_set_failed(&nonfinite);
                        break;
                    }
                    current = -1;   /* the pattern factors in s were overwritten */
                    s.w_pattern = -1;
                    continue;
                }
                if (p != current) {
                    if (pattern_factors(&a, &s, observed + p * d) != 0) {
                        gms_set_failed(&nonfinite);
                        break;
                    }
                    current = p;
                    s.pattern = p;
                }
                if (run_block(&a, &s, order, blk[4 * bi + 1], blk[4 * bi + 2], my) != GMS_OK) {
                    gms_set_failed(&nonfinite);
                    break;
                }
            }
            scratch_free(&s);
        }
        (void)n_threads;
        rc = failed ? GMS_ERR_NOMEM : nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
    }
    if (pinned) gms_blas_unpin();
    if (stats && rc == GMS_OK) {
        /* the slots in order: the same sums for any thread count */
        memset(stats, 0, sizeof(double) * (size_t)a.stride);
        for (ptrdiff_t sl = 0; sl < n_slots; sl++)
            for (ptrdiff_t j = 0; j < a.stride; j++) stats[j] += acc[sl * a.stride + j];
    }
    free(blk);
    free(slot_start);
    free(acc);
    free(prec);
    return rc;
}
