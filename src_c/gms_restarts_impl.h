/*
 * Lockstep E-steps of several restarts (gms_estep_restarts_into, declared
 * in gms_restarts.h). Part of the type-generic body: included by
 * gms_kernels.c after gms_kernels_impl.h, whose static block helpers
 * (prep, work, pass, pass_blocks) it reuses, with REAL and SFX defined.
 *
 * The pass is stats_pass's, with the models inside the block loop: a
 * thread takes a leaf and, block by block, runs every model's E-step on
 * that block while it is in cache. Each model's leaf still sums its blocks
 * in block order (pass_blocks adds block after block into the same leaf),
 * and its leaves go to its own reducer in leaf order, so every model gets
 * the bits gms_estep_into gives it alone, for any thread count.
 */
#define GMS_CAT2(a, b) a##_##b
#define GMS_CAT(a, b) GMS_CAT2(a, b)
#define FN(name) GMS_CAT(name, SFX)

/* Fold leaf `leaf` (this call's blocks of it) of every model. */
static int FN(restarts_leaf)(const FN(pass) *a, gms_reducer *const *reds, ptrdiff_t n_models,
                             double *leaves, ptrdiff_t stride, int64_t leaf, int64_t u0,
                             ptrdiff_t nb, FN(work) *w)
{
    int bad = 0;
    for (ptrdiff_t m = 0; m < n_models; ++m) {
        double *acc = leaves + m * stride;
        if (leaf == u0 / GMS_LEAF_BLOCKS && u0 % GMS_LEAF_BLOCKS != 0)
            memcpy(acc, reds[m]->open, (size_t)stride * sizeof(double));
        else
            memset(acc, 0, (size_t)stride * sizeof(double));
    }
    int64_t g0 = leaf * GMS_LEAF_BLOCKS, g1 = g0 + GMS_LEAF_BLOCKS;
    if (g0 < u0) g0 = u0;
    if (g1 > u0 + nb) g1 = u0 + nb;
    for (int64_t g = g0; g < g1; ++g)
        for (ptrdiff_t m = 0; m < n_models; ++m)
            bad |= FN(pass_blocks)(a + m, (ptrdiff_t)(g - u0), (ptrdiff_t)(g - u0 + 1),
                                   leaves + m * stride, w, w->t, w->zd);
    return bad;
}

int FN(gms_estep_restarts_into)(gms_reducer *const *reds, ptrdiff_t n_models, int cov_type,
                                const REAL *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                                const REAL *const *means, const REAL *const *prec_chol,
                                const double *const *log_norm, const double *sample_weight,
                                const double *const *centres, int n_threads)
{
    if (FN(check_pass)(cov_type, n, d, k) || n_models < 1 || reds == NULL || means == NULL ||
        prec_chol == NULL || log_norm == NULL || centres == NULL)
        return GMS_ERR_ARG;
    const ptrdiff_t stride = k + k * d + gms_s2_size(cov_type, k, d) + 2;
    for (ptrdiff_t m = 0; m < n_models; ++m)
        if (reds[m] == NULL || reds[m]->stride != stride ||
            reds[m]->leaf_units != GMS_LEAF_BLOCKS || reds[m]->units != reds[0]->units ||
            means[m] == NULL || prec_chol[m] == NULL || log_norm[m] == NULL ||
            centres[m] == NULL)
            return GMS_ERR_ARG;
    if (n == 0) return GMS_OK;
    const ptrdiff_t nb = gms_n_blocks(n);
    int64_t first;
    const int64_t n_leaves = gms_reducer_leaves(reds[0], nb, &first);
    for (ptrdiff_t m = 0; m < n_models; ++m)
        if (gms_reducer_reserve(reds[m], n_leaves) != GMS_OK) return GMS_ERR_NOMEM;
    const int64_t u0 = reds[0]->units;
    FN(prep) *p = (FN(prep) *)calloc((size_t)n_models, sizeof(FN(prep)));
    FN(pass) *a = (FN(pass) *)malloc((size_t)n_models * sizeof(FN(pass)));
    int failed = p == NULL || a == NULL, nonfinite = 0;
    ptrdiff_t prepared = 0;
    for (; !failed && prepared < n_models; ++prepared) {
        const ptrdiff_t m = prepared;
        if (FN(prepare)(p + m, cov_type, d, k, means[m], prec_chol[m], log_norm[m]) != GMS_OK) {
            failed = 1;
            break;
        }
        const FN(pass) am = {cov_type, 1, X, n, d, k, p + m, NULL, NULL, sample_weight,
                             centres[m]};
        a[m] = am;
    }
    int threads = 1;
#ifdef _OPENMP
    threads = gms_clamp_threads(n_threads, n_leaves);
#endif
    /* as stats_pass: many leaves per wave within ~32 MB of leaf buffers
     * (now n_models per leaf), at least one per thread */
    int64_t wave = 256;
    const int64_t by_memory =
        ((int64_t)32 << 20) / (int64_t)(stride * n_models * (ptrdiff_t)sizeof(double));
    if (wave > by_memory) wave = by_memory;
    if (wave < threads) wave = threads;
    if (wave > n_leaves) wave = n_leaves;
    const size_t per_leaf = (size_t)n_models * (size_t)stride;
    double *leaves = failed ? NULL : (double *)malloc((size_t)wave * per_leaf * sizeof(double));
    if (leaves == NULL) failed = 1;
    const int blas = FN(calls_blas)(cov_type);
    if (!failed) {
        if (blas) gms_blas_pin();
        (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
        {
            /* one scratch per thread serves every model: its sizes depend
             * only on (cov_type, d, k) */
            FN(work) w = {0};
            const int ok = FN(work_alloc)(&w, p) == GMS_OK;
            if (!ok) gms_set_failed(&failed);
            for (int64_t w0 = 0; w0 < n_leaves; w0 += wave) {
                const int64_t wn = n_leaves - w0 < wave ? n_leaves - w0 : wave;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
                for (int64_t j = 0; j < wn; ++j) {
                    if (!ok) continue;
                    if (FN(restarts_leaf)(a, reds, n_models, leaves + j * per_leaf, stride,
                                          first + w0 + j, u0, nb, &w))
                        gms_set_failed(&nonfinite);
                }
#ifdef _OPENMP
#pragma omp single
#endif
                for (int64_t j = 0; j < wn; ++j) {
                    const int64_t leaf = first + w0 + j;
                    for (ptrdiff_t m = 0; m < n_models; ++m) {
                        const double *acc = leaves + j * per_leaf + m * stride;
                        if ((leaf + 1) * GMS_LEAF_BLOCKS <= u0 + nb)
                            gms_reducer_push(reds[m], acc);
                        else  /* only the last leaf can be left open */
                            memcpy(reds[m]->open, acc, (size_t)stride * sizeof(double));
                    }
                }
            }
            if (ok) FN(work_free)(&w);
        }
        if (blas) gms_blas_unpin();
        if (!failed)
            for (ptrdiff_t m = 0; m < n_models; ++m) reds[m]->units = u0 + nb;
    }
    free(leaves);
    for (ptrdiff_t m = 0; m < prepared; ++m) FN(release)(p + m);
    free(p);
    free(a);
    if (failed) return GMS_ERR_NOMEM;
    return nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
}

#undef FN
#undef GMS_CAT
#undef GMS_CAT2
