/* The mixed-pattern block path of the missing-value kernel for full / tied
 * covariances (see gms_missing.c for the driver, gms_missing.h for the
 * API). With 10% of the entries missing at random most patterns hold a
 * few rows, so per-pattern work is per-row work; here rows of many small
 * patterns share one block and the only per-pattern work is a Cholesky
 * factor of the m x m block P_mm of each precision (m missing features).
 *
 * Fill the missing entries with the component's means: e = x - mu, 0 in
 * the missing slots, and v = P e, from one product Y [P_1 .. P_K] for the
 * block (y = x - g, 0 where missing; g the mean of the means) and a
 * per-pattern shift. Minimising the quadratic form over the missing
 * entries gives (Schur complement of P_mm):
 *   (x_o - mu_o)^T S_oo^{-1} (x_o - mu_o) = e^T v - v_m^T P_mm^{-1} v_m
 *   xhat_m = mu_m - P_mm^{-1} v_m,     C = P_mm^{-1}
 *   log det S_oo = log det S + log det P_mm
 * so a row costs O(d) per component plus two m x m triangular solves.
 * The subtracted term is the conditional mean's distance from mu_m, so
 * the difference keeps its digits unless that distance dwarfs the
 * observed part's (the tests bound it against the brute-force reference).
 * The statistics come from moments about g with one product for all
 * components (or, when re-centring would lose digits, one rank-nb update
 * per component of the filled rows). */
#include "gms_missing_internal.h"
#include "gms_fastmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.8378770664093454835606594728112
/* Patterns with fewer rows in a block add their shifts' terms row by row. */
#define GMS_MISSING_SHORT_SEGMENT 8
/* Rows ahead whose data the block's gather prefetches. */
#define GMS_MISSING_PREFETCH 8
#if defined(__GNUC__) || defined(__clang__)
#define GMS_PREFETCH(p) __builtin_prefetch(p)
#else
#define GMS_PREFETCH(p) ((void)(p))
#endif

/* The block's products: Y (nb x d, column-major, 0 where the row's
 * pattern misses the feature) and V = Y [P_w] (nb x n_w d). */
static void mixed_products(const pass_args *a, scratch *s, const int64_t *order, ptrdiff_t lo,
                           ptrdiff_t nb, ptrdiff_t n_seg, const uint8_t *observed)
{
    const ptrdiff_t d = a->d, n_w = a->cov_type == GMS_FULL ? a->k : 1;
    double *Y = s->my;
    for (ptrdiff_t i = 0; i < nb; i++) {
        /* the rows are in pattern order, scattered over X: fetch ahead */
        if (i + GMS_MISSING_PREFETCH < nb) {
            const char *ahead = (const char *)(a->X + order[lo + i + GMS_MISSING_PREFETCH] * d);
            for (ptrdiff_t b = 0; b < d * (ptrdiff_t)sizeof(double); b += 64)
                GMS_PREFETCH(ahead + b);
        }
        const double *x = a->X + order[lo + i] * d;
        for (ptrdiff_t j = 0; j < d; j++) Y[j * nb + i] = x[j] - a->g[j];
    }
    for (ptrdiff_t sg = 0; sg < n_seg; sg++) {
        const uint8_t *obs = observed + s->mpat[sg] * d;
        for (ptrdiff_t j = 0; j < d; j++)
            if (!obs[j])
                for (ptrdiff_t i = s->mseg[sg]; i < s->mseg[sg + 1]; i++) Y[j * nb + i] = 0.0;
    }
    char no = 'N';
    int inb = (int)nb, ncol = (int)(n_w * d), id = (int)d;
    double one = 1.0, zero = 0.0;
    a->dgemm(&no, &no, &inb, &ncol, &id, &one, Y, &inb, (double *)a->p, &id, &zero, s->mv, &inb);
}

/* Rows i0 .. i1 (one pattern): s->mq (k x nb) = e^T v of every row and
 * component with e_m = 0, and s->xh (k x d) = P (mu - g) - P_:m (mu_m -
 * g_m), so that v = P y - xh; the loops run over rows and vectorise. */
GMS_HOT static void mixed_quadratic(const pass_args *a, scratch *s, ptrdiff_t nb,
                                    ptrdiff_t i0, ptrdiff_t i1)
{
    const ptrdiff_t d = a->d, k = a->k, m = s->m;
    for (ptrdiff_t c = 0; c < k; c++) {
        const ptrdiff_t w = a->cov_type == GMS_FULL ? c : 0;
        const double *V = s->mv + w * d * nb, *P = a->p + w * d * d, *dmu = a->dmu + c * d;
        double *pd = s->xh + c * d, *q = s->mq + c * nb;
        /* P (mu - g) - P_:m (mu_m - g_m): the pattern's fill is mu_m */
        for (ptrdiff_t j = 0; j < d; j++) {
            double t = a->pd[c * d + j];
            for (ptrdiff_t l = 0; l < m; l++) t -= P[j * d + s->mi[l]] * dmu[s->mi[l]];
            pd[j] = t;
        }
        for (ptrdiff_t i = i0; i < i1; i++) q[i] = 0.0;
        for (ptrdiff_t b = 0; b < s->q; b++) {
            const ptrdiff_t j = s->o[b];
            const double dm = dmu[j], pj = pd[j];
            const double *y = s->my + j * nb, *v = V + j * nb;
            for (ptrdiff_t i = i0; i < i1; i++) q[i] += (y[i] - dm) * (v[i] - pj);
        }
    }
}

/* Factors of pattern `obs` (o, mi, q, m into s): per precision, the
 * Cholesky factor of P_mm (lower, row-major, in s->ml) and, when used,
 * the upper triangle of C = P_mm^{-1} (s->mc, row-major); the components'
 * log normalisers (s->mn). -1 when a P_mm is not positive definite. */
static int mixed_factors(const pass_args *a, scratch *s, const uint8_t *obs)
{
    const ptrdiff_t d = a->d, k = a->k, n_w = a->cov_type == GMS_FULL ? k : 1;
    s->q = s->m = 0;
    for (ptrdiff_t j = 0; j < d; j++) {
        if (obs[j]) s->o[s->q++] = j;
        else s->mi[s->m++] = j;
    }
    const ptrdiff_t m = s->m;
    for (ptrdiff_t w = 0; w < n_w; w++) {
        const double *P = a->p + w * d * d;
        double *L = s->ml + w * d * d, *C = s->mc + w * d * d, *inv = s->z;
        double logdet_mm;
        if (gms_missing_block_cholesky(P, d, s->mi, m, L, inv, &logdet_mm) != 0) return -1;
        /* the diagonal of L replaced by its inverse: the solves multiply */
        for (ptrdiff_t j = 0; j < m; j++) L[j * m + j] = inv[j];
        /* column b of C (= row b) from L L^T col = e_b; the stats read
         * C[b][b..m) only, so the forward solve starts at b (the entries
         * above are 0) and the backward solve stops at b */
        for (ptrdiff_t b = 0; b < m && a->need_c; b++) {
            double *col = C + b * m;
            for (ptrdiff_t i = b; i < m; i++) {
                double v = (i == b) ? 1.0 : 0.0;
                for (ptrdiff_t t = b; t < i; t++) v -= L[i * m + t] * col[t];
                col[i] = v * L[i * m + i];
            }
            for (ptrdiff_t i = m - 1; i >= b; i--) {
                double v = col[i];
                for (ptrdiff_t t = i + 1; t < m; t++) v -= L[t * m + i] * col[t];
                col[i] = v * L[i * m + i];
            }
        }
        const double base = -0.5 * ((double)s->q * LOG_2PI + a->logdet[w] + logdet_mm);
        if (a->cov_type == GMS_FULL) s->mn[w] = a->log_w[w] + base;
        else for (ptrdiff_t c = 0; c < k; c++) s->mn[c] = a->log_w[c] + base;
    }
    return 0;
}

/* Rows i0 .. i1 of the block (one pattern, factors in s): log p_k into
 * s->lp and the conditional means' shifts t = P_mm^{-1} v_m into s->mt
 * (k x d x nb: t_j of component c at (c d + j) nb + i). The solves run
 * over the rows in the inner loops, so they vectorise; each row's
 * operations are the same in the same order whatever the vector width. */
GMS_HOT static void mixed_rows(const pass_args *a, scratch *s, ptrdiff_t nb, ptrdiff_t i0,
                               ptrdiff_t i1)
{
    const ptrdiff_t d = a->d, k = a->k, m = s->m;
    double *U = s->mf, *uu = s->my + d * nb;   /* m x nb and nb, free until the stats */
    for (ptrdiff_t c = 0; c < k; c++) {
        const ptrdiff_t w = a->cov_type == GMS_FULL ? c : 0;
        const double *V = s->mv + w * d * nb, *L = s->ml + w * d * d;
        const double *pd = s->xh + c * d, *dmu = a->dmu + c * d;
        double *T = s->mt + c * d * nb;
        for (ptrdiff_t i = i0; i < i1; i++) uu[i] = 0.0;
        for (ptrdiff_t j = 0; j < m; j++) {
            const double *v = V + s->mi[j] * nb, pj = pd[s->mi[j]], dj = L[j * m + j];
            double *u = U + j * nb;
            for (ptrdiff_t i = i0; i < i1; i++) u[i] = v[i] - pj;
            for (ptrdiff_t l = 0; l < j; l++) {
                const double ljl = L[j * m + l], *ul = U + l * nb;
                for (ptrdiff_t i = i0; i < i1; i++) u[i] -= ljl * ul[i];
            }
            for (ptrdiff_t i = i0; i < i1; i++) {
                u[i] *= dj;
                uu[i] += u[i] * u[i];
            }
        }
        for (ptrdiff_t j = m - 1; j >= 0; j--) {
            const double dj = L[j * m + j], *u = U + j * nb;
            double *t = T + j * nb;
            for (ptrdiff_t i = i0; i < i1; i++) t[i] = u[i];
            for (ptrdiff_t l = j + 1; l < m; l++) {
                const double llj = L[l * m + j], *tl = T + l * nb;
                for (ptrdiff_t i = i0; i < i1; i++) t[i] -= llj * tl[i];
            }
            for (ptrdiff_t i = i0; i < i1; i++) t[i] *= dj;
        }
        /* stored as g_m - xhat_m = t - (mu_m - g_m) */
        for (ptrdiff_t j = 0; j < m; j++) {
            const double dmj = dmu[s->mi[j]];
            double *t = T + j * nb;
            for (ptrdiff_t i = i0; i < i1; i++) t[i] -= dmj;
        }
        const double *q = s->mq + c * nb;
        for (ptrdiff_t i = i0; i < i1; i++)
            s->lp[i * k + c] = s->mn[c] - 0.5 * (q[i] - uu[i]);
    }
}

/* Component c's statistics of the block from its filled rows (xfill -
 * centre, nb x d column-major) scaled by the square roots sq of the
 * weights: s1 += F^T sq, s2 += F^T F. */
GMS_HOT static void mixed_fill(const pass_args *a, scratch *s, ptrdiff_t nb,
                               const ptrdiff_t *seg, ptrdiff_t n_seg, const int64_t *seg_pat,
                               const uint8_t *observed, ptrdiff_t c, double *sq)
{
    const ptrdiff_t d = a->d;
    const double *rw = s->rw + c * nb, *cen = a->centres + c * d;
    double *F = s->mf;
    for (ptrdiff_t i = 0; i < nb; i++) sq[i] = sqrt(rw[i]);
    for (ptrdiff_t j = 0; j < d; j++) {
        const double gc = a->g[j] - cen[j];
        const double *y = s->my + j * nb;
        double *f = F + j * nb;
        for (ptrdiff_t i = 0; i < nb; i++) f[i] = (y[i] + gc) * sq[i];
    }
    for (ptrdiff_t sg = 0; sg < n_seg; sg++) {
        const uint8_t *obs = observed + seg_pat[sg] * d;
        for (ptrdiff_t j = 0, jm = 0; j < d; j++) {
            if (obs[j]) continue;
            const double *t = s->mt + (c * d + jm++) * nb;
            double *f = F + j * nb;
            for (ptrdiff_t i = seg[sg]; i < seg[sg + 1]; i++) f[i] -= t[i] * sq[i];
        }
    }
}

static void mixed_stats(const pass_args *a, scratch *s, ptrdiff_t nb, const ptrdiff_t *seg,
                        ptrdiff_t n_seg, const int64_t *seg_pat, const uint8_t *observed,
                        ptrdiff_t c, double *acc)
{
    const ptrdiff_t d = a->d, k = a->k;
    const double *rw = s->rw + c * nb;
    double rs = 0.0;
    for (ptrdiff_t i = 0; i < nb; i++) rs += rw[i];
    acc[c] += rs;
    if (rs == 0.0) return;
    double *sq = s->mq;   /* the quadratic forms are used up */
    mixed_fill(a, s, nb, seg, n_seg, seg_pat, observed, c, sq);
    char no = 'N', tr = 'T', lower = 'L';
    int inb = (int)nb, id = (int)d, ione = 1;
    double one = 1.0;
    a->dgemm(&tr, &no, &id, &ione, &inb, &one, s->mf, &inb, sq, &inb, &one,
             acc + k + c * d, &id);
    double *m2 = acc + k + k * d + (a->cov_type == GMS_FULL ? c * d * d : 0);
    /* row-major upper triangle = column-major lower */
    a->dsyrk(&lower, &tr, &id, &inb, &one, s->mf, &inb, &one, m2, &id);
}

/* The block's statistics from moments about g, all components at once
 * (as the per-pattern path does): with y = x - g (0 where missing) and
 * dl_c = -t_c the missing slots' shifts, xfill_c - g = y + dl_c, so
 *   sum r (xfill - g)(xfill - g)^T = [y, y y^T, 1]^T R (one product)
 *     + the (m, o), (o, m) and (m, m) terms of the shifts (per row),
 * then moved to each centre c = g + da: s2 = W - da W1^T - W1 da^T
 * + n da da^T. Returns 1 (nothing added) when that move would lose more
 * than 16 bits of a variance, or the rows do not fit the moment buffer:
 * the caller then takes the rank-update path. */
GMS_HOT static int mixed_moments(const pass_args *a, scratch *s, ptrdiff_t nb,
                                 const ptrdiff_t *seg, ptrdiff_t n_seg,
                                 const int64_t *seg_pat, const uint8_t *observed,
                                 double *acc)
{
    const ptrdiff_t d = a->d, k = a->k, qq = d + d * (d + 1) / 2 + 1;
    if (s->prows < nb) return 1;
    const double *Y = s->my;
    double *pm = s->pm, *col = pm;
    for (ptrdiff_t j = 0; j < d; j++, col += nb)
        for (ptrdiff_t i = 0; i < nb; i++) col[i] = Y[j * nb + i];
    for (ptrdiff_t aa = 0; aa < d; aa++)
        for (ptrdiff_t bb = aa; bb < d; bb++, col += nb) {
            const double *ya = Y + aa * nb, *yb = Y + bb * nb;
            for (ptrdiff_t i = 0; i < nb; i++) col[i] = ya[i] * yb[i];
        }
    for (ptrdiff_t i = 0; i < nb; i++) col[i] = 1.0;
    char no = 'N', tr = 'T';
    int iqq = (int)qq, ik = (int)k, inb = (int)nb;
    double one = 1.0, zero = 0.0;
    /* S (qq x k) = P^T (qq x nb) RW (nb x k), column-major */
    a->dgemm(&tr, &no, &iqq, &ik, &inb, &one, pm, &inb, s->rw, &inb, &zero, s->sm, &iqq);
    /* the shifts' terms per component: d (sum r dl) and d x d, the (m, o)
     * cross terms in full and the (m, m) terms halved (W adds ws + ws^T);
     * per pattern, [Y, 1]^T Z with Z = r dl for every component (one
     * product: row-by-row updates would chain through memory) */
    const ptrdiff_t per = d + d * d;
    double *mk = s->mk, *G = s->mk + k * per, *Z = s->mv, *A = s->my;
    for (ptrdiff_t j = 0; j < k * per; j++) mk[j] = 0.0;
    for (ptrdiff_t i = 0; i < nb; i++) A[d * nb + i] = 1.0;   /* the uu scratch is used up */
    for (ptrdiff_t sg = 0; sg < n_seg; sg++) {
        const uint8_t *obs = observed + seg_pat[sg] * d;
        ptrdiff_t m = 0, *mi = s->mi;
        const ptrdiff_t i0 = seg[sg], i1 = seg[sg + 1];
        for (ptrdiff_t j = 0; j < d; j++)
            if (!obs[j]) mi[m++] = j;
        if (m == 0) continue;
        if (i1 - i0 < GMS_MISSING_SHORT_SEGMENT) {   /* a product would cost more */
            for (ptrdiff_t c = 0; c < k; c++) {
                const double *rw = s->rw + c * nb, *T = s->mt + c * d * nb;
                double *w1s = mk + c * per, *ws = w1s + d;
                for (ptrdiff_t i = i0; i < i1; i++) {
                    if (rw[i] == 0.0) continue;
                    for (ptrdiff_t j = 0; j < m; j++) {
                        const double z = -(rw[i] * T[j * nb + i]);
                        double *row = ws + mi[j] * d;
                        for (ptrdiff_t l = 0; l < d; l++) row[l] += z * A[l * nb + i];
                        w1s[mi[j]] += z;
                        for (ptrdiff_t l = 0; l < m; l++) row[mi[l]] -= 0.5 * (z * T[l * nb + i]);
                    }
                }
            }
            continue;
        }
        for (ptrdiff_t c = 0; c < k; c++) {
            const double *rw = s->rw + c * nb, *T = s->mt + c * d * nb;
            for (ptrdiff_t j = 0; j < m; j++) {
                double *z = Z + (c * m + j) * nb;
                const double *t = T + j * nb;
                for (ptrdiff_t i = i0; i < i1; i++) z[i] = -(rw[i] * t[i]);
            }
        }
        int id1 = (int)(d + 1), ikm = (int)(k * m), ins = (int)(i1 - i0);
        /* G (d + 1 x k m) = A^T (d + 1 x ns) Z (ns x k m), column-major */
        a->dgemm(&tr, &no, &id1, &ikm, &ins, &one, A + i0, &inb, Z + i0, &inb, &zero, G, &id1);
        for (ptrdiff_t c = 0; c < k; c++) {
            const double *T = s->mt + c * d * nb;
            double *w1s = mk + c * per, *ws = w1s + d;
            for (ptrdiff_t j = 0; j < m; j++) {
                const double *gj = G + (c * m + j) * (d + 1), *z = Z + (c * m + j) * nb;
                double *row = ws + mi[j] * d;
                for (ptrdiff_t l = 0; l < d; l++) row[l] += gj[l];
                w1s[mi[j]] += gj[d];
                for (ptrdiff_t l = 0; l < m; l++) {
                    const double *t = T + l * nb;
                    double dd = 0.0;   /* sum r dl_j dl_l */
                    for (ptrdiff_t i = i0; i < i1; i++) dd -= z[i] * t[i];
                    row[mi[l]] += 0.5 * dd;
                }
            }
        }
    }
    for (int pass = 0; pass < 2; pass++)
        for (ptrdiff_t c = 0; c < k; c++) {
            const double *sc = s->sm + c * qq, *w1s = mk + c * per, *ws = w1s + d;
            const double *cen = a->centres + c * d, *g = a->g, *u = sc + d;
            const double n_c = sc[qq - 1];
            double *W = s->ww, *W1 = s->dl;
            for (ptrdiff_t aa = 0; aa < d; aa++) {
                W1[aa] = sc[aa] + w1s[aa];
                for (ptrdiff_t bb = aa; bb < d; bb++)
                    W[aa * d + bb] = u[bb - aa] + (ws[aa * d + bb] + ws[bb * d + aa]);
                u += d - aa;
            }
            if (pass == 0) {
                if (gms_missing_shift_loses_bits(W, W1, cen, g, n_c, d)) return 1;
                continue;
            }
            double *s1 = acc + k + c * d;
            double *m2 = acc + k + k * d + (a->cov_type == GMS_FULL ? c * d * d : 0);
            double rs = 0.0;
            for (ptrdiff_t i = 0; i < nb; i++) rs += s->rw[c * nb + i];
            acc[c] += rs;
            for (ptrdiff_t aa = 0; aa < d; aa++) {
                const double da = cen[aa] - g[aa];
                s1[aa] += W1[aa] - n_c * da;
                for (ptrdiff_t bb = aa; bb < d; bb++) {
                    const double db = cen[bb] - g[bb];
                    m2[aa * d + bb] += W[aa * d + bb] - da * W1[bb] - W1[aa] * db
                                       + n_c * da * db;
                }
            }
        }
    return 0;
}

/* Rows order[lo .. lo + nb) of the patterns p0, p0 + 1, ... (pat_start
 * gives their bounds), full / tied, with BLAS. */
int gms_missing_block_mixed(const pass_args *a, scratch *s, const int64_t *order,
                            ptrdiff_t lo, ptrdiff_t nb, const int64_t *pat_start, int64_t p0,
                            const uint8_t *observed, double *acc)
{
    const ptrdiff_t d = a->d, k = a->k, n_w = a->cov_type == GMS_FULL ? k : 1;
    ptrdiff_t *seg = s->mseg, n_seg = 0;
    int64_t *seg_pat = s->mpat;
    for (int64_t p = p0; pat_start[p] < lo + nb; p++) {
        const int64_t a0 = pat_start[p] > lo ? pat_start[p] : lo;
        const int64_t a1 = pat_start[p + 1] < lo + nb ? pat_start[p + 1] : lo + nb;
        if (a1 <= a0) continue;
        seg[n_seg] = (ptrdiff_t)(a0 - lo);
        seg_pat[n_seg++] = p;
        seg[n_seg] = (ptrdiff_t)(a1 - lo);
    }
    mixed_products(a, s, order, lo, nb, n_seg, observed);
    const int need_lp = a->resp_in == NULL || a->lse || a->logp;
    double *nk = acc;
    for (ptrdiff_t sg = 0; sg < n_seg; sg++) {
        if (mixed_factors(a, s, observed + seg_pat[sg] * d) != 0) return GMS_ERR_NONFINITE;
        mixed_quadratic(a, s, nb, seg[sg], seg[sg + 1]);
        mixed_rows(a, s, nb, seg[sg], seg[sg + 1]);
        for (ptrdiff_t i = seg[sg]; i < seg[sg + 1]; i++) {
            const int64_t row = order[lo + i];
            double lse = 0.0;
            if (need_lp) {
                int rc = gms_missing_row_posteriors(a, s, row, i, &lse);
                if (rc != GMS_OK) return rc;
            } else {
                memcpy(s->r + i * k, a->resp_in + row * k, sizeof(double) * (size_t)k);
            }
            if (!acc) continue;
            const double w = a->sw ? a->sw[row] : 1.0;
            acc[a->stride - 2] += w * lse;
            acc[a->stride - 1] += w;
            for (ptrdiff_t c = 0; c < k; c++) s->rw[c * nb + i] = s->r[i * k + c] * w;
        }
        if (!acc || s->m == 0) continue;
        /* the conditional covariances, once per pattern and component */
        for (ptrdiff_t c = 0; c < k; c++) {
            double rs = 0.0;
            for (ptrdiff_t i = seg[sg]; i < seg[sg + 1]; i++) rs += s->rw[c * nb + i];
            if (rs == 0.0) continue;
            const double *C = s->mc + (n_w > 1 ? c : 0) * d * d;
            double *m2 = acc + k + k * d + (a->cov_type == GMS_FULL ? c * d * d : 0);
            for (ptrdiff_t i = 0; i < s->m; i++)
                for (ptrdiff_t j = i; j < s->m; j++)
                    m2[s->mi[i] * d + s->mi[j]] += rs * C[i * s->m + j];
        }
    }
    if (!acc) return GMS_OK;
    (void)nk;
    if (mixed_moments(a, s, nb, seg, n_seg, seg_pat, observed, acc) == 0) return GMS_OK;
    for (ptrdiff_t c = 0; c < k; c++)
        mixed_stats(a, s, nb, seg, n_seg, seg_pat, observed, c, acc);
    return GMS_OK;
}
