/*
 * Full- and tied-covariance block kernels (log-densities and statistics).
 * Part of the type-generic body: included by gms_kernels_impl.h, with its
 * REAL, FN, prep and work.
 */

/*
 * Full covariance with few features: z_b = sum_{a <= b} xs_a U_c[a, b] - V_c[b]
 * straight over U_c's triangle, 32 rows at a time (a group of at most 4
 * rows, as in a single-row prediction, in 4 lanes). At small D a GEMM's
 * packing costs more than its arithmetic, and this does only the
 * triangle's D (D + 1) / 2 products. The products are fused multiply-adds
 * in the input precision, as a GEMM in that precision does on current
 * CPUs (fma() is correctly rounded, so every SIMD width and a CPU without
 * FMA give the same bits); the squares add up in double. Two columns at a
 * time: twice the independent sums, so the adds' latency overlaps.
 * lp[i * si + c * sc]; xt: room for 32 * d values.
 */
#ifndef GMS_FMA_R
#define GMS_FMA_R(a, b, c) _Generic((a), float: fmaf, default: fma)((a), (b), (c))
#endif

/* z[j][l] += the products of rows a of U's columns b .. b + nc - 1 that
 * lie on or above the diagonal (nc <= 4, lanes: constants after inlining),
 * each column's sum over a in increasing order; then the squares of
 * z - V in column order into q. */
static inline __attribute__((always_inline)) void FN(full_small_columns)(
    const REAL *U, const REAL *V, ptrdiff_t d, ptrdiff_t b, const REAL *xt, double *q,
    const int lanes, const int nc)
{
    REAL z[4][32] = {{0}};
    for (ptrdiff_t a = 0; a <= b; ++a) {
        const REAL *x = xt + a * lanes;
        for (int j = 0; j < nc; ++j) {
            const REAL u = U[a * d + b + j];
            for (ptrdiff_t l = 0; l < lanes; ++l) z[j][l] = GMS_FMA_R(x[l], u, z[j][l]);
        }
    }
    /* the corner: row b + t reaches columns b + t and after */
    for (int t = 1; t < nc; ++t) {
        const ptrdiff_t a = b + t;
        const REAL *x = xt + a * lanes;
        for (int j = t; j < nc; ++j) {
            const REAL u = U[a * d + b + j];
            for (ptrdiff_t l = 0; l < lanes; ++l) z[j][l] = GMS_FMA_R(x[l], u, z[j][l]);
        }
    }
    for (int j = 0; j < nc; ++j) {
        const double v = (double)V[b + j];
        for (ptrdiff_t l = 0; l < lanes; ++l) {
            const double t = (double)z[j][l] - v;
            q[l] += t * t;
        }
    }
}

/* One group of rows i0 .. i0 + nl - 1 in `lanes` lanes (a constant after
 * inlining; the padding lanes compute zeros). Each lane's sums run in the
 * same order whatever the lane count, so a row gets the same bits alone
 * or in a batch. Four columns at a time: four times the independent sums
 * (the adds' latency overlaps) for each row of x loaded. */
static inline __attribute__((always_inline)) void FN(full_small_group)(
    const FN(prep) *p, const REAL *xs, ptrdiff_t i0, ptrdiff_t nl, double *lp, ptrdiff_t si,
    ptrdiff_t sc, REAL *xt, const int lanes)
{
    const ptrdiff_t d = p->d, k = p->k;
    for (ptrdiff_t a = 0; a < d; ++a)
        for (ptrdiff_t l = 0; l < lanes; ++l)
            xt[a * lanes + l] = l < nl ? xs[(i0 + l) * d + a] : 0;
    for (ptrdiff_t c = 0; c < k; ++c) {
        const REAL *U = p->prec + c * d * d;
        const REAL *V = p->V + c * d;
        double q[32] = {0.0};
        ptrdiff_t b = 0;
        for (; b + 4 <= d; b += 4) FN(full_small_columns)(U, V, d, b, xt, q, lanes, 4);
        if (d - b == 3)
            FN(full_small_columns)(U, V, d, b, xt, q, lanes, 3);
        else if (d - b == 2)
            FN(full_small_columns)(U, V, d, b, xt, q, lanes, 2);
        else if (d - b == 1)
            FN(full_small_columns)(U, V, d, b, xt, q, lanes, 1);
        const double ln = p->log_norm[c];
        for (ptrdiff_t l = 0; l < nl; ++l) lp[(i0 + l) * si + c * sc] = ln - 0.5 * q[l];
    }
}

GMS_HOT static void FN(log_prob_full_small)(const FN(prep) *p, const REAL *xs, ptrdiff_t nr,
                                            double *lp, ptrdiff_t si, ptrdiff_t sc, REAL *xt)
{
    enum { LANES = 32, FEW = 4 };
    for (ptrdiff_t i0 = 0; i0 < nr; i0 += LANES) {
        const ptrdiff_t nl = nr - i0 < LANES ? nr - i0 : LANES;
        /* a few rows (a single-row prediction) in few lanes */
        if (nl <= FEW)
            FN(full_small_group)(p, xs, i0, nl, lp, si, sc, xt, FEW);
        else
            FN(full_small_group)(p, xs, i0, nl, lp, si, sc, xt, LANES);
    }
}

/* q[i] += sum_j (z[i + j * nr] - v[j])^2 for the wd columns of one
 * component's band, added column after column as a loop per column would
 * (so the bits do not depend on the band width), four columns per pass
 * over q. */
static inline __attribute__((always_inline)) void FN(add_squares)(
    double *restrict q, const REAL *restrict z, ptrdiff_t nr, ptrdiff_t wd,
    const REAL *restrict v)
{
    ptrdiff_t j = 0;
    for (; j + 4 <= wd; j += 4) {
        const REAL *z0 = z + j * nr, *z1 = z0 + nr, *z2 = z1 + nr, *z3 = z2 + nr;
        const double v0 = (double)v[j], v1 = (double)v[j + 1];
        const double v2 = (double)v[j + 2], v3 = (double)v[j + 3];
        for (ptrdiff_t i = 0; i < nr; ++i) {
            const double t0 = (double)z0[i] - v0, t1 = (double)z1[i] - v1;
            const double t2 = (double)z2[i] - v2, t3 = (double)z3[i] - v3;
            double a = q[i];
            a += t0 * t0;
            a += t1 * t1;
            a += t2 * t2;
            a += t3 * t3;
            q[i] = a;
        }
    }
    for (; j < wd; ++j) {
        const REAL *zj = z + j * nr;
        const double vj = (double)v[j];
        for (ptrdiff_t i = 0; i < nr; ++i) {
            const double t = (double)zj[i] - vj;
            q[i] += t * t;
        }
    }
}

/* Full covariance, banded GEMM: z[i + col * nr] = sum_{a < b1} xs[i, a]
 * W_s[a, col] for each band s, then the squared distances of (z - V). */
GMS_HOT static void FN(log_prob_full_bands)(const FN(prep) *p, const REAL *xs, ptrdiff_t nr,
                                            double *lp, ptrdiff_t si, ptrdiff_t sc,
                                            FN(work) *w)
{
    const ptrdiff_t d = p->d, k = p->k;
    const double *log_norm = p->log_norm;
    for (ptrdiff_t c0 = 0; c0 < k; c0 += p->chunk) {
        const ptrdiff_t nc = gms_min(p->chunk, k - c0);
        double *qc = w->q;  /* nc x nr squared distances */
        for (ptrdiff_t i = 0; i < nc * nr; ++i) qc[i] = 0.0;
        for (int s = 0; s < p->n_bands; ++s) {
            const ptrdiff_t b0 = p->band_end[s], b1 = p->band_end[s + 1], wd = b1 - b0;
            /* z[i + col * nr] = sum_{a < b1} xs[i, a] W_s[a, col] */
            FN(gemm_tt)((int)(nc * wd), (int)nr, (int)b1,
                        p->W + p->band_off[s] + c0 * wd, (int)(k * wd), xs, (int)d,
                        w->z, (int)nr);
            for (ptrdiff_t c = c0; c < c0 + nc; ++c)
                FN(add_squares)(qc + (c - c0) * nr, w->z + (c - c0) * wd * nr, nr, wd,
                                p->V + c * d + b0);
        }
        for (ptrdiff_t c = c0; c < c0 + nc; ++c) {
            const double *q = qc + (c - c0) * nr;
            const double ln = log_norm[c];
            for (ptrdiff_t i = 0; i < nr; ++i) lp[i * si + c * sc] = ln - 0.5 * q[i];
        }
    }
}

/* Tied covariance: z = xs U by one GEMM, then each component's distances. */
GMS_HOT static void FN(log_prob_tied)(const FN(prep) *p, const REAL *xs, ptrdiff_t nr,
                                      double *lp, ptrdiff_t si, ptrdiff_t sc, FN(work) *w)
{
    const ptrdiff_t d = p->d, k = p->k;
    const double *log_norm = p->log_norm;
    double *q = w->q;
    /* z[i + col * nr] = sum_a xs[i, a] U[a, col] */
    FN(gemm_tt)((int)d, (int)nr, (int)d, p->prec, (int)d, xs, (int)d, w->z, (int)nr);
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
}

/*
 * Full second moments of a block whose responsibilities are mostly
 * non-zero: one GEMM for all components instead of one SYRK each. With
 * y = x - g (g: the mean of the centres) and delta_c = centre_c - g,
 *   sum_i r_ic (x_i - c)(x_i - c)^T
 *     = sum_i r_ic y_i y_i^T - delta sy^T - sy delta^T + n_c delta delta^T,
 * sy = sum_i r_ic y_i. Each row contributes P_i = [y_i, upper triangle of
 * y_i y_i^T, 1], so S = R^T P holds sy, the first term and n_c of every
 * component at once; the triangle halves the work of a full product.
 * The subtraction cancels when a component lies far from g relative to its
 * spread (relative error ~ eps * sum r y_a^2 / sum r (x_a - c_a)^2): the
 * block is refused (returns 1, nothing added) when that ratio exceeds 2^16
 * for some component and feature, and the caller centres each component
 * exactly instead.
 */
GMS_HOT static int FN(accumulate_full_dense)(const REAL *X, ptrdiff_t nr, ptrdiff_t d,
                                              ptrdiff_t k, const double *R,
                                              const double *centres, double *nk, double *s1,
                                              double *s2, double *scratch)
{
    const ptrdiff_t q = d + d * (d + 1) / 2 + 1; /* y, upper y y^T, 1 */
    const ptrdiff_t ld = gms_dense_ld(d);         /* q and zero padding */
    double *restrict P = scratch;                 /* nr x ld */
    double *restrict S = P + nr * ld;             /* k x ld */
    double *restrict g = S + k * ld;              /* d */
    double *restrict y = g + d;                   /* d */
    for (ptrdiff_t j = 0; j < d; ++j) g[j] = 0.0;
    for (ptrdiff_t c = 0; c < k; ++c)
        for (ptrdiff_t j = 0; j < d; ++j) g[j] += centres[c * d + j];
    for (ptrdiff_t j = 0; j < d; ++j) g[j] /= (double)k;
    for (ptrdiff_t i = 0; i < nr; ++i) {
        double *restrict p = P + i * ld;
        for (ptrdiff_t j = 0; j < d; ++j) y[j] = (double)X[i * d + j] - g[j];
        for (ptrdiff_t j = 0; j < d; ++j) p[j] = y[j];
        double *restrict u = p + d;
        for (ptrdiff_t a = 0; a < d; ++a) {
            const double ya = y[a];
            for (ptrdiff_t b = a; b < d; ++b) u[b - a] = ya * y[b];
            u += d - a;
        }
        p[q - 1] = 1.0;
        for (ptrdiff_t f = q; f < ld; ++f) p[f] = 0.0;
    }
    const int mode = gms_rtp_mode(d);
    if (mode > 0) {
        gms_rtp(R, nr, k, P, ld, S, mode == 2);
    } else {
        /* S (row-major k x q) = R^T P: column-major S^T = P^T R */
        char no = 'N', tr = 'T';
        int m_ = (int)q, n_ = (int)k, k_ = (int)nr, lda = (int)ld, ldb = (int)k;
        double one = 1.0, zero = 0.0;
        /* the Fortran interface has no const; R is only read */
        gms_blas_dgemm(&no, &tr, &m_, &n_, &k_, &one, P, &lda, (double *)R, &ldb, &zero, S,
                       &lda);
    }
    for (ptrdiff_t c = 0; c < k; ++c) {
        const double *restrict syc = S + c * ld;
        const double *restrict u = syc + d; /* u[0] is (a, a) of row a */
        const double n_c = syc[q - 1];
        for (ptrdiff_t a = 0; a < d; ++a) {
            const double da = centres[c * d + a] - g[a];
            const double scatter = u[0] - 2.0 * da * syc[a] + n_c * da * da;
            if (!(u[0] <= 0x1p16 * scatter) && u[0] > 0.0) return 1;
            u += d - a;
        }
    }
    for (ptrdiff_t c = 0; c < k; ++c) {
        const double *restrict syc = S + c * ld;
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
    return 0;
}

/* Full/tied statistics of a block of hard labels (the k-means
 * initialisation's): each row's centred values go straight into its
 * component's sums, the upper triangle of w dl dl^T a row at a time. As
 * few products as the sparse path, without its per-component SYRK calls
 * of a few dozen rows each, whose call overhead dominated at small D (see
 * gms_labels_rowwise). Rows labelled outside [0, k) or of weight 0 add
 * nothing. dl: d doubles of scratch. */
GMS_HOT static void FN(accumulate_labels_rowwise)(int cov_type, const REAL *X, ptrdiff_t nr,
                                                  ptrdiff_t d, ptrdiff_t k,
                                                  const int64_t *labels, const double *sw,
                                                  const double *centres, double *nk,
                                                  double *s1, double *s2, double *dl)
{
    for (ptrdiff_t i = 0; i < nr; ++i) {
        const int64_t c = labels[i];
        const double wt = sw ? sw[i] : 1.0;
        if (c < 0 || c >= k || wt == 0.0) continue;
        const REAL *x = X + i * d;
        const double *cen = centres + c * d;
        double *restrict s1c = s1 + c * d;
        double *restrict s2c = s2 + gms_s2_offset(cov_type, c, d);
        for (ptrdiff_t j = 0; j < d; ++j) {
            dl[j] = (double)x[j] - cen[j];
            s1c[j] += wt * dl[j];
        }
        nk[c] += wt;
        for (ptrdiff_t a = 0; a < d; ++a) {
            const double wa = wt * dl[a];
            double *restrict row = s2c + a * d;
            for (ptrdiff_t b = a; b < d; ++b) row[b] += wa * dl[b];
        }
    }
}

/* s2c (row-major upper) += Z^T Z for the m rows of Z (m x d): a
 * column-major lower SYRK, or plain loops without BLAS. */
static void FN(rank_update)(const double *Z, int m, ptrdiff_t d, double *s2c)
{
    if (gms_blas_dsyrk != NULL) {
        char lo = 'L', no = 'N';
        int n_ = (int)d, k_ = m, lda = (int)d;
        double one = 1.0;
        gms_blas_dsyrk(&lo, &no, &n_, &k_, &one, (double *)Z, &lda, &one, s2c, &n_);
    } else {
        for (int i = 0; i < m; ++i) {
            const double *z = Z + (ptrdiff_t)i * d;
            for (ptrdiff_t a = 0; a < d; ++a)
                for (ptrdiff_t b = a; b < d; ++b) s2c[a * d + b] += z[a] * z[b];
        }
    }
}

/* Full/tied statistics of a block with sparse responsibilities: per
 * component, skipping the rows it does not own; second moments by rank
 * updates (SYRK) of the scaled centred rows, gms_sparse_rows(d) at a time
 * (tied: every component's into the one pooled D x D, each about its own
 * centre). */
GMS_HOT static void FN(accumulate_sparse)(int cov_type, const REAL *X, ptrdiff_t nr,
                                          ptrdiff_t d, ptrdiff_t k, const double *R,
                                          const double *centres, double *nk, double *s1,
                                          double *s2, double *zd)
{
    const int group = (int)gms_sparse_rows(d);
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
            if (cov_type != GMS_DIAG && cov_type != GMS_SPHERICAL) {
                const double sr = sqrt(r);
                double *z = zd + (ptrdiff_t)m * d;
                for (ptrdiff_t j = 0; j < d; ++j) {
                    const double dl = (double)x[j] - cen[j];
                    s1c[j] += r * dl;
                    z[j] = sr * dl;
                }
            } else {
                for (ptrdiff_t j = 0; j < d; ++j) s1c[j] += r * ((double)x[j] - cen[j]);
            }
            if (++m == group && cov_type != GMS_DIAG && cov_type != GMS_SPHERICAL) {
                FN(rank_update)(zd, m, d, s2c);
                m = 0;
            }
        }
        nk[c] += tot;
        if (m > 0 && cov_type != GMS_DIAG && cov_type != GMS_SPHERICAL)
            FN(rank_update)(zd, m, d, s2c);
    }
}
