/*
 * Diag- and spherical-covariance block kernels on tiles of GMS_CW
 * components (log-densities and statistics). Part of the type-generic body:
 * included by gms_kernels_impl.h, with its REAL, FN, prep and work.
 */

/* Diag/spherical: q[r][c] = squared distance of row x_r (r < 4) to the
 * component of lane c of a tile (mu, pc: its D x GMS_CW parameters), the
 * terms added feature by feature in the input precision, like the inner
 * products of a GEMM in that precision (float32 input gets twice the
 * lanes; every sum over samples stays double). The factor scales before
 * squaring, so a finite distance overflows only when its square does. */
GMS_INLINE void FN(diag_dist_tile)(const REAL *x0, const REAL *x1, const REAL *x2,
                                   const REAL *x3, ptrdiff_t d, const REAL *restrict mu,
                                   const REAL *restrict pc, double q[4][GMS_CW])
{
    for (int c = 0; c < GMS_CW; ++c) {
        REAL a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        ptrdiff_t j = 0;
        do {
            const REAL m = mu[j * GMS_CW + c], f = pc[j * GMS_CW + c];
            const REAL t0 = (x0[j] - m) * f, t1 = (x1[j] - m) * f;
            const REAL t2 = (x2[j] - m) * f, t3 = (x3[j] - m) * f;
            a0 += t0 * t0;
            a1 += t1 * t1;
            a2 += t2 * t2;
            a3 += t3 * t3;
        } while (++j < d);
        q[0][c] = a0;
        q[1][c] = a1;
        q[2][c] = a2;
        q[3][c] = a3;
    }
}

/* Diag and spherical (whose factor is repeated over features): 4 rows by
 * one tile of components at a time; past the block's end the last row
 * stands in for the missing ones. lp as in log_prob_block. */
GMS_HOT static void FN(log_prob_diag)(const FN(prep) *p, const REAL *X, ptrdiff_t nr, double *lp,
                                      int cmajor)
{
    const ptrdiff_t d = p->d, k = p->k;
    const double *log_norm = p->log_norm;
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

/* Diag/spherical statistics of a block. R is tile-major here
 * (gms_tiled_at), and so are the centres in zd, followed by the block's
 * features in pairs (the last one twice when d is odd): pair j / 2 holds nr
 * rows of (x_j, x_j1). */
GMS_HOT static void FN(accumulate_diag)(const REAL *X, ptrdiff_t nr, ptrdiff_t d, ptrdiff_t k,
                                        const double *R, const double *centres, double *nk,
                                        double *s1, double *s2, double *zd)
{
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
}
