/*
 * Per-group E-steps (gms_estep_groups). Part of the type-generic body:
 * included by gms_kernels_impl.h after the statistics passes, with its
 * REAL, FN, prep, work, pass and pass_blocks.
 */

/*
 * Per-group E-steps (MAP adaptation of many speakers, gmscore.adapt): the
 * rows [offsets[g], offsets[g + 1]) of each group get exactly the
 * statistics gms_estep gives for those rows alone (the same blocks from
 * the group's first row, leaves and tree: the same bits), written to
 * out + g * stride in the leaf layout (stride = k + k*d + s2n + 2: nk, s1,
 * s2, log-likelihood, total weight). One thread does a whole group, the
 * groups shared dynamically, so many short groups keep every thread busy
 * (a single call per group would split only its own few blocks).
 */
int FN(gms_estep_groups)(int cov_type, const REAL *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                         const REAL *means, const REAL *prec_chol, const double *log_norm,
                         const double *sample_weight, const double *centres,
                         const int64_t *offsets, ptrdiff_t n_groups, double *out,
                         int n_threads)
{
    if (FN(check_pass)(cov_type, n, d, k) || n_groups < 0 || offsets == NULL || out == NULL)
        return GMS_ERR_ARG;
    if (n_groups == 0) return GMS_OK;
    if (offsets[0] != 0 || offsets[n_groups] != n) return GMS_ERR_ARG;
    for (ptrdiff_t g = 0; g < n_groups; ++g)
        if (offsets[g + 1] < offsets[g]) return GMS_ERR_ARG;
    const ptrdiff_t stride = k + k * d + gms_s2_size(cov_type, k, d) + 2;
    FN(prep) p;
    if (FN(prepare)(&p, cov_type, d, k, means, prec_chol, log_norm) != GMS_OK)
        return GMS_ERR_NOMEM;
    int failed = 0, nonfinite = 0;
    const int blas = FN(calls_blas)(cov_type);
    if (blas) gms_blas_pin();
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, n_groups))
#endif
    {
        FN(work) w = {0};
        double *leaf = (double *)malloc((size_t)stride * sizeof(double));
        const int wok = FN(work_alloc)(&w, &p) == GMS_OK; /* frees its own on failure */
        const int ok = wok && leaf != NULL;
        if (!ok) gms_set_failed(&failed);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (ptrdiff_t g = 0; g < n_groups; ++g) {
            double *total = out + g * stride;
            memset(total, 0, (size_t)stride * sizeof(double));
            if (!ok) continue;
            const int64_t r0 = offsets[g];
            const ptrdiff_t rows = (ptrdiff_t)(offsets[g + 1] - r0);
            if (rows == 0) continue;
            const FN(pass) a = {cov_type, 1, X + r0 * d, rows, d, k, &p, NULL, NULL,
                                sample_weight ? sample_weight + r0 : NULL, centres};
            const ptrdiff_t nb = gms_n_blocks(rows);
            gms_reducer red;
            const int64_t n_leaves = (nb + GMS_LEAF_BLOCKS - 1) / GMS_LEAF_BLOCKS;
            if (gms_reducer_init(&red, stride, GMS_LEAF_BLOCKS) != GMS_OK ||
                gms_reducer_reserve(&red, n_leaves) != GMS_OK) {
                gms_reducer_free(&red);
                gms_set_failed(&failed);
                continue;
            }
            /* stats_pass's leaves, in order, on this thread */
            for (int64_t j = 0; j < n_leaves; ++j) {
                const ptrdiff_t b0 = (ptrdiff_t)(j * GMS_LEAF_BLOCKS);
                const ptrdiff_t b1 = gms_min(b0 + GMS_LEAF_BLOCKS, nb);
                memset(leaf, 0, (size_t)stride * sizeof(double));
                if (FN(pass_blocks)(&a, b0, b1, leaf, &w, w.t, w.zd))
                    gms_set_failed(&nonfinite);
                if (b1 - b0 == GMS_LEAF_BLOCKS)
                    gms_reducer_push(&red, leaf);
                else  /* the last, partial leaf stays open */
                    memcpy(red.open, leaf, (size_t)stride * sizeof(double));
            }
            red.units = nb;
            gms_reducer_total(&red, total);
            gms_reducer_free(&red);
        }
        if (wok) FN(work_free)(&w);
        free(leaf);
    }
    if (blas) gms_blas_unpin();
    FN(release)(&p);
    if (failed) return GMS_ERR_NOMEM;
    return nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
}
