/*
 * Type-generic body of the gmscore kernels. Included by gms_kernels.c once
 * per input precision with REAL (the input type) and SFX (the name suffix)
 * defined. Accumulators are double whatever REAL is.
 */
#define GMS_CAT2(a, b) a##_##b
#define GMS_CAT(a, b) GMS_CAT2(a, b)
#define FN(name) GMS_CAT(name, SFX)

/*
 * Squared Mahalanobis distances of `nr` rows of X to every component,
 * turned into weighted log-densities: lp[i, c] = log_norm[c] - q / 2.
 * `mu_u` holds mean_c^T U for the tied type (K x D), `work` 2 * D values.
 */
static void FN(log_prob_rows)(int cov_type, const REAL *X, ptrdiff_t nr,
                              ptrdiff_t d, ptrdiff_t k, const REAL *means,
                              const REAL *prec_chol, const double *log_norm,
                              const REAL *mu_u, double *lp, REAL *work)
{
    REAL *diff = work;
    REAL *y = work + d;
    for (ptrdiff_t i = 0; i < nr; ++i) {
        const REAL *x = X + i * d;
        double *lpi = lp + i * k;
        switch (cov_type) {
        case GMS_FULL:
            for (ptrdiff_t c = 0; c < k; ++c) {
                const REAL *mu = means + c * d;
                const REAL *U = prec_chol + c * d * d;
                for (ptrdiff_t j = 0; j < d; ++j) {
                    diff[j] = x[j] - mu[j];
                    y[j] = 0;
                }
                /* y = diff^T U, walking U by rows so the inner loop is
                 * contiguous (U is upper triangular). */
                for (ptrdiff_t a = 0; a < d; ++a) {
                    const REAL da = diff[a];
                    const REAL *Ua = U + a * d;
                    for (ptrdiff_t b = a; b < d; ++b) y[b] += da * Ua[b];
                }
                double q = 0.0;
                for (ptrdiff_t j = 0; j < d; ++j) q += (double)y[j] * y[j];
                lpi[c] = log_norm[c] - 0.5 * q;
            }
            break;
        case GMS_TIED:
            /* (x - mu_c)^T U = x^T U - mu_c^T U: one triangular product per row. */
            for (ptrdiff_t j = 0; j < d; ++j) y[j] = 0;
            for (ptrdiff_t a = 0; a < d; ++a) {
                const REAL xa = x[a];
                const REAL *Ua = prec_chol + a * d;
                for (ptrdiff_t b = a; b < d; ++b) y[b] += xa * Ua[b];
            }
            for (ptrdiff_t c = 0; c < k; ++c) {
                const REAL *mc = mu_u + c * d;
                double q = 0.0;
                for (ptrdiff_t j = 0; j < d; ++j) {
                    const double t = (double)y[j] - mc[j];
                    q += t * t;
                }
                lpi[c] = log_norm[c] - 0.5 * q;
            }
            break;
        case GMS_DIAG:
            for (ptrdiff_t c = 0; c < k; ++c) {
                const REAL *mu = means + c * d;
                const REAL *p = prec_chol + c * d;
                double q = 0.0;
                for (ptrdiff_t j = 0; j < d; ++j) {
                    const REAL t = (x[j] - mu[j]) * p[j];
                    q += (double)t * t;
                }
                lpi[c] = log_norm[c] - 0.5 * q;
            }
            break;
        default: /* GMS_SPHERICAL */
            for (ptrdiff_t c = 0; c < k; ++c) {
                const REAL *mu = means + c * d;
                const REAL p = prec_chol[c];
                double q = 0.0;
                /* scale before squaring, as diag does, so that a finite
                 * distance cannot overflow on the way */
                for (ptrdiff_t j = 0; j < d; ++j) {
                    const REAL t = (x[j] - mu[j]) * p;
                    q += (double)t * t;
                }
                lpi[c] = log_norm[c] - 0.5 * q;
            }
            break;
        }
    }
}

/* mean_c^T U for the tied type; NULL (nothing to do) otherwise. */
static REAL *FN(tied_means_product)(int cov_type, const REAL *means,
                                    const REAL *U, ptrdiff_t d, ptrdiff_t k,
                                    int *failed)
{
    if (cov_type != GMS_TIED) return NULL;
    REAL *mu_u = (REAL *)calloc((size_t)(k * d), sizeof(REAL));
    if (mu_u == NULL) {
        *failed = 1;
        return NULL;
    }
    for (ptrdiff_t c = 0; c < k; ++c)
        for (ptrdiff_t a = 0; a < d; ++a) {
            const REAL ma = means[c * d + a];
            for (ptrdiff_t b = a; b < d; ++b) mu_u[c * d + b] += ma * U[a * d + b];
        }
    return mu_u;
}

/* Add weight r times the centred row (x - centre) to the statistics of one
 * component. `diff` is scratch of D doubles. */
static inline void FN(accumulate_row)(int cov_type, const REAL *x, ptrdiff_t d,
                                      double r, const double *centre,
                                      double *nk, double *s1, double *s2,
                                      double *diff)
{
    *nk += r;
    for (ptrdiff_t j = 0; j < d; ++j) {
        diff[j] = (double)x[j] - centre[j];
        s1[j] += r * diff[j];
    }
    switch (cov_type) {
    case GMS_FULL:
        for (ptrdiff_t a = 0; a < d; ++a) {
            const double ra = r * diff[a];
            double *row = s2 + a * d;
            for (ptrdiff_t b = a; b < d; ++b) row[b] += ra * diff[b];
        }
        break;
    case GMS_DIAG:
    case GMS_SPHERICAL:
        for (ptrdiff_t j = 0; j < d; ++j) s2[j] += r * diff[j] * diff[j];
        break;
    default: /* tied: the pooled scatter is computed once per fit */
        break;
    }
}

int FN(gms_weighted_log_prob)(int cov_type, const REAL *X, ptrdiff_t n,
                              ptrdiff_t d, ptrdiff_t k, const REAL *means,
                              const REAL *prec_chol, const double *log_norm,
                              double *out, int n_threads)
{
    if (n < 0 || d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL)
        return GMS_ERR_ARG;
    int failed = 0;
    REAL *mu_u = FN(tied_means_product)(cov_type, means, prec_chol, d, k, &failed);
    if (failed) return GMS_ERR_NOMEM;
    const ptrdiff_t nb = gms_n_blocks(n);
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, nb))
#endif
    {
        REAL *work = (REAL *)malloc((size_t)(2 * d) * sizeof(REAL));
        if (work == NULL) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t b = 0; b < nb; ++b) {
            if (work == NULL) continue;
            const ptrdiff_t start = b * GMS_BLOCK_ROWS;
            const ptrdiff_t nr = gms_min(GMS_BLOCK_ROWS, n - start);
            FN(log_prob_rows)(cov_type, X + start * d, nr, d, k, means,
                              prec_chol, log_norm, mu_u, out + start * k, work);
        }
        free(work);
    }
    free(mu_u);
    return failed ? GMS_ERR_NOMEM : GMS_OK;
}

int FN(gms_estep)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d,
                  ptrdiff_t k, const REAL *means, const REAL *prec_chol,
                  const double *log_norm, const double *sample_weight,
                  const double *centres, double *nk, double *s1, double *s2,
                  double *loglik, int n_threads)
{
    if (n < 0 || d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL)
        return GMS_ERR_ARG;
    const ptrdiff_t s2n = gms_s2_size(cov_type, k, d);
    const ptrdiff_t nb = gms_n_blocks(n);
    const int n_slots = gms_n_slots(nb);
    /* Per slot: nk (k), s1 (k*d), s2 (s2n), loglik (1). */
    const ptrdiff_t stride = k + k * d + s2n + 1;
    double *acc = (double *)calloc((size_t)(stride * (n_slots > 0 ? n_slots : 1)), sizeof(double));
    int failed = (acc == NULL);
    int nonfinite = 0;
    REAL *mu_u = failed ? NULL : FN(tied_means_product)(cov_type, means, prec_chol, d, k, &failed);
    if (failed) {
        free(acc);
        return GMS_ERR_NOMEM;
    }
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, n_slots))
#endif
    {
        double *lp = (double *)malloc((size_t)(GMS_BLOCK_ROWS * k + d) * sizeof(double));
        REAL *work = (REAL *)malloc((size_t)(2 * d) * sizeof(REAL));
        if (lp == NULL || work == NULL) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int s = 0; s < n_slots; ++s) {
            if (lp == NULL || work == NULL) continue;
            double *a_nk = acc + s * stride;
            double *a_s1 = a_nk + k;
            double *a_s2 = a_s1 + k * d;
            double *a_ll = a_s2 + s2n;
            double *diff = lp + GMS_BLOCK_ROWS * k;
            const ptrdiff_t b0 = gms_slot_begin(s, nb, n_slots);
            const ptrdiff_t b1 = gms_slot_begin(s + 1, nb, n_slots);
            int bad = 0;
            for (ptrdiff_t b = b0; b < b1; ++b) {
                const ptrdiff_t start = b * GMS_BLOCK_ROWS;
                const ptrdiff_t nr = gms_min(GMS_BLOCK_ROWS, n - start);
                const REAL *Xb = X + start * d;
                FN(log_prob_rows)(cov_type, Xb, nr, d, k, means, prec_chol,
                                  log_norm, mu_u, lp, work);
                for (ptrdiff_t i = 0; i < nr; ++i) {
                    double *lpi = lp + i * k;
                    const double w = sample_weight ? sample_weight[start + i] : 1.0;
                    double m = lpi[0];
                    for (ptrdiff_t c = 1; c < k; ++c) m = lpi[c] > m ? lpi[c] : m;
                    double sum = 0.0;
                    for (ptrdiff_t c = 0; c < k; ++c) sum += exp(lpi[c] - m);
                    const double lse = m + log(sum);
                    if (!isfinite(lse)) {
                        bad = 1;
                        continue;
                    }
                    *a_ll += w * lse;
                    for (ptrdiff_t c = 0; c < k; ++c) {
                        const double r = w * exp(lpi[c] - lse);
                        /* exact zeros add nothing; skipping them is exact */
                        if (r == 0.0) continue;
                        FN(accumulate_row)(cov_type, Xb + i * d, d, r,
                                           centres + c * d, a_nk + c,
                                           a_s1 + c * d, a_s2 + gms_s2_offset(cov_type, c, d),
                                           diff);
                    }
                }
            }
            if (bad) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
                nonfinite = 1;
            }
        }
        free(lp);
        free(work);
    }
    free(mu_u);
    if (!failed) gms_reduce_slots(acc, n_slots, stride, nk, k, s1, k * d, s2, s2n, loglik);
    free(acc);
    if (failed) return GMS_ERR_NOMEM;
    return nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
}

int FN(gms_accumulate)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d,
                       ptrdiff_t k, const double *resp, const int64_t *labels,
                       const double *sample_weight, const double *centres,
                       double *nk, double *s1, double *s2, int n_threads)
{
    if (n < 0 || d < 1 || k < 1 || cov_type < GMS_FULL || cov_type > GMS_SPHERICAL)
        return GMS_ERR_ARG;
    if (resp == NULL && labels == NULL && k != 1) return GMS_ERR_ARG;
    const ptrdiff_t s2n = gms_s2_size(cov_type, k, d);
    const ptrdiff_t nb = gms_n_blocks(n);
    const int n_slots = gms_n_slots(nb);
    const ptrdiff_t stride = k + k * d + s2n;
    double *acc = (double *)calloc((size_t)(stride * (n_slots > 0 ? n_slots : 1)), sizeof(double));
    if (acc == NULL) return GMS_ERR_NOMEM;
    int failed = 0;
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, n_slots))
#endif
    {
        double *diff = (double *)malloc((size_t)d * sizeof(double));
        if (diff == NULL) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int s = 0; s < n_slots; ++s) {
            if (diff == NULL) continue;
            double *a_nk = acc + s * stride;
            double *a_s1 = a_nk + k;
            double *a_s2 = a_s1 + k * d;
            const ptrdiff_t i0 = gms_slot_begin(s, nb, n_slots) * GMS_BLOCK_ROWS;
            const ptrdiff_t i1 = gms_min(gms_slot_begin(s + 1, nb, n_slots) * GMS_BLOCK_ROWS, n);
            for (ptrdiff_t i = i0; i < i1; ++i) {
                const double w = sample_weight ? sample_weight[i] : 1.0;
                if (labels != NULL) {
                    const int64_t c = labels[i];
                    if (c < 0 || c >= k || w == 0.0) continue;
                    FN(accumulate_row)(cov_type, X + i * d, d, w, centres + c * d,
                                       a_nk + c, a_s1 + c * d,
                                       a_s2 + gms_s2_offset(cov_type, c, d), diff);
                    continue;
                }
                for (ptrdiff_t c = 0; c < k; ++c) {
                    const double r = w * (resp ? resp[i * k + c] : 1.0);
                    if (r == 0.0) continue;
                    FN(accumulate_row)(cov_type, X + i * d, d, r, centres + c * d,
                                       a_nk + c, a_s1 + c * d,
                                       a_s2 + gms_s2_offset(cov_type, c, d), diff);
                }
            }
        }
        free(diff);
    }
    if (!failed) gms_reduce_slots(acc, n_slots, stride, nk, k, s1, k * d, s2, s2n, NULL);
    free(acc);
    return failed ? GMS_ERR_NOMEM : GMS_OK;
}

int FN(gms_kmeans_step)(const REAL *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                        const double *centers, const double *sample_weight,
                        int64_t *labels, double *sums, double *counts,
                        double *inertia, int n_threads)
{
    if (n < 0 || d < 1 || k < 1) return GMS_ERR_ARG;
    const ptrdiff_t nb = gms_n_blocks(n);
    const int n_slots = gms_n_slots(nb);
    /* Per slot: sums (k*d), counts (k), inertia (1). */
    const ptrdiff_t stride = k * d + k + 1;
    double *acc = (double *)calloc((size_t)(stride * (n_slots > 0 ? n_slots : 1)), sizeof(double));
    if (acc == NULL) return GMS_ERR_NOMEM;
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(gms_clamp_threads(n_threads, n_slots))
#endif
    for (int s = 0; s < n_slots; ++s) {
        double *a_sum = acc + s * stride;
        double *a_cnt = a_sum + k * d;
        double *a_in = a_cnt + k;
        const ptrdiff_t i0 = gms_slot_begin(s, nb, n_slots) * GMS_BLOCK_ROWS;
        const ptrdiff_t i1 = gms_min(gms_slot_begin(s + 1, nb, n_slots) * GMS_BLOCK_ROWS, n);
        for (ptrdiff_t i = i0; i < i1; ++i) {
            const REAL *x = X + i * d;
            double best = INFINITY;
            ptrdiff_t arg = 0;
            for (ptrdiff_t c = 0; c < k; ++c) {
                const double *ctr = centers + c * d;
                double dist = 0.0;
                for (ptrdiff_t j = 0; j < d; ++j) {
                    const double t = (double)x[j] - ctr[j];
                    dist += t * t;
                }
                if (dist < best) {
                    best = dist;
                    arg = c;
                }
            }
            const double w = sample_weight ? sample_weight[i] : 1.0;
            labels[i] = (int64_t)arg;
            a_cnt[arg] += w;
            *a_in += w * best;
            for (ptrdiff_t j = 0; j < d; ++j) a_sum[arg * d + j] += w * (double)x[j];
        }
    }
    gms_reduce_slots(acc, n_slots, stride, sums, k * d, counts, k, NULL, 0, inertia);
    free(acc);
    return GMS_OK;
}

int FN(gms_sqdist_potential)(const REAL *X, ptrdiff_t n, ptrdiff_t d,
                             const double *point, const double *closest,
                             const double *sample_weight, double *out_min,
                             double *potential, int n_threads)
{
    if (n < 0 || d < 1) return GMS_ERR_ARG;
    const ptrdiff_t nb = gms_n_blocks(n);
    const int n_slots = gms_n_slots(nb);
    double part[GMS_MAX_SLOTS] = {0.0};
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(gms_clamp_threads(n_threads, n_slots))
#endif
    for (int s = 0; s < n_slots; ++s) {
        const ptrdiff_t i0 = gms_slot_begin(s, nb, n_slots) * GMS_BLOCK_ROWS;
        const ptrdiff_t i1 = gms_min(gms_slot_begin(s + 1, nb, n_slots) * GMS_BLOCK_ROWS, n);
        double pot = 0.0;
        for (ptrdiff_t i = i0; i < i1; ++i) {
            const REAL *x = X + i * d;
            double dist = 0.0;
            for (ptrdiff_t j = 0; j < d; ++j) {
                const double t = (double)x[j] - point[j];
                dist += t * t;
            }
            if (closest != NULL && closest[i] < dist) dist = closest[i];
            if (out_min != NULL) out_min[i] = dist;
            pot += (sample_weight ? sample_weight[i] : 1.0) * dist;
        }
        part[s] = pot;
    }
    double total = 0.0;
    for (int s = 0; s < n_slots; ++s) total += part[s];
    *potential = total;
    return GMS_OK;
}

#undef FN
#undef GMS_CAT
#undef GMS_CAT2
