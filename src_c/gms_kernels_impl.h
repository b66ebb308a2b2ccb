/*
 * Type-generic body of the gmscore kernels. Included by gms_kernels.c once
 * per input precision with REAL (the input type) and SFX (the name suffix)
 * defined. Accumulators are double whatever REAL is.
 */
#define GMS_CAT2(a, b) a##_##b
#define GMS_CAT(a, b) GMS_CAT2(a, b)
#define FN(name) GMS_CAT(name, SFX)

#include "gms_workspace_impl.h"
#include "gms_dense_impl.h"
#include "gms_diag_impl.h"

/* lp[i, c] = log_norm[c] - 0.5 * squared Mahalanobis distance of row i,
 * at lp[i * k + c], or lp[c * nr + i] with `cmajor`. The vectorised loops
 * run over rows (full, tied) or components (diag, spherical), never along
 * a sum, so they need no reassociation and give the same bits on every
 * SIMD width. */
GMS_HOT static void FN(log_prob_block)(const FN(prep) *p, const REAL *X, ptrdiff_t nr,
                                       double *lp, int cmajor, FN(work) *w)
{
    const ptrdiff_t d = p->d;
    const ptrdiff_t si = cmajor ? 1 : p->k, sc = cmajor ? nr : 1; /* steps of i and c */
    if (p->cov_type == GMS_DIAG || p->cov_type == GMS_SPHERICAL) {
        FN(log_prob_diag)(p, X, nr, lp, cmajor);
        return;
    }
    for (ptrdiff_t i = 0; i < nr; ++i)
        for (ptrdiff_t j = 0; j < d; ++j) w->xs[i * d + j] = X[i * d + j] - p->g[j];
    if (p->cov_type == GMS_TIED)
        FN(log_prob_tied)(p, w->xs, nr, lp, si, sc, w);
    else if (d <= GMS_SMALL_D)
        FN(log_prob_full_small)(p, w->xs, nr, lp, si, sc, (REAL *)w->q);
    else
        FN(log_prob_full_bands)(p, w->xs, nr, lp, si, sc, w);
}

/*
 * Fold a block into the statistics: R (nr x k; row-major, tile-major for
 * diag and spherical) holds each row's weight for each component (sample
 * weight times responsibility). Rows with a zero weight add nothing and are
 * skipped exactly.
 */
GMS_HOT static void FN(accumulate_block)(int cov_type, const REAL *X, ptrdiff_t nr,
                                 ptrdiff_t d, ptrdiff_t k, const double *R,
                                 const double *centres, double *nk, double *s1,
                                 double *s2, double *zd)
{
    if (cov_type == GMS_DIAG || cov_type == GMS_SPHERICAL) {
        FN(accumulate_diag)(X, nr, d, k, R, centres, nk, s1, s2, zd);
        return;
    }
    const ptrdiff_t sub =
        cov_type == GMS_FULL && (gms_blas_dgemm != NULL || gms_rtp_mode(d) > 0)
            ? gms_dense_rows(d, k)
            : 0;
    if (sub > 0) {
        ptrdiff_t nz = 0;
        for (ptrdiff_t i = 0; i < nr * k; ++i) nz += R[i] != 0.0;
        if (2 * nz > nr * k) {
            /* sub-blocks of `sub` rows in order (fixed by D and K), each
             * on the sparse path when the dense one refuses it */
            for (ptrdiff_t i0 = 0; i0 < nr; i0 += sub) {
                const ptrdiff_t m = gms_min(sub, nr - i0);
                if (FN(accumulate_full_dense)(X + i0 * d, m, d, k, R + i0 * k, centres, nk, s1,
                                              s2, zd) != 0)
                    FN(accumulate_sparse)(cov_type, X + i0 * d, m, d, k, R + i0 * k, centres,
                                          nk, s1, s2, zd);
            }
            return;
        }
    }
    FN(accumulate_sparse)(cov_type, X, nr, d, k, R, centres, nk, s1, s2, zd);
}

/* Whether a pass of this covariance type calls BLAS from its threads (the
 * full and tied products, the full statistics' rank updates); such a pass
 * holds the BLAS library at one thread while it runs (gms_blas_pin). */
static int FN(calls_blas)(int cov_type)
{
    return (cov_type == GMS_FULL || cov_type == GMS_TIED) &&
           (GMS_GEMM != NULL || gms_blas_dgemm != NULL || gms_blas_dsyrk != NULL);
}

/*
 * One pass of log-densities over X in blocks: with lse NULL, out receives
 * them (weighted_log_prob); otherwise per row lse gets their log-sum-exp,
 * labels (if not NULL) the argmax, and out (if not NULL) the posterior
 * probabilities, with no N x K array of the pass's own.
 */
static int FN(log_prob_pass)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d,
                             ptrdiff_t k, const REAL *means, const REAL *prec_chol,
                             const double *log_norm, double *out, double *lse,
                             int64_t *labels, int max_only, int n_threads)
{
    if (n < 0 || d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL ||
        (max_only && out != NULL))
        return GMS_ERR_ARG;
    FN(prep) p;
    if (FN(prepare)(&p, cov_type, d, k, means, prec_chol, log_norm) != GMS_OK)
        return GMS_ERR_NOMEM;
    int failed = 0;
    const ptrdiff_t nb = gms_n_blocks(n);
    /* full log-densities up to GMS_SMALL_D features call no BLAS: no pin
     * (taking it costs a library call each way, more than a few rows) */
    const int blas = FN(calls_blas)(cov_type) && !(cov_type == GMS_FULL && d <= GMS_SMALL_D);
    if (blas) gms_blas_pin();
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, nb))
#endif
    {
        FN(work) w = {0};
        const int ok = FN(work_alloc_predict)(&w, &p, gms_min(n, GMS_BLOCK_ROWS)) == GMS_OK;
        if (!ok) {
            gms_set_failed(&failed);
        }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t b = 0; b < nb; ++b) {
            if (!ok) continue;
            const ptrdiff_t start = b * GMS_BLOCK_ROWS;
            const ptrdiff_t nr = gms_min(GMS_BLOCK_ROWS, n - start);
            /* the block's log-densities, in the output rows or in scratch */
            double *lp = out ? out + start * k : w.lp;
            /* predict (max_only, out NULL): its scratch component-major,
             * for an argmax over rows */
            FN(log_prob_block)(&p, X + start * d, nr, lp, max_only, &w);
            if (lse == NULL) continue;
            if (max_only) {    /* labels, and the row maxima in lse */
                gms_col_argmax_max(lp, nr, k, labels + start, lse + start);
                continue;
            }
            if (labels) gms_row_argmax(lp, nr, k, labels + start);
            gms_row_lse_rows(lp, nr, k, lse + start, out != NULL);
        }
        if (ok) FN(work_free)(&w);
    }
    if (blas) gms_blas_unpin();
    FN(release)(&p);
    return failed ? GMS_ERR_NOMEM : GMS_OK;
}

int FN(gms_weighted_log_prob)(int cov_type, const REAL *X, ptrdiff_t n,
                              ptrdiff_t d, ptrdiff_t k, const REAL *means,
                              const REAL *prec_chol, const double *log_norm,
                              double *out, int n_threads)
{
    return FN(log_prob_pass)(cov_type, X, n, d, k, means, prec_chol, log_norm, out, NULL,
                             NULL, 0, n_threads);
}

int FN(gms_log_prob_rows)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d,
                          ptrdiff_t k, const REAL *means, const REAL *prec_chol,
                          const double *log_norm, double *lse, double *out,
                          int64_t *labels, int n_threads)
{
    if (lse == NULL) return GMS_ERR_ARG;
    return FN(log_prob_pass)(cov_type, X, n, d, k, means, prec_chol, log_norm, out, lse,
                             labels, 0, n_threads);
}

int FN(gms_log_prob_labels)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d,
                            ptrdiff_t k, const REAL *means, const REAL *prec_chol,
                            const double *log_norm, double *rowmax, int64_t *labels,
                            int n_threads)
{
    if (rowmax == NULL || labels == NULL) return GMS_ERR_ARG;
    return FN(log_prob_pass)(cov_type, X, n, d, k, means, prec_chol, log_norm, NULL, rowmax,
                             labels, 1, n_threads);
}

/*
 * The statistics passes (E-step, accumulation from given responsibilities)
 * fold the blocks of X into a reducer (gms_reduce.h): block b of this call
 * is unit red->units + b, leaves of GMS_LEAF_BLOCKS blocks are summed in
 * block order by one thread, and the reducer combines the leaves in its
 * fixed tree. Leaves are processed in waves (their buffers are the only
 * memory that grows with the threads); the wave size changes no result.
 * A leaf's layout: nk (k), s1 (k*d), s2 (s2n), log-likelihood (1), total
 * sample weight of the rows (1).
 */
typedef struct {
    int cov_type, estep;
    const REAL *X;
    ptrdiff_t n, d, k;
    const FN(prep) *p;           /* estep: the prepared parameters */
    const double *resp;          /* accumulate: dense responsibilities, */
    const int64_t *labels;       /* or hard labels, or neither (k == 1) */
    const double *sample_weight;
    const double *centres;
} FN(pass);

/* Fold blocks [b0, b1) of the pass into the leaf at acc. Returns 1 when
 * some row had a non-finite log-likelihood (estep). */
static int FN(pass_blocks)(const FN(pass) *a, ptrdiff_t b0, ptrdiff_t b1, double *acc,
                           FN(work) *w, double *R, double *zd)
{
    const ptrdiff_t d = a->d, k = a->k, s2n = gms_s2_size(a->cov_type, k, d);
    double *a_nk = acc, *a_s1 = acc + k, *a_s2 = a_s1 + k * d, *a_ll = a_s2 + s2n;
    double *a_w = a_ll + 1;
    const int tiled = a->cov_type == GMS_DIAG || a->cov_type == GMS_SPHERICAL;
    const ptrdiff_t kr = tiled ? gms_tiled_k(k) : k;
    int bad = 0;
    for (ptrdiff_t b = b0; b < b1; ++b) {
        const ptrdiff_t start = b * GMS_BLOCK_ROWS;
        const ptrdiff_t nr = gms_min(GMS_BLOCK_ROWS, a->n - start);
        const REAL *Xb = a->X + start * d;
        const double *sw = a->sample_weight ? a->sample_weight + start : NULL;
        if (sw) {
            double wsum = 0.0;
            for (ptrdiff_t i = 0; i < nr; ++i) wsum += sw[i];
            *a_w += wsum;
        } else {
            *a_w += (double)nr;
        }
        if (a->estep) {
            /* log-densities component-major, then the responsibilities
             * (times sample weights) in the layout accumulate_block wants */
            FN(log_prob_block)(a->p, Xb, nr, w->lp, 1, w);
            bad |= gms_block_responsibilities(w->lp, nr, k, sw, a_ll, R, tiled, R + nr * kr);
        } else if (a->labels != NULL && gms_labels_rowwise(a->cov_type, d)) {
            FN(accumulate_labels_rowwise)(a->cov_type, Xb, nr, d, k, a->labels + start, sw,
                                          a->centres, a_nk, a_s1, a_s2, zd);
            continue;
        } else if (a->labels == NULL && a->resp != NULL) {
            gms_block_weights(R, nr, k, tiled, a->resp + start * k, sw);
        } else {
            /* the block's weights per component from hard labels or
             * none (zero for unlabelled rows and tile padding) */
            memset(R, 0, (size_t)(nr * kr) * sizeof(double));
            for (ptrdiff_t i = 0; i < nr; ++i) {
                const double wt = sw ? sw[i] : 1.0;
                if (a->labels != NULL) {
                    const int64_t c = a->labels[start + i];
                    if (c >= 0 && c < k) R[gms_weight_at(i, c, nr, k, tiled)] = wt;
                } else {
                    R[gms_weight_at(i, 0, nr, k, tiled)] = wt;
                }
            }
        }
        FN(accumulate_block)(a->cov_type, Xb, nr, d, k, R, a->centres, a_nk, a_s1, a_s2, zd);
    }
    return bad;
}

static int FN(stats_pass)(const FN(pass) *a, gms_reducer *red, int n_threads)
{
    const ptrdiff_t d = a->d, k = a->k;
    const ptrdiff_t stride = k + k * d + gms_s2_size(a->cov_type, k, d) + 2;
    if (red->stride != stride || red->leaf_units != GMS_LEAF_BLOCKS) return GMS_ERR_ARG;
    const ptrdiff_t nb = gms_n_blocks(a->n);
    int64_t first;
    const int64_t n_leaves = gms_reducer_leaves(red, nb, &first);
    if (n_leaves == 0) return GMS_OK;
    if (gms_reducer_reserve(red, n_leaves) != GMS_OK) return GMS_ERR_NOMEM;
    const int64_t u0 = red->units;
    int threads = 1;
#ifdef _OPENMP
    threads = gms_clamp_threads(n_threads, n_leaves);
#endif
    /* many leaves per wave (each wave ends in a barrier), within ~32 MB of
     * leaf buffers, and at least one per thread */
    int64_t wave = 256;
    const int64_t by_memory = ((int64_t)32 << 20) / (int64_t)(stride * sizeof(double));
    if (wave > by_memory) wave = by_memory;
    if (wave < threads) wave = threads;
    if (wave > n_leaves) wave = n_leaves;
    double *leaves = (double *)malloc((size_t)wave * (size_t)stride * sizeof(double));
    if (leaves == NULL) return GMS_ERR_NOMEM;
    const int tiled = a->cov_type == GMS_DIAG || a->cov_type == GMS_SPHERICAL;
    const ptrdiff_t kr = tiled ? gms_tiled_k(k) : k;
    int failed = 0, nonfinite = 0;
    const int blas = FN(calls_blas)(a->cov_type);
    if (blas) gms_blas_pin();
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        FN(work) w = {0};
        double *R = NULL, *zd = NULL;
        int ok;
        if (a->estep) {
            ok = FN(work_alloc)(&w, a->p) == GMS_OK;
            R = w.t;
            zd = w.zd;
        } else {
            R = (double *)malloc((size_t)(GMS_BLOCK_ROWS * kr) * sizeof(double));
            zd = (double *)malloc((size_t)FN(accumulate_scratch)(a->cov_type, d, k) *
                                  sizeof(double));
            ok = R != NULL && zd != NULL;
        }
        if (!ok) gms_set_failed(&failed);
        for (int64_t w0 = 0; w0 < n_leaves; w0 += wave) {
            const int64_t wn = n_leaves - w0 < wave ? n_leaves - w0 : wave;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (int64_t j = 0; j < wn; ++j) {
                const int64_t leaf = first + w0 + j;
                double *acc = leaves + j * stride;
                if (leaf == first && u0 % GMS_LEAF_BLOCKS != 0)
                    memcpy(acc, red->open, (size_t)stride * sizeof(double));
                else
                    memset(acc, 0, (size_t)stride * sizeof(double));
                if (!ok) continue;
                /* this call's blocks of the leaf */
                int64_t g0 = leaf * GMS_LEAF_BLOCKS, g1 = g0 + GMS_LEAF_BLOCKS;
                if (g0 < u0) g0 = u0;
                if (g1 > u0 + nb) g1 = u0 + nb;
                if (FN(pass_blocks)(a, (ptrdiff_t)(g0 - u0), (ptrdiff_t)(g1 - u0), acc, &w, R,
                                    zd))
                    gms_set_failed(&nonfinite);
            }
#ifdef _OPENMP
#pragma omp single
#endif
            for (int64_t j = 0; j < wn; ++j) {
                const int64_t leaf = first + w0 + j;
                if ((leaf + 1) * GMS_LEAF_BLOCKS <= u0 + nb)
                    gms_reducer_push(red, leaves + j * stride);
                else  /* only the last leaf can be left open */
                    memcpy(red->open, leaves + j * stride, (size_t)stride * sizeof(double));
            }
        }
        if (a->estep) {
            if (ok) FN(work_free)(&w);
        } else {
            free(R);
            free(zd);
        }
    }
    if (blas) gms_blas_unpin();
    free(leaves);
    red->units = u0 + nb;
    if (failed) return GMS_ERR_NOMEM;
    return nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
}

static int FN(check_pass)(int cov_type, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k)
{
    return n < 0 || d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL;
}

int FN(gms_estep_into)(gms_reducer *red, int cov_type, const REAL *X, ptrdiff_t n,
                       ptrdiff_t d, ptrdiff_t k, const REAL *means, const REAL *prec_chol,
                       const double *log_norm, const double *sample_weight,
                       const double *centres, int n_threads)
{
    if (FN(check_pass)(cov_type, n, d, k)) return GMS_ERR_ARG;
    if (n == 0) return GMS_OK;
    FN(prep) p;
    if (FN(prepare)(&p, cov_type, d, k, means, prec_chol, log_norm) != GMS_OK)
        return GMS_ERR_NOMEM;
    const FN(pass) a = {cov_type, 1, X, n, d, k, &p, NULL, NULL, sample_weight, centres};
    const int rc = FN(stats_pass)(&a, red, n_threads);
    FN(release)(&p);
    return rc;
}

int FN(gms_accumulate_into)(gms_reducer *red, int cov_type, const REAL *X, ptrdiff_t n,
                            ptrdiff_t d, ptrdiff_t k, const double *resp,
                            const int64_t *labels, const double *sample_weight,
                            const double *centres, int n_threads)
{
    if (FN(check_pass)(cov_type, n, d, k)) return GMS_ERR_ARG;
    if (resp == NULL && labels == NULL && k != 1) return GMS_ERR_ARG;
    const FN(pass) a = {cov_type, 0, X, n, d, k, NULL, resp, labels, sample_weight, centres};
    return FN(stats_pass)(&a, red, n_threads);
}

/* One-call forms: a fresh reducer, its total unpacked into the outputs. */
static int FN(one_call)(int rc, gms_reducer *red, ptrdiff_t k, ptrdiff_t d, ptrdiff_t s2n,
                        double *nk, double *s1, double *s2, double *loglik)
{
    if (rc == GMS_OK || rc == GMS_ERR_NONFINITE) {
        double *t = (double *)malloc((size_t)red->stride * sizeof(double));
        if (t == NULL) {
            rc = GMS_ERR_NOMEM;
        } else {
            gms_reducer_total(red, t);
            memcpy(nk, t, (size_t)k * sizeof(double));
            memcpy(s1, t + k, (size_t)(k * d) * sizeof(double));
            if (s2n) memcpy(s2, t + k + k * d, (size_t)s2n * sizeof(double));
            if (loglik) *loglik = t[k + k * d + s2n];
            free(t);
        }
    }
    gms_reducer_free(red);
    return rc;
}

int FN(gms_estep)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d,
                  ptrdiff_t k, const REAL *means, const REAL *prec_chol,
                  const double *log_norm, const double *sample_weight,
                  const double *centres, double *nk, double *s1, double *s2,
                  double *loglik, int n_threads)
{
    if (FN(check_pass)(cov_type, n, d, k)) return GMS_ERR_ARG;
    const ptrdiff_t s2n = gms_s2_size(cov_type, k, d);
    gms_reducer red;
    if (gms_reducer_init(&red, k + k * d + s2n + 2, GMS_LEAF_BLOCKS) != GMS_OK) {
        gms_reducer_free(&red);
        return GMS_ERR_NOMEM;
    }
    const int rc = FN(gms_estep_into)(&red, cov_type, X, n, d, k, means, prec_chol, log_norm,
                                      sample_weight, centres, n_threads);
    return FN(one_call)(rc, &red, k, d, s2n, nk, s1, s2, loglik);
}

int FN(gms_accumulate)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d,
                       ptrdiff_t k, const double *resp, const int64_t *labels,
                       const double *sample_weight, const double *centres,
                       double *nk, double *s1, double *s2, int n_threads)
{
    if (FN(check_pass)(cov_type, n, d, k)) return GMS_ERR_ARG;
    const ptrdiff_t s2n = gms_s2_size(cov_type, k, d);
    gms_reducer red;
    if (gms_reducer_init(&red, k + k * d + s2n + 2, GMS_LEAF_BLOCKS) != GMS_OK) {
        gms_reducer_free(&red);
        return GMS_ERR_NOMEM;
    }
    const int rc = FN(gms_accumulate_into)(&red, cov_type, X, n, d, k, resp, labels,
                                           sample_weight, centres, n_threads);
    return FN(one_call)(rc, &red, k, d, s2n, nk, s1, s2, NULL);
}

#include "gms_groups_impl.h"
#include "gms_kmeans_impl.h"

#undef FN
#undef GMS_CAT
#undef GMS_CAT2
