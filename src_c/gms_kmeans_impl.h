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
#ifndef GMS_KMPP_TILE
/* Rows per tile of the seeding distances: four eight-lane vectors (GCC/Clang
 * vector extensions: one AVX-512 register, two AVX halves in the AVX2
 * clone; four accumulators so the adds' latency overlaps). Lane
 * arithmetic is plain IEEE, contraction off: every clone computes the same
 * bits, and the lane width only decides how many rows share an
 * instruction, never the order of a row's sum. */
#define GMS_KMPP_LANES 8
#define GMS_KMPP_TILE (4 * GMS_KMPP_LANES)
typedef double gms_kmv __attribute__((vector_size(8 * GMS_KMPP_LANES)));
typedef double gms_kmvu __attribute__((vector_size(8 * GMS_KMPP_LANES), aligned(8)));
_Static_assert(GMS_BLOCK_ROWS % GMS_KMPP_TILE == 0, "blocks are whole tiles");
#endif

/* The t x d points of P with each value repeated in GMS_KMPP_LANES lanes
 * (Pb, t * d * GMS_KMPP_LANES doubles): read as whole vectors, since a
 * broadcast built inside the loop goes through memory in the SSE2 clone. */
static void FN(km_broadcast)(const double *P, ptrdiff_t t, ptrdiff_t d, double *Pb)
{
    for (ptrdiff_t i = 0; i < t * d; ++i)
        for (int l = 0; l < GMS_KMPP_LANES; ++l) Pb[GMS_KMPP_LANES * i + l] = P[i];
}

/*
 * Squared distances from `rows` rows of X (xb, row-major) to the t points
 * of P (t x d, given as km_broadcast's Pb) into D (t x GMS_BLOCK_ROWS).
 * The rows go a tile at a time through xt (d x GMS_KMPP_TILE doubles, the
 * tile transposed, lanes past the end zero), so the lanes are rows: each
 * D[c, r] is the plain sum over features in order, summed in a register,
 * with no sum reassociated.
 */
GMS_HOT static void FN(km_block_dists)(const REAL *xb, ptrdiff_t rows, ptrdiff_t d,
                                       const double *Pb, ptrdiff_t t, double *D, double *xt)
{
    enum { L = GMS_KMPP_LANES };
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += GMS_KMPP_TILE) {
        const ptrdiff_t m = gms_min(rows - r0, GMS_KMPP_TILE);
        for (ptrdiff_t r = 0; r < m; ++r) {
            const REAL *x = xb + (r0 + r) * d;
            for (ptrdiff_t j = 0; j < d; ++j) xt[j * GMS_KMPP_TILE + r] = (double)x[j];
        }
        for (ptrdiff_t r = m; r < GMS_KMPP_TILE; ++r)
            for (ptrdiff_t j = 0; j < d; ++j) xt[j * GMS_KMPP_TILE + r] = 0.0;
        for (ptrdiff_t c = 0; c < t; ++c) {
            const double *pc = Pb + L * c * d;
            gms_kmv a0 = {0.0}, a1 = {0.0}, a2 = {0.0}, a3 = {0.0};
            for (ptrdiff_t j = 0; j < d; ++j) {
                const gms_kmv p = *(const gms_kmvu *)(pc + L * j);
                const double *xj = xt + j * GMS_KMPP_TILE;
                const gms_kmv e0 = *(const gms_kmvu *)xj - p;
                const gms_kmv e1 = *(const gms_kmvu *)(xj + L) - p;
                const gms_kmv e2 = *(const gms_kmvu *)(xj + 2 * L) - p;
                const gms_kmv e3 = *(const gms_kmvu *)(xj + 3 * L) - p;
                a0 += e0 * e0;
                a1 += e1 * e1;
                a2 += e2 * e2;
                a3 += e3 * e3;
            }
            double *dc = D + c * GMS_BLOCK_ROWS + r0;
            *(gms_kmvu *)dc = a0;
            *(gms_kmvu *)(dc + L) = a1;
            *(gms_kmvu *)(dc + 2 * L) = a2;
            *(gms_kmvu *)(dc + 3 * L) = a3;
        }
    }
}

/*
 * One seeding pass over the blocks. Point 0 of P (t x d) is the centre
 * chosen last, not yet folded into `closest`; points 1..t-1 are the
 * candidates. Every row gets closest = min(closest, dist to point 0), and
 * block b gets bsum[b * (t - 1) + c - 1] = the sum over its rows, in
 * order, of w * min(closest, dist to candidate c). With t == 1 the block
 * sums are those of the updated closest itself (bsum[b]).
 */
static int FN(kmpp_pass)(const REAL *X, ptrdiff_t n, ptrdiff_t d, const double *P,
                         ptrdiff_t t, const double *w, double *closest, double *bsum,
                         int n_threads)
{
    const ptrdiff_t nb = gms_n_blocks(n);
    const ptrdiff_t nc = t > 1 ? t - 1 : 1;
    int failed = 0;
    double *Pb = (double *)malloc((size_t)(GMS_KMPP_LANES * t * d) * sizeof(double));
    if (!Pb) return GMS_ERR_NOMEM;
    FN(km_broadcast)(P, t, d, Pb);
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, nb))
#endif
    {
        double *xt = (double *)malloc((size_t)(GMS_KMPP_TILE * d + GMS_BLOCK_ROWS * t) *
                                      sizeof(double));
        double *D = xt + GMS_KMPP_TILE * d;
        if (!xt) gms_set_failed(&failed);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t b = 0; b < nb; ++b) {
            if (!xt) continue;
            const ptrdiff_t i0 = b * GMS_BLOCK_ROWS;
            const ptrdiff_t rows = gms_min(i0 + GMS_BLOCK_ROWS, n) - i0;
            FN(km_block_dists)(X + i0 * d, rows, d, Pb, t, D, xt);
            double *cl = closest + i0;
            for (ptrdiff_t r = 0; r < rows; ++r) cl[r] = cl[r] < D[r] ? cl[r] : D[r];
            const double *wb = w ? w + i0 : NULL;
            if (t == 1) {
                double acc = 0.0;
                for (ptrdiff_t r = 0; r < rows; ++r) acc += (wb ? wb[r] : 1.0) * cl[r];
                bsum[b] = acc;
            }
            /* candidates four at a time: four independent chains per row
             * instead of one chain after another, each summed in order */
            ptrdiff_t c = 1;
            for (; c + 4 <= t; c += 4) {
                const double *d0 = D + c * GMS_BLOCK_ROWS, *d1 = d0 + GMS_BLOCK_ROWS,
                             *d2 = d1 + GMS_BLOCK_ROWS, *d3 = d2 + GMS_BLOCK_ROWS;
                double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
                for (ptrdiff_t r = 0; r < rows; ++r) {
                    const double wr = wb ? wb[r] : 1.0, cr = cl[r];
                    a0 += wr * (d0[r] < cr ? d0[r] : cr);
                    a1 += wr * (d1[r] < cr ? d1[r] : cr);
                    a2 += wr * (d2[r] < cr ? d2[r] : cr);
                    a3 += wr * (d3[r] < cr ? d3[r] : cr);
                }
                double *out = bsum + b * nc + c - 1;
                out[0] = a0, out[1] = a1, out[2] = a2, out[3] = a3;
            }
            for (; c < t; ++c) {
                const double *dc = D + c * GMS_BLOCK_ROWS;
                double acc = 0.0;
                for (ptrdiff_t r = 0; r < rows; ++r)
                    acc += (wb ? wb[r] : 1.0) * (dc[r] < cl[r] ? dc[r] : cl[r]);
                bsum[b * nc + c - 1] = acc;
            }
        }
        free(xt);
    }
    free(Pb);
    return failed ? GMS_ERR_NOMEM : GMS_OK;
}

/*
 * The first row whose cumulative weighted closest distance reaches target
 * (numpy's searchsorted side='left' on the cumulative sum), the cumulative
 * being prefix[b] (the blocks before, in order) plus the running sum inside
 * block b. The block's closest distances get the pending centre p0 (d
 * values) folded in, recomputed as the pass computed them; xt and D are
 * one block's scratch (D with GMS_KMPP_LANES * d doubles more after its
 * block, for p0 broadcast).
 */
static ptrdiff_t FN(kmpp_locate)(const REAL *X, ptrdiff_t n, ptrdiff_t d, const double *p0,
                                 const double *w, const double *closest,
                                 const double *prefix, ptrdiff_t nb, double target,
                                 double *xt, double *D)
{
    /* first block whose end reaches the target */
    ptrdiff_t lo = 0, hi = nb - 1;
    while (lo < hi) {
        const ptrdiff_t mid = lo + (hi - lo) / 2;
        if (prefix[mid + 1] >= target) hi = mid;
        else lo = mid + 1;
    }
    const ptrdiff_t i0 = lo * GMS_BLOCK_ROWS;
    const ptrdiff_t rows = gms_min(i0 + GMS_BLOCK_ROWS, n) - i0;
    double *pb = D + GMS_BLOCK_ROWS;
    FN(km_broadcast)(p0, 1, d, pb);
    FN(km_block_dists)(X + i0 * d, rows, d, pb, 1, D, xt);
    double run = 0.0;
    for (ptrdiff_t r = 0; r < rows; ++r) {
        const double cl = closest[i0 + r] < D[r] ? closest[i0 + r] : D[r];
        run += (w ? w[i0 + r] : 1.0) * cl;
        if (prefix[lo] + run >= target) return i0 + r;
    }
    return i0 + rows - 1; /* the target is at the block's end (or past it by rounding) */
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
    double *xt = (double *)malloc((size_t)(GMS_KMPP_TILE * d + GMS_BLOCK_ROWS + GMS_KMPP_LANES * d) *
                                  sizeof(double));
    int64_t rows[GMS_KMPP_MAX_POINTS];
    double pots[GMS_KMPP_MAX_POINTS];
    int rc = GMS_OK;
    if (!closest || !bsum || !prefix || !P || !xt) {
        rc = GMS_ERR_NOMEM;
        goto done;
    }
    for (ptrdiff_t i = 0; i < n; ++i) closest[i] = INFINITY;
    /* pass 0: closest = distances to the first centre, with its block sums */
    indices[0] = first;
    for (ptrdiff_t j = 0; j < d; ++j) P[j] = (double)X[first * d + j];
    rc = FN(kmpp_pass)(X, n, d, P, 1, sample_weight, closest, bsum, n_threads);
    if (rc != GMS_OK) goto done;
    /* P's point 0 is the centre chosen last: folded into closest by the
     * next pass, and on the fly where the targets are located */
    ptrdiff_t col = 0, ncol = 1;
    for (ptrdiff_t c = 1; c < k; ++c) {
        prefix[0] = 0.0;
        for (ptrdiff_t b = 0; b < nb; ++b) prefix[b + 1] = prefix[b] + bsum[b * ncol + col];
        const double potential = prefix[nb];
        for (ptrdiff_t r = 0; r < n_trials; ++r) {
            const double target = uniforms[(c - 1) * n_trials + r] * potential;
            rows[r] = FN(kmpp_locate)(X, n, d, P, sample_weight, closest, prefix, nb, target,
                                      xt, xt + GMS_KMPP_TILE * d);
        }
        for (ptrdiff_t r = 0; r < n_trials; ++r)
            for (ptrdiff_t j = 0; j < d; ++j) P[(r + 1) * d + j] = (double)X[rows[r] * d + j];
        rc = FN(kmpp_pass)(X, n, d, P, t, sample_weight, closest, bsum, n_threads);
        if (rc != GMS_OK) goto done;
        /* candidate potentials summed over blocks in order, as the prefix is */
        ptrdiff_t best = 0;
        for (ptrdiff_t r = 0; r < n_trials; ++r) {
            double s = 0.0;
            for (ptrdiff_t b = 0; b < nb; ++b) s += bsum[b * n_trials + r];
            pots[r] = s;
            if (s < pots[best]) best = r;
        }
        /* Overflowing distances (huge data) leave inf/NaN potentials: the
         * targets then land on the last row, and the callers' later checks
         * report the data's scale. */
        indices[c] = rows[best];
        for (ptrdiff_t j = 0; j < d; ++j) P[j] = P[(best + 1) * d + j];
        col = best;
        ncol = n_trials;
    }
done:
    free(closest);
    free(bsum);
    free(prefix);
    free(P);
    free(xt);
    return rc;
}

/* -------------------------------------------------------------- Lloyd */
#ifndef GMS_KM_DOTS
#define GMS_KM_DOTS
/* Rows up to this many features get Lloyd's products from km_dots; longer
 * ones from BLAS (a per-block GEMM call costs more than the products of a
 * short row: ~3x on 1e6 x 8 data with 8 centres). */
#define GMS_KM_DOTS_MAX_D 32

/*
 * Lloyd's products of shifted rows and centres without BLAS:
 * z[c * ldz + r] = sum over j, in order, of a[r, j] * W[j * k + c]
 * (a: the rows shifted, W: d x k). The m <= GMS_KMPP_TILE rows of a tile
 * come transposed in xt (the lanes are rows, zeros past m), so each sum is
 * one lane's plain chain: a row's products never depend on the rows beside
 * it (the bounded pass's gathered rows get the full pass's bits) nor on
 * the SIMD width.
 */
static inline __attribute__((always_inline)) void
km_dots_tile(ptrdiff_t k, ptrdiff_t m, ptrdiff_t d, const double *W, const double *xt,
             double *z, ptrdiff_t ldz)
{
    enum { L = GMS_KMPP_LANES, T = GMS_KMPP_TILE };
    double part[2 * T];
    /* two centres at a time: eight independent chains, the tile's loads
     * shared */
    for (ptrdiff_t c = 0; c < k; c += 2) {
        const int two = c + 1 < k;
        const double *w0 = W + c, *w1 = W + (two ? c + 1 : c);
        gms_kmv a0 = {0.0}, a1 = {0.0}, a2 = {0.0}, a3 = {0.0};
        gms_kmv b0 = {0.0}, b1 = {0.0}, b2 = {0.0}, b3 = {0.0};
        for (ptrdiff_t j = 0; j < d; ++j) {
            const double *xj = xt + j * T;
            const gms_kmv x0 = *(const gms_kmvu *)xj, x1 = *(const gms_kmvu *)(xj + L),
                          x2 = *(const gms_kmvu *)(xj + 2 * L),
                          x3 = *(const gms_kmvu *)(xj + 3 * L);
            const double p = w0[j * k], q = w1[j * k]; /* broadcast per op */
            a0 += x0 * p;
            a1 += x1 * p;
            a2 += x2 * p;
            a3 += x3 * p;
            b0 += x0 * q;
            b1 += x1 * q;
            b2 += x2 * q;
            b3 += x3 * q;
        }
        double *z0 = m == T ? z + c * ldz : part;
        double *z1 = m == T ? z + (c + 1) * ldz : part + T;
        *(gms_kmvu *)z0 = a0;
        *(gms_kmvu *)(z0 + L) = a1;
        *(gms_kmvu *)(z0 + 2 * L) = a2;
        *(gms_kmvu *)(z0 + 3 * L) = a3;
        if (two) {
            *(gms_kmvu *)z1 = b0;
            *(gms_kmvu *)(z1 + L) = b1;
            *(gms_kmvu *)(z1 + 2 * L) = b2;
            *(gms_kmvu *)(z1 + 3 * L) = b3;
        }
        if (m < T) {
            memcpy(z + c * ldz, part, (size_t)m * sizeof(double));
            if (two) memcpy(z + (c + 1) * ldz, part + T, (size_t)m * sizeof(double));
        }
    }
}

/* km_dots_tile over `rows` rows already shifted (xs: rows x d, row-major). */
GMS_HOT static void km_dots(ptrdiff_t k, ptrdiff_t rows, ptrdiff_t d, const double *W,
                            const double *xs, double *z, ptrdiff_t ldz)
{
    enum { T = GMS_KMPP_TILE };
    double xt[T * GMS_KM_DOTS_MAX_D];
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += T) {
        const ptrdiff_t m = gms_min(rows - r0, T);
        for (ptrdiff_t r = 0; r < m; ++r)
            for (ptrdiff_t j = 0; j < d; ++j) xt[j * T + r] = xs[(r0 + r) * d + j];
        for (ptrdiff_t r = m; r < T; ++r)
            for (ptrdiff_t j = 0; j < d; ++j) xt[j * T + r] = 0.0;
        km_dots_tile(k, m, d, W, xt, z + r0, ldz);
    }
}

/* Label (lowest centre on ties) of each of `rows` rows, the argmin over c
 * of cn[c] - 2 z[c * ld + r]: the comparisons of the scalar loop, run over
 * rows so that they vectorise. */
GMS_HOT static void km_argmin_rows(const double *cn, const double *z, ptrdiff_t ld,
                                   ptrdiff_t rows, ptrdiff_t k, double *best, int *arg)
{
    for (ptrdiff_t r = 0; r < rows; ++r) {
        best[r] = cn[0] - 2 * z[r];
        arg[r] = 0;
    }
    for (ptrdiff_t c = 1; c < k; ++c) {
        const double *zc = z + c * ld, cc = cn[c];
        for (ptrdiff_t r = 0; r < rows; ++r) {
            const double v = cc - 2 * zc[r];
            const int lt = v < best[r];
            best[r] = lt ? v : best[r];
            arg[r] = lt ? (int)c : arg[r];
        }
    }
}
#endif

/* km_dots of the rows of X (rows x d) shifted by g, the shift taken as the
 * tiles are transposed: the full pass's products without a shifted copy. */
GMS_HOT static void FN(km_dots_rows)(ptrdiff_t k, ptrdiff_t rows, ptrdiff_t d, const double *W,
                                     const REAL *X, const double *g, double *z, ptrdiff_t ldz)
{
    enum { T = GMS_KMPP_TILE };
    double xt[T * GMS_KM_DOTS_MAX_D];
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += T) {
        const ptrdiff_t m = gms_min(rows - r0, T);
        for (ptrdiff_t r = 0; r < m; ++r)
            for (ptrdiff_t j = 0; j < d; ++j) xt[j * T + r] = (double)X[(r0 + r) * d + j] - g[j];
        for (ptrdiff_t r = m; r < T; ++r)
            for (ptrdiff_t j = 0; j < d; ++j) xt[j * T + r] = 0.0;
        km_dots_tile(k, m, d, W, xt, z + r0, ldz);
    }
}

/* Lloyd's products z (column c at z + c * ldz) of `rows` shifted rows xs
 * and the shifted centres W: km_dots for short rows, else one GEMM. Both
 * Lloyd passes call this, so their products agree bit for bit. */
static void FN(km_products)(ptrdiff_t k, ptrdiff_t rows, ptrdiff_t d, const double *W,
                            const double *xs, double *z, ptrdiff_t ldz)
{
    if (d <= GMS_KM_DOTS_MAX_D)
        km_dots(k, rows, d, W, xs, z, ldz);
    else
        gemm_tt_d((int)k, (int)rows, (int)d, W, (int)k, xs, (int)d, z, (int)ldz);
}

/*
 * One Lloyd pass: labels = nearest centre, and (when sums is not NULL) the
 * weighted per-centre sums of x and weights. As in scikit-learn, a row's
 * distances are ||c||^2 - 2 x.c on data and centres shifted by `shift`
 * (the data mean, for accuracy), the products one GEMM per block; ties go
 * to the lowest centre. Always in double: float32 rows are widened a block
 * at a time (no float64 copy of X), so that tiny or huge float32 data
 * neither underflows nor overflows the distances. *n_changed counts the rows
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
    double *W = (double *)malloc((size_t)(d * k) * sizeof(double));
    double *cn = (double *)malloc((size_t)k * sizeof(double));
    double *g = (double *)malloc((size_t)d * sizeof(double));
    double *acc = (double *)calloc((size_t)(stride * (n_slots > 0 ? n_slots : 1) + 1),
                                   sizeof(double));
    int64_t changed[GMS_MAX_SLOTS] = {0};
    int failed = 0;
    if (!W || !cn || !g || !acc) {
        free(W), free(cn), free(g), free(acc);
        return GMS_ERR_NOMEM;
    }
    /* shifted centres, transposed (d x k), and their squared norms */
    for (ptrdiff_t j = 0; j < d; ++j) g[j] = shift[j];
    for (ptrdiff_t c = 0; c < k; ++c) {
        double s = 0;
        for (ptrdiff_t j = 0; j < d; ++j) {
            const double v = centers[c * d + j] - g[j];
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
        double *xs = (double *)malloc((size_t)(GMS_BLOCK_ROWS * d) * sizeof(double));
        double *z = (double *)malloc((size_t)(GMS_BLOCK_ROWS * k) * sizeof(double));
        double bestv[GMS_BLOCK_ROWS];
        int args[GMS_BLOCK_ROWS];
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
                /* double products, in the float instantiation too */
                if (d <= GMS_KM_DOTS_MAX_D) {
                    FN(km_dots_rows)(k, rows, d, W, xb, g, z, rows);
                } else {
                    for (ptrdiff_t r = 0; r < rows; ++r)
                        for (ptrdiff_t j = 0; j < d; ++j)
                            xs[r * d + j] = (double)xb[r * d + j] - g[j];
                    FN(km_products)(k, rows, d, W, xs, z, rows);
                }
                km_argmin_rows(cn, z, rows, rows, k, bestv, args);
                for (ptrdiff_t r = 0; r < rows; ++r) {
                    const ptrdiff_t arg = args[r];
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
#include "gms_kmeans_bounds_impl.h"
