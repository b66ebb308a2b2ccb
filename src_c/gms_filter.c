/*
 * Streaming HMM kernels (see gms_filter.h). Small K and D: plain loops
 * that the compiler vectorises; the point is one call per block of frames
 * with no allocation on the update path.
 */
#include "gms_filter.h"
#include "gms_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

ptrdiff_t gms_filter_work_size(const gms_filter_model *m)
{
    return m->k * m->m + 2 * m->d + 5 * m->k;
}

/* Log-density of x under every state into f (K); comp (KM) and two D
 * vectors of scratch. */
static void emission(const gms_filter_model *m, const double *x, double *f, double *comp,
                     double *diff, double *y)
{
    const ptrdiff_t d = m->d, km = m->k * m->m;
    for (ptrdiff_t c = 0; c < km; ++c) {
        const double *mu = m->means + c * d;
        double q = 0.0;
        if (m->full) {
            const double *u = m->factors + c * d * d;
            for (ptrdiff_t i = 0; i < d; ++i) {
                diff[i] = x[i] - mu[i];
                y[i] = 0.0;
            }
            /* y = diff U over the whole factor (U is triangular, but the
             * zeros cost little at small D and nothing is assumed) */
            for (ptrdiff_t i = 0; i < d; ++i) {
                const double di = diff[i];
                const double *ui = u + i * d;
                for (ptrdiff_t j = 0; j < d; ++j) y[j] += di * ui[j];
            }
            for (ptrdiff_t j = 0; j < d; ++j) q += y[j] * y[j];
        } else {
            const double *p = m->factors + c * d;
            for (ptrdiff_t i = 0; i < d; ++i) {
                const double z = (x[i] - mu[i]) * p[i];
                q += z * z;
            }
        }
        comp[c] = m->log_norm[c] - 0.5 * q;
    }
    if (m->m == 1) {
        memcpy(f, comp, (size_t)m->k * sizeof(double));
        return;
    }
    for (ptrdiff_t s = 0; s < m->k; ++s) {   /* log-sum-exp over the mixtures */
        const double *cs = comp + s * m->m;
        double mx = -INFINITY;
        for (ptrdiff_t j = 0; j < m->m; ++j) mx = cs[j] > mx ? cs[j] : mx;
        if (mx == -INFINITY || isnan(mx)) {
            f[s] = mx;
            continue;
        }
        double acc = 0.0;
        for (ptrdiff_t j = 0; j < m->m; ++j) acc += exp(cs[j] - mx);
        f[s] = mx + log(acc);
    }
}

/*
 * One forward step: pred = prev A (prev NULL: the start distribution),
 * then alpha = pred * exp(f - shift) / sum, shift the largest f among the
 * states with predicted mass (so the sum is at least that state's mass and
 * never underflows to zero unless the frame is impossible). e receives the
 * scaled emissions (0 where pred is 0), *logpred log p(x_t | past).
 */
static int forward_step(ptrdiff_t k, const double *prev, const double *startprob,
                        const double *transmat, const double *f, double *pred, double *e,
                        double *alpha, double *logpred)
{
    if (prev == NULL) {
        memcpy(pred, startprob, (size_t)k * sizeof(double));
    } else {
        for (ptrdiff_t j = 0; j < k; ++j) pred[j] = 0.0;
        for (ptrdiff_t i = 0; i < k; ++i) {
            const double a = prev[i];
            const double *row = transmat + i * k;
            for (ptrdiff_t j = 0; j < k; ++j) pred[j] += a * row[j];
        }
    }
    double shift = -INFINITY;
    for (ptrdiff_t j = 0; j < k; ++j) {
        if (isnan(f[j])) return GMS_FILTER_NONFINITE_INPUT;
        if (pred[j] > 0.0 && f[j] > shift) shift = f[j];
    }
    if (!(shift > -INFINITY) || shift == INFINITY) return GMS_FILTER_IMPOSSIBLE;
    double s = 0.0;
    for (ptrdiff_t j = 0; j < k; ++j) {
        e[j] = pred[j] > 0.0 ? exp(f[j] - shift) : 0.0;
        alpha[j] = pred[j] * e[j];
        s += alpha[j];
    }
    if (!(s > 0.0) || !isfinite(s)) return GMS_FILTER_IMPOSSIBLE;
    const double inv = 1.0 / s;
    for (ptrdiff_t j = 0; j < k; ++j) alpha[j] *= inv;
    *logpred = shift + log(s);
    return GMS_OK;
}

/* One Viterbi step into nd (K) and back-pointers bp (K); prev NULL: the
 * first frame. Scores are shifted so the best is 0 (ties: first maximum,
 * as in the batch decoder). */
static int viterbi_step(const gms_filter_model *m, const double *prev, const double *f,
                        double *nd, int32_t *bp)
{
    const ptrdiff_t k = m->k;
    if (prev == NULL) {
        for (ptrdiff_t j = 0; j < k; ++j) {
            nd[j] = m->log_startprob[j] + f[j];
            bp[j] = 0;
        }
    } else {
        for (ptrdiff_t j = 0; j < k; ++j) {
            nd[j] = -INFINITY;
            bp[j] = 0;
        }
        for (ptrdiff_t i = 0; i < k; ++i) {
            const double p = prev[i];
            const double *la = m->log_transmat + i * k;
            for (ptrdiff_t j = 0; j < k; ++j) {
                const double v = p + la[j];
                const int gt = v > nd[j];
                nd[j] = gt ? v : nd[j];
                bp[j] = gt ? (int32_t)i : bp[j];
            }
        }
        for (ptrdiff_t j = 0; j < k; ++j) nd[j] += f[j];
    }
    double mx = -INFINITY;
    for (ptrdiff_t j = 0; j < k; ++j) mx = nd[j] > mx ? nd[j] : mx;
    if (!(mx > -INFINITY) || mx == INFINITY) return GMS_FILTER_IMPOSSIBLE;
    for (ptrdiff_t j = 0; j < k; ++j) nd[j] -= mx;
    return GMS_OK;
}

int gms_filter_update(const gms_filter_model *m, gms_filter_state *st, const double *X,
                      ptrdiff_t n, double *probs, double *logpred, double *work,
                      ptrdiff_t *n_done)
{
    const ptrdiff_t k = m->k, d = m->d;
    double *comp = work, *diff = comp + k * m->m, *y = diff + d, *f = y + d;
    double *pred = f + k, *e = pred + k, *na = e + k, *nd = na + k;
    int32_t bp_local[64];
    int32_t *bp = k <= 64 ? bp_local : NULL;
    int rc = GMS_OK;
    *n_done = 0;
    if (bp == NULL && (bp = (int32_t *)malloc((size_t)k * sizeof(int32_t))) == NULL)
        return GMS_ERR_NOMEM;
    for (ptrdiff_t t = 0; t < n; ++t) {
        const double *x = X + t * d;
        for (ptrdiff_t i = 0; i < d; ++i) {
            if (!isfinite(x[i])) {
                rc = GMS_FILTER_NONFINITE_INPUT;
                goto done;
            }
        }
        emission(m, x, f, comp, diff, y);
        const int first = st->t == 0;
        double lp = 0.0;
        rc = forward_step(k, first ? NULL : st->alpha, m->startprob, m->transmat, f, pred, e,
                          na, &lp);
        if (rc == GMS_OK && st->decode) rc = viterbi_step(m, first ? NULL : st->delta, f, nd, bp);
        if (rc != GMS_OK) goto done;
        /* commit */
        st->t += 1;
        const ptrdiff_t slot = (ptrdiff_t)(st->t % st->ring);
        memcpy(st->alpha, na, (size_t)k * sizeof(double));
        memcpy(st->ring_alpha + slot * k, na, (size_t)k * sizeof(double));
        memcpy(st->ring_emit + slot * k, e, (size_t)k * sizeof(double));
        if (st->decode) {
            memcpy(st->delta, nd, (size_t)k * sizeof(double));
            memcpy(st->ring_bp + slot * k, bp, (size_t)k * sizeof(int32_t));
        }
        st->loglik += lp;
        if (probs) memcpy(probs + t * k, na, (size_t)k * sizeof(double));
        if (logpred) logpred[t] = lp;
        *n_done = t + 1;
    }
done:
    if (bp != bp_local) free(bp);
    return rc;
}

static int lag_ok(const gms_filter_state *st, ptrdiff_t lag)
{
    return lag >= 0 && lag < st->ring && (int64_t)lag < st->t;
}

int gms_filter_smoothed(const gms_filter_model *m, const gms_filter_state *st,
                        ptrdiff_t lag, double *out, double *work)
{
    const ptrdiff_t k = m->k;
    if (!lag_ok(st, lag)) return GMS_ERR_ARG;
    double *b = work, *nb = work + k;
    for (ptrdiff_t i = 0; i < k; ++i) b[i] = 1.0;
    /* beta_{s-1}(i) = sum_j A_ij e_s(j) beta_s(j), for s = t .. t-lag+1,
     * rescaled to sum 1 every step */
    for (ptrdiff_t back = 0; back < lag; ++back) {
        const int64_t s = st->t - back;
        const double *e = st->ring_emit + (ptrdiff_t)(s % st->ring) * k;
        double tot = 0.0;
        for (ptrdiff_t i = 0; i < k; ++i) {
            const double *row = m->transmat + i * k;
            double acc = 0.0;
            for (ptrdiff_t j = 0; j < k; ++j) acc += row[j] * e[j] * b[j];
            nb[i] = acc;
            tot += acc;
        }
        if (!(tot > 0.0) || !isfinite(tot)) return GMS_FILTER_IMPOSSIBLE;
        for (ptrdiff_t i = 0; i < k; ++i) b[i] = nb[i] / tot;
    }
    const double *a = st->ring_alpha + (ptrdiff_t)((st->t - lag) % st->ring) * k;
    double tot = 0.0;
    for (ptrdiff_t i = 0; i < k; ++i) {
        out[i] = a[i] * b[i];
        tot += out[i];
    }
    if (!(tot > 0.0) || !isfinite(tot)) return GMS_FILTER_IMPOSSIBLE;
    for (ptrdiff_t i = 0; i < k; ++i) out[i] /= tot;
    return GMS_OK;
}

int gms_filter_viterbi(const gms_filter_model *m, const gms_filter_state *st,
                       ptrdiff_t lag, int64_t *states)
{
    const ptrdiff_t k = m->k;
    if (!st->decode || !lag_ok(st, lag)) return GMS_ERR_ARG;
    ptrdiff_t last = 0;
    for (ptrdiff_t j = 1; j < k; ++j)
        if (st->delta[j] > st->delta[last]) last = j;
    states[lag] = last;
    for (ptrdiff_t back = 0; back < lag; ++back) {
        const int64_t s = st->t - back;
        const int32_t *bp = st->ring_bp + (ptrdiff_t)(s % st->ring) * k;
        states[lag - back - 1] = bp[states[lag - back]];
    }
    return GMS_OK;
}

int gms_filter_forward(const double *framelogprob, ptrdiff_t k, const int64_t *offsets,
                       ptrdiff_t n_seq, const double *startprob, const double *transmat,
                       double *post, double *seq_loglik, int n_threads)
{
    if (k < 1 || n_seq < 1 || offsets[0] != 0) return GMS_ERR_ARG;
    for (ptrdiff_t s = 0; s < n_seq; ++s)
        if (offsets[s + 1] <= offsets[s]) return GMS_ERR_ARG;
    int failed = 0, impossible = 0;
    int threads = n_threads < 1 ? 1 : n_threads;
    if ((ptrdiff_t)threads > n_seq) threads = (int)n_seq;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (ptrdiff_t s = 0; s < n_seq; ++s) {
        double *scratch = (double *)malloc((size_t)(2 * k) * sizeof(double));
        if (scratch == NULL) {
            gms_set_failed(&failed);
            continue;
        }
        const ptrdiff_t t0 = (ptrdiff_t)offsets[s], t1 = (ptrdiff_t)offsets[s + 1];
        double ll = 0.0;
        for (ptrdiff_t t = t0; t < t1; ++t) {
            double lp;
            const int rc = forward_step(k, t == t0 ? NULL : post + (t - 1) * k, startprob,
                                        transmat, framelogprob + t * k, scratch,
                                        scratch + k, post + t * k, &lp);
            if (rc != GMS_OK) {
                for (ptrdiff_t u = t; u < t1; ++u)
                    for (ptrdiff_t j = 0; j < k; ++j) post[u * k + j] = NAN;
                ll = -INFINITY;
                gms_set_failed(&impossible);
                break;
            }
            ll += lp;
        }
        seq_loglik[s] = ll;
        free(scratch);
    }
    if (failed) return GMS_ERR_NOMEM;
    return impossible ? GMS_FILTER_IMPOSSIBLE : GMS_OK;
}
