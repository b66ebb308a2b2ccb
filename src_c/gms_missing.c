/* Exact E-step with missing entries: see gms_missing.h. */
#include "gms_missing.h"
#include "gms_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define LOG_2PI 1.8378770664093454835606594728112

/* A pattern's factors for one component (full / tied), or its inverse
 * variances (diag / spherical). Sizes: q observed, m missing features. */
typedef struct {
    double *lt;      /* q x q: column b holds L^{-1}[a][b], a >= b, at lt[b*q + a] */
    double *at;      /* q x m: S_oo^{-1} S_om, row b at at[b*m] */
    double *c;       /* m x m conditional covariance */
    double *iv;      /* d: inverse variances (diag / spherical) */
    double lognorm;  /* log w_k - (q log 2 pi + log det S_oo) / 2 */
} factor;

typedef struct {
    int cov_type;
    ptrdiff_t d, k;
    const double *X, *means, *covs, *log_w, *sw, *resp_in, *centres;
    double *lse, *logp, *resp_out, *impute, *impute_var;
    ptrdiff_t stride, s2_size;
} pass_args;

/* Per-thread scratch of one slot. */
typedef struct {
    ptrdiff_t *o, *mi;           /* observed / missing feature indices */
    ptrdiff_t q, m;
    factor *f;                   /* k factors (tied: all share index 0's) */
    double *mat;                 /* factor storage */
    double *work;                /* d x d: Cholesky, W */
    double *lp, *r;              /* GMS_BLOCK_ROWS x k */
    double *dv, *z, *y, *xh;     /* d, d, d, k x d */
    double *rsum;                /* k */
} scratch;

static void scratch_free(scratch *s)
{
    free(s->o); free(s->mi); free(s->f); free(s->mat); free(s->work);
    free(s->lp); free(s->r); free(s->dv); free(s->z); free(s->y); free(s->xh);
    free(s->rsum);
}

static int scratch_alloc(scratch *s, ptrdiff_t d, ptrdiff_t k)
{
    memset(s, 0, sizeof(*s));
    size_t dd = (size_t)d * (size_t)d;
    s->o = malloc(sizeof(ptrdiff_t) * (size_t)d);
    s->mi = malloc(sizeof(ptrdiff_t) * (size_t)d);
    s->f = malloc(sizeof(factor) * (size_t)k);
    s->mat = malloc(sizeof(double) * ((size_t)k * (3 * dd + (size_t)d)));
    s->work = malloc(sizeof(double) * (2 * dd));
    s->lp = malloc(sizeof(double) * (size_t)GMS_BLOCK_ROWS * (size_t)k);
    s->r = malloc(sizeof(double) * (size_t)GMS_BLOCK_ROWS * (size_t)k);
    s->dv = malloc(sizeof(double) * (size_t)d);
    s->z = malloc(sizeof(double) * (size_t)d);
    s->y = malloc(sizeof(double) * (size_t)d);
    s->xh = malloc(sizeof(double) * (size_t)k * (size_t)d);
    s->rsum = malloc(sizeof(double) * (size_t)k);
    if (!s->o || !s->mi || !s->f || !s->mat || !s->work || !s->lp || !s->r || !s->dv
        || !s->z || !s->y || !s->xh || !s->rsum) {
        scratch_free(s);
        return GMS_ERR_NOMEM;
    }
    for (ptrdiff_t j = 0; j < k; j++) {
        double *base = s->mat + (size_t)j * (3 * dd + (size_t)d);
        s->f[j].lt = base;
        s->f[j].at = base + dd;
        s->f[j].c = base + 2 * dd;
        s->f[j].iv = base + 3 * dd;
    }
    return GMS_OK;
}

/* Factors of one dense covariance S (d x d) for the pattern in s:
 * Cholesky L of S_oo, L^{-1}, A^T = S_oo^{-1} S_om, C = S_mm - W^T W with
 * W = L^{-1} S_om. Returns 0, or -1 when S_oo is not positive definite. */
static int dense_factor(const double *S, ptrdiff_t d, scratch *s, factor *f, double log_w)
{
    const ptrdiff_t q = s->q, m = s->m;
    const ptrdiff_t *o = s->o, *mi = s->mi;
    double *L = s->work;               /* q x q, row-major lower */
    double *W = s->work + d * d;       /* q x m */
    double logdet = 0.0;
    for (ptrdiff_t j = 0; j < q; j++) {
        for (ptrdiff_t i = j; i < q; i++) {
            double v = S[o[i] * d + o[j]];
            for (ptrdiff_t t = 0; t < j; t++) v -= L[i * q + t] * L[j * q + t];
            if (i == j) {
                if (!(v > 0.0) || !isfinite(v)) return -1;
                L[j * q + j] = sqrt(v);
                logdet += log(L[j * q + j]);
            } else {
                L[i * q + j] = v / L[j * q + j];
            }
        }
    }
    /* L^{-1}, column by column (forward substitution of e_b) */
    for (ptrdiff_t b = 0; b < q; b++) {
        double *col = f->lt + b * q;
        for (ptrdiff_t a = 0; a < b; a++) col[a] = 0.0;
        for (ptrdiff_t a = b; a < q; a++) {
            double v = (a == b) ? 1.0 : 0.0;
            for (ptrdiff_t t = b; t < a; t++) v -= L[a * q + t] * col[t];
            col[a] = v / L[a * q + a];
        }
    }
    /* W = L^{-1} S_om */
    for (ptrdiff_t a = 0; a < q; a++)
        for (ptrdiff_t j = 0; j < m; j++) {
            double v = 0.0;
            for (ptrdiff_t b = 0; b <= a; b++) v += f->lt[b * q + a] * S[o[b] * d + mi[j]];
            W[a * m + j] = v;
        }
    /* A^T = L^{-T} W */
    for (ptrdiff_t b = 0; b < q; b++)
        for (ptrdiff_t j = 0; j < m; j++) {
            double v = 0.0;
            for (ptrdiff_t a = b; a < q; a++) v += f->lt[b * q + a] * W[a * m + j];
            f->at[b * m + j] = v;
        }
    /* C = S_mm - W^T W */
    for (ptrdiff_t i = 0; i < m; i++)
        for (ptrdiff_t j = 0; j < m; j++) {
            double v = S[mi[i] * d + mi[j]];
            for (ptrdiff_t a = 0; a < q; a++) v -= W[a * m + i] * W[a * m + j];
            f->c[i * m + j] = v;
        }
    f->lognorm = log_w - 0.5 * ((double)q * LOG_2PI) - logdet;
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
        if (dense_factor(a->covs, d, s, &s->f[0], 0.0) != 0) return -1;
        const double base = s->f[0].lognorm;
        for (ptrdiff_t c = 0; c < k; c++) {
            s->f[c] = s->f[0];
            s->f[c].lognorm = base + a->log_w[c];
        }
        return 0;
    }
    if (a->cov_type == GMS_FULL) {
        for (ptrdiff_t c = 0; c < k; c++)
            if (dense_factor(a->covs + c * d * d, d, s, &s->f[c], a->log_w[c]) != 0)
                return -1;
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

/* xh[0..d) = x with the conditional means of component c in the missing
 * slots (full / tied use dv = x_o - mu_o, already formed). */
static void fill_row(const pass_args *a, const scratch *s, const double *x, ptrdiff_t c,
                     double *xh)
{
    const ptrdiff_t d = a->d, q = s->q, m = s->m;
    const double *mu = a->means + c * d;
    for (ptrdiff_t b = 0; b < q; b++) xh[s->o[b]] = x[s->o[b]];
    if (a->cov_type == GMS_FULL || a->cov_type == GMS_TIED) {
        double *t = s->z;  /* m values */
        for (ptrdiff_t j = 0; j < m; j++) t[j] = mu[s->mi[j]];
        const factor *f = &s->f[c];
        for (ptrdiff_t b = 0; b < q; b++) {
            const double db = x[s->o[b]] - mu[s->o[b]];
            const double *row = f->at + b * m;
            for (ptrdiff_t j = 0; j < m; j++) t[j] += row[j] * db;
        }
        for (ptrdiff_t j = 0; j < m; j++) xh[s->mi[j]] = t[j];
    } else {
        for (ptrdiff_t j = 0; j < m; j++) xh[s->mi[j]] = mu[s->mi[j]];
    }
}

/* log w_c + log N(x_o; mu_o, S_oo). */
static double row_log_density(const pass_args *a, scratch *s, const double *x, ptrdiff_t c)
{
    const ptrdiff_t d = a->d, q = s->q;
    const double *mu = a->means + c * d;
    const factor *f = &s->f[c];
    double maha = 0.0;
    if (a->cov_type == GMS_FULL || a->cov_type == GMS_TIED) {
        double *z = s->z, *dv = s->dv;
        for (ptrdiff_t b = 0; b < q; b++) { dv[b] = x[s->o[b]] - mu[s->o[b]]; z[b] = 0.0; }
        for (ptrdiff_t b = 0; b < q; b++) {
            const double db = dv[b];
            const double *col = f->lt + b * q;
            for (ptrdiff_t t = b; t < q; t++) z[t] += col[t] * db;
        }
        for (ptrdiff_t b = 0; b < q; b++) maha += z[b] * z[b];
    } else {
        for (ptrdiff_t b = 0; b < q; b++) {
            const ptrdiff_t j = s->o[b];
            const double v = x[j] - mu[j];
            maha += v * v * f->iv[j];
        }
    }
    return f->lognorm - 0.5 * maha;
}

/* Conditional variance of missing feature index jm (position in s->mi)
 * under component c. */
static double missing_var(const pass_args *a, const scratch *s, ptrdiff_t c, ptrdiff_t jm)
{
    if (a->cov_type == GMS_FULL || a->cov_type == GMS_TIED)
        return s->f[c].c[jm * s->m + jm];
    return 1.0 / s->f[c].iv[s->mi[jm]];
}

/* One block: rows order[lo..hi) of one pattern (factors in s). */
static int run_block(const pass_args *a, scratch *s, const int64_t *order, ptrdiff_t lo,
                     ptrdiff_t hi, double *acc)
{
    const ptrdiff_t d = a->d, k = a->k, nb = hi - lo;
    const int need_lp = a->resp_in == NULL || a->lse || a->logp;
    const int need_r = acc || a->resp_out || a->impute || a->impute_var;
    double *nk = acc, *s1 = acc ? acc + k : NULL, *s2 = acc ? acc + k + k * d : NULL;
    if (acc) for (ptrdiff_t c = 0; c < k; c++) s->rsum[c] = 0.0;
    for (ptrdiff_t i = 0; i < nb; i++) {
        const int64_t row = order[lo + i];
        const double *x = a->X + row * d;
        double *lp = s->lp + i * k, *r = s->r + i * k;
        double lse = 0.0;
        if (need_lp) {
            double mx = -INFINITY;
            for (ptrdiff_t c = 0; c < k; c++) {
                lp[c] = row_log_density(a, s, x, c);
                if (lp[c] > mx) mx = lp[c];
            }
            double sum = 0.0;
            if (isfinite(mx)) {
                for (ptrdiff_t c = 0; c < k; c++) sum += exp(lp[c] - mx);
                lse = mx + log(sum);
            } else {
                lse = mx;
            }
            if (!isfinite(lse)) return GMS_ERR_NONFINITE;
            if (a->lse) a->lse[row] = lse;
            if (a->logp) memcpy(a->logp + row * k, lp, sizeof(double) * (size_t)k);
        }
        if (!need_r) continue;
        if (a->resp_in) memcpy(r, a->resp_in + row * k, sizeof(double) * (size_t)k);
        else for (ptrdiff_t c = 0; c < k; c++) r[c] = exp(lp[c] - lse);
        if (a->resp_out) memcpy(a->resp_out + row * k, r, sizeof(double) * (size_t)k);
        const double w = a->sw ? a->sw[row] : 1.0;
        if (acc) {
            acc[a->stride - 2] += w * lse;
            acc[a->stride - 1] += w;
        }
        for (ptrdiff_t c = 0; c < k; c++) {
            double *xh = s->xh + c * d;
            fill_row(a, s, x, c, xh);
            const double rk = r[c] * w;
            if (!acc || rk == 0.0) continue;
            const double *cen = a->centres + c * d;
            double *y = s->y;
            for (ptrdiff_t j = 0; j < d; j++) y[j] = xh[j] - cen[j];
            nk[c] += rk;
            s->rsum[c] += rk;
            double *m1 = s1 + c * d;
            for (ptrdiff_t j = 0; j < d; j++) m1[j] += rk * y[j];
            if (a->cov_type == GMS_FULL || a->cov_type == GMS_TIED) {
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
    if (acc && s->m > 0) {
        /* the conditional covariance, once per block and component */
        for (ptrdiff_t c = 0; c < k; c++) {
            const double rs = s->rsum[c];
            if (rs == 0.0) continue;
            if (a->cov_type == GMS_FULL || a->cov_type == GMS_TIED) {
                double *m2 = s2 + (a->cov_type == GMS_FULL ? c * d * d : 0);
                const double *cc = s->f[c].c;
                for (ptrdiff_t i = 0; i < s->m; i++)
                    for (ptrdiff_t j = i; j < s->m; j++)
                        m2[s->mi[i] * d + s->mi[j]] += rs * cc[i * s->m + j];
            } else {
                double *m2 = s2 + c * d;
                for (ptrdiff_t jm = 0; jm < s->m; jm++)
                    m2[s->mi[jm]] += rs * missing_var(a, s, c, jm);
            }
        }
    }
    return GMS_OK;
}

int gms_missing_pass(int cov_type, const double *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                     const double *means, const double *covs, const double *log_w,
                     const int64_t *order, ptrdiff_t n_order, const int64_t *pat_start,
                     ptrdiff_t n_pat, const uint8_t *observed, const double *sample_weight,
                     const double *resp_in, const double *centres, double *stats,
                     double *lse, double *logp, double *resp_out, double *impute,
                     double *impute_var, int n_threads)
{
    if (cov_type < GMS_FULL || cov_type > GMS_SPHERICAL || d < 1 || k < 1 || n < 0
        || n_order < 0 || n_pat < 0 || !means || !covs || !log_w || (stats && !centres)
        || (n_order > 0 && (!X || !order || !pat_start || !observed)))
        return GMS_ERR_ARG;
    if (n_pat > 0 && (pat_start[0] != 0 || pat_start[n_pat] != n_order)) return GMS_ERR_ARG;
    for (ptrdiff_t p = 0; p < n_pat; p++)
        if (pat_start[p + 1] < pat_start[p]) return GMS_ERR_ARG;
    for (ptrdiff_t i = 0; i < n_order; i++)
        if (order[i] < 0 || order[i] >= n) return GMS_ERR_ARG;

    pass_args a = {cov_type, d, k, X, means, covs, log_w, sample_weight, resp_in, centres,
                   lse, logp, resp_out, impute, impute_var, 0, 0};
    a.s2_size = gms_s2_size(cov_type, k, d);
    a.stride = k + k * d + a.s2_size + 2;

    /* blocks: at most GMS_BLOCK_ROWS rows of one pattern */
    ptrdiff_t n_blocks = 0;
    for (ptrdiff_t p = 0; p < n_pat; p++)
        n_blocks += (pat_start[p + 1] - pat_start[p] + GMS_BLOCK_ROWS - 1) / GMS_BLOCK_ROWS;
    ptrdiff_t n_slots = n_blocks < GMS_MAX_SLOTS ? n_blocks : GMS_MAX_SLOTS;
    int64_t *blk = malloc(sizeof(int64_t) * 3 * (size_t)(n_blocks > 0 ? n_blocks : 1));
    double *acc = stats ? calloc((size_t)(n_slots > 0 ? n_slots : 1) * (size_t)a.stride,
                                 sizeof(double)) : NULL;
    if (!blk || (stats && !acc)) { free(blk); free(acc); return GMS_ERR_NOMEM; }
    ptrdiff_t b = 0;
    for (ptrdiff_t p = 0; p < n_pat; p++)
        for (int64_t lo = pat_start[p]; lo < pat_start[p + 1]; lo += GMS_BLOCK_ROWS) {
            blk[3 * b] = p;
            blk[3 * b + 1] = lo;
            blk[3 * b + 2] = lo + GMS_BLOCK_ROWS < pat_start[p + 1] ? lo + GMS_BLOCK_ROWS
                                                                    : pat_start[p + 1];
            b++;
        }

    int failed = 0, nonfinite = 0;
#ifdef _OPENMP
    if (n_threads < 1) n_threads = 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
#endif
    for (ptrdiff_t sl = 0; sl < n_slots; sl++) {
        scratch s;
        if (scratch_alloc(&s, d, k) != GMS_OK) { gms_set_failed(&failed); continue; }
        const ptrdiff_t b0 = sl * n_blocks / n_slots, b1 = (sl + 1) * n_blocks / n_slots;
        double *my = acc ? acc + sl * a.stride : NULL;
        int64_t current = -1;
        for (ptrdiff_t bi = b0; bi < b1; bi++) {
            const int64_t p = blk[3 * bi];
            if (p != current) {
                if (pattern_factors(&a, &s, observed + p * d) != 0) {
                    gms_set_failed(&nonfinite);
                    break;
                }
                current = p;
            }
            int rc = run_block(&a, &s, order, blk[3 * bi + 1], blk[3 * bi + 2], my);
            if (rc != GMS_OK) { gms_set_failed(&nonfinite); break; }
        }
        scratch_free(&s);
    }
    (void)n_threads;
    int rc = failed ? GMS_ERR_NOMEM : nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
    if (stats && rc == GMS_OK) {
        memset(stats, 0, sizeof(double) * (size_t)a.stride);
        for (ptrdiff_t sl = 0; sl < n_slots; sl++)
            for (ptrdiff_t j = 0; j < a.stride; j++) stats[j] += acc[sl * a.stride + j];
    }
    free(blk);
    free(acc);
    return rc;
}
