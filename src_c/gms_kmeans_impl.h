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

/* ---------------------------------------------------------- k-means++ */
/*
 * Squared distances from x to the t points of P, stored transposed (d x t,
 * row j holds feature j of every point), into out[0..t). The lanes are the
 * points, so the loop vectorises without reassociating any sum: each
 * out[c] is the plain sum over j in order, the same bits as a scalar loop.
 */
static inline void FN(km_dists)(const REAL *x, const double *P, ptrdiff_t d, ptrdiff_t t,
                                double *out)
{
    for (ptrdiff_t c = 0; c < t; ++c) out[c] = 0.0;
    for (ptrdiff_t j = 0; j < d; ++j) {
        const double xj = (double)x[j];
        const double *p = P + j * t;
        for (ptrdiff_t c = 0; c < t; ++c) {
            const double e = xj - p[c];
            out[c] += e * e;
        }
    }
}

/*
 * One seeding pass. Point 0 of P (d x t, transposed) is the centre chosen
 * last, not yet folded into `closest`; points 1..t-1 are the candidates.
 * Every row gets closest = min(closest, dist to point 0), and block b gets
 * bsum[b * (t - 1) + c - 1] = sum over its rows, in order, of
 * w * min(closest, dist to candidate c). With t == 1 the block sums are
 * those of the updated closest itself (bsum[b]).
 */
static int FN(kmpp_pass)(const REAL *X, ptrdiff_t n, ptrdiff_t d, const double *P,
                         ptrdiff_t t, const double *w, double *closest, double *bsum,
                         int n_threads)
{
    const ptrdiff_t nb = gms_n_blocks(n);
    const ptrdiff_t nc = t > 1 ? t - 1 : 1;
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(gms_clamp_threads(n_threads, nb))
#endif
    for (ptrdiff_t b = 0; b < nb; ++b) {
        double dist[GMS_KMPP_MAX_POINTS];
        double acc[GMS_KMPP_MAX_POINTS] = {0.0};
        const ptrdiff_t i1 = gms_min((b + 1) * GMS_BLOCK_ROWS, n);
        for (ptrdiff_t i = b * GMS_BLOCK_ROWS; i < i1; ++i) {
            FN(km_dists)(X + i * d, P, d, t, dist);
            const double cl = closest[i] < dist[0] ? closest[i] : dist[0];
            const double wi = w ? w[i] : 1.0;
            closest[i] = cl;
            if (t == 1) {
                acc[0] += wi * cl;
            } else {
                for (ptrdiff_t c = 1; c < t; ++c)
                    acc[c - 1] += wi * (dist[c] < cl ? dist[c] : cl);
            }
        }
        for (ptrdiff_t c = 0; c < nc; ++c) bsum[b * nc + c] = acc[c];
    }
    return GMS_OK;
}

/*
 * The first row whose cumulative weighted closest distance reaches target
 * (numpy's searchsorted side='left' on the cumulative sum), the cumulative
 * being prefix[b] (the blocks before, in order) plus the running sum inside
 * block b. The block's closest distances are those of the pending centre
 * p0 (point 0 of P) folded in, recomputed as the pass computed them.
 */
static ptrdiff_t FN(kmpp_locate)(const REAL *X, ptrdiff_t n, ptrdiff_t d, const double *P,
                                 ptrdiff_t t, const double *w, const double *closest,
                                 const double *prefix, ptrdiff_t nb, double target)
{
    /* first block whose end reaches the target */
    ptrdiff_t lo = 0, hi = nb - 1;
    while (lo < hi) {
        const ptrdiff_t mid = lo + (hi - lo) / 2;
        if (prefix[mid + 1] >= target) hi = mid;
        else lo = mid + 1;
    }
    const ptrdiff_t i1 = gms_min((lo + 1) * GMS_BLOCK_ROWS, n);
    double dist[GMS_KMPP_MAX_POINTS];
    double run = 0.0;
    for (ptrdiff_t i = lo * GMS_BLOCK_ROWS; i < i1; ++i) {
        FN(km_dists)(X + i * d, P, d, t, dist);
        const double cl = closest[i] < dist[0] ? closest[i] : dist[0];
        run += (w ? w[i] : 1.0) * cl;
        if (prefix[lo] + run >= target) return i;
    }
    return i1 - 1; /* the target is at the block's end (or past it by rounding) */
}

static void FN(kmpp_gather)(const REAL *X, ptrdiff_t d, const int64_t *rows, ptrdiff_t t,
                            double *P)
{
    for (ptrdiff_t c = 0; c < t; ++c)
        for (ptrdiff_t j = 0; j < d; ++j) P[j * t + c] = (double)X[rows[c] * d + j];
}

int FN(gms_kmeanspp)(const REAL *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                     ptrdiff_t n_trials, const double *sample_weight, ptrdiff_t first,
                     const double *uniforms, int64_t *indices, int n_threads)
{
    if (n < 1 || d < 1 || k < 1 || n_trials < 1 || n_trials + 1 > GMS_KMPP_MAX_POINTS ||
        first < 0 || first >= n)
        return GMS_ERR_ARG;
    const ptrdiff_t t = n_trials + 1;
    const ptrdiff_t nb = gms_n_blocks(n);
    double *closest = (double *)malloc((size_t)n * sizeof(double));
    double *bsum = (double *)malloc((size_t)(nb * n_trials) * sizeof(double));
    double *prefix = (double *)malloc((size_t)(nb + 1) * sizeof(double));
    double *P = (double *)malloc((size_t)(d * t) * sizeof(double));
    double *best_row = (double *)malloc((size_t)d * sizeof(double));
    int64_t rows[GMS_KMPP_MAX_POINTS];
    double pots[GMS_KMPP_MAX_POINTS];
    int rc = GMS_OK;
    if (!closest || !bsum || !prefix || !P || !best_row) {
        rc = GMS_ERR_NOMEM;
        goto done;
    }
    for (ptrdiff_t i = 0; i < n; ++i) closest[i] = INFINITY;
    indices[0] = first;
    /* pass 0: closest = distances to the first centre, with its block sums */
    rows[0] = first;
    FN(kmpp_gather)(X, d, rows, 1, P);
    FN(kmpp_pass)(X, n, d, P, 1, sample_weight, closest, bsum, n_threads);
    /* the centre chosen last stays pending (point 0) until the next pass */
    for (ptrdiff_t j = 0; j < d; ++j) best_row[j] = P[j];
    ptrdiff_t col = 0, ncol = 1;
    for (ptrdiff_t c = 1; c < k; ++c) {
        prefix[0] = 0.0;
        for (ptrdiff_t b = 0; b < nb; ++b) prefix[b + 1] = prefix[b] + bsum[b * ncol + col];
        const double potential = prefix[nb];
        /* the pending centre (best_row, a d x 1 point set) is folded into
         * the located blocks on the fly */
        rows[0] = -1;
        for (ptrdiff_t r = 0; r < n_trials; ++r) {
            const double target = uniforms[(c - 1) * n_trials + r] * potential;
            rows[r + 1] = FN(kmpp_locate)(X, n, d, best_row, 1, sample_weight, closest,
                                          prefix, nb, target);
        }
        /* point 0 (pending) and the candidates, d x t */
        for (ptrdiff_t j = 0; j < d; ++j) P[j * t] = best_row[j];
        for (ptrdiff_t r = 0; r < n_trials; ++r)
            for (ptrdiff_t j = 0; j < d; ++j)
                P[j * t + r + 1] = (double)X[rows[r + 1] * d + j];
        FN(kmpp_pass)(X, n, d, P, t, sample_weight, closest, bsum, n_threads);
        /* candidate potentials summed over blocks in order, as the prefix is */
        ptrdiff_t best = 0;
        for (ptrdiff_t r = 0; r < n_trials; ++r) {
            double s = 0.0;
            for (ptrdiff_t b = 0; b < nb; ++b) s += bsum[b * n_trials + r];
            pots[r] = s;
            if (s < pots[best]) best = r;
        }
        if (!isfinite(pots[best])) {
            rc = GMS_ERR_NONFINITE;
            goto done;
        }
        indices[c] = rows[best + 1];
        for (ptrdiff_t j = 0; j < d; ++j) best_row[j] = P[j * t + best + 1];
        col = best;
        ncol = n_trials;
    }
done:
    free(closest);
    free(bsum);
    free(prefix);
    free(P);
    free(best_row);
    return rc;
}

/* -------------------------------------------------------------- Lloyd */
/*
 * One Lloyd pass: labels = nearest centre, and (when sums is not NULL) the
 * weighted per-centre sums of x and weights. As in scikit-learn, a row's
 * distances are ||c||^2 - 2 x.c in the input precision, on data and centres
 * shifted by `shift` (the data mean, for accuracy), the products one GEMM
 * per block; ties go to the lowest centre. *n_changed counts the rows
 * whose label differs from the one labels held on entry. Sums go to
 * per-slot accumulators reduced in slot order (thread-count independent).
 */
int FN(gms_kmeans_lloyd)(const REAL *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                         const double *centers, const double *shift,
                         const double *sample_weight, int64_t *labels, double *sums,
                         double *counts, int64_t *n_changed, int n_threads)
{
    if (n < 0 || d < 1 || k < 1 || d > INT_MAX / GMS_BLOCK_ROWS || k > INT_MAX / GMS_BLOCK_ROWS)
        return GMS_ERR_ARG;
    const ptrdiff_t nb = gms_n_blocks(n);
    const int n_slots = gms_n_slots(nb);
    const int want_sums = sums != NULL && counts != NULL;
    const ptrdiff_t stride = want_sums ? k * d + k : 0;
    REAL *W = (REAL *)malloc((size_t)(d * k) * sizeof(REAL));
    REAL *cn = (REAL *)malloc((size_t)k * sizeof(REAL));
    REAL *g = (REAL *)malloc((size_t)d * sizeof(REAL));
    double *acc = (double *)calloc((size_t)(stride * (n_slots > 0 ? n_slots : 1) + 1),
                                   sizeof(double));
    int64_t changed[GMS_MAX_SLOTS] = {0};
    int failed = 0;
    if (!W || !cn || !g || !acc) {
        free(W), free(cn), free(g), free(acc);
        return GMS_ERR_NOMEM;
    }
    /* shifted centres, transposed (d x k), and their squared norms */
    for (ptrdiff_t j = 0; j < d; ++j) g[j] = (REAL)shift[j];
    for (ptrdiff_t c = 0; c < k; ++c) {
        REAL s = 0;
        for (ptrdiff_t j = 0; j < d; ++j) {
            const REAL v = (REAL)centers[c * d + j] - g[j];
            W[j * k + c] = v;
            s += v * v;
        }
        cn[c] = s;
    }
    gms_blas_pin();
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, n_slots))
#endif
    {
        REAL *xs = (REAL *)malloc((size_t)(GMS_BLOCK_ROWS * d) * sizeof(REAL));
        REAL *z = (REAL *)malloc((size_t)(GMS_BLOCK_ROWS * k) * sizeof(REAL));
        if (!xs || !z) gms_set_failed(&failed);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int s = 0; s < n_slots; ++s) {
            if (!xs || !z) continue;
            double *a_sum = acc + s * stride;
            double *a_cnt = a_sum + k * d;
            int64_t ch = 0;
            const ptrdiff_t b1 = gms_slot_begin(s + 1, nb, n_slots);
            for (ptrdiff_t b = gms_slot_begin(s, nb, n_slots); b < b1; ++b) {
                const ptrdiff_t i0 = b * GMS_BLOCK_ROWS;
                const int rows = (int)(gms_min(i0 + GMS_BLOCK_ROWS, n) - i0);
                const REAL *xb = X + i0 * d;
                for (ptrdiff_t r = 0; r < rows; ++r)
                    for (ptrdiff_t j = 0; j < d; ++j) xs[r * d + j] = xb[r * d + j] - g[j];
                FN(gemm_tt)((int)k, rows, (int)d, W, (int)k, xs, (int)d, z, rows);
                for (ptrdiff_t r = 0; r < rows; ++r) {
                    REAL best = cn[0] - 2 * z[r];
                    ptrdiff_t arg = 0;
                    for (ptrdiff_t c = 1; c < k; ++c) {
                        const REAL v = cn[c] - 2 * z[r + c * rows];
                        if (v < best) {
                            best = v;
                            arg = c;
                        }
                    }
                    const ptrdiff_t i = i0 + r;
                    ch += labels[i] != (int64_t)arg;
                    labels[i] = (int64_t)arg;
                    if (want_sums) {
                        const double wi = sample_weight ? sample_weight[i] : 1.0;
                        a_cnt[arg] += wi;
                        double *srow = a_sum + arg * d;
                        for (ptrdiff_t j = 0; j < d; ++j) srow[j] += wi * (double)xb[r * d + j];
                    }
                }
            }
            changed[s] = ch;
        }
        free(xs);
        free(z);
    }
    gms_blas_unpin();
    if (!failed) {
        int64_t total = 0;
        for (int s = 0; s < n_slots; ++s) total += changed[s];
        *n_changed = total;
        if (want_sums) gms_reduce_slots(acc, n_slots, stride, sums, k * d, counts, k, NULL, 0, NULL);
    }
    free(W), free(cn), free(g), free(acc);
    return failed ? GMS_ERR_NOMEM : GMS_OK;
}

/* Squared distance of every row to the centre its label names (scikit-
 * learn's empty-cluster relocation picks the rows farthest from theirs). */
int FN(gms_kmeans_label_dist)(const REAL *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                              const double *centers, const int64_t *labels, double *out,
                              int n_threads)
{
    if (n < 0 || d < 1 || k < 1) return GMS_ERR_ARG;
    for (ptrdiff_t i = 0; i < n; ++i)
        if (labels[i] < 0 || labels[i] >= k) return GMS_ERR_ARG;
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(gms_clamp_threads(n_threads, gms_n_blocks(n)))
#endif
    for (ptrdiff_t i = 0; i < n; ++i) {
        const REAL *x = X + i * d;
        const double *c = centers + labels[i] * d;
        double s = 0.0;
        for (ptrdiff_t j = 0; j < d; ++j) {
            const double e = (double)x[j] - c[j];
            s += e * e;
        }
        out[i] = s;
    }
    return GMS_OK;
}
