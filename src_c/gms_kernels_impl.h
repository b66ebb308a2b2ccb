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
 * 3/4 of the dense work with 2 bands, 5/8 with 4. */
#ifndef GMS_SMALL_D
/* Up to this many features full log-densities skip the GEMM (see
 * log_prob_full_small). */
#define GMS_SMALL_D 16
#endif

static int FN(bands_for)(ptrdiff_t d)
{
    return d >= 48 ? 4 : (d >= 16 ? 2 : 1);
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
        /* enough components per call for a ~256-column product */
        p->chunk = 256 / d > 0 ? 256 / d : 1;
        if (p->chunk > k) p->chunk = k;
        p->n_bands = FN(bands_for)(d);
        p->band_end[0] = 0;
        ptrdiff_t size = 0;
        for (int s = 0; s < p->n_bands; ++s) {
            p->band_end[s + 1] = (ptrdiff_t)(s + 1) * d / p->n_bands;
            p->band_off[s] = size;
            size += p->band_end[s + 1] * k * (p->band_end[s + 1] - p->band_end[s]);
        }
        p->W = (REAL *)malloc((size_t)size * sizeof(REAL));
    } else {
        p->chunk = k;
    }
    if (p->V == NULL || p->g == NULL || gd == NULL || (cov_type == GMS_FULL && p->W == NULL)) {
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
        if (cov_type == GMS_FULL)
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

/* Doubles of scratch accumulate_block needs (full: scaled rows; diag and
 * spherical: tile-major centres and the block's features in pairs). */
static ptrdiff_t FN(accumulate_scratch)(ptrdiff_t d, ptrdiff_t k)
{
    const ptrdiff_t rows = GMS_BLOCK_ROWS * d;
    const ptrdiff_t sums = d * gms_tiled_k(k) + GMS_BLOCK_ROWS * (d + 1);
    /* full, dense block: the row products P, S = R^T P, g and y */
    const ptrdiff_t q = d + d * (d + 1) / 2 + 1;
    const ptrdiff_t dense = (GMS_BLOCK_ROWS + k) * q + 2 * d;
    const ptrdiff_t m = rows > sums ? rows : sums;
    return m > dense ? m : dense;
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
    const ptrdiff_t zcols = p->cov_type == GMS_FULL ? p->chunk * d : d;
    const ptrdiff_t qrows = p->cov_type == GMS_FULL ? p->chunk : 1;
    w->xs = (REAL *)malloc((size_t)(GMS_BLOCK_ROWS * d) * sizeof(REAL));
    w->z = (REAL *)malloc((size_t)(GMS_BLOCK_ROWS * zcols) * sizeof(REAL));
    w->lp = (double *)malloc((size_t)(GMS_BLOCK_ROWS * gms_tiled_k(k)) * sizeof(double));
    w->zd = (double *)malloc((size_t)FN(accumulate_scratch)(d, k) * sizeof(double));
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

/*
 * Full covariance with few features: z_b = sum_{a <= b} xs_a U_c[a, b] - V_c[b]
 * straight over U_c's triangle, 32 rows at a time (four independent
 * eight-lane accumulators, so the sums' add latency overlaps). At small D a
 * GEMM's packing costs more than its arithmetic, and this does only the
 * triangle's D (D + 1) / 2 products. lp[i * si + c * sc]; xt: 32 * d doubles.
 */
GMS_HOT static void FN(log_prob_full_small)(const FN(prep) *p, const REAL *xs, ptrdiff_t nr,
                                            double *lp, ptrdiff_t si, ptrdiff_t sc, double *xt)
{
    enum { LANES = 32 };
    const ptrdiff_t d = p->d, k = p->k;
    for (ptrdiff_t i0 = 0; i0 < nr; i0 += LANES) {
        const ptrdiff_t nl = nr - i0 < LANES ? nr - i0 : LANES;
        for (ptrdiff_t a = 0; a < d; ++a)
            for (ptrdiff_t l = 0; l < LANES; ++l)
                xt[a * LANES + l] = l < nl ? (double)xs[(i0 + l) * d + a] : 0.0;
        for (ptrdiff_t c = 0; c < k; ++c) {
            const REAL *U = p->prec + c * d * d;
            const REAL *V = p->V + c * d;
            double q[LANES] = {0.0};
            for (ptrdiff_t b = 0; b < d; ++b) {
                double z[LANES] = {0.0};
                for (ptrdiff_t a = 0; a <= b; ++a) {
                    const double u = (double)U[a * d + b];
                    const double *x = xt + a * LANES;
                    for (ptrdiff_t l = 0; l < LANES; ++l) z[l] += x[l] * u;
                }
                const double v = (double)V[b];
                for (ptrdiff_t l = 0; l < LANES; ++l) {
                    const double t = z[l] - v;
                    q[l] += t * t;
                }
            }
            const double ln = p->log_norm[c];
            for (ptrdiff_t l = 0; l < nl; ++l) lp[(i0 + l) * si + c * sc] = ln - 0.5 * q[l];
        }
    }
}

/* Diag/spherical: q[r][c] = squared distance of row x_r (r < 4) to the
 * component of lane c of a tile (mu, pc: its D x GMS_CW parameters), the
 * terms added feature by feature. The factor scales before squaring, so a
 * finite distance cannot overflow. */
GMS_INLINE void FN(diag_dist_tile)(const REAL *x0, const REAL *x1, const REAL *x2,
                                   const REAL *x3, ptrdiff_t d, const REAL *restrict mu,
                                   const REAL *restrict pc, double q[4][GMS_CW])
{
    for (int c = 0; c < GMS_CW; ++c) {
        double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
        ptrdiff_t j = 0;
        do {
            const REAL m = mu[j * GMS_CW + c], f = pc[j * GMS_CW + c];
            const REAL t0 = (x0[j] - m) * f, t1 = (x1[j] - m) * f;
            const REAL t2 = (x2[j] - m) * f, t3 = (x3[j] - m) * f;
            a0 += (double)t0 * t0;
            a1 += (double)t1 * t1;
            a2 += (double)t2 * t2;
            a3 += (double)t3 * t3;
        } while (++j < d);
        q[0][c] = a0;
        q[1][c] = a1;
        q[2][c] = a2;
        q[3][c] = a3;
    }
}

/* lp[i, c] = log_norm[c] - 0.5 * squared Mahalanobis distance of row i,
 * at lp[i * k + c], or lp[c * nr + i] with `cmajor`. The vectorised loops
 * run over rows (full, tied) or components (diag, spherical), never along
 * a sum, so they need no reassociation and give the same bits on every
 * SIMD width. */
GMS_HOT static void FN(log_prob_block)(const FN(prep) *p, const REAL *X, ptrdiff_t nr,
                                       double *lp, int cmajor, FN(work) *w)
{
    const ptrdiff_t d = p->d, k = p->k;
    const ptrdiff_t si = cmajor ? 1 : k, sc = cmajor ? nr : 1; /* steps of i and c */
    const double *log_norm = p->log_norm;
    if (p->cov_type == GMS_FULL || p->cov_type == GMS_TIED) {
        for (ptrdiff_t i = 0; i < nr; ++i)
            for (ptrdiff_t j = 0; j < d; ++j) w->xs[i * d + j] = X[i * d + j] - p->g[j];
    }
    if (p->cov_type == GMS_FULL && d <= GMS_SMALL_D) {
        FN(log_prob_full_small)(p, w->xs, nr, lp, si, sc, w->q);
        return;
    }
    if (p->cov_type == GMS_FULL) {
        for (ptrdiff_t c0 = 0; c0 < k; c0 += p->chunk) {
            const ptrdiff_t nc = gms_min(p->chunk, k - c0);
            double *qc = w->q;  /* nc x nr squared distances */
            for (ptrdiff_t i = 0; i < nc * nr; ++i) qc[i] = 0.0;
            for (int s = 0; s < p->n_bands; ++s) {
                const ptrdiff_t b0 = p->band_end[s], b1 = p->band_end[s + 1], wd = b1 - b0;
                /* z[i + col * nr] = sum_{a < b1} xs[i, a] W_s[a, col] */
                FN(gemm_tt)((int)(nc * wd), (int)nr, (int)b1,
                            p->W + p->band_off[s] + c0 * wd, (int)(k * wd), w->xs, (int)d,
                            w->z, (int)nr);
                for (ptrdiff_t c = c0; c < c0 + nc; ++c) {
                    double *q = qc + (c - c0) * nr;
                    for (ptrdiff_t jj = 0; jj < wd; ++jj) {
                        const REAL *zc = w->z + ((c - c0) * wd + jj) * nr;
                        const double v = p->V[c * d + b0 + jj];
                        for (ptrdiff_t i = 0; i < nr; ++i) {
                            const double t = (double)zc[i] - v;
                            q[i] += t * t;
                        }
                    }
                }
            }
            for (ptrdiff_t c = c0; c < c0 + nc; ++c) {
                const double *q = qc + (c - c0) * nr;
                const double ln = log_norm[c];
                for (ptrdiff_t i = 0; i < nr; ++i) lp[i * si + c * sc] = ln - 0.5 * q[i];
            }
        }
        return;
    }
    if (p->cov_type == GMS_TIED) {
        double *q = w->q;
        /* z[i + col * nr] = sum_a xs[i, a] U[a, col] */
        FN(gemm_tt)((int)d, (int)nr, (int)d, p->prec, (int)d, w->xs, (int)d, w->z, (int)nr);
        for (ptrdiff_t c = 0; c < k; ++c) {
            for (ptrdiff_t i = 0; i < nr; ++i) q[i] = 0.0;
            for (ptrdiff_t j = 0; j < d; ++j) {
                const REAL *zc = w->z + j * nr;
                const double v = p->V[c * d + j];
                for (ptrdiff_t i = 0; i < nr; ++i) {
                    const double t = (double)zc[i] - v;
                    q[i] += t * t;
                }
            }
            const double ln = log_norm[c];
            for (ptrdiff_t i = 0; i < nr; ++i) lp[i * si + c * sc] = ln - 0.5 * q[i];
        }
        return;
    }
    /* diag and spherical (whose factor is repeated over features): 4 rows
     * by one tile of components at a time; past the block's end the last
     * row stands in for the missing ones */
    for (ptrdiff_t c0 = 0; c0 < k; c0 += GMS_CW) {
        const ptrdiff_t nc = gms_min(GMS_CW, k - c0);
        for (ptrdiff_t i = 0; i < nr; i += 4) {
            const REAL *x[4];
            for (int r = 0; r < 4; ++r) x[r] = X + gms_min(i + r, nr - 1) * d;
            double q[4][GMS_CW];
            FN(diag_dist_tile)(x[0], x[1], x[2], x[3], d, p->muT + c0 * d, p->pT + c0 * d, q);
            if (cmajor && nc == GMS_CW && i + 4 <= nr) /* whole tile: fixed bounds, */
                for (int c = 0; c < GMS_CW; ++c)        /* 4 rows in one store */
                    for (int r = 0; r < 4; ++r)
                        lp[(c0 + c) * nr + i + r] = log_norm[c0 + c] - 0.5 * q[r][c];
            else
                for (ptrdiff_t r = 0; r < gms_min(4, nr - i); ++r)
                    for (ptrdiff_t c = 0; c < nc; ++c)
                        lp[cmajor ? (c0 + c) * nr + i + r : (i + r) * k + c0 + c] =
                            log_norm[c0 + c] - 0.5 * q[r][c];
        }
    }
}

/*
 * Fold a block into the statistics: R (nr x k; row-major, tile-major for
 * diag and spherical) holds each row's weight for each component (sample
 * weight times responsibility). Rows with a zero weight add nothing and are
 * skipped exactly. Full second moments go through a rank-m update (SYRK)
 * of the scaled centred rows.
 */
/*
 * Full second moments of a block whose responsibilities are mostly
 * non-zero: one GEMM for all components instead of one SYRK each. With
 * y = x - g (g: the mean of the centres) and delta_c = centre_c - g,
 *   sum_i r_ic (x_i - c)(x_i - c)^T
 *     = sum_i r_ic y_i y_i^T - delta sy^T - sy delta^T + n_c delta delta^T,
 * sy = sum_i r_ic y_i. Each row contributes P_i = [y_i, upper triangle of
 * y_i y_i^T, 1], so S = R^T P holds sy, the first term and n_c of every
 * component at once; the triangle halves the work of a full product.
 */
GMS_HOT static void FN(accumulate_full_dense)(const REAL *X, ptrdiff_t nr, ptrdiff_t d, ptrdiff_t k,
                                      const double *R, const double *centres, double *nk,
                                      double *s1, double *s2, double *scratch)
{
    const ptrdiff_t q = d + d * (d + 1) / 2 + 1; /* y, upper y y^T, 1 */
    double *restrict P = scratch;                 /* nr x q */
    double *restrict S = P + nr * q;              /* k x q */
    double *restrict g = S + k * q;               /* d */
    double *restrict y = g + d;                   /* d */
    for (ptrdiff_t j = 0; j < d; ++j) g[j] = 0.0;
    for (ptrdiff_t c = 0; c < k; ++c)
        for (ptrdiff_t j = 0; j < d; ++j) g[j] += centres[c * d + j];
    for (ptrdiff_t j = 0; j < d; ++j) g[j] /= (double)k;
    for (ptrdiff_t i = 0; i < nr; ++i) {
        double *restrict p = P + i * q;
        for (ptrdiff_t j = 0; j < d; ++j) y[j] = (double)X[i * d + j] - g[j];
        for (ptrdiff_t j = 0; j < d; ++j) p[j] = y[j];
        double *restrict u = p + d;
        for (ptrdiff_t a = 0; a < d; ++a) {
            const double ya = y[a];
            for (ptrdiff_t b = a; b < d; ++b) u[b - a] = ya * y[b];
            u += d - a;
        }
        p[q - 1] = 1.0;
    }
    {
        /* S (row-major k x q) = R^T P: column-major S^T = P^T R */
        char no = 'N', tr = 'T';
        int m_ = (int)q, n_ = (int)k, k_ = (int)nr, lda = (int)q, ldb = (int)k;
        double one = 1.0, zero = 0.0;
        gms_blas_dgemm(&no, &tr, &m_, &n_, &k_, &one, P, &lda, R, &ldb, &zero, S, &lda);
    }
    for (ptrdiff_t c = 0; c < k; ++c) {
        const double *restrict syc = S + c * q;
        const double *restrict u = syc + d;
        const double n_c = syc[q - 1];
        nk[c] += n_c;
        double *s1c = s1 + c * d;
        double *s2c = s2 + c * d * d;
        for (ptrdiff_t a = 0; a < d; ++a) {
            const double da = centres[c * d + a] - g[a];
            s1c[a] += syc[a] - n_c * da;
            for (ptrdiff_t b = a; b < d; ++b) {
                const double db = centres[c * d + b] - g[b];
                s2c[a * d + b] += u[b - a] - da * syc[b] - syc[a] * db + n_c * da * db;
            }
            u += d - a;
        }
    }
}

/* Diag/spherical sums over a block's nr rows for one tile of components
 * (R8: its nr x GMS_CW weights) and two features (x: their values, row by
 * row; GCC vectorises the lanes only when the rows are a constant stride
 * apart), m0 and m1 pointing at the tile's centres: per lane, out =
 * {sum r, sum r e0, sum r e0^2, sum r e1, sum r e1^2} with e = x - m, rows
 * added in order. */
GMS_INLINE void FN(diag_sums_tile)(const double *restrict x, ptrdiff_t nr,
                                   const double *restrict R8, const double *restrict m0,
                                   const double *restrict m1, double out[5][GMS_CW])
{
    for (int c = 0; c < GMS_CW; ++c) {
        double n = 0.0, a0 = 0.0, b0 = 0.0, a1 = 0.0, b1 = 0.0;
        ptrdiff_t i = 0;
        do {
            const double r = R8[i * GMS_CW + c];
            const double e0 = x[2 * i] - m0[c], e1 = x[2 * i + 1] - m1[c];
            const double t0 = r * e0, t1 = r * e1;
            n += r;
            a0 += t0;
            b0 += t0 * e0;
            a1 += t1;
            b1 += t1 * e1;
        } while (++i < nr);
        out[0][c] = n;
        out[1][c] = a0;
        out[2][c] = b0;
        out[3][c] = a1;
        out[4][c] = b1;
    }
}

GMS_HOT static void FN(accumulate_block)(int cov_type, const REAL *X, ptrdiff_t nr,
                                 ptrdiff_t d, ptrdiff_t k, const double *R,
                                 const double *centres, double *nk, double *s1,
                                 double *s2, double *zd)
{
    if (cov_type == GMS_DIAG || cov_type == GMS_SPHERICAL) {
        /* R is tile-major here (gms_tiled_at), and so are the centres in
         * zd, followed by the block's features in pairs (the last one twice
         * when d is odd): pair j / 2 holds nr rows of (x_j, x_j1). */
        double *restrict cenT = zd;
        double *restrict xP = zd + d * gms_tiled_k(k);
        for (ptrdiff_t j = 0; j < d; j += 2) {
            const ptrdiff_t j1 = gms_min(j + 1, d - 1);
            for (ptrdiff_t i = 0; i < nr; ++i) {
                xP[j * nr + 2 * i] = (double)X[i * d + j];
                xP[j * nr + 2 * i + 1] = (double)X[i * d + j1];
            }
        }
        for (ptrdiff_t c = 0; c < gms_tiled_k(k); ++c)
            for (ptrdiff_t j = 0; j < d; ++j)
                cenT[gms_tiled_at(j, c, d)] = c < k ? centres[c * d + j] : 0.0;
        for (ptrdiff_t c0 = 0; c0 < k; c0 += GMS_CW) {
            const ptrdiff_t nc = gms_min(GMS_CW, k - c0);
            for (ptrdiff_t j = 0; j < d; j += 2) {
                const ptrdiff_t j1 = gms_min(j + 1, d - 1);
                double o[5][GMS_CW];
                FN(diag_sums_tile)(xP + j * nr, nr, R + c0 * nr,
                                   cenT + c0 * d + j * GMS_CW, cenT + c0 * d + j1 * GMS_CW, o);
                for (ptrdiff_t c = 0; c < nc; ++c) {
                    double *s1c = s1 + (c0 + c) * d, *s2c = s2 + (c0 + c) * d;
                    if (j == 0) nk[c0 + c] += o[0][c];
                    s1c[j] += o[1][c];
                    s2c[j] += o[2][c];
                    if (j1 != j) {
                        s1c[j1] += o[3][c];
                        s2c[j1] += o[4][c];
                    }
                }
            }
        }
        return;
    }
    if (cov_type == GMS_FULL && gms_blas_dgemm != NULL) {
        ptrdiff_t nz = 0;
        for (ptrdiff_t i = 0; i < nr * k; ++i) nz += R[i] != 0.0;
        if (2 * nz > nr * k) {
            FN(accumulate_full_dense)(X, nr, d, k, R, centres, nk, s1, s2, zd);
            return;
        }
    }
    /* sparse responsibilities (or diag/tied): per component, skipping the
     * rows it does not own */
    for (ptrdiff_t c = 0; c < k; ++c) {
        const double *cen = centres + c * d;
        double *s1c = s1 + c * d;
        double *s2c = s2 + gms_s2_offset(cov_type, c, d);
        double tot = 0.0;
        int m = 0;
        for (ptrdiff_t i = 0; i < nr; ++i) {
            const double r = R[i * k + c];
            if (r == 0.0) continue;
            const REAL *x = X + i * d;
            tot += r;
            if (cov_type == GMS_FULL) {
                const double sr = sqrt(r);
                double *z = zd + (ptrdiff_t)m * d;
                for (ptrdiff_t j = 0; j < d; ++j) {
                    const double dl = (double)x[j] - cen[j];
                    s1c[j] += r * dl;
                    z[j] = sr * dl;
                }
            } else if (cov_type == GMS_TIED) {
                for (ptrdiff_t j = 0; j < d; ++j) s1c[j] += r * ((double)x[j] - cen[j]);
            } else {
                for (ptrdiff_t j = 0; j < d; ++j) {
                    const double dl = (double)x[j] - cen[j];
                    s1c[j] += r * dl;
                    s2c[j] += r * dl * dl;
                }
            }
            ++m;
        }
        nk[c] += tot;
        if (cov_type != GMS_FULL || m == 0) continue;
        /* s2c (row-major upper) += zd^T zd: column-major lower SYRK */
        if (gms_blas_dsyrk != NULL) {
            char lo = 'L', no = 'N';
            int n_ = (int)d, k_ = m, lda = (int)d;
            double one = 1.0;
            gms_blas_dsyrk(&lo, &no, &n_, &k_, &one, zd, &lda, &one, s2c, &n_);
        } else {
            for (int i = 0; i < m; ++i) {
                const double *z = zd + (ptrdiff_t)i * d;
                for (ptrdiff_t a = 0; a < d; ++a)
                    for (ptrdiff_t b = a; b < d; ++b) s2c[a * d + b] += z[a] * z[b];
            }
        }
    }
}

int FN(gms_weighted_log_prob)(int cov_type, const REAL *X, ptrdiff_t n,
                              ptrdiff_t d, ptrdiff_t k, const REAL *means,
                              const REAL *prec_chol, const double *log_norm,
                              double *out, int n_threads)
{
    if (n < 0 || d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL)
        return GMS_ERR_ARG;
    FN(prep) p;
    if (FN(prepare)(&p, cov_type, d, k, means, prec_chol, log_norm) != GMS_OK)
        return GMS_ERR_NOMEM;
    int failed = 0;
    const ptrdiff_t nb = gms_n_blocks(n);
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, nb))
#endif
    {
        FN(work) w = {0};
        const int ok = FN(work_alloc)(&w, &p) == GMS_OK;
        if (!ok) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t b = 0; b < nb; ++b) {
            if (!ok) continue;
            const ptrdiff_t start = b * GMS_BLOCK_ROWS;
            const ptrdiff_t nr = gms_min(GMS_BLOCK_ROWS, n - start);
            FN(log_prob_block)(&p, X + start * d, nr, out + start * k, 0, &w);
        }
        if (ok) FN(work_free)(&w);
    }
    FN(release)(&p);
    return failed ? GMS_ERR_NOMEM : GMS_OK;
}

int FN(gms_estep)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d,
                  ptrdiff_t k, const REAL *means, const REAL *prec_chol,
                  const double *log_norm, const double *sample_weight,
                  const double *centres, double *nk, double *s1, double *s2,
                  double *loglik, int n_threads)
{
    if (n < 0 || d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL)
        return GMS_ERR_ARG;
    const ptrdiff_t s2n = gms_s2_size(cov_type, k, d);
    const ptrdiff_t nb = gms_n_blocks(n);
    const int n_slots = gms_n_slots(nb);
    /* Per slot: nk (k), s1 (k*d), s2 (s2n), loglik (1). */
    const ptrdiff_t stride = k + k * d + s2n + 1;
    double *acc = (double *)calloc((size_t)(stride * (n_slots > 0 ? n_slots : 1)), sizeof(double));
    if (acc == NULL) return GMS_ERR_NOMEM;
    FN(prep) p;
    if (FN(prepare)(&p, cov_type, d, k, means, prec_chol, log_norm) != GMS_OK) {
        free(acc);
        return GMS_ERR_NOMEM;
    }
    int failed = 0, nonfinite = 0;
    const int tiled = cov_type == GMS_DIAG || cov_type == GMS_SPHERICAL;
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, n_slots))
#endif
    {
        FN(work) w = {0};
        const int ok = FN(work_alloc)(&w, &p) == GMS_OK;
        if (!ok) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int s = 0; s < n_slots; ++s) {
            if (!ok) continue;
            double *a_nk = acc + s * stride;
            double *a_s1 = a_nk + k;
            double *a_s2 = a_s1 + k * d;
            double *a_ll = a_s2 + s2n;
            const ptrdiff_t b0 = gms_slot_begin(s, nb, n_slots);
            const ptrdiff_t b1 = gms_slot_begin(s + 1, nb, n_slots);
            int bad = 0;
            for (ptrdiff_t b = b0; b < b1; ++b) {
                const ptrdiff_t start = b * GMS_BLOCK_ROWS;
                const ptrdiff_t nr = gms_min(GMS_BLOCK_ROWS, n - start);
                const REAL *Xb = X + start * d;
                /* log-densities component-major, then the responsibilities
                 * (times sample weights) in the layout accumulate_block wants */
                double *lp = w.lp, *R = w.t;
                FN(log_prob_block)(&p, Xb, nr, lp, 1, &w);
                bad |= gms_block_responsibilities(
                    lp, nr, k, sample_weight ? sample_weight + start : NULL, a_ll, R, tiled,
                    R + nr * gms_tiled_k(k));
                FN(accumulate_block)(cov_type, Xb, nr, d, k, R, centres, a_nk, a_s1,
                                     a_s2, w.zd);
            }
            if (bad) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
                nonfinite = 1;
            }
        }
        if (ok) FN(work_free)(&w);
    }
    FN(release)(&p);
    if (!failed) gms_reduce_slots(acc, n_slots, stride, nk, k, s1, k * d, s2, s2n, loglik);
    free(acc);
    if (failed) return GMS_ERR_NOMEM;
    return nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
}

int FN(gms_accumulate)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d,
                       ptrdiff_t k, const double *resp, const int64_t *labels,
                       const double *sample_weight, const double *centres,
                       double *nk, double *s1, double *s2, int n_threads)
{
    if (n < 0 || d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL)
        return GMS_ERR_ARG;
    if (resp == NULL && labels == NULL && k != 1) return GMS_ERR_ARG;
    const ptrdiff_t s2n = gms_s2_size(cov_type, k, d);
    const ptrdiff_t nb = gms_n_blocks(n);
    const int n_slots = gms_n_slots(nb);
    const ptrdiff_t stride = k + k * d + s2n;
    double *acc = (double *)calloc((size_t)(stride * (n_slots > 0 ? n_slots : 1)), sizeof(double));
    if (acc == NULL) return GMS_ERR_NOMEM;
    int failed = 0;
    /* the weights' layout accumulate_block expects */
    const int tiled = cov_type == GMS_DIAG || cov_type == GMS_SPHERICAL;
    const ptrdiff_t kr = tiled ? gms_tiled_k(k) : k;
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, n_slots))
#endif
    {
        double *R = (double *)malloc((size_t)(GMS_BLOCK_ROWS * kr) * sizeof(double));
        double *zd = (double *)malloc((size_t)FN(accumulate_scratch)(d, k) * sizeof(double));
        if (R == NULL || zd == NULL) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int s = 0; s < n_slots; ++s) {
            if (R == NULL || zd == NULL) continue;
            double *a_nk = acc + s * stride;
            double *a_s1 = a_nk + k;
            double *a_s2 = a_s1 + k * d;
            const ptrdiff_t b0 = gms_slot_begin(s, nb, n_slots);
            const ptrdiff_t b1 = gms_slot_begin(s + 1, nb, n_slots);
            for (ptrdiff_t b = b0; b < b1; ++b) {
                const ptrdiff_t start = b * GMS_BLOCK_ROWS;
                const ptrdiff_t nr = gms_min(GMS_BLOCK_ROWS, n - start);
                /* the block's weights per component, whatever their source
                 * (zero for unlabelled rows and tile padding) */
                memset(R, 0, (size_t)(nr * kr) * sizeof(double));
                for (ptrdiff_t i = 0; i < nr; ++i) {
                    const double wt = sample_weight ? sample_weight[start + i] : 1.0;
                    if (labels != NULL) {
                        const int64_t c = labels[start + i];
                        if (c >= 0 && c < k) R[gms_weight_at(i, c, nr, k, tiled)] = wt;
                    } else if (resp != NULL) {
                        gms_put_weights(R, i, nr, k, tiled, resp + (start + i) * k, wt);
                    } else {
                        R[gms_weight_at(i, 0, nr, k, tiled)] = wt;
                    }
                }
                FN(accumulate_block)(cov_type, X + start * d, nr, d, k, R, centres,
                                     a_nk, a_s1, a_s2, zd);
            }
        }
        free(R);
        free(zd);
    }
    if (!failed) gms_reduce_slots(acc, n_slots, stride, nk, k, s1, k * d, s2, s2n, NULL);
    free(acc);
    return failed ? GMS_ERR_NOMEM : GMS_OK;
}

#include "gms_kmeans_impl.h"

#undef FN
#undef GMS_CAT
#undef GMS_CAT2
