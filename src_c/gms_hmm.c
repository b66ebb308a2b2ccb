/* HMM forward-backward (log space and the driver of the scaled pass);
 * Viterbi and path sampling are in gms_hmm_viterbi.c. See gms_hmm.h. */
#include "gms_hmm.h"
#include "gms_hmm_internal.h"
#include "gms_kernels.h"
#include "gms_fastmath.h"
#include "gms_reduce.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif


static ptrdiff_t round_up(ptrdiff_t k)
{
    return (k + GMS_HMM_LANES - 1) / GMS_HMM_LANES * GMS_HMM_LANES;
}

int gms_hmm_model_init(hmm_model *m, ptrdiff_t k, const double *pi, const double *A)
{
    const ptrdiff_t kp = round_up(k);
    m->k = k;
    m->kp = kp;
    m->pi = pi;
    m->A = A;
    m->mem = calloc((size_t)(k + 2 * k * k + kp + 2 * kp * kp), sizeof(double));
    if (m->mem == NULL) return GMS_ERR_NOMEM;
    m->log_pi = (double *)m->mem;
    m->log_A = m->log_pi + k;
    m->AT = m->log_A + k * k;
    m->pi_p = m->AT + k * k;
    m->A_p = m->pi_p + kp;
    m->AT_p = m->A_p + kp * kp;
    for (ptrdiff_t i = 0; i < k; ++i) {
        m->pi_p[i] = pi[i];
        m->log_pi[i] = pi[i] > 0 ? log(pi[i]) : -INFINITY;
        for (ptrdiff_t j = 0; j < k; ++j) {
            const double a = A[i * k + j];
            m->AT[j * k + i] = a;
            m->A_p[i * kp + j] = a;
            m->AT_p[j * kp + i] = a;
            m->log_A[i * k + j] = a > 0 ? log(a) : -INFINITY;
        }
    }
    return GMS_OK;
}

static double logsumexp(const double *v, ptrdiff_t k)
{
    const double m = gms_hmm_max_of(v, k);
    if (!isfinite(m)) return m;
    double s = 0.0;
    for (ptrdiff_t i = 0; i < k; ++i) s += exp(v[i] - m);
    return m + log(s);
}

/* Sequences of a wave are run longest first, to balance the threads;
 * the order changes no result (each sequence has its own leaf). */
typedef struct {
    int64_t len;
    ptrdiff_t idx;
} seq_len;

static int by_length_desc(const void *a, const void *b)
{
    const seq_len *x = (const seq_len *)a, *y = (const seq_len *)b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* log sum_i exp(v_i + log_A[i, j]) computed exactly (used when the shifted
 * linear-space product underflows). */
static double exact_in(const double *v, const double *log_A, ptrdiff_t k, ptrdiff_t j)
{
    double m = -INFINITY;
    for (ptrdiff_t i = 0; i < k; ++i) {
        const double t = v[i] + log_A[i * k + j];
        m = t > m ? t : m;
    }
    if (m == -INFINITY) return m;
    double s = 0.0;
    for (ptrdiff_t i = 0; i < k; ++i) s += exp(v[i] + log_A[i * k + j] - m);
    return m + log(s);
}

/* log sum_j exp(log_A[i, j] + w_j), exactly. */
static double exact_out(const double *w, const double *log_A, ptrdiff_t k, ptrdiff_t i)
{
    double m = -INFINITY;
    for (ptrdiff_t j = 0; j < k; ++j) {
        const double t = log_A[i * k + j] + w[j];
        m = t > m ? t : m;
    }
    if (m == -INFINITY) return m;
    double s = 0.0;
    for (ptrdiff_t j = 0; j < k; ++j) s += exp(log_A[i * k + j] + w[j] - m);
    return m + log(s);
}

/* Work vectors for one sequence: 6 * K doubles. */
typedef struct {
    double *a, *b, *c, *beta, *w, *g;
} fb_work;

/* out = v A (row vector times matrix) and out = A v, both as loops whose
 * inner index is unit-stride and free of reductions, so they vectorise;
 * the sums run over the same index order as the textbook loops. */
static inline void vec_mat(const double *restrict v, const double *restrict A, ptrdiff_t k,
                           double *restrict out)
{
    /* eight columns at a time in a fixed-size accumulator, which stays in
     * registers (a runtime-length one would round-trip through memory on
     * every row) */
    ptrdiff_t j0 = 0;
    for (; j0 + 8 <= k; j0 += 8) {
        double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        for (ptrdiff_t i = 0; i < k; ++i) {
            const double vi = v[i];
            const double *restrict Ai = A + i * k + j0;
            for (int l = 0; l < 8; ++l) acc[l] += vi * Ai[l];
        }
        for (int l = 0; l < 8; ++l) out[j0 + l] = acc[l];
    }
    if (j0 == k) return;
    for (ptrdiff_t j = j0; j < k; ++j) out[j] = 0.0;
    for (ptrdiff_t i = 0; i < k; ++i) {
        const double vi = v[i];
        const double *restrict Ai = A + i * k;
        for (ptrdiff_t j = j0; j < k; ++j) out[j] += vi * Ai[j];
    }
}

static inline void mat_vec(const double *restrict AT, const double *restrict v, ptrdiff_t k,
                           double *restrict out)
{
    vec_mat(v, AT, k, out);
}

/*
 * Linear sums below this are redone exactly in log space: the shifted exps
 * flush terms below e^-708 (~2^-1021), so a sum of at least 2^-960 has lost
 * less than K 2^-61 of itself.
 */
#define GMS_LOG_REDO 0x1p-960

/*
 * One log-space forward step: cur = log(exp(prev) A) + f, computed as
 * max-shift, K exps, the K x K linear product and K logs. Entries whose
 * linear product is small enough to have lost terms (GMS_LOG_REDO) are
 * redone exactly in log space, so a state that is astronomically unlikely
 * is never lost.
 */
static inline void forward_step(const hmm_model *m, const double *restrict prev,
                                const double *restrict ft, double *restrict cur, fb_work *wk)
{
    const ptrdiff_t k = m->k;
    double *restrict a = wk->a;
    double *restrict b = wk->b;
    const double mx = gms_hmm_max_of(prev, k);
    if (mx == -INFINITY || mx != mx) {   /* impossible, or a NaN met: kept to the end */
        for (ptrdiff_t j = 0; j < k; ++j) cur[j] = mx;
        return;
    }
    for (ptrdiff_t i = 0; i < k; ++i) a[i] = gms_exp_nonpositive(prev[i] - mx);
    vec_mat(a, m->A, k, b);
    int fix = 0;
    for (ptrdiff_t j = 0; j < k; ++j) {
        const int ok = b[j] >= GMS_LOG_REDO;
        fix |= !ok;
        cur[j] = mx + gms_log_normal(ok ? b[j] : 1.0) + ft[j];
    }
    if (fix)
        for (ptrdiff_t j = 0; j < k; ++j)
            if (!(b[j] >= GMS_LOG_REDO)) cur[j] = exact_in(prev, m->log_A, k, j) + ft[j];
}

/*
 * Log-space forward-backward of one sequence (T x K rows of f). `post`
 * holds the forward lattice and is turned into posteriors in place.
 */
/* Transition counts of one step in log space, normalised by their own
 * log-sum-exp: trans_c[i, j] += exp(r_i + log A_ij + w_j - lse). */
static void xi_log_space(const double *r, const double *log_A, const double *w, ptrdiff_t k,
                         double *trans_c)
{
    double top = -INFINITY;
    for (ptrdiff_t i = 0; i < k; ++i)
        for (ptrdiff_t j = 0; j < k; ++j) {
            const double v = r[i] + log_A[i * k + j] + w[j];
            if (v > top) top = v;
        }
    if (top == -INFINITY) return;
    double sum = 0.0;
    for (ptrdiff_t i = 0; i < k; ++i)
        for (ptrdiff_t j = 0; j < k; ++j) sum += exp(r[i] + log_A[i * k + j] + w[j] - top);
    const double lse = top + log(sum);
    for (ptrdiff_t i = 0; i < k; ++i)
        for (ptrdiff_t j = 0; j < k; ++j)
            trans_c[i * k + j] += exp(r[i] + log_A[i * k + j] + w[j] - lse);
}

GMS_HOT static double fb_log_one(const hmm_model *m, const double *f, ptrdiff_t T,
                                 double *post, double *start_c, double *trans_c,
                                 fb_work *wk)
{
    const ptrdiff_t k = m->k;
    const double *restrict A = m->A;
    double *restrict a = wk->a;
    double *restrict b = wk->b;
    double *restrict c = wk->c;
    double *restrict beta = wk->beta;
    double *restrict w = wk->w;
    double *restrict g = wk->g;
    for (ptrdiff_t j = 0; j < k; ++j) post[j] = m->log_pi[j] + f[j];
    for (ptrdiff_t t = 1; t < T; ++t)
        forward_step(m, post + (t - 1) * k, f + t * k, post + t * k, wk);
    const double loglik = logsumexp(post + (T - 1) * k, k);
    if (!isfinite(loglik)) return loglik;

    /* backward, with xi and the posteriors (row t becomes gamma_t once the
     * transition counts of step t have used its forward values) */
    for (ptrdiff_t j = 0; j < k; ++j) beta[j] = 0.0;
    for (ptrdiff_t t = T - 1; t >= 0; --t) {
        double *restrict row = post + t * k;
        if (t < T - 1) {
            const double *restrict f1 = f + (t + 1) * k;
            for (ptrdiff_t j = 0; j < k; ++j) w[j] = f1[j] + beta[j];
            const double m2 = gms_hmm_max_of(w, k);
            if (m2 == -INFINITY) {
                for (ptrdiff_t j = 0; j < k; ++j) beta[j] = -INFINITY;
            } else {
                for (ptrdiff_t j = 0; j < k; ++j) c[j] = gms_exp_nonpositive(w[j] - m2);
                mat_vec(m->AT, c, k, b); /* b_i = sum_j A_ij c_j */
                const double m1 = gms_hmm_max_of(row, k);
                if (trans_c != NULL && m1 > -INFINITY) {
                    /* xi_t(i, j) = alpha_t(i) A_ij e_t+1(j) beta_t+1(j) / P,
                     * normalised per step (the numerators sum to P at every
                     * t) rather than by the global log-likelihood, whose
                     * absolute rounding error (eps |log P|) would scale
                     * every count by up to e^(eps |log P|): with
                     * a_i = e^(alpha_i - m1), the sum is sum_i a_i b_i. */
                    double norm = 0.0;
                    for (ptrdiff_t i = 0; i < k; ++i) {
                        a[i] = gms_exp_nonpositive(row[i] - m1);
                        norm += a[i] * b[i];
                    }
                    /* the linear form only while the exps' flushed terms
                     * (below e^-708 each) are negligible against the sum */
                    if (norm >= 0x1p-100) {
                        const double inv = 1.0 / norm;
                        for (ptrdiff_t i = 0; i < k; ++i) {
                            const double ai = a[i] * inv;
                            const double *restrict Ai = A + i * k;
                            double *restrict Xi = trans_c + i * k;
                            for (ptrdiff_t j = 0; j < k; ++j) Xi[j] += ai * Ai[j] * c[j];
                        }
                    } else {
                        xi_log_space(row, m->log_A, w, k, trans_c);
                    }
                }
                int fix = 0;
                for (ptrdiff_t i = 0; i < k; ++i) {
                    const int ok = b[i] >= GMS_LOG_REDO;
                    fix |= !ok;
                    beta[i] = m2 + gms_log_normal(ok ? b[i] : 1.0);
                }
                if (fix)
                    for (ptrdiff_t i = 0; i < k; ++i)
                        if (!(b[i] >= GMS_LOG_REDO)) beta[i] = exact_out(w, m->log_A, k, i);
            }
        }
        /* gamma_t = exp(alpha + beta), normalised per frame */
        for (ptrdiff_t j = 0; j < k; ++j) g[j] = row[j] + beta[j];
        const double gm = gms_hmm_max_of(g, k);
        for (ptrdiff_t j = 0; j < k; ++j) g[j] = gms_exp_nonpositive(g[j] - gm);
        double total = 0.0;
        for (ptrdiff_t j = 0; j < k; ++j) total += g[j];
        const double inv = 1.0 / total;
        for (ptrdiff_t j = 0; j < k; ++j) row[j] = g[j] * inv;
    }
    if (start_c != NULL)
        for (ptrdiff_t j = 0; j < k; ++j) start_c[j] += post[j];
    return loglik;
}

/* Forward only (scoring), log space: O(K) memory. */
GMS_HOT static double forward_log_only(const hmm_model *m, const double *f, ptrdiff_t T,
                                       fb_work *wk)
{
    const ptrdiff_t k = m->k;
    double *prev = wk->beta, *cur = wk->w;
    for (ptrdiff_t j = 0; j < k; ++j) prev[j] = m->log_pi[j] + f[j];
    for (ptrdiff_t t = 1; t < T; ++t) {
        forward_step(m, prev, f + t * k, cur, wk);
        double *tmp = prev;
        prev = cur;
        cur = tmp;
    }
    return logsumexp(prev, k);
}

int gms_hmm_check_offsets(const int64_t *offsets, ptrdiff_t n_seq)
{
    if (n_seq < 1 || offsets[0] != 0) return GMS_ERR_ARG;
    for (ptrdiff_t s = 0; s < n_seq; ++s)
        if (offsets[s + 1] <= offsets[s]) return GMS_ERR_ARG;
    return GMS_OK;
}


/*
 * The chain statistics of sequence s form leaf s of a reducer (leaf:
 * start counts (k), transition counts (k*k), log-likelihood (1)), so their
 * sums depend on the sequences' order only, also across calls. Sequences
 * run in waves whose leaf buffers are folded in sequence order.
 */
/* Emissions given as symbols: the checked symbols of all frames, the
 * log-likelihood table (n_sym x k) and its scaled-pass form. */
typedef struct {
    const double *X;
    const double *log_b;
    ptrdiff_t n_sym;
    const double *etab, *mtab;
} sym_source;

/* Frame rows f[t] = log_b[x_t] of one sequence, for the log-space redo. */
static void symbol_rows(const sym_source *src, const double *x, ptrdiff_t T, ptrdiff_t k,
                        double *f)
{
    for (ptrdiff_t t = 0; t < T; ++t)
        memcpy(f + t * k, src->log_b + (ptrdiff_t)x[t] * k, (size_t)k * sizeof(double));
}

static int fb_into(struct gms_reducer *red, int implementation, const double *framelogprob,
                   const sym_source *src, ptrdiff_t k, const int64_t *offsets,
                   ptrdiff_t n_seq, const double *startprob, const double *transmat,
                   double *posteriors, double *seq_loglik, int n_threads)
{
    if (k < 1 || (implementation != GMS_HMM_LOG && implementation != GMS_HMM_SCALING))
        return GMS_ERR_ARG;
    if (posteriors == NULL && red != NULL) return GMS_ERR_ARG;
    if (red != NULL && (red->stride != k + k * k + 1 || red->leaf_units != 1))
        return GMS_ERR_ARG;
    if (gms_hmm_check_offsets(offsets, n_seq) != GMS_OK) return GMS_ERR_ARG;
    if (red != NULL && gms_reducer_reserve(red, n_seq) != GMS_OK) return GMS_ERR_NOMEM;

    hmm_model model;
    if (gms_hmm_model_init(&model, k, startprob, transmat) != GMS_OK) return GMS_ERR_NOMEM;
    const ptrdiff_t stride = k + k * k + 1;
    /* sequences per wave: many, within ~32 MB of leaves */
    ptrdiff_t wave = ((ptrdiff_t)32 << 20) / (stride * (ptrdiff_t)sizeof(double));
    if (wave < 1) wave = 1;
    if (wave > 4096) wave = 4096;
    if (wave > n_seq) wave = n_seq;
    seq_len *order = (seq_len *)malloc((size_t)wave * sizeof(seq_len));
    double *leaves = red ? (double *)malloc((size_t)(wave * stride) * sizeof(double)) : NULL;
    int failed = order == NULL || (red != NULL && leaves == NULL);
    if (failed) {
        free(order); free(leaves); free(model.mem);
        return GMS_ERR_NOMEM;
    }
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_hmm_clamp_threads(n_threads, n_seq))
#endif
    {
        const ptrdiff_t kp = model.kp;
        double *buf = (double *)calloc((size_t)(6 * k + GMS_HMM_SCALED_WORK(kp)), sizeof(double));
        fb_work wk = {0};
        hmm_scaled_work swk = {0};
        if (buf != NULL) {
            wk.a = buf; wk.b = buf + k; wk.c = buf + 2 * k;
            wk.beta = buf + 3 * k; wk.w = buf + 4 * k; wk.g = buf + 5 * k;
            double *p = buf + 6 * k;
            const ptrdiff_t ck = GMS_HMM_CHUNK * kp;
            swk.prev = p; swk.beta = p + kp;
            swk.e = p + 2 * kp; swk.ab = swk.e + ck; swk.w = swk.ab + ck; swk.xa = swk.w + ck;
            swk.xi = swk.xa + ck;
        } else {
            gms_set_failed(&failed);
        }
        /* scale factors and frame maxima, grown to the longest sequence seen */
        double *cs = NULL;
        ptrdiff_t cs_size = 0;
        /* a symbol sequence's frame rows, formed only for a log-space redo */
        double *rows = NULL;
        ptrdiff_t rows_size = 0;
        for (ptrdiff_t w0 = 0; w0 < n_seq; w0 += wave) {
            const ptrdiff_t wn = n_seq - w0 < wave ? n_seq - w0 : wave;
#ifdef _OPENMP
#pragma omp single
#endif
            {
                for (ptrdiff_t j = 0; j < wn; ++j) {
                    order[j].len = offsets[w0 + j + 1] - offsets[w0 + j];
                    order[j].idx = w0 + j;
                }
                qsort(order, (size_t)wn, sizeof(seq_len), by_length_desc);
            }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (ptrdiff_t r = 0; r < wn; ++r) {
                const ptrdiff_t s = order[r].idx;
                double *leaf = red ? leaves + (s - w0) * stride : NULL;
                if (leaf) memset(leaf, 0, (size_t)stride * sizeof(double));
                if (buf == NULL) continue;
                const ptrdiff_t T = (ptrdiff_t)order[r].len;
                const ptrdiff_t need = gms_hmm_scratch_max(T, kp);
                if (need > cs_size) {
                    free(cs);
                    cs = (double *)malloc((size_t)need * sizeof(double));
                    cs_size = cs ? need : 0;
                }
                if (cs == NULL) {
                    gms_set_failed(&failed);
                    continue;
                }
                const double *f = src ? NULL : framelogprob + offsets[s] * k;
                hmm_symbols sy = {0};
                if (src) {
                    sy.x = src->X + offsets[s];
                    sy.etab = src->etab;
                    sy.mtab = src->mtab;
                }
                double *post = posteriors ? posteriors + offsets[s] * k : NULL;
                double *a_start = leaf, *a_trans = leaf ? leaf + k : NULL;
                double ll = gms_hmm_fb_scaled_one(&model, f, src ? &sy : NULL, T, post,
                                                  a_start, a_trans, &swk, cs);
                if (isnan(ll) && src) {
                    if (T * k > rows_size) {
                        free(rows);
                        rows = (double *)malloc((size_t)(T * k) * sizeof(double));
                        rows_size = rows ? T * k : 0;
                    }
                    if (rows == NULL) {
                        gms_set_failed(&failed);
                        continue;
                    }
                    symbol_rows(src, sy.x, T, k, rows);
                    f = rows;
                }
                /* a sequence outside the scaled pass's exact range (the
                 * failed pass added nothing): 'log' redoes it in log space;
                 * 'scaling' reports an underflow, unless the sequence is
                 * simply impossible (zero probability is an answer) */
                if (isnan(ll) && implementation == GMS_HMM_LOG)
                    ll = post ? fb_log_one(&model, f, T, post, a_start, a_trans, &wk)
                              : forward_log_only(&model, f, T, &wk);
                else if (isnan(ll) && forward_log_only(&model, f, T, &wk) == -INFINITY)
                    ll = -INFINITY;
                seq_loglik[s] = ll;
                if (leaf) leaf[stride - 1] = ll;
            }
            if (red != NULL) {
#ifdef _OPENMP
#pragma omp single
#endif
                for (ptrdiff_t j = 0; j < wn; ++j) gms_reducer_push(red, leaves + j * stride);
            }
        }
        free(rows);
        free(cs);
        free(buf);
    }
    free(order); free(leaves); free(model.mem);
    if (red != NULL) red->units += n_seq;
    if (failed) return GMS_ERR_NOMEM;
    for (ptrdiff_t s = 0; s < n_seq; ++s) {
        if (isnan(seq_loglik[s])) return implementation == GMS_HMM_SCALING ? GMS_ERR_UNDERFLOW : GMS_ERR_NONFINITE;
        if (!isfinite(seq_loglik[s])) return GMS_ERR_NONFINITE;
    }
    return GMS_OK;
}

int gms_hmm_forward_backward_into(struct gms_reducer *red, int implementation,
                                  const double *framelogprob, ptrdiff_t k,
                                  const int64_t *offsets, ptrdiff_t n_seq,
                                  const double *startprob, const double *transmat,
                                  double *posteriors, double *seq_loglik, int n_threads)
{
    return fb_into(red, implementation, framelogprob, NULL, k, offsets, n_seq, startprob,
                   transmat, posteriors, seq_loglik, n_threads);
}

int gms_hmm_categorical_fb_into(struct gms_reducer *red, int implementation, const double *X,
                                const double *log_b, ptrdiff_t n_symbols, ptrdiff_t k,
                                const int64_t *offsets, ptrdiff_t n_seq,
                                const double *startprob, const double *transmat,
                                double *posteriors, double *seq_loglik, int n_threads,
                                int64_t *bad_row)
{
    if (k < 1 || n_symbols < 1 || X == NULL || log_b == NULL || bad_row == NULL)
        return GMS_ERR_ARG;
    if (gms_hmm_check_offsets(offsets, n_seq) != GMS_OK) return GMS_ERR_ARG;
    /* every symbol is checked before any is used as an index */
    const int64_t n = offsets[n_seq];
    const double top = (double)n_symbols;
    for (int64_t t = 0; t < n; ++t) {
        const double x = X[t];
        if (!(x >= 0.0 && x < top && x == floor(x))) {
            *bad_row = t;
            return GMS_HMM_BAD_SYMBOL;
        }
    }
    const ptrdiff_t kp = round_up(k);
    double *tab = (double *)malloc((size_t)(n_symbols * (kp + 1)) * sizeof(double));
    if (tab == NULL) return GMS_ERR_NOMEM;
    sym_source src = {X, log_b, n_symbols, tab, tab + n_symbols * kp};
    int rc = GMS_ERR_ARG;   /* a NaN log-likelihood */
    if (!gms_hmm_emission_table(log_b, n_symbols, k, kp, tab, tab + n_symbols * kp))
        rc = fb_into(red, implementation, NULL, &src, k, offsets, n_seq, startprob, transmat,
                     posteriors, seq_loglik, n_threads);
    free(tab);
    return rc;
}

int gms_hmm_forward_backward(int implementation, const double *framelogprob,
                             ptrdiff_t k, const int64_t *offsets,
                             ptrdiff_t n_seq, const double *startprob,
                             const double *transmat, double *posteriors,
                             double *start_counts, double *trans_counts,
                             double *seq_loglik, int n_threads)
{
    if (posteriors == NULL && (start_counts != NULL || trans_counts != NULL))
        return GMS_ERR_ARG;
    if (k < 1) return GMS_ERR_ARG;
    gms_reducer red;
    const int counts = start_counts != NULL || trans_counts != NULL;
    if (counts && gms_reducer_init(&red, k + k * k + 1, 1) != GMS_OK) {
        gms_reducer_free(&red);
        return GMS_ERR_NOMEM;
    }
    int rc = gms_hmm_forward_backward_into(counts ? &red : NULL, implementation, framelogprob,
                                           k, offsets, n_seq, startprob, transmat, posteriors,
                                           seq_loglik, n_threads);
    if (!counts) return rc;
    if (rc != GMS_ERR_NOMEM && rc != GMS_ERR_ARG) {
        double *t = (double *)malloc((size_t)(k + k * k + 1) * sizeof(double));
        if (t == NULL) {
            rc = GMS_ERR_NOMEM;
        } else {
            gms_reducer_total(&red, t);
            if (start_counts) memcpy(start_counts, t, (size_t)k * sizeof(double));
            if (trans_counts) memcpy(trans_counts, t + k, (size_t)(k * k) * sizeof(double));
            free(t);
        }
    }
    gms_reducer_free(&red);
    return rc;
}
