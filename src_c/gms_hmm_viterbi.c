/*
 * HMM Viterbi decoding and path sampling; see gms_hmm.h.
 *
 * delta_t(j) = max_i (delta_{t-1}(i) + log A(i, j)) + f_t(j), and the
 * back-pointer psi_t(j) = the first i reaching that maximum (as an argmax
 * does, and hmmlearn).
 *
 * The recursion runs on eight-lane vectors of states j (GCC/Clang vector
 * extensions, lowered per clone to AVX-512, AVX2 or SSE2 halves). Each
 * maximum and its row come from a tree of depth three over a group of eight
 * predecessors (groups folded in row order); only the maxima feed the next
 * frame. The tree keeps the lower rows unless the higher are strictly
 * greater, so with no NaN among the sums it returns exactly the first
 * maximal sum and its row, the same bits as a sequential scan (every sum is
 * the same single addition). For K <= 16 the deltas stay in registers and
 * two sequences run in lockstep, so the core overlaps their latency
 * chains. Back-pointers take the smallest unsigned type that holds K
 * (T x kp of them per sequence, in per-thread scratch sized once per call).
 *
 * A NaN sum needs a NaN or +inf frame log-likelihood or model entry: such a
 * call is reported (GMS_ERR_NONFINITE), never answered.
 */
#include "gms_hmm.h"
#include "gms_hmm_internal.h"
#include "gms_kernels.h"
#include "gms_fastmath.h"
#include "gms_hmm_vectors.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define L GMS_HMM_LANES

/* back-pointer vectors, next to gms_hmm_vectors.h's */
typedef uint8_t v8u8 __attribute__((vector_size(8)));
typedef uint16_t v8u16 __attribute__((vector_size(16)));
typedef int32_t v8i32 __attribute__((vector_size(32)));

/* The last frame's first maximum (NaN never wins; state 0 if all are). */
static ptrdiff_t first_argmax(const double *v, ptrdiff_t k)
{
    ptrdiff_t last = 0;
    for (ptrdiff_t j = 1; j < k; ++j)
        if (v[j] > v[last]) last = j;
    return last;
}

/* ------------------------------------------------------------------ */
/* The vector recursion.                                               */

/* The model as the vector pass reads it: log A with its columns padded to
 * kp by -inf (only rows i < k exist), log pi, and the back-pointer width
 * in bytes. */
typedef struct {
    ptrdiff_t k, kp;
    int bw;
    const double *log_pi; /* k */
    double *log_Ap;       /* k x kp */
} vit_model;

/* A sequence to decode: its frames and outputs, its back-pointer scratch
 * (T x kp entries), and whether a delta was NaN or +inf. */
typedef struct {
    const double *f;
    ptrdiff_t T;
    int64_t *states;
    double *logprob;
    char *bp;
    int bad;
} vit_job;

static inline v8d splat(double x) { return (v8d){x, x, x, x, x, x, x, x}; }
static inline v8i splat_i(int64_t i) { return (v8i){0} + i; }

/* (v, iv) = the first maximum of (a, ia) and (b, ib), a from the lower
 * rows: b only where b > a. */
static inline __attribute__((always_inline)) void
first_max(v8d a, v8i ia, v8d b, v8i ib, v8d *v, v8i *iv)
{
    const v8i gt = b > a;
    *v = (v8d)(((v8i)b & gt) | ((v8i)a & ~gt));
    *iv = (ib & gt) | (ia & ~gt);
}

static inline void store_bp(char *restrict row, ptrdiff_t j0, v8i b, const int bw)
{
    if (bw == 1) {
        const v8u8 x = __builtin_convertvector(b, v8u8);
        memcpy(row + j0, &x, sizeof x);
    } else if (bw == 2) {
        const v8u16 x = __builtin_convertvector(b, v8u16);
        memcpy(row + 2 * j0, &x, sizeof x);
    } else {
        const v8i32 x = __builtin_convertvector(b, v8i32);
        memcpy(row + 4 * j0, &x, sizeof x);
    }
}

static inline int64_t load_bp(const char *restrict bp, ptrdiff_t at, const int bw)
{
    if (bw == 1) return ((const uint8_t *)bp)[at];
    if (bw == 2) return ((const uint16_t *)bp)[at];
    return ((const int32_t *)bp)[at];
}

/* Candidate sums of row l of a group for the block: delta_{t-1}(i) (lane
 * l of x, broadcast by a register shuffle) + the log A row. */
#define VSUM(x, l, r) (LANE(x, l) + *(const v8du *)((r) + (l) * kp))

/*
 * One frame for the eight states of column block j0: the first maximum
 * over predecessors i < k of delta_{t-1}(i) + log A(i, j) and its row
 * (full groups of eight rows by a tree of depth three, a partial group in
 * order, groups folded in order), the back-pointers into bprow and the new
 * delta (maximum + f_t) into *out. pv: the previous delta, kp / 8 vectors.
 */
static inline __attribute__((always_inline)) void
vit_block(const double *restrict log_Ap, const v8d *restrict pv, const double *restrict ft,
          ptrdiff_t j0, v8d *restrict out, char *restrict bprow, const ptrdiff_t k,
          const ptrdiff_t kp, const int bw)
{
    const double *restrict la = log_Ap + j0;
    v8d c = splat(-INFINITY);
    v8i b = {0};
    for (ptrdiff_t ic = 0; ic < kp / L; ++ic) {
        const ptrdiff_t rows = k - ic * L; /* >= 1: kp is k rounded up */
        const double *restrict r = la + ic * L * kp;
        const v8d x = pv[ic];
        v8d g;
        v8i ig;
        if (rows >= L) {
            v8d v01, v23, v45, v67, v03, v47;
            v8i i01, i23, i45, i67, i03, i47;
            first_max(VSUM(x, 0, r), splat_i(0), VSUM(x, 1, r), splat_i(1), &v01, &i01);
            first_max(VSUM(x, 2, r), splat_i(2), VSUM(x, 3, r), splat_i(3), &v23, &i23);
            first_max(VSUM(x, 4, r), splat_i(4), VSUM(x, 5, r), splat_i(5), &v45, &i45);
            first_max(VSUM(x, 6, r), splat_i(6), VSUM(x, 7, r), splat_i(7), &v67, &i67);
            first_max(v01, i01, v23, i23, &v03, &i03);
            first_max(v45, i45, v67, i67, &v47, &i47);
            first_max(v03, i03, v47, i47, &g, &ig);
        } else {
            g = VSUM(x, 0, r);
            ig = splat_i(0);
            if (rows > 1) first_max(g, ig, VSUM(x, 1, r), splat_i(1), &g, &ig);
            if (rows > 2) first_max(g, ig, VSUM(x, 2, r), splat_i(2), &g, &ig);
            if (rows > 3) first_max(g, ig, VSUM(x, 3, r), splat_i(3), &g, &ig);
            if (rows > 4) first_max(g, ig, VSUM(x, 4, r), splat_i(4), &g, &ig);
            if (rows > 5) first_max(g, ig, VSUM(x, 5, r), splat_i(5), &g, &ig);
            if (rows > 6) first_max(g, ig, VSUM(x, 6, r), splat_i(6), &g, &ig);
        }
        if (ic == 0) {
            c = g;
            b = ig;
        } else {
            first_max(c, b, g, ig + (int64_t)(ic * L), &c, &b);
        }
    }
    store_bp(bprow, j0, b, bw);
    v8d fv;
    if (j0 + L <= k) {
        fv = *(const v8du *)(ft + j0);
    } else {
        for (int l = 0; l < L; ++l) fv[l] = j0 + l < k ? ft[j0 + l] : -INFINITY;
    }
    *out = c + fv;
}

/* Frames [t0, t1) of S sequences in lockstep (independent chains the core
 * overlaps); pv: their deltas (S x kp / 8 vectors), cv: as much scratch,
 * ok: per sequence, cleared in lanes where a delta is NaN or +inf. */
static inline __attribute__((always_inline)) void
vit_steps(const vit_model *vm, vit_job *const *jobs, v8d *restrict pv, v8d *restrict cv,
          v8i *restrict ok, ptrdiff_t t0, ptrdiff_t t1, const int S, const ptrdiff_t k,
          const ptrdiff_t kp, const int bw)
{
    const ptrdiff_t nv = kp / L;
    for (ptrdiff_t t = t0; t < t1; ++t) {
        for (int s = 0; s < S; ++s) {
            v8d *restrict ps = pv + s * nv, *restrict cs = cv + s * nv;
            for (ptrdiff_t jc = 0; jc < nv; ++jc) {
                vit_block(vm->log_Ap, ps, jobs[s]->f + t * k, jc * L, cs + jc,
                          jobs[s]->bp + t * kp * bw, k, kp, bw);
                ok[s] &= cs[jc] < splat(INFINITY);
            }
            for (ptrdiff_t jc = 0; jc < nv; ++jc) ps[jc] = cs[jc];
        }
    }
}

/* The first frame's delta (log pi + f_0, -inf past k). */
static inline void vit_start(const vit_model *vm, const double *f0, v8d *restrict pv, v8i *ok,
                             const ptrdiff_t k, const ptrdiff_t kp)
{
    for (ptrdiff_t ic = 0; ic < kp / L; ++ic) {
        v8d x;
        for (int l = 0; l < L; ++l) {
            const ptrdiff_t j = ic * L + l;
            x[l] = j < k ? vm->log_pi[j] + f0[j] : -INFINITY;
        }
        pv[ic] = x;
        *ok &= x < splat(INFINITY);
    }
}

/* The last frame's first maximum and the back-trace; job->bad when a
 * delta was NaN or +inf (states and log-probability are then garbage, but
 * in range). last: kp doubles of scratch. */
static inline void vit_finish(vit_job *job, const v8d *pv, v8i ok, double *restrict last,
                              const ptrdiff_t k, const ptrdiff_t kp, const int bw)
{
    memcpy(last, pv, (size_t)kp * sizeof(double));
    int64_t s = first_argmax(last, k);
    *job->logprob = last[s];
    const ptrdiff_t T = job->T;
    const char *restrict bp = job->bp;
    int64_t *restrict states = job->states;
    states[T - 1] = s;
    for (ptrdiff_t t = T - 1; t > 0; --t) {
        s = load_bp(bp, t * kp + s, bw);
        states[t - 1] = s;
    }
    int all = 1;
    for (int l = 0; l < L; ++l) all &= ok[l] != 0;
    job->bad = !all;
}

/* S (1 or 2) sequences: in lockstep up to the shorter's end, then each
 * alone. pv, cv: S kp doubles each (registers when kp is a constant);
 * last: kp doubles. */
static inline __attribute__((always_inline)) void
vit_run(const vit_model *vm, vit_job *const *jobs, v8d *restrict pv, v8d *restrict cv,
        double *restrict last, const int S, const ptrdiff_t k, const ptrdiff_t kp, const int bw)
{
    const ptrdiff_t nv = kp / L;
    v8i ok[2];
    ptrdiff_t tmin = jobs[0]->T;
    for (int s = 0; s < S; ++s) {
        ok[s] = splat(0.0) == splat(0.0);
        vit_start(vm, jobs[s]->f, pv + s * nv, &ok[s], k, kp);
        if (jobs[s]->T < tmin) tmin = jobs[s]->T;
    }
    vit_steps(vm, jobs, pv, cv, ok, 1, tmin, S, k, kp, bw);
    for (int s = 0; s < S; ++s) {
        if (S > 1) vit_steps(vm, jobs + s, pv + s * nv, cv + s * nv, ok + s, tmin, jobs[s]->T,
                             1, k, kp, bw);
        vit_finish(jobs[s], pv + s * nv, ok[s], last, k, kp, bw);
    }
}

/* Decodes n (1 or 2) sequences; kp = 8 and 16 (the common small models)
 * are constants, so the deltas stay in registers and two sequences run in
 * lockstep; wider models one at a time, deltas in dv (3 kp doubles). */
GMS_HOT static void vit_jobs(const vit_model *vm, vit_job *const *jobs, int n, double *dv)
{
    const ptrdiff_t k = vm->k;
    if (vm->kp == L) {
        v8d pv[2], cv[2];
        if (n == 2) vit_run(vm, jobs, pv, cv, dv, 2, k, L, 1);
        else vit_run(vm, jobs, pv, cv, dv, 1, k, L, 1);
    } else if (vm->kp == 2 * L) {
        v8d pv[4], cv[4];
        if (n == 2) vit_run(vm, jobs, pv, cv, dv, 2, k, 2 * L, 1);
        else vit_run(vm, jobs, pv, cv, dv, 1, k, 2 * L, 1);
    } else {
        const ptrdiff_t kp = vm->kp;
        v8d *pv = (v8d *)__builtin_assume_aligned(dv, 64);
        for (int s = 0; s < n; ++s) {
            if (vm->bw == 1) vit_run(vm, jobs + s, pv, pv + kp / L, dv + 2 * kp, 1, k, kp, 1);
            else if (vm->bw == 2) vit_run(vm, jobs + s, pv, pv + kp / L, dv + 2 * kp, 1, k, kp, 2);
            else vit_run(vm, jobs + s, pv, pv + kp / L, dv + 2 * kp, 1, k, kp, 4);
        }
    }
}

/* The vector pass's model; log_Ap NULL if it cannot be had. Returns
 * whether every log pi and log A entry is below +inf (log A is -inf where
 * A is not positive, never NaN). */
static int vit_model_init(vit_model *vm, const hmm_model *m)
{
    const ptrdiff_t k = m->k, kp = m->kp;
    vm->k = k;
    vm->kp = kp;
    vm->bw = k <= 256 ? 1 : k <= 65536 ? 2 : 4;
    vm->log_pi = m->log_pi;
    vm->log_Ap = (double *)malloc((size_t)(k * kp) * sizeof(double));
    if (vm->log_Ap == NULL) return 0;
    int finite = 1;
    for (ptrdiff_t i = 0; i < k; ++i) {
        finite &= m->log_pi[i] < INFINITY;
        for (ptrdiff_t j = 0; j < kp; ++j) {
            const double a = j < k ? m->log_A[i * k + j] : -INFINITY;
            vm->log_Ap[i * kp + j] = a;
            finite &= a < INFINITY;
        }
    }
    return finite;
}

int gms_hmm_viterbi(const double *framelogprob, ptrdiff_t k,
                    const int64_t *offsets, ptrdiff_t n_seq,
                    const double *startprob, const double *transmat,
                    int64_t *states, double *seq_logprob, int n_threads)
{
    if (k < 1 || k > INT32_MAX) return GMS_ERR_ARG;
    if (gms_hmm_check_offsets(offsets, n_seq) != GMS_OK) return GMS_ERR_ARG;
    hmm_model model;
    if (gms_hmm_model_init(&model, k, startprob, transmat) != GMS_OK) return GMS_ERR_NOMEM;
    vit_model vm;
    const int finite = vit_model_init(&vm, &model);
    const ptrdiff_t kp = model.kp;
    ptrdiff_t tmax = 1;
    for (ptrdiff_t s = 0; s < n_seq; ++s)
        if (offsets[s + 1] - offsets[s] > tmax) tmax = (ptrdiff_t)(offsets[s + 1] - offsets[s]);
    const int rc = vm.log_Ap == NULL || (size_t)tmax > SIZE_MAX / ((size_t)kp * 8)
                       ? GMS_ERR_NOMEM
                       : !finite ? GMS_ERR_NONFINITE : GMS_OK;
    if (rc != GMS_OK) {
        free(vm.log_Ap);
        free(model.mem);
        return rc;
    }
    /* sequences go in pairs (2p, 2p + 1), one pair per task */
    const ptrdiff_t n_pairs = (n_seq + 1) / 2;
    const size_t bp_bytes = (size_t)tmax * (size_t)kp * (size_t)vm.bw;
    int failed = 0, bad = 0;
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_hmm_clamp_threads(n_threads, n_pairs))
#endif
    {
        /* per thread: back-pointers for two of the longest sequences (one
         * if there is one), and 3 kp doubles of deltas (64-byte aligned for
         * the vector loads) */
        char *bp = (char *)malloc((n_seq > 1 ? 2 : 1) * bp_bytes);
        double *dv = (double *)aligned_alloc(64, (size_t)(3 * kp) * sizeof(double));
        if (bp == NULL || dv == NULL) gms_set_failed(&failed);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (ptrdiff_t pr = 0; pr < n_pairs; ++pr) {
            if (bp == NULL || dv == NULL) continue;
            vit_job job[2];
            vit_job *jobs[2] = {&job[0], &job[1]};
            const int n = 2 * pr + 1 < n_seq ? 2 : 1;
            for (int j = 0; j < n; ++j) {
                const ptrdiff_t s = 2 * pr + j;
                job[j].f = framelogprob + offsets[s] * k;
                job[j].T = (ptrdiff_t)(offsets[s + 1] - offsets[s]);
                job[j].states = states + offsets[s];
                job[j].logprob = seq_logprob + s;
                job[j].bp = bp + (size_t)j * bp_bytes;
                job[j].bad = 0;
            }
            vit_jobs(&vm, jobs, n, dv);
            for (int j = 0; j < n; ++j)
                if (job[j].bad) gms_set_failed(&bad);
        }
        free(bp);
        free(dv);
    }
    free(vm.log_Ap);
    free(model.mem);
    if (failed) return GMS_ERR_NOMEM;
    return bad ? GMS_ERR_NONFINITE : GMS_OK;
}

int gms_hmm_sample_states(const double *start_cdf, const double *trans_cdf,
                          ptrdiff_t k, const double *uniforms, ptrdiff_t n,
                          int64_t first, int64_t *states)
{
    if (k < 1 || n < 1 || first >= k) return GMS_ERR_ARG;
    /* first index whose cdf exceeds u (the last state if rounding leaves
     * the cdf's end below u) */
    int64_t s = first;
    for (ptrdiff_t t = 0; t < n; ++t) {
        if (t > 0 || s < 0) {
            const double *cdf = t == 0 ? start_cdf : trans_cdf + s * k;
            const double u = uniforms[t];
            int64_t j = 0;
            while (j < k - 1 && !(cdf[j] > u)) ++j;
            s = j;
        }
        states[t] = s;
    }
    return GMS_OK;
}
