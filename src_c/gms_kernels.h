/*
 * gmscore C kernels: Gaussian mixture log-densities, fused E-step with
 * sufficient-statistic accumulation, and k-means helpers.
 *
 * Plain C11, no Python.h, reentrant. Every entry point exists for double
 * (suffix _d) and float (suffix _f) input; accumulators are always double.
 * Parallel work is split into fixed blocks grouped into a fixed number of
 * reduction slots, reduced in slot order, so results do not depend on the
 * number of threads.
 */
#ifndef GMS_KERNELS_H
#define GMS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Raise a parallel region's failure flag (an allocation failed, a value
 * came out non-finite); any thread may do it, so the store is atomic. */
static inline void gms_set_failed(int *failed)
{
#ifdef _OPENMP
#pragma omp atomic write
#endif
    *failed = 1;
}

/* Covariance types, in the order gmscore/_gaussian.py uses. */
enum gms_cov_type { GMS_FULL = 0, GMS_TIED = 1, GMS_DIAG = 2, GMS_SPHERICAL = 3 };

/* Return codes. */
#define GMS_OK 0
#define GMS_ERR_NOMEM -1
#define GMS_ERR_ARG -2
/* A sample had a non-finite log-likelihood (overflowing quadratic form). */
#define GMS_ERR_NONFINITE -3

/* Rows per block: fixed so that the reduction order never changes. */
#define GMS_BLOCK_ROWS 256
/* Most column bands a full precision factor is split into (see the impl). */
#define GMS_MAX_BANDS 32
/* Upper bound on reduction slots (each owns one set of accumulators). */
#define GMS_MAX_SLOTS 16
/* Doubles of statistics scratch one thread holds (4 MiB): the full and
 * tied statistics of a block are formed in row groups sized from D (and K)
 * to fit, so a thread's work memory is O(GMS_BLOCK_ROWS x D) plus this,
 * never O(GMS_BLOCK_ROWS x D^2). The groups depend on D and K only, so
 * the results do not depend on the thread count or on chunking. */
#define GMS_SCRATCH_DOUBLES ((ptrdiff_t)1 << 19)

/* Number of double entries of the second-moment accumulator for a type. */
ptrdiff_t gms_s2_size(int cov_type, ptrdiff_t n_components, ptrdiff_t n_features);

/*
 * Register BLAS routines (Fortran convention: dgemm, sgemm, dsyrk) used for
 * the full/tied products. They are called from inside OpenMP regions, so
 * the caller keeps BLAS single-threaded. NULLs select plain loops.
 */
void gms_set_blas(void *dgemm, void *sgemm, void *dsyrk);

/*
 * The thread count of the BLAS library behind the registered routines
 * (gms_blas_threads.c). bind finds the library's get/set functions from
 * one of its routines (1 when found; gms_set_blas calls it); the kernels
 * that call BLAS hold it at one thread between gms_blas_pin and
 * gms_blas_unpin, a process-wide reference count under a lock: the first
 * holder saves the count and sets one thread, the last restores it.
 * Without a bound library (MKL, a BLAS without these functions, no dladdr)
 * pin and unpin do nothing and the callers limit BLAS themselves.
 */
int gms_blas_threads_bind(void *routine);
int gms_blas_threads_bound(void);
const char *gms_blas_threads_library(void); /* its file, or NULL */
void gms_blas_pin(void);
void gms_blas_unpin(void);
int gms_blas_pin_depth(void); /* holders now (tests) */

/* Mixture states (comp: n x k x m component log-densities, log weights
 * included): out = log-sum-exp over each state's m components, and comp
 * becomes the within-state weights exp(comp - out) in place (0 for an
 * impossible state). */
int gms_group_logsumexp(double *comp, ptrdiff_t n, ptrdiff_t k, ptrdiff_t m, double *out,
                        int n_threads);
/* In place: comp[i, s, j] = gamma[i, s] * comp[i, s, j] (weights from
 * gms_group_logsumexp). */
int gms_mixture_responsibilities(double *comp, const double *gamma, ptrdiff_t n, ptrdiff_t k,
                                 ptrdiff_t m, int n_threads);

/* exp(-|x|) and log(|x|) with the kernels' vectorisable routines (tests). */
void gms_fast_exp_log(const double *x, ptrdiff_t n, double *out_exp, double *out_log);

/* out row i = src row order[i] for i < n_out (rows of row_bytes bytes,
 * any element type), rows copied in parallel. GMS_ERR_ARG, with out
 * partly written, when some order[i] is outside [0, n_src). */
int gms_take_rows(const unsigned char *src, ptrdiff_t n_src, ptrdiff_t row_bytes,
                  const int64_t *order, ptrdiff_t n_out, unsigned char *out, int n_threads);

/* Threads OpenMP would use by default (1 without OpenMP). */
int gms_omp_max_threads(void);
/* 1 when built with OpenMP. */
int gms_has_openmp(void);

/*
 * A fit's memory and threads, claimed up front (gms_resources.c).
 *
 * gms_fit_work_bytes: the work memory the passes over n rows of a model
 * with k components and d features allocate: `shared` once (prepared
 * parameters, a wave of statistics leaves, the reducer) and `per_thread`
 * for each thread (block scratch and its own leaf). Not counted: the
 * caller's arrays and the M-step's.
 *
 * gms_thread_headroom: bytes a thread the fit starts takes besides the
 * kernels' own: its stack (the default thread stack size, or
 * OMP_STACKSIZE), a malloc arena (GMS_ARENA_HEADROOM) and the BLAS
 * libraries' per-thread buffers (GMS_BLAS_HEADROOM; OpenBLAS maps 32 MiB
 * per thread and library).
 *
 * gms_reserve_trial: maps, then releases, `shared`, per_thread +
 * GMS_BLAS_HEADROOM for the calling thread and per_thread + headroom for
 * each of the n_threads - 1 others; GMS_ERR_NOMEM when they cannot be had
 * (an address-space limit, strict overcommit). Nothing stays claimed.
 *
 * gms_warm_threads: runs one parallel region of n_threads threads, each
 * making one small allocation and one small BLAS call, so that the
 * threads, their arenas and their BLAS buffers exist (and stay) before a
 * fit needs them: neither OpenMP thread creation nor the BLAS library's
 * first allocation on a thread can report failure. Call it only after
 * gms_reserve_trial succeeded. Returns the number of threads started.
 */
#define GMS_ARENA_HEADROOM ((size_t)64 << 20)
#define GMS_BLAS_HEADROOM ((size_t)64 << 20)
#define GMS_MAX_TRIAL_THREADS 1024
int gms_fit_work_bytes(int cov_type, ptrdiff_t k, ptrdiff_t d, int64_t n, size_t *shared,
                       size_t *per_thread);
size_t gms_thread_headroom(void);
int gms_reserve_trial(size_t shared, size_t per_thread, int n_threads);
int gms_warm_threads(int n_threads);

/*
 * Prepared log-densities of double rows for callers that walk their own
 * blocks (the utterance scorer): the code of gms_log_prob_rows_d (the
 * E-step's tiles for diag/spherical, its GEMM for full/tied, the same fast
 * exp/log), parameters as there, kept by pointer (they must outlive the
 * plan; the plan is read-only and shared by threads).
 * gms_lp_work_new: one thread's scratch for blocks of up to `rows` <=
 * GMS_BLOCK_ROWS rows. gms_lp_rows: lp (caller-owned, nr <= the work's
 * rows) = the weighted log-densities, nr x k row-major, or k x nr with
 * cmajor (the same values); with lse not NULL and row-major, lse (nr)
 * their per-row log-sum-exp (not finite when the row's maximum is not).
 * gms_lp_calls_blas: whether gms_lp_rows calls the registered BLAS (then
 * hold it at one thread: gms_blas_pin).
 * Constructors return NULL when out of memory or given bad sizes.
 */
typedef struct gms_lp_plan gms_lp_plan;
typedef struct gms_lp_work gms_lp_work;
gms_lp_plan *gms_lp_plan_new(int cov_type, ptrdiff_t d, ptrdiff_t k, const double *means,
                             const double *prec_chol, const double *log_norm);
void gms_lp_plan_free(gms_lp_plan *plan);
int gms_lp_calls_blas(int cov_type, ptrdiff_t d);
gms_lp_work *gms_lp_work_new(const gms_lp_plan *plan, ptrdiff_t rows);
void gms_lp_work_free(gms_lp_work *w);
void gms_lp_rows(const gms_lp_plan *plan, gms_lp_work *w, const double *X, ptrdiff_t nr,
                 double *lp, int cmajor, double *lse);

struct gms_reducer; /* gms_reduce.h */

/*
 * gms_accumulate takes the responsibilities as a dense N x K `resp`, or as
 * hard `labels` (N), or neither (then K must be 1 and every sample counts).
 *
 * gms_estep_into / gms_accumulate_into fold their rows into a reducer
 * (gms_reduce.h, leaf layout nk, s1, s2, log-likelihood, total sample
 * weight) that may already
 * hold earlier chunks: the rows continue the reducer's block numbering, so
 * chunks of whole blocks give the bits of one call over all rows.
 * gms_estep / gms_accumulate are the one-call forms. s2 holds, about each
 * component's centre: full, the upper triangles (K x D x D); tied, the
 * pooled within-component scatter (D x D, upper triangle); diag and
 * spherical, the per-feature squares (K x D).
 *
 * gms_log_prob_rows is the prediction pass: per sample, the log-likelihood
 * (`lse`, N, log-sum-exp of the weighted log-densities) and, where not
 * NULL, the posterior probabilities (`out`, N x K) and the most probable
 * component (`labels`, N; the first on ties), without an N x K array of its
 * own. gms_log_prob_labels is predict's pass: the most probable component
 * and, in `rowmax`, its weighted log-density (finite exactly when the
 * log-sum-exp is; NaN when any log-density is NaN), with no exponential.
 *
 * Parameters of a Gaussian mixture as the kernels see them.
 * prec_chol: full: K x D x D upper triangular U_k with precision = U_k U_k^T;
 *            tied: D x D; diag: K x D; spherical: K.
 * log_norm:  K, log weight_k + log det U_k - D/2 log(2 pi), so that
 *            log w_k N(x; mu_k) = log_norm_k - ||(x - mu_k)^T U_k||^2 / 2.
 */
#define GMS_DECLARE(R, S)                                                      \
    int gms_weighted_log_prob_##S(int cov_type, const R *X, ptrdiff_t n,       \
        ptrdiff_t d, ptrdiff_t k, const R *means, const R *prec_chol,          \
        const double *log_norm, double *out, int n_threads);                   \
    int gms_log_prob_rows_##S(int cov_type, const R *X, ptrdiff_t n,           \
        ptrdiff_t d, ptrdiff_t k, const R *means, const R *prec_chol,          \
        const double *log_norm, double *lse, double *out, int64_t *labels,     \
        int n_threads);                                                        \
    int gms_log_prob_labels_##S(int cov_type, const R *X, ptrdiff_t n,         \
        ptrdiff_t d, ptrdiff_t k, const R *means, const R *prec_chol,          \
        const double *log_norm, double *rowmax, int64_t *labels,               \
        int n_threads);                                                        \
    int gms_estep_##S(int cov_type, const R *X, ptrdiff_t n, ptrdiff_t d,      \
        ptrdiff_t k, const R *means, const R *prec_chol,                       \
        const double *log_norm, const double *sample_weight,                   \
        const double *centres, double *nk, double *s1, double *s2,             \
        double *loglik, int n_threads);                                        \
    int gms_estep_into_##S(struct gms_reducer *red, int cov_type, const R *X,  \
        ptrdiff_t n, ptrdiff_t d, ptrdiff_t k, const R *means,                 \
        const R *prec_chol, const double *log_norm,                            \
        const double *sample_weight, const double *centres, int n_threads);    \
    int gms_accumulate_into_##S(struct gms_reducer *red, int cov_type,         \
        const R *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k, const double *resp, \
        const int64_t *labels, const double *sample_weight,                    \
        const double *centres, int n_threads);                                 \
    int gms_accumulate_##S(int cov_type, const R *X, ptrdiff_t n, ptrdiff_t d, \
        ptrdiff_t k, const double *resp, const int64_t *labels,                \
        const double *sample_weight, const double *centres, double *nk,        \
        double *s1, double *s2, int n_threads);                                \
    int gms_kmeans_step_##S(const R *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k, \
        const double *centers, const double *sample_weight, int64_t *labels,   \
        double *sums, double *counts, double *inertia, int n_threads);         \
    int gms_sqdist_potential_##S(const R *X, ptrdiff_t n, ptrdiff_t d,         \
        const double *point, const double *closest,                            \
        const double *sample_weight, double *out_min, double *potential,       \
        int n_threads);                                                        \
    int gms_kmeanspp_##S(const R *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,    \
        ptrdiff_t n_trials, const double *sample_weight, ptrdiff_t first,      \
        const double *uniforms, int64_t *indices, int n_threads);              \
    int gms_kmeans_lloyd_##S(const R *X, ptrdiff_t n, ptrdiff_t d,             \
        ptrdiff_t k, const double *centers, const double *shift,               \
        const double *sample_weight, int64_t *labels, double *sums,            \
        double *counts, int64_t *n_changed, int n_threads);                    \
    int gms_kmeans_label_dist_##S(const R *X, ptrdiff_t n, ptrdiff_t d,        \
        ptrdiff_t k, const double *centers, const int64_t *labels,             \
        double *out, int n_threads);                                           \
    int gms_kmeans_bounded_run_##S(const R *X, ptrdiff_t n, ptrdiff_t d,       \
        ptrdiff_t k, double *centers, const double *shift,                     \
        const double *sample_weight, int64_t *labels, float *bounds,           \
        double *sums, double *counts, ptrdiff_t max_iter, double tol_abs,      \
        int bounded, int64_t *info, int n_threads);

/*
 * gms_estep_groups: per-group E-step statistics (MAP adaptation of many
 * speakers at once). Groups are the consecutive rows [offsets[g],
 * offsets[g + 1]) (n_groups + 1 offsets from 0 to n, non-decreasing);
 * group g's statistics about `centres`, the bits gms_estep gives for its
 * rows alone, go to out + g * stride in the reducer's leaf layout (nk, s1,
 * s2, log-likelihood, total sample weight; stride = k + k*d + s2 size + 2).
 * Each group is done by one thread, the groups shared among the threads.
 */
#define GMS_DECLARE_GROUPS(R, S)                                               \
    int gms_estep_groups_##S(int cov_type, const R *X, ptrdiff_t n,            \
        ptrdiff_t d, ptrdiff_t k, const R *means, const R *prec_chol,          \
        const double *log_norm, const double *sample_weight,                   \
        const double *centres, const int64_t *offsets, ptrdiff_t n_groups,     \
        double *out, int n_threads);
GMS_DECLARE_GROUPS(double, d)
GMS_DECLARE_GROUPS(float, f)
#undef GMS_DECLARE_GROUPS

/*
 * k-means (gms_kmeans_impl.h), following scikit-learn's KMeans.
 *
 * gms_kmeans_choice: the index numpy's RandomState.choice(n, p=w / total)
 * picks for the uniform u (cumulative sum in order, normalised by its last
 * entry, searchsorted side='right'); w NULL means unit weights.
 *
 * gms_kmeanspp: greedy k-means++ seeding from the row `first`, n_trials
 * candidates per further centre drawn at uniforms[(c - 1) * n_trials + r]
 * times the potential on the cumulative weighted closest distances; one
 * pass over X per centre evaluates every candidate (the best one's
 * distances are folded into the closest distances during the next pass).
 * Distances are exact differences in double; sums are per block of
 * GMS_BLOCK_ROWS rows, in order, then over blocks in order.
 *
 * gms_kmeans_lloyd: one fused assignment + per-centre sums pass (sums and
 * counts may be NULL: labels only); see the impl for the arithmetic.
 *
 * gms_kmeans_label_dist: squared distance of each row to its centre.
 *
 * gms_kmeans_bounded_run: Lloyd's iterations from `centers` (updated in
 * place) until no label changes (GMS_KM_STRICT), the squared centre shift
 * is at most tol_abs (GMS_KM_TOL) or max_iter passes (GMS_KM_MAXITER); in
 * the last two cases the labels are then recomputed for the final centres.
 * bounded != 0 skips, with Hamerly's bounds (bounds: n x 2 floats owned by
 * the caller), the rows whose label provably cannot change; the labels are
 * exactly those of gms_kmeans_lloyd passes (bounded == 0). info (4 int64):
 * [0] passes done, [1] labels changed by the last pass, [2] status; start
 * with zeros. When a pass leaves a centre without weight it returns
 * GMS_KM_EMPTY with that pass's sums and counts and the centres unchanged:
 * the caller relocates (sums, counts) and calls again with the same info.
 */
#define GMS_KM_STRICT 0
#define GMS_KM_TOL 1
#define GMS_KM_MAXITER 2
#define GMS_KM_EMPTY 3
#define GMS_KMPP_MAX_POINTS 64
ptrdiff_t gms_kmeans_choice(const double *w, ptrdiff_t n, double total, double u);

GMS_DECLARE(double, d)
GMS_DECLARE(float, f)

#undef GMS_DECLARE

#ifdef __cplusplus
}
#endif

#endif /* GMS_KERNELS_H */
