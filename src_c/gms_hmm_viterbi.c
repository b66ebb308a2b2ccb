/* HMM Viterbi decoding and path sampling; see gms_hmm.h. */
#include "gms_hmm.h"
#include "gms_hmm_internal.h"
#include "gms_kernels.h"
#include "gms_fastmath.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* One Viterbi step for states [j0, j0 + nj): cur[j] = max_i (prev[i] +
 * log_A[i, j]) + f[j] and its argmax (the first maximum wins, as with an
 * argmax), in a fixed-size tile of `lanes` states that stays in registers
 * (runtime-length arrays would round-trip through memory for every
 * predecessor; this is what made the step slow). Every state's compares
 * run over i in order, so the tile changes no result. */
static inline __attribute__((always_inline)) void viterbi_tile(
    const double *restrict log_A, ptrdiff_t k, const double *restrict prev,
    const double *restrict ft, double *restrict cur, int32_t *restrict bpt, ptrdiff_t j0,
    const int nj)
{
    double c[8];
    int32_t b[8];
    for (int l = 0; l < nj; ++l) {
        c[l] = -INFINITY;
        b[l] = 0;
    }
    for (ptrdiff_t i = 0; i < k; ++i) {
        const double p = prev[i];
        const double *restrict la = log_A + i * k + j0;
        for (int l = 0; l < nj; ++l) {
            const double v = p + la[l];
            const int gt = v > c[l];
            c[l] = gt ? v : c[l];
            b[l] = gt ? (int32_t)i : b[l];
        }
    }
    for (int l = 0; l < nj; ++l) {
        cur[j0 + l] = c[l] + ft[j0 + l];
        bpt[j0 + l] = b[l];
    }
}

GMS_HOT static double viterbi_one(const hmm_model *m, const double *f, ptrdiff_t T,
                          int64_t *states, int32_t *bp, double *prev, double *cur)
{
    const ptrdiff_t k = m->k;
    for (ptrdiff_t j = 0; j < k; ++j) prev[j] = m->log_pi[j] + f[j];
    for (ptrdiff_t t = 1; t < T; ++t) {
        const double *ft = f + t * k;
        int32_t *bpt = bp + t * k;
        ptrdiff_t j0 = 0;
        for (; j0 + 8 <= k; j0 += 8) viterbi_tile(m->log_A, k, prev, ft, cur, bpt, j0, 8);
        /* the last states in a tile of their own size (a constant per case) */
        switch (k - j0) {
        case 1: viterbi_tile(m->log_A, k, prev, ft, cur, bpt, j0, 1); break;
        case 2: viterbi_tile(m->log_A, k, prev, ft, cur, bpt, j0, 2); break;
        case 3: viterbi_tile(m->log_A, k, prev, ft, cur, bpt, j0, 3); break;
        case 4: viterbi_tile(m->log_A, k, prev, ft, cur, bpt, j0, 4); break;
        case 5: viterbi_tile(m->log_A, k, prev, ft, cur, bpt, j0, 5); break;
        case 6: viterbi_tile(m->log_A, k, prev, ft, cur, bpt, j0, 6); break;
        case 7: viterbi_tile(m->log_A, k, prev, ft, cur, bpt, j0, 7); break;
        default: break;
        }
        double *tmp = prev;
        prev = cur;
        cur = tmp;
    }
    ptrdiff_t last = 0;
    for (ptrdiff_t j = 1; j < k; ++j)
        if (prev[j] > prev[last]) last = j;
    const double logprob = prev[last];
    states[T - 1] = last;
    for (ptrdiff_t t = T - 1; t > 0; --t) states[t - 1] = bp[t * k + states[t]];
    return logprob;
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
    int failed = 0;
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(gms_hmm_clamp_threads(n_threads, n_seq))
#endif
    for (ptrdiff_t s = 0; s < n_seq; ++s) {
        const ptrdiff_t T = (ptrdiff_t)(offsets[s + 1] - offsets[s]);
        int32_t *bp = (int32_t *)malloc((size_t)(T * k) * sizeof(int32_t));
        double *vec = (double *)malloc((size_t)(2 * k) * sizeof(double));
        if (bp == NULL || vec == NULL) {
            gms_set_failed(&failed);
        } else {
            seq_logprob[s] = viterbi_one(&model, framelogprob + offsets[s] * k, T,
                                         states + offsets[s], bp, vec, vec + k);
        }
        free(bp);
        free(vec);
    }
    free(model.mem);
    return failed ? GMS_ERR_NOMEM : GMS_OK;
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
