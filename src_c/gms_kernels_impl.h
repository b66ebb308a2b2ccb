/*
 * Type-generic body of the gmscore kernels. Included by gms_kernels.c once
 * per input precision with REAL (the input type) and SFX (the name suffix)
 * defined. Accumulators are double whatever REAL is.
 */
#define GMS_CAT2(a, b) a##_##b
#define GMS_CAT(a, b) GMS_CAT2(a, b)
#define FN(name) GMS_CAT(name, SFX)

/* ------------------------------------------------------------------ GEMM */
/* Column-major C (m x n) = A^T B^T with A (kk x m) and B (n x kk), through
 * the registered BLAS when there is one (single-threaded: the caller's
 * OpenMP threads are the parallelism), else a plain loop. Row-major data
 * reads as transposed column-major, so this is how a row-major block
 * X (n x kk) times row-major W (kk x m) lands with rows contiguous:
 * C[i + col * ldc] = sum_a X[i, a] W[a, col]. */
static void FN(gemm_tt)(int m, int n, int kk, const REAL *A, int lda,
                        const REAL *B, int ldb, REAL *C, int ldc)
{
    if (GMS_GEMM != NULL) {
        char tr = 'T';
        REAL one = 1, zero = 0;
        /* C (n x m) = op(X) op(W) with X = B, W = A */
        GMS_GEMM(&tr, &tr, &n, &m, &kk, &one, (REAL *)B, &ldb, (REAL *)A, &lda,
                 &zero, C, &ldc);
        return;
    }
    for (int col = 0; col < m; ++col)
        for (int i = 0; i < n; ++i) {
            REAL acc = 0;
            for (int l = 0; l < kk; ++l) acc += B[l + i * ldb] * A[col + l * lda];
            C[i + col * ldc] = acc;
        }
}

/*
 * Parameters prepared once per kernel call. Full and tied log-densities
 * are computed as one matrix product per block: with a shift g (the mean
 * of the component means, so that offset data keeps its digits),
 *   (x - mu_c)^T U_c = (x - g)^T U_c - (mu_c - g)^T U_c = Z_c - V_c,
 * where Z = (X_block - g) [U_1 ... U_K] comes from GEMM.
 */
typedef struct {
    int cov_type;
    ptrdiff_t d, k;
    const REAL *means, *prec;
    const double *log_norm;
    REAL *W;          /* full: per feature band s, rows 0..band_end[s]-1 of
                       * every U_c's band columns (see prepare) */
    REAL *V;          /* full/tied: K x D */
    REAL *g;          /* D */
    REAL *muT, *pT;   /* diag/spherical: means and precision factors, per
                       * tile of GMS_CW components D x GMS_CW (zero-padded) */
    ptrdiff_t chunk;  /* components per GEMM call (full) */
    int n_bands;      /* full: column bands of U (its upper triangle) */
    ptrdiff_t band_end[GMS_MAX_BANDS + 1];  /* band s: columns [end[s-1], end[s]) */
    ptrdiff_t band_off[GMS_MAX_BANDS];      /* offset of band s in W */
} FN(prep);

/* Scratch of one thread: shifted block, GEMM output, log-densities,
 * scaled centred rows for the full statistics, and responsibilities. */
typedef struct {
    REAL *xs, *z;
    double *lp, *zd, *q, *t;
} FN(work);

/* Full covariance: U_c is upper triangular, so column b of (x - g)^T U_c
 * only needs features a <= b. Splitting the columns into bands and giving
 * each band's product only the features it needs skips most of the zeros:
 * with bands of w columns the work is (D + w) / (2 D) of the dense
 * product (3/4 with 2 bands, 17/32 with 16). Narrow bands keep each
 * product's output small enough to stay in cache; the products are the
 * same sums whatever the bands, so the band count changes no bit. */
#ifndef GMS_CHUNK_COLS
/* Columns (components x features) of U per chunk of components: the
 * chunk's band products write GMS_BLOCK_ROWS x (chunk x width) values. */
#define GMS_CHUNK_COLS 512
#endif

#ifndef GMS_BAND_WIDTH
/* Columns of U per band (full covariance). */
#define GMS_BAND_WIDTH 4
#endif

#ifndef GMS_SMALL_D
/* Up to this many features full log-densities skip the GEMM (see
 * log_prob_full_small). */
#define GMS_SMALL_D 16
#endif

static int FN(bands_for)(ptrdiff_t d)
{
    const ptrdiff_t nb = d / GMS_BAND_WIDTH;
    return nb < 1 ? 1 : (nb > GMS_MAX_BANDS ? GMS_MAX_BANDS : (int)nb);
}

/* Components per chunk (full covariance). */
static ptrdiff_t FN(chunk_for)(ptrdiff_t d, ptrdiff_t k)
{
    const ptrdiff_t chunk = GMS_CHUNK_COLS / d > 0 ? GMS_CHUNK_COLS / d : 1;
    return chunk > k ? k : chunk;
}

/* Columns of one chunk's band product, at most (the widest band's). */
static ptrdiff_t FN(band_cols)(ptrdiff_t d, ptrdiff_t k)
{
    const ptrdiff_t nb = FN(bands_for)(d);
    return FN(chunk_for)(d, k) * ((d + nb - 1) / nb);
}

static void FN(release)(FN(prep) *p)
{
    free(p->W);
    free(p->V);
    free(p->g);
    free(p->muT);
    free(p->pT);
}

static int FN(prepare)(FN(prep) *p, int cov_type, ptrdiff_t d, ptrdiff_t k,
                       const REAL *means, const REAL *prec, const double *log_norm)
{
    memset(p, 0, sizeof(*p));
    p->cov_type = cov_type;
    p->d = d;
    p->k = k;
    p->means = means;
    p->prec = prec;
    p->log_norm = log_norm;
    if (cov_type == GMS_DIAG || cov_type == GMS_SPHERICAL) {
        /* tile-major copies (see GMS_CW); padding components have a zero
         * factor */
        const ptrdiff_t kp = gms_tiled_k(k);
        p->muT = (REAL *)calloc((size_t)(d * kp), sizeof(REAL));
        p->pT = (REAL *)calloc((size_t)(d * kp), sizeof(REAL));
        if (p->muT == NULL || p->pT == NULL) {
            FN(release)(p);
            return GMS_ERR_NOMEM;
        }
        for (ptrdiff_t c = 0; c < k; ++c)
            for (ptrdiff_t j = 0; j < d; ++j) {
                const ptrdiff_t at = gms_tiled_at(j, c, d);
                p->muT[at] = means[c * d + j];
                p->pT[at] = cov_type == GMS_DIAG ? prec[c * d + j] : prec[c];
            }
        return GMS_OK;
    }
    p->V = (REAL *)malloc((size_t)(k * d) * sizeof(REAL));
    p->g = (REAL *)malloc((size_t)d * sizeof(REAL));
    double *gd = (double *)calloc((size_t)d, sizeof(double));
    if (cov_type == GMS_FULL) {
        p->chunk = FN(chunk_for)(d, k);
        p->n_bands = FN(bands_for)(d);
        p->band_end[0] = 0;
        ptrdiff_t size = 0;
        for (int s = 0; s < p->n_bands; ++s) {
            p->band_end[s + 1] = (ptrdiff_t)(s + 1) * d / p->n_bands;
            p->band_off[s] = size;
            size += p->band_end[s + 1] * k * (p->band_end[s + 1] - p->band_end[s]);
        }
        /* up to GMS_SMALL_D features the log-densities read U itself */
        p->W = d > GMS_SMALL_D ? (REAL *)malloc((size_t)size * sizeof(REAL)) : NULL;
    } else {
        p->chunk = k;
    }
    if (p->V == NULL || p->g == NULL || gd == NULL ||
        (cov_type == GMS_FULL && d > GMS_SMALL_D && p->W == NULL)) {
        free(gd);
        FN(release)(p);
        return GMS_ERR_NOMEM;
    }
    for (ptrdiff_t c = 0; c < k; ++c)
        for (ptrdiff_t j = 0; j < d; ++j) gd[j] += (double)means[c * d + j] / (double)k;
    for (ptrdiff_t j = 0; j < d; ++j) p->g[j] = (REAL)gd[j];
    for (ptrdiff_t c = 0; c < k; ++c) {
        const REAL *U = cov_type == GMS_FULL ? prec + c * d * d : prec;
        for (ptrdiff_t b = 0; b < d; ++b) {
            double v = 0.0;
            for (ptrdiff_t a = 0; a <= b; ++a)
                v += ((double)means[c * d + a] - (double)p->g[a]) * (double)U[a * d + b];
            p->V[c * d + b] = (REAL)v;
        }
        if (p->W != NULL)
            /* band s: row-major (band_end[s+1]) x (K * width), component c's
             * columns at c * width */
            for (int s = 0; s < p->n_bands; ++s) {
                const ptrdiff_t b0 = p->band_end[s], b1 = p->band_end[s + 1], wd = b1 - b0;
                REAL *Ws = p->W + p->band_off[s];
                for (ptrdiff_t a = 0; a < b1; ++a)
                    for (ptrdiff_t b = b0; b < b1; ++b)
                        Ws[a * (k * wd) + c * wd + (b - b0)] = b >= a ? U[a * d + b] : 0;
            }
    }
    free(gd);
    return GMS_OK;
}

/* Doubles of scratch accumulate_block needs: full and tied, the scaled
 * centred rows of one rank update of the sparse path, or (full) the row
 * products P and S = R^T P (plus g and y) of one dense sub-block, both
 * within GMS_SCRATCH_DOUBLES unless one row of D alone exceeds it; diag
 * and spherical, tile-major centres and the block's features in pairs. */
static ptrdiff_t FN(accumulate_scratch)(int cov_type, ptrdiff_t d, ptrdiff_t k)
{
    if (cov_type == GMS_DIAG || cov_type == GMS_SPHERICAL)
        return d * gms_tiled_k(k) + GMS_BLOCK_ROWS * (d + 1);
    const ptrdiff_t rows = gms_sparse_rows(d) * d;
    if (cov_type == GMS_TIED) return rows;
    const ptrdiff_t sub = gms_dense_rows(d, k);
    const ptrdiff_t dense = sub ? (sub + k) * gms_dense_q(d) + 2 * d : 0;
    return rows > dense ? rows : dense;
}

static void FN(work_free)(FN(work) *w)
{
    free(w->xs);
    free(w->z);
    free(w->lp);
    free(w->zd);
    free(w->q);
    free(w->t);
}

static int FN(work_alloc)(FN(work) *w, const FN(prep) *p)
{
    const ptrdiff_t d = p->d, k = p->k;
    const ptrdiff_t zcols = p->cov_type == GMS_FULL ? FN(band_cols)(d, k) : d;
    const ptrdiff_t qrows = p->cov_type == GMS_FULL ? p->chunk : 1;
    w->xs = (REAL *)malloc((size_t)(GMS_BLOCK_ROWS * d) * sizeof(REAL));
    w->z = (REAL *)malloc((size_t)(GMS_BLOCK_ROWS * zcols) * sizeof(REAL));
    w->lp = (double *)malloc((size_t)(GMS_BLOCK_ROWS * gms_tiled_k(k)) * sizeof(double));
    w->zd = (double *)malloc((size_t)FN(accumulate_scratch)(p->cov_type, d, k) *
                             sizeof(double));
    /* q also holds log_prob_full_small's transposed rows (32 * d) */
    const ptrdiff_t qsize = GMS_BLOCK_ROWS * qrows > 32 * d ? GMS_BLOCK_ROWS * qrows : 32 * d;
    w->q = (double *)malloc((size_t)qsize * sizeof(double));
    /* responsibilities (tile-major for diag/spherical), then 2 per row */
    w->t = (double *)malloc((size_t)(GMS_BLOCK_ROWS * (gms_tiled_k(k) + 2)) * sizeof(double));
    if (!w->xs || !w->z || !w->lp || !w->zd || !w->q || !w->t) {
        FN(work_free)(w);
        return GMS_ERR_NOMEM;
    }
    return GMS_OK;
}

/* The scratch a prediction pass needs for blocks of up to `rows` rows
 * (log_prob_block's only: no statistics buffers, and no GEMM output where
 * full log-densities skip the GEMM), so that a call on a few rows
 * allocates little. */
static int FN(work_alloc_predict)(FN(work) *w, const FN(prep) *p, ptrdiff_t rows)
{
    const ptrdiff_t d = p->d, k = p->k;
    const int gemm = p->cov_type == GMS_TIED || (p->cov_type == GMS_FULL && d > GMS_SMALL_D);
    const ptrdiff_t zcols = p->cov_type == GMS_FULL ? FN(band_cols)(d, k) : d;
    const ptrdiff_t qrows = p->cov_type == GMS_FULL ? p->chunk : 1;
    const ptrdiff_t qsize = rows * qrows > 32 * d ? rows * qrows : 32 * d;
    memset(w, 0, sizeof(*w));
    w->xs = (REAL *)malloc((size_t)(rows * d) * sizeof(REAL));
    w->z = (REAL *)malloc((size_t)(gemm ? rows * zcols : 1) * sizeof(REAL));
    w->lp = (double *)malloc((size_t)(rows * gms_tiled_k(k)) * sizeof(double));
    w->q = (double *)malloc((size_t)qsize * sizeof(double));
    if (!w->xs || !w->z || !w->lp || !w->q) {
        FN(work_free)(w);
        return GMS_ERR_NOMEM;
    }
    return GMS_OK;
}

/* Bytes FN(prepare) allocates (shared by the threads). */
static size_t FN(prep_bytes)(int cov_type, ptrdiff_t d, ptrdiff_t k)
{
    if (cov_type == GMS_DIAG || cov_type == GMS_SPHERICAL)
        return (size_t)(2 * d * gms_tiled_k(k)) * sizeof(REAL);
    size_t bytes = (size_t)(k * d + d) * sizeof(REAL) + (size_t)d * sizeof(double);
    if (cov_type == GMS_FULL) {
        const int nb = FN(bands_for)(d);
        for (int s = 0; s < nb; ++s) {
            const ptrdiff_t b0 = (ptrdiff_t)s * d / nb, b1 = (ptrdiff_t)(s + 1) * d / nb;
            bytes += (size_t)(b1 * k * (b1 - b0)) * sizeof(REAL);
        }
    }
    return bytes;
}

/* Bytes FN(work_alloc) allocates (per thread); it covers the accumulate
 * passes' R and zd too. Mirrors work_alloc. */
static size_t FN(work_bytes)(int cov_type, ptrdiff_t d, ptrdiff_t k)
{
    const ptrdiff_t chunk = cov_type == GMS_FULL ? FN(chunk_for)(d, k) : 1;
    const ptrdiff_t zcols = cov_type == GMS_FULL ? FN(band_cols)(d, k) : d;
    const ptrdiff_t qrows = cov_type == GMS_FULL ? chunk : 1;
    const ptrdiff_t qsize = GMS_BLOCK_ROWS * qrows > 32 * d ? GMS_BLOCK_ROWS * qrows : 32 * d;
    const ptrdiff_t kt = gms_tiled_k(k);
    return (size_t)(GMS_BLOCK_ROWS * d + GMS_BLOCK_ROWS * zcols) * sizeof(REAL) +
           (size_t)(GMS_BLOCK_ROWS * kt + FN(accumulate_scratch)(cov_type, d, k) + qsize +
                    GMS_BLOCK_ROWS * (kt + 2)) * sizeof(double);
}

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
    const ptrdiff_t sub = cov_type == GMS_FULL && gms_blas_dgemm != NULL ? gms_dense_rows(d, k)
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
    if (n < 0 || d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL)
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
            FN(log_prob_block)(&p, X + start * d, nr, lp, 0, &w);
            if (lse == NULL) continue;
            if (max_only) {    /* labels, and the row maxima in lse */
                gms_row_argmax_max(lp, nr, k, labels + start, lse + start);
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
        } else {
            /* the block's weights per component, whatever their source
             * (zero for unlabelled rows and tile padding) */
            memset(R, 0, (size_t)(nr * kr) * sizeof(double));
            for (ptrdiff_t i = 0; i < nr; ++i) {
                const double wt = sw ? sw[i] : 1.0;
                if (a->labels != NULL) {
                    const int64_t c = a->labels[start + i];
                    if (c >= 0 && c < k) R[gms_weight_at(i, c, nr, k, tiled)] = wt;
                } else if (a->resp != NULL) {
                    gms_put_weights(R, i, nr, k, tiled, a->resp + (start + i) * k, wt);
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
