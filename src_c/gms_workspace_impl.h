/*
 * Part of the type-generic kernel body (included by gms_kernels_impl.h,
 * with its REAL, SFX and FN): the GEMM wrapper, the prepared parameters
 * (precision factors in bands, normalisers) and each thread's scratch,
 * with the sizes the memory checks read.
 */
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
    const ptrdiff_t dense = sub ? (sub + k) * gms_dense_ld(d) + 2 * d : 0;
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
