/*
 * Internal to the HMM kernels (gms_hmm.c, gms_hmm_scaled.c,
 * gms_hmm_viterbi.c): the model in the forms the recursions want, the
 * checks they share, and the scaled forward-backward.
 */
#ifndef GMS_HMM_INTERNAL_H
#define GMS_HMM_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Vector width the padded recursions are written for (doubles). */
#define GMS_HMM_LANES 8

typedef struct {
    ptrdiff_t k;
    ptrdiff_t kp;         /* k rounded up to GMS_HMM_LANES */
    const double *pi;     /* K */
    const double *A;      /* K x K, linear */
    double *log_pi;       /* K */
    double *log_A;        /* K x K, -inf for structural zeros */
    double *AT;           /* K x K, A transposed (for A @ v with unit stride) */
    double *pi_p;         /* kp, zero-padded */
    double *A_p;          /* kp x kp, zero-padded */
    double *AT_p;         /* kp x kp, zero-padded transpose */
    void *mem;            /* the one allocation behind the arrays above */
} hmm_model;

/* The model's log and padded forms in one allocation (m->mem; free it). */
int gms_hmm_model_init(hmm_model *m, ptrdiff_t k, const double *pi, const double *A);

/* GMS_OK when offsets[0] == 0 and every sequence has at least one frame. */
int gms_hmm_check_offsets(const int64_t *offsets, ptrdiff_t n_seq);

/* Threads for n_tasks independent tasks: at least 1, at most n_tasks. */
static inline int gms_hmm_clamp_threads(int n_threads, ptrdiff_t n_tasks)
{
    if (n_threads < 1) n_threads = 1;
    if (n_tasks < 1) n_tasks = 1;
    return n_threads < n_tasks ? n_threads : (int)n_tasks;
}

/* Largest entry of v[0:k], or NaN when some entry is NaN (the exps that
 * follow a maximum must not turn a NaN into a number): four independent
 * running maxima, a shorter dependency chain than one (the maximum does
 * not depend on the order). */
static inline double gms_hmm_max_of(const double *v, ptrdiff_t k)
{
    double m0 = v[0], m1 = v[0], m2 = v[0], m3 = v[0];
    int nan = v[0] != v[0];
    ptrdiff_t i = 1;
    for (; i + 4 <= k; i += 4) {
        nan |= (v[i] != v[i]) | (v[i + 1] != v[i + 1]) | (v[i + 2] != v[i + 2]) |
               (v[i + 3] != v[i + 3]);
        m0 = v[i] > m0 ? v[i] : m0;
        m1 = v[i + 1] > m1 ? v[i + 1] : m1;
        m2 = v[i + 2] > m2 ? v[i + 2] : m2;
        m3 = v[i + 3] > m3 ? v[i + 3] : m3;
    }
    for (; i < k; ++i) {
        nan |= v[i] != v[i];
        m0 = v[i] > m0 ? v[i] : m0;
    }
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    return nan ? NAN : (m2 > m0 ? m2 : m0);
}

/* Limits under which the scaled pass is as exact as the log-space one (see
 * gms_hmm_scaled.c): the smallest one-step probability mass, and the
 * largest scaled backward value relative to the scaled likelihood. */
#define GMS_HMM_MIN_MASS 0x1p-200
#define GMS_HMM_MAX_BETA 0x1p400
/* Smallest relative emission probability of a possible state (see
 * gms_hmm_scaled.c): smaller ones are raised to it, never flushed. */
#define GMS_HMM_MIN_EMISSION 0x1p-1000

/* Frames per chunk: the recursions run over a chunk with nothing but the
 * chain on them, the per-frame throughput work runs over it before/after. */
#define GMS_HMM_CHUNK 32

/* Sequences with T * kp up to this many doubles keep the forward pass's
 * emission rows for the backward pass (scratch of 2 T + T kp doubles);
 * longer ones recompute them (scratch of 2 T). */
#define GMS_HMM_ECACHE (1 << 19)
#define GMS_HMM_SCRATCH(T, kp) (2 * (T) + ((T) * (kp) <= GMS_HMM_ECACHE ? (T) * (kp) : 0))
/* Enough scratch for every sequence of up to tmax frames. */
static inline ptrdiff_t gms_hmm_scratch_max(ptrdiff_t tmax, ptrdiff_t kp)
{
    const ptrdiff_t tc = tmax < GMS_HMM_ECACHE / kp ? tmax : GMS_HMM_ECACHE / kp;
    const ptrdiff_t a = GMS_HMM_SCRATCH(tmax, kp), b = GMS_HMM_SCRATCH(tc, kp);
    return a > b ? a : b;
}

/* Per-thread work of the scaled pass: GMS_HMM_SCALED_WORK(kp) doubles. */
typedef struct {
    double *prev, *beta;         /* kp each */
    double *e, *ab, *w, *xa;     /* GMS_HMM_CHUNK x kp each */
    double *xi;                  /* kp x kp */
} hmm_scaled_work;
#define GMS_HMM_SCALED_WORK(kp) ((2 + 4 * GMS_HMM_CHUNK) * (kp) + (kp) * (kp))

/* Categorical emissions as a table: frame t's emission row and maximum
 * are those of its symbol x[t] (checked by the caller), tabulated once per
 * call by gms_hmm_emission_table instead of once per frame. */
typedef struct {
    const double *x;      /* T symbols of the sequence */
    const double *etab;   /* n_symbols x kp emission rows */
    const double *mtab;   /* n_symbols maxima */
} hmm_symbols;

/* The emission rows (n x kp, padding zero) and maxima (n) of the n rows of
 * log-likelihoods `f` (n x k), bit for bit as the scaled pass forms them
 * from a frame's row. Returns whether a NaN was among them. */
int gms_hmm_emission_table(const double *f, ptrdiff_t n, ptrdiff_t k, ptrdiff_t kp,
                           double *etab, double *mtab);

/*
 * Scaled forward-backward of one sequence of T frames (f: T x K log
 * likelihoods, or NULL with `sy` giving them as symbols). `post` (T x K)
 * receives the posteriors, or is NULL to
 * score only; `scratch` holds GMS_HMM_SCRATCH(T, kp) doubles. With posteriors, the
 * sequence's expected transition counts (already multiplied by A) are
 * added to `trans_c` and its first posterior row to `start_c` (either may
 * be NULL). Returns the log-likelihood, or NaN (leaving the counts alone)
 * when the pass left the range where it is exact.
 */
double gms_hmm_fb_scaled_one(const hmm_model *m, const double *f, const hmm_symbols *sy,
                             ptrdiff_t T, double *post, double *start_c, double *trans_c,
                             hmm_scaled_work *wk, double *scratch);

#endif /* GMS_HMM_INTERNAL_H */
