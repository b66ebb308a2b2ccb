/* Internal interface of the missing-value kernel (gms_missing.c: the
 * driver, pattern factors and the row-by-row path; gms_missing_dense.c:
 * the BLAS block path of one pattern, full / tied; gms_missing_mixed.c:
 * the BLAS mixed-pattern blocks, full / tied). Not part of the API. */
#ifndef GMS_MISSING_INTERNAL_H
#define GMS_MISSING_INTERNAL_H

#include <math.h>

#include <stddef.h>
#include <stdint.h>

#include "gms_kernels.h"

/* Blocks of fewer rows skip BLAS (its call overhead exceeds the work). */
#define GMS_MISSING_BLAS_ROWS 16

/* When the full / tied BLAS path runs, patterns with a missing feature or
 * of fewer rows than this go through mixed-pattern blocks
 * (gms_missing_mixed.c); large complete patterns through the per-pattern
 * blocks, whose whitened products are cheaper without missing slots. */
#define GMS_MISSING_MIXED_BELOW GMS_MISSING_BLAS_ROWS

/* Fortran BLAS (scipy.linalg.cython_blas), called single-threaded. */
typedef void (*dgemm_fn)(char *, char *, int *, int *, int *, double *, double *, int *,
                         double *, int *, double *, double *, int *);
typedef void (*dsyrk_fn)(char *, char *, int *, int *, double *, double *, int *, double *,
                         double *, int *);

/* A pattern's factors for one component. */
typedef struct {
    double *bm;      /* full / tied: m x q column-major, P_mm^{-1} P_mo */
    double *c;       /* full / tied: m x m conditional covariance P_mm^{-1} */
    double *iv;      /* diag / spherical: d inverse variances */
    const double *u; /* full / tied: the component's U (d x d row-major) */
    double lognorm;  /* log w_k - (q log 2 pi + log det S_oo) / 2 */
} factor;

typedef struct {
    int cov_type;
    ptrdiff_t d, k;
    dgemm_fn dgemm;
    dsyrk_fn dsyrk;
    const double *X, *means, *covs, *log_w, *sw, *resp_in, *centres;
    double *lse, *logp, *resp_out, *impute, *impute_var;
    ptrdiff_t stride;
    const double *u, *p, *logdet; /* full / tied: U, P (n_cov x d x d), log det S */
    const double *g;              /* full / tied: the mean of the means (block centre) */
    const double *dmu, *pd;       /* full / tied: mu_c - g and P_c (mu_c - g), k x d */
    int need_c;                   /* the conditional covariances are used */
} pass_args;

/* Per-thread scratch of one slot. */
typedef struct {
    ptrdiff_t *o, *mi;           /* observed / missing feature indices */
    ptrdiff_t q, m;
    int64_t pattern;             /* the pattern the factors are of */
    factor *f;                   /* k factors */
    double *mat;                 /* factor storage */
    double *work;                /* d x d */
    double *lp, *r;              /* GMS_BLOCK_ROWS x k */
    double *e, *z, *xh;          /* d, d, k x d */
    double *rsum;                /* k */
    double *bd, *be, *bz;        /* GMS_BLOCK_ROWS x d each */
    /* the BLAS block path of full / tied (gms_missing_dense.c) */
    int64_t w_pattern;           /* pattern whose wall / wv are formed, or -1 */
    double *wall;                /* n_w q x q column-major: the L^{-1} of S_oo */
    double *wv;                  /* k x d: L^{-1} (mu_o - g_o) */
    double *zall;                /* rows x n_w q products */
    ptrdiff_t zrows;             /* rows zall holds */
    double *pm;                  /* prow x qq: [y, upper(y y^T), 1] rows */
    ptrdiff_t prows;
    double *sm;                  /* k x qq moments */
    double *rw;                  /* GMS_BLOCK_ROWS x k weights */
    double *dl;                  /* d: one row's missing shifts */
    double *mk;                  /* k x (m + q m + m m): per-component sums */
    double *ww;                  /* d x d */
    /* the mixed-pattern path (gms_missing_mixed.c), mixed-block rows nm */
    double *my, *mv, *mq, *mt;   /* nm x (d + 1), nm x k d, k x nm, k x d x nm */
    double *mf, *ml, *mc, *mn;   /* nm x d, k x d x d, k x d x d, k */
    ptrdiff_t *mseg;             /* nm + 1 segment bounds */
    int64_t *mpat;               /* nm segment patterns */
} scratch;

/* Doubles of the moment path's larger buffers (sized from d and k). */
#define GMS_MISSING_SCRATCH ((ptrdiff_t)1 << 19)

/* Rows of a mixed-pattern block: its k x d per-row buffers fit the scratch. */
static inline ptrdiff_t gms_missing_mixed_rows(ptrdiff_t d, ptrdiff_t k)
{
    ptrdiff_t r = GMS_MISSING_SCRATCH / (k * d);
    return r < 1 ? 1 : r > GMS_BLOCK_ROWS ? GMS_BLOCK_ROWS : r;
}

static inline int gms_missing_is_dense(int cov_type)
{
    return cov_type == GMS_FULL || cov_type == GMS_TIED;
}

/* gms_missing.c */
void gms_missing_add_conditional(const pass_args *a, const scratch *s, ptrdiff_t c,
                                 double rs, double *s2);
int gms_missing_row_posteriors(const pass_args *a, scratch *s, int64_t row, ptrdiff_t i,
                               double *lse_out);
/* gms_missing_dense.c: a block of GMS_MISSING_BLAS_ROWS+ rows of one
 * pattern (factors in s), full / tied, with BLAS */
int gms_missing_block_dense(const pass_args *a, scratch *s, const int64_t *order,
                            ptrdiff_t lo, ptrdiff_t nb, double *acc);
/* gms_missing_mixed.c: rows order[lo .. lo + nb) (at most
 * gms_missing_mixed_rows) of patterns p0, p0 + 1, ..., full / tied */
int gms_missing_block_mixed(const pass_args *a, scratch *s, const int64_t *order,
                            ptrdiff_t lo, ptrdiff_t nb, const int64_t *pat_start, int64_t p0,
                            const uint8_t *observed, double *acc);


/* Cholesky factor L (m x m, lower, row-major) of the block P[idx, idx] of
 * the d x d row-major matrix P, with inv[j] = 1 / L_jj and *logdet =
 * log det P[idx, idx]; -1 when the block is not positive definite. */
static inline int gms_missing_block_cholesky(const double *P, ptrdiff_t d,
                                             const ptrdiff_t *idx, ptrdiff_t m, double *L,
                                             double *inv, double *logdet)
{
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < m; j++)
        for (ptrdiff_t i = j; i < m; i++) {
            double v = P[idx[i] * d + idx[j]];
            for (ptrdiff_t t = 0; t < j; t++) v -= L[i * m + t] * L[j * m + t];
            if (i == j) {
                if (!(v > 0.0) || !isfinite(v)) return -1;
                L[j * m + j] = sqrt(v);
                inv[j] = 1.0 / L[j * m + j];
                acc += 2.0 * log(L[j * m + j]);
            } else {
                L[i * m + j] = v * inv[j];
            }
        }
    *logdet = acc;
    return 0;
}


/* Whether moving a component's second moments from about g to about its
 * centre (s2 = W - dk W1^T - W1 dk^T + n dk dk^T, dk = centre - g) would
 * cancel more than 16 bits of some diagonal entry: W (d x d, row-major),
 * W1 (d), the component's weight n_c; the callers then take their exact
 * fallback for the block. */
static inline int gms_missing_shift_loses_bits(const double *W, const double *W1,
                                               const double *centre, const double *g,
                                               double n_c, ptrdiff_t d)
{
    for (ptrdiff_t a = 0; a < d; a++) {
        const double da = centre[a] - g[a];
        const double scatter = W[a * d + a] - 2.0 * da * W1[a] + n_c * da * da;
        if (!(W[a * d + a] <= 0x1p16 * scatter) && W[a * d + a] > 0.0) return 1;
    }
    return 0;
}

#endif /* GMS_MISSING_INTERNAL_H */
