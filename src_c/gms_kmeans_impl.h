/*
 * Type-generic k-means helpers (Lloyd step, k-means++ potentials), included
 * from gms_kernels_impl.h with REAL, SFX and FN defined there. Same fixed
 * blocks and reduction slots as the E-step: thread-count independent.
 */
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
