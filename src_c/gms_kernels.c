/* gmscore kernels: shared helpers, then the body for double and float. */
#include "gms_kernels.h"
#include "gms_fastmath.h"
#include "gms_reduce.h"
#include "gms_restarts.h"
#include "gms_dense_product.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

int gms_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int gms_omp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int gms_take_rows(const unsigned char *src, ptrdiff_t n_src, ptrdiff_t row_bytes,
                  const int64_t *order, ptrdiff_t n_out, unsigned char *out, int n_threads)
{
    if (n_src < 0 || n_out < 0 || row_bytes < 0) return GMS_ERR_ARG;
    int bad = 0;
    (void)n_threads;
    /* a gather is bound by memory traffic (and first touches of out):
     * threads only pay for tens of MB */
#ifdef _OPENMP
    const int threads = n_threads > 1 && n_out * row_bytes >= ((ptrdiff_t)8 << 20) ? n_threads : 1;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(| : bad)
#endif
    for (ptrdiff_t i = 0; i < n_out; ++i) {
        const int64_t r = order[i];
        if (r < 0 || r >= n_src) {
            bad |= 1;
            continue;
        }
        memcpy(out + i * row_bytes, src + r * row_bytes, (size_t)row_bytes);
    }
    return bad ? GMS_ERR_ARG : GMS_OK;
}

ptrdiff_t gms_s2_size(int cov_type, ptrdiff_t k, ptrdiff_t d)
{
    switch (cov_type) {
    case GMS_FULL: return k * d * d;
    /* tied: the pooled within-component scatter, one D x D */
    case GMS_TIED: return d * d;
    case GMS_DIAG:
    case GMS_SPHERICAL: return k * d;
    default: return 0;
    }
}

static inline ptrdiff_t gms_s2_offset(int cov_type, ptrdiff_t c, ptrdiff_t d)
{
    switch (cov_type) {
    case GMS_FULL: return c * d * d;
    case GMS_DIAG:
    case GMS_SPHERICAL: return c * d;
    default: return 0;
    }
}

static inline ptrdiff_t gms_min(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }

/*
 * Diag/spherical kernels work on tiles of GMS_CW components whose sums stay
 * in vector registers: the loop over a tile's components is written around
 * the loop over features (or rows), and GCC vectorises that outer loop
 * (one lane per component). It only does so when the inner loop has no
 * entry test (a do-while: there is always one feature and one row) and
 * the lane-wise loads have a constant stride in the inner loop, hence the
 * tile-major layouts: per tile of components, rows (or features) of
 * GMS_CW values, zero-padded past the last component.
 */
#define GMS_CW 8
#if defined(__GNUC__)
#define GMS_INLINE static inline __attribute__((always_inline))
#else
#define GMS_INLINE static inline
#endif

/* Components rounded up to whole tiles. */
static inline ptrdiff_t gms_tiled_k(ptrdiff_t k) { return (k + GMS_CW - 1) / GMS_CW * GMS_CW; }

/* Index of (row i, component c) in a tile-major block of nr rows. */
static inline ptrdiff_t gms_tiled_at(ptrdiff_t i, ptrdiff_t c, ptrdiff_t nr)
{
    return (c / GMS_CW) * nr * GMS_CW + i * GMS_CW + c % GMS_CW;
}

/* Index of (row i, component c) in a block of weights: tile-major or not. */
static inline ptrdiff_t gms_weight_at(ptrdiff_t i, ptrdiff_t c, ptrdiff_t nr, ptrdiff_t k, int tiled)
{
    return tiled ? gms_tiled_at(i, c, nr) : i * k + c;
}

/* A block's weights from given responsibilities: R (nr x k, or tile-major
 * with `tiled`, its padding zero) = sw[i] * resp[i, c] (sw NULL: weight 1),
 * in loops over whole tiles that vectorise; `weighted` is a constant after
 * inlining (a load behind `sw ? sw[i] : 1.0` would be a masked one). */
GMS_INLINE void gms_block_weights_of(double *restrict R, ptrdiff_t nr, ptrdiff_t k, int tiled,
                                     const double *restrict resp, const double *sw,
                                     const int weighted)
{
    if (!tiled) {
        for (ptrdiff_t i = 0; i < nr; ++i) {
            const double wt = weighted ? sw[i] : 1.0;
            for (ptrdiff_t c = 0; c < k; ++c) R[i * k + c] = wt * resp[i * k + c];
        }
        return;
    }
    for (ptrdiff_t c0 = 0; c0 < k; c0 += GMS_CW) {
        double *restrict dst = R + c0 * nr;
        const double *restrict r = resp + c0;
        const ptrdiff_t nc = k - c0;
        if (nc >= GMS_CW) {
            for (ptrdiff_t i = 0; i < nr; ++i) {
                const double wt = weighted ? sw[i] : 1.0;
                for (int c = 0; c < GMS_CW; ++c) dst[i * GMS_CW + c] = wt * r[i * k + c];
            }
        } else {
            for (ptrdiff_t i = 0; i < nr; ++i) {
                const double wt = weighted ? sw[i] : 1.0;
                for (int c = 0; c < GMS_CW; ++c)
                    dst[i * GMS_CW + c] = c < nc ? wt * r[i * k + c] : 0.0;
            }
        }
    }
}

GMS_HOT static void gms_block_weights(double *R, ptrdiff_t nr, ptrdiff_t k, int tiled,
                                      const double *resp, const double *sw)
{
    if (sw)
        gms_block_weights_of(R, nr, k, tiled, resp, sw, 1);
    else
        gms_block_weights_of(R, nr, k, tiled, resp, NULL, 0);
}

/*
 * Row groups of the full/tied statistics (see GMS_SCRATCH_DOUBLES). The
 * dense full path (accumulate_full_dense) forms q = D + D (D + 1) / 2 + 1
 * doubles per row (gms_dense_ld with the padding); it works on sub-blocks
 * of GMS_BLOCK_ROWS >> s rows, the largest that fit the budget with its
 * K x q product and 2 D doubles, and is not used (0) when fewer than
 * GMS_DENSE_MIN_ROWS rows fit: the sparse path then takes every block (its
 * rank updates do the same arithmetic with less overhead than small
 * sub-blocks; measured on AVX-512, D = 100 to 600). The sparse path's rank
 * updates take up to gms_sparse_rows(d) scaled rows at a time.
 */
#define GMS_DENSE_MIN_ROWS 64

static inline ptrdiff_t gms_dense_rows(ptrdiff_t d, ptrdiff_t k)
{
    const ptrdiff_t q = gms_dense_ld(d);
    if (q > GMS_SCRATCH_DOUBLES) return 0;
    const ptrdiff_t fit = (GMS_SCRATCH_DOUBLES - 2 * d) / q - k;
    ptrdiff_t rows = GMS_BLOCK_ROWS;
    while (rows > fit && rows >= 2 * GMS_DENSE_MIN_ROWS) rows /= 2;
    return rows <= fit ? rows : 0;
}

/* Whether hard-label full / tied statistics are added a row at a time
 * (accumulate_labels_rowwise) rather than by SYRK over each component's
 * rows of a block: per row that streams the component's D x D triangle
 * through L1, cheaper than the SYRK calls up to GMS_ROWWISE_MAX_D
 * features (measured), dearer beyond. Depends on D only. */
#define GMS_ROWWISE_MAX_D 32
static inline int gms_labels_rowwise(int cov_type, ptrdiff_t d)
{
    return (cov_type == GMS_FULL || cov_type == GMS_TIED) && d <= GMS_ROWWISE_MAX_D;
}

static inline ptrdiff_t gms_sparse_rows(ptrdiff_t d)
{
    const ptrdiff_t rows = GMS_SCRATCH_DOUBLES / d;
    return rows < 1 ? 1 : (rows > GMS_BLOCK_ROWS ? GMS_BLOCK_ROWS : rows);
}

static inline ptrdiff_t gms_n_blocks(ptrdiff_t n)
{
    return (n + GMS_BLOCK_ROWS - 1) / GMS_BLOCK_ROWS;
}

/* The slot count depends on the data size only, never on the thread count. */
static inline int gms_n_slots(ptrdiff_t n_blocks)
{
    return n_blocks < GMS_MAX_SLOTS ? (int)n_blocks : GMS_MAX_SLOTS;
}

/* First block of slot s: slots own contiguous, nearly equal runs of blocks. */
static inline ptrdiff_t gms_slot_begin(int s, ptrdiff_t n_blocks, int n_slots)
{
    return n_slots ? (ptrdiff_t)s * n_blocks / n_slots : 0;
}

#ifdef _OPENMP
static inline int gms_clamp_threads(int n_threads, ptrdiff_t n_tasks)
{
    if (n_threads < 1) n_threads = 1;
    if (n_tasks < 1) n_tasks = 1;
    return n_threads < n_tasks ? n_threads : (int)n_tasks;
}
#endif

/*
 * Row-wise post-processing kernels (no reductions across rows) share one
 * driver: `fn` handles rows [start, start + rows) of its `ctx`, blocks are
 * split statically over the threads.
 */
typedef void (*gms_rows_fn)(void *ctx, ptrdiff_t start, ptrdiff_t rows);

static void gms_for_row_blocks(ptrdiff_t n, int n_threads, gms_rows_fn fn, void *ctx)
{
    const ptrdiff_t nb = gms_n_blocks(n);
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(gms_clamp_threads(n_threads, nb))
#endif
    for (ptrdiff_t b = 0; b < nb; ++b) {
        const ptrdiff_t start = b * GMS_BLOCK_ROWS;
        fn(ctx, start, gms_min(GMS_BLOCK_ROWS, n - start));
    }
}

/*
 * Row i of a block of responsibilities, given its maximum log-density m[i]
 * and sum s[i] of exp(log-density - maximum): the row's maximum adds
 * exp(0) = 1, so s >= 1 unless the row has no finite value. m[i] becomes
 * the row's log-likelihood times its weight (-0, which adds nothing, for a
 * bad row) and s[i] the scaling of its exp values (0 for a bad row: zero
 * responsibilities). Returns 1 for a bad row. No test guards the
 * arithmetic, so that the loops calling it vectorise.
 */
GMS_INLINE int gms_finish_row(double *restrict m, double *restrict s, ptrdiff_t i, double wt)
{
    const int ok = s[i] >= 1.0;
    const double si = ok ? s[i] : 1.0;
    const double l = m[i] + gms_log_normal(si);
    const int good = ok & (fabs(l) <= DBL_MAX);
    const double wl = wt * l, scale = wt / si;
    m[i] = good ? wl : -0.0;
    s[i] = good ? scale : 0.0;
    return !good;
}

/*
 * Turn a block of weighted log-densities, component-major (T: k x nr, so
 * that the per-row maximum, exp, sum, log and scaling all vectorise over
 * rows; overwritten), into responsibilities times sample weights R, and
 * add the weighted log-likelihood of its rows to *ll (in row order). R is
 * row-major (nr x k), or tile-major with `tiled` (gms_tiled_at, nr *
 * gms_tiled_k(k) doubles; T then has room for gms_tiled_k(k) rows). Rows
 * with a non-finite log-likelihood get zero responsibilities; returns 1 if
 * there was any. `tmp` holds 2 * nr doubles.
 */
GMS_HOT static int gms_block_responsibilities(double *restrict T, ptrdiff_t nr, ptrdiff_t k,
                                              const double *w, double *ll, double *restrict R,
                                              int tiled, double *tmp)
{
    double *restrict m = tmp;
    double *restrict s = m + nr;
    for (ptrdiff_t i = 0; i < nr; ++i) m[i] = T[i];
    for (ptrdiff_t c = 1; c < k; ++c)
        for (ptrdiff_t i = 0; i < nr; ++i) m[i] = T[c * nr + i] > m[i] ? T[c * nr + i] : m[i];
    for (ptrdiff_t i = 0; i < nr; ++i) s[i] = 0.0;
    for (ptrdiff_t c = 0; c < k; ++c)
        for (ptrdiff_t i = 0; i < nr; ++i) {
            const double e = gms_exp_nonpositive(T[c * nr + i] - m[i]);
            T[c * nr + i] = e;
            s[i] += e;
        }
    /* rows with weights, or not: a load behind `w ? w[i] : 1.0` becomes a
     * masked load from NULL, very slow on some CPUs */
    int bad = 0;
    if (w)
        for (ptrdiff_t i = 0; i < nr; ++i) bad |= gms_finish_row(m, s, i, w[i]);
    else
        for (ptrdiff_t i = 0; i < nr; ++i) bad |= gms_finish_row(m, s, i, 1.0);
    double acc = *ll;
    for (ptrdiff_t i = 0; i < nr; ++i) acc += m[i];
    *ll = acc;
    if (tiled) {
        /* zero padding components, then a row of a tile at a time */
        for (ptrdiff_t i = k * nr; i < gms_tiled_k(k) * nr; ++i) T[i] = 0.0;
        for (ptrdiff_t c0 = 0; c0 < k; c0 += GMS_CW) {
            const double *Tc = T + c0 * nr;
            double *dst = R + c0 * nr;
            for (ptrdiff_t i = 0; i < nr; ++i)
                for (int c = 0; c < GMS_CW; ++c) dst[i * GMS_CW + c] = Tc[c * nr + i] * s[i];
        }
    } else {
        for (ptrdiff_t i = 0; i < nr; ++i)
            for (ptrdiff_t c = 0; c < k; ++c) R[i * k + c] = T[c * nr + i] * s[i];
    }
    return bad;
}

/*
 * Mixture states: out[i, s] = log sum_j exp(comp[i, s, j]) over the m
 * mixture components of each state (comp is n x k x m), and comp[i, s, :]
 * becomes the within-state weights exp(comp - out) (0 where the state is
 * impossible), from the same exps. The loops run over groups (i, s) in the
 * inner position and over j outside, so they vectorise across groups
 * whatever m is; the sums still add j in order.
 */
#define GMS_GROUPS 256
GMS_HOT static void gms_group_lse_rows(double *comp, ptrdiff_t rows, ptrdiff_t k,
                                       ptrdiff_t m, double *out)
{
    double mx[GMS_GROUPS], s[GMS_GROUPS];
    for (ptrdiff_t g0 = 0; g0 < rows * k; g0 += GMS_GROUPS) {
        const ptrdiff_t ng = rows * k - g0 < GMS_GROUPS ? rows * k - g0 : GMS_GROUPS;
        double *v = comp + g0 * m;
        for (ptrdiff_t i = 0; i < ng; ++i) {
            mx[i] = v[i * m];
            s[i] = 0.0;
        }
        for (ptrdiff_t j = 1; j < m; ++j)
            for (ptrdiff_t i = 0; i < ng; ++i) {
                const double x = v[i * m + j];
                mx[i] = x > mx[i] ? x : mx[i];
            }
        for (ptrdiff_t j = 0; j < m; ++j)
            for (ptrdiff_t i = 0; i < ng; ++i) {
                const double e = gms_exp_nonpositive(v[i * m + j] - mx[i]);
                v[i * m + j] = e;
                s[i] += e;
            }
        /* s is in [1, m] where mx is finite; an infinite or NaN maximum is
         * the answer itself, and its state gets no weight */
        for (ptrdiff_t i = 0; i < ng; ++i) {
            const int ok = mx[i] > -INFINITY && mx[i] < INFINITY;
            const double l = gms_log_normal(ok ? s[i] : 1.0);
            out[g0 + i] = ok ? mx[i] + l : mx[i];
            s[i] = ok ? 1.0 / s[i] : 0.0;
        }
        for (ptrdiff_t j = 0; j < m; ++j)
            for (ptrdiff_t i = 0; i < ng; ++i) v[i * m + j] *= s[i];
    }
}

typedef struct {
    double *comp;
    double *out;
    ptrdiff_t k, m;
} gms_group_ctx;

static void gms_group_lse_block(void *ctx, ptrdiff_t start, ptrdiff_t rows)
{
    const gms_group_ctx *c = (const gms_group_ctx *)ctx;
    gms_group_lse_rows(c->comp + start * c->k * c->m, rows, c->k, c->m, c->out + start * c->k);
}

int gms_group_logsumexp(double *comp, ptrdiff_t n, ptrdiff_t k, ptrdiff_t m, double *out,
                        int n_threads)
{
    if (n < 0 || k < 1 || m < 1) return GMS_ERR_ARG;
    gms_group_ctx ctx = {comp, out, k, m};
    gms_for_row_blocks(n, n_threads, gms_group_lse_block, &ctx);
    return GMS_OK;
}

/* comp[i, s, j] <- gamma[i, s] * comp[i, s, j]: each (state, mixture)
 * pair's share of frame i, from the within-state weights. */
GMS_HOT static void gms_mixture_resp_rows(double *comp, const double *gamma, ptrdiff_t rows,
                                          ptrdiff_t k, ptrdiff_t m)
{
    for (ptrdiff_t j = 0; j < m; ++j)
        for (ptrdiff_t i = 0; i < rows * k; ++i) comp[i * m + j] *= gamma[i];
}

typedef struct {
    double *comp;
    const double *gamma;
    ptrdiff_t k, m;
} gms_mixture_ctx;

static void gms_mixture_resp_block(void *ctx, ptrdiff_t start, ptrdiff_t rows)
{
    const gms_mixture_ctx *c = (const gms_mixture_ctx *)ctx;
    gms_mixture_resp_rows(c->comp + start * c->k * c->m, c->gamma + start * c->k, rows, c->k,
                          c->m);
}

int gms_mixture_responsibilities(double *comp, const double *gamma, ptrdiff_t n, ptrdiff_t k,
                                 ptrdiff_t m, int n_threads)
{
    if (n < 0 || k < 1 || m < 1) return GMS_ERR_ARG;
    gms_mixture_ctx ctx = {comp, gamma, k, m};
    gms_for_row_blocks(n, n_threads, gms_mixture_resp_block, &ctx);
    return GMS_OK;
}

/* One row of gms_row_lse_rows. */
static inline void gms_row_lse_one(double *v, ptrdiff_t k, double *lse, int to_proba)
{
    double mx = v[0];
    for (ptrdiff_t c = 1; c < k; ++c) mx = v[c] > mx ? v[c] : mx;
    if (!(mx > -INFINITY) || !isfinite(mx)) {
        *lse = mx;
        if (to_proba)
            for (ptrdiff_t c = 0; c < k; ++c) v[c] = NAN;
        return;
    }
    double s = 0.0;
    if (to_proba) {
        for (ptrdiff_t c = 0; c < k; ++c) {
            v[c] = gms_exp_nonpositive(v[c] - mx);
            s += v[c];
        }
        const double inv = 1.0 / s;
        for (ptrdiff_t c = 0; c < k; ++c) v[c] *= inv;
    } else {
        for (ptrdiff_t c = 0; c < k; ++c) s += gms_exp_nonpositive(v[c] - mx);
    }
    *lse = mx + gms_log_normal(s); /* s in [1, k] */
}

/* Rows per tile of gms_row_lse_rows, and the most components it tiles. */
enum { GMS_LSE_TILE = 8, GMS_LSE_MAX_K = 64 };

/* Per row of lp (rows x k, row-major): lse = log-sum-exp, and with
 * to_proba the row replaced in place by its posterior probabilities
 * exp(lp - lse). A row whose
 * maximum is not finite gets it as lse (and NaN probabilities). Tiles of
 * GMS_LSE_TILE rows are transposed so that the exponentials and sums run
 * across rows in SIMD lanes; each row's terms are added in the same order
 * as row by row, so the bits are those of gms_row_lse_one. */
GMS_HOT static void gms_row_lse_rows(double *lp, ptrdiff_t rows, ptrdiff_t k, double *lse,
                                     int to_proba)
{
    enum { T = GMS_LSE_TILE };
    ptrdiff_t i0 = 0;
    if (k <= GMS_LSE_MAX_K)
        for (; i0 + T <= rows; i0 += T) {
            double t[GMS_LSE_MAX_K * T], mx[T], s[T];
            double *v = lp + i0 * k;
            for (ptrdiff_t c = 0; c < k; ++c)
                for (int l = 0; l < T; ++l) t[c * T + l] = v[l * k + c];
            for (int l = 0; l < T; ++l) mx[l] = t[l];
            for (ptrdiff_t c = 1; c < k; ++c)
                for (int l = 0; l < T; ++l) mx[l] = t[c * T + l] > mx[l] ? t[c * T + l] : mx[l];
            int finite = 1;
            for (int l = 0; l < T; ++l) finite &= mx[l] > -INFINITY && isfinite(mx[l]);
            if (!finite) {  /* rare: row by row */
                for (int l = 0; l < T; ++l) gms_row_lse_one(v + l * k, k, lse + i0 + l, to_proba);
                continue;
            }
            for (int l = 0; l < T; ++l) s[l] = 0.0;
            for (ptrdiff_t c = 0; c < k; ++c)
                for (int l = 0; l < T; ++l) {
                    const double e = gms_exp_nonpositive(t[c * T + l] - mx[l]);
                    t[c * T + l] = e;
                    s[l] += e;
                }
            if (to_proba) {
                double inv[T];
                for (int l = 0; l < T; ++l) inv[l] = 1.0 / s[l];
                for (ptrdiff_t c = 0; c < k; ++c)
                    for (int l = 0; l < T; ++l) v[l * k + c] = t[c * T + l] * inv[l];
            }
            for (int l = 0; l < T; ++l) lse[i0 + l] = mx[l] + gms_log_normal(s[l]);
        }
    for (ptrdiff_t i = i0; i < rows; ++i) gms_row_lse_one(lp + i * k, k, lse + i, to_proba);
}

/* Index of each row's largest entry (the first on ties). */
static void gms_row_argmax(const double *lp, ptrdiff_t rows, ptrdiff_t k, int64_t *labels)
{
    for (ptrdiff_t i = 0; i < rows; ++i) {
        const double *v = lp + i * k;
        ptrdiff_t best = 0;
        for (ptrdiff_t c = 1; c < k; ++c)
            if (v[c] > v[best]) best = c;
        labels[i] = best;
    }
}

/* Index of each row's largest entry (the first on ties) and, in rowmax,
 * that entry: what predict needs, without the exponentials of the
 * log-sum-exp. A row with a NaN entry gets NaN in rowmax, so that the
 * caller's finiteness test on rowmax catches it as it catches a NaN
 * log-sum-exp (rowmax is finite exactly when the log-sum-exp is). The
 * log-densities are component-major (lp[c * rows + i]): the loops run over
 * rows, so they vectorise, without a mispredicted branch per comparison. */
GMS_HOT static void gms_col_argmax_max(const double *lp, ptrdiff_t rows, ptrdiff_t k,
                                       int64_t *labels, double *rowmax)
{
    unsigned char nan[GMS_BLOCK_ROWS];
    for (ptrdiff_t i = 0; i < rows; ++i) {
        rowmax[i] = lp[i];
        labels[i] = 0;
        nan[i] = lp[i] != lp[i];
    }
    for (ptrdiff_t c = 1; c < k; ++c) {
        const double *v = lp + c * rows;
        for (ptrdiff_t i = 0; i < rows; ++i) {
            const int gt = v[i] > rowmax[i];
            nan[i] |= v[i] != v[i];
            rowmax[i] = gt ? v[i] : rowmax[i];
            labels[i] = gt ? (int64_t)c : labels[i];
        }
    }
    for (ptrdiff_t i = 0; i < rows; ++i)
        if (nan[i]) rowmax[i] = NAN;
}

/* The fast exp and log over arrays, for the accuracy tests. */
void gms_fast_exp_log(const double *x, ptrdiff_t n, double *out_exp, double *out_log)
{
    for (ptrdiff_t i = 0; i < n; ++i) {
        out_exp[i] = gms_exp_nonpositive(x[i] <= 0 ? x[i] : -x[i]);
        out_log[i] = x[i] == 0 ? 0.0 : gms_log_normal(x[i] > 0 ? x[i] : -x[i]);
    }
}

/*
 * Sum per-slot accumulators into the outputs in slot order. Each slot holds
 * [a (na) | b (nb) | c (nc) | scalar?] back to back; `scalar` may be NULL.
 */
static void gms_reduce_slots(const double *acc, int n_slots, ptrdiff_t stride,
                             double *a, ptrdiff_t na, double *b, ptrdiff_t nb,
                             double *c, ptrdiff_t nc, double *scalar)
{
    if (na) memset(a, 0, (size_t)na * sizeof(double));
    if (nb) memset(b, 0, (size_t)nb * sizeof(double));
    if (nc) memset(c, 0, (size_t)nc * sizeof(double));
    if (scalar) *scalar = 0.0;
    for (int s = 0; s < n_slots; ++s) {
        const double *p = acc + s * stride;
        for (ptrdiff_t i = 0; i < na; ++i) a[i] += p[i];
        p += na;
        for (ptrdiff_t i = 0; i < nb; ++i) b[i] += p[i];
        p += nb;
        for (ptrdiff_t i = 0; i < nc; ++i) c[i] += p[i];
        p += nc;
        if (scalar) *scalar += *p;
    }
}

/* BLAS entry points (Fortran calling convention), registered by the
 * Python bindings from scipy.linalg.cython_blas; NULL means plain loops. */
typedef void (*gms_dgemm_fn)(char *, char *, int *, int *, int *, double *, double *,
                             int *, double *, int *, double *, double *, int *);
typedef void (*gms_sgemm_fn)(char *, char *, int *, int *, int *, float *, float *,
                             int *, float *, int *, float *, float *, int *);
typedef void (*gms_dsyrk_fn)(char *, char *, int *, int *, double *, double *, int *,
                             double *, double *, int *);
static gms_dgemm_fn gms_blas_dgemm = NULL;
static gms_sgemm_fn gms_blas_sgemm = NULL;
static gms_dsyrk_fn gms_blas_dsyrk = NULL;

void gms_set_blas(void *dgemm, void *sgemm, void *dsyrk)
{
    gms_blas_dgemm = (gms_dgemm_fn)dgemm;
    gms_blas_sgemm = (gms_sgemm_fn)sgemm;
    gms_blas_dsyrk = (gms_dsyrk_fn)dsyrk;
    gms_blas_threads_bind(dgemm != NULL ? dgemm : dsyrk);
}

#define REAL double
#define SFX d
#define GMS_GEMM gms_blas_dgemm
#include "gms_kernels_impl.h"
#include "gms_restarts_impl.h"
#undef REAL
#undef SFX
#undef GMS_GEMM

/* ------------------------------------- prepared log-densities (double) */
/* The prediction pass's block code for callers that walk their own blocks
 * (gms_topc.c): prepare once, then log_prob_block and the row
 * log-sum-exp per block, so no scorer keeps a copy of the E-step's tiles. */
struct gms_lp_plan {
    prep_d p;
};
struct gms_lp_work {
    work_d w;
    ptrdiff_t rows;
};

gms_lp_plan *gms_lp_plan_new(int cov_type, ptrdiff_t d, ptrdiff_t k, const double *means,
                             const double *prec_chol, const double *log_norm)
{
    if (d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL) return NULL;
    gms_lp_plan *plan = (gms_lp_plan *)malloc(sizeof(*plan));
    if (plan == NULL) return NULL;
    if (prepare_d(&plan->p, cov_type, d, k, means, prec_chol, log_norm) != GMS_OK) {
        free(plan);
        return NULL;
    }
    return plan;
}

void gms_lp_plan_free(gms_lp_plan *plan)
{
    if (plan == NULL) return;
    release_d(&plan->p);
    free(plan);
}

int gms_lp_calls_blas(int cov_type, ptrdiff_t d)
{
    return calls_blas_d(cov_type) && !(cov_type == GMS_FULL && d <= GMS_SMALL_D);
}

gms_lp_work *gms_lp_work_new(const gms_lp_plan *plan, ptrdiff_t rows)
{
    if (plan == NULL || rows < 1 || rows > GMS_BLOCK_ROWS) return NULL;
    gms_lp_work *w = (gms_lp_work *)malloc(sizeof(*w));
    if (w == NULL) return NULL;
    if (work_alloc_predict_d(&w->w, &plan->p, rows) != GMS_OK) {
        free(w);
        return NULL;
    }
    w->rows = rows;
    return w;
}

void gms_lp_work_free(gms_lp_work *w)
{
    if (w == NULL) return;
    work_free_d(&w->w);
    free(w);
}

void gms_lp_rows(const gms_lp_plan *plan, gms_lp_work *w, const double *X, ptrdiff_t nr,
                 double *lp, int cmajor, double *lse)
{
    if (nr < 1 || nr > w->rows) return;
    log_prob_block_d(&plan->p, X, nr, lp, cmajor, &w->w);
    if (lse != NULL && !cmajor) gms_row_lse_rows(lp, nr, plan->p.k, lse, 0);
}

#define REAL float
#define SFX f
#define GMS_GEMM gms_blas_sgemm
#include "gms_kernels_impl.h"
#include "gms_restarts_impl.h"
#undef REAL
#undef SFX
#undef GMS_GEMM

/* ------------------------------------------------- a fit's work memory */
int gms_fit_work_bytes(int cov_type, ptrdiff_t k, ptrdiff_t d, int64_t n, size_t *shared,
                       size_t *per_thread)
{
    if (k < 1 || d < 1 || n < 0 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL)
        return GMS_ERR_ARG;
    const size_t leaf = (size_t)(k + k * d + gms_s2_size(cov_type, k, d) + 2) * sizeof(double);
    /* stats_pass: a wave of up to 256 leaves (and no more than the pass
     * has; n == 0: unknown) within ~32 MB, at least one per thread
     * (counted with the thread) */
    int64_t leaves = (gms_n_blocks((ptrdiff_t)n) + GMS_LEAF_BLOCKS - 1) / GMS_LEAF_BLOCKS;
    size_t wave = ((size_t)32 << 20) / leaf;
    if (wave > 256) wave = 256;
    if (n > 0 && wave > (size_t)leaves) wave = (size_t)leaves;
    /* the reducer: its stack (floor(log2 leaves) + 1 sums), its open leaf,
     * and the total a one-call form unpacks */
    size_t sums = 3;
    while (leaves > 1) {
        leaves >>= 1;
        ++sums;
    }
    /* double input needs the most; float is counted for completeness */
    const size_t prep_d = prep_bytes_d(cov_type, d, k), prep_f = prep_bytes_f(cov_type, d, k);
    const size_t work_d = work_bytes_d(cov_type, d, k), work_f = work_bytes_f(cov_type, d, k);
    *shared = (prep_d > prep_f ? prep_d : prep_f) + (wave + sums) * leaf;
    *per_thread = (work_d > work_f ? work_d : work_f) + leaf;
    return GMS_OK;
}

/* One small BLAS call (rank update of a 2 x 2), so that the BLAS library
 * sets up its buffers for the calling thread. */
void gms_blas_touch(void)
{
    double a[4] = {1.0, 0.0, 0.0, 1.0}, c[4] = {0.0, 0.0, 0.0, 0.0};
    if (gms_blas_dsyrk != NULL) {
        char lo = 'L', no = 'N';
        int n_ = 2, k_ = 2, lda = 2;
        double one = 1.0;
        gms_blas_dsyrk(&lo, &no, &n_, &k_, &one, a, &lda, &one, c, &n_);
    }
}

ptrdiff_t gms_kmeans_choice(const double *w, ptrdiff_t n, double total, double u)
{
    /* numpy: cdf = cumsum(p); cdf /= cdf[-1]; searchsorted(cdf, u, 'right') */
    if (n < 1) return 0;
    const double unit = 1.0 / total;
    double last = 0.0;
    for (ptrdiff_t i = 0; i < n; ++i) last += w ? w[i] / total : unit;
    double c = 0.0;
    for (ptrdiff_t i = 0; i < n; ++i) {
        c += w ? w[i] / total : unit;
        if (c / last > u) return i;
    }
    return n - 1;
}
