/*
 * Lloyd's k-means with Hamerly's bounds, the whole iteration loop in one
 * call (type-generic: included from gms_kmeans_impl.h with REAL, SFX, FN).
 *
 * The labels after every iteration are exactly those of the full pass
 * (gms_kmeans_lloyd): argmin over c of v_c = ||b_c||^2 - 2 a.b_c, with
 * a = fl(x - g) and b_c = fl(c - g) the shifted row and centres, ties to
 * the lowest centre. A row is skipped only when the bounds prove that the
 * full pass, whatever the rounding of its GEMM, picks the row's label.
 *
 * Metric. Bounds are on exact Euclidean distances D_c = ||a - b_c|| between
 * the double vectors a and b_c (g is fixed for the run, so the a are fixed
 * points and the triangle inequality holds exactly). Per row: u >= D_label
 * and l <= min over c != label of D_c; per centre: cd(c) <= min over
 * c' != c of ||b_c - b_c'||, so D_c' >= cd(label) - D_label.
 *
 * Rounding (u = 2^-53, gamma_n = n u / (1 - n u)). Any GEMM (any summation
 * order, FMA or not) gives |z_c - a.b_c| <= gamma_d ||a|| ||b_c||, the
 * norms |cn_c - ||b_c||^2| <= gamma_d ||b_c||^2, and the subtraction one
 * more rounding, so the full pass's v_c is within
 *   E_a = gamma_{d+1} (||a|| + B)^2,   B >= max_c ||b_c||,
 * of ||b_c||^2 - 2 a.b_c = D_c^2 - ||a||^2. Hence when
 * D_c^2 - D_label^2 > 2 E_a for every c != label, the full pass's argmin is
 * the label (strictly, so no tie rule is involved). The code tests
 * (m - u)(m + u) > EF (u + 2B)^2, with m <= min D_c, ||a|| <= u + B and
 * EF = (d + 2) 2^-50 >= 8 gamma_{d+1}: a factor 4 over the 2 E_a needed,
 * which also absorbs the few roundings of the test itself. Rows that fail
 * go through a GEMM of their own (gathered rows); their argmin is taken as
 * the full pass's only when its gap exceeds the same margin (the two
 * GEMMs' v differ by at most 2 E_a each way); a row inside the margin (a
 * near-tie, e.g. duplicate centres) is decided by the block's full GEMM,
 * the very call the full pass makes, so it gets the full pass's bits.
 * Bound updates round away from the safe side: upper bounds are scaled by
 * 1 + 2^-50 and lower bounds by 1 - 2^-50 (8 ulps, more than the 2-3
 * roundings of each update), and upper bounds get KB_TINY for squares that
 * underflow. A NaN or infinity anywhere fails every test, so such rows
 * take the full path.
 *
 * Sums and counts are accumulated as in gms_kmeans_lloyd (per slot, rows in
 * order, slots reduced in order): bitwise the same for the same labels,
 * whatever the thread count.
 */

#ifndef GMS_KB_CONSTANTS
#define GMS_KB_CONSTANTS
#define KB_UP (1.0 + 0x1p-50)
#define KB_DN (1.0 - 0x1p-50)
#define KB_TINY 0x1p-500
#define KB_TINY2 0x1p-1000
#endif

/* Per-call centre tables (shifted, transposed W: d x k, norms cn, bound on
 * the norms B, centre separations cd, and the movement since the bounds
 * were taken: mv[c] for the label's upper bound, mx[c] = the largest
 * movement of the other centres for the lower bound). */
typedef struct {
    double *W, *cn, *cd, *mv, *mx;
    double B, ef;
} FN(kb_centres);

static double FN(kb_dist_up)(double s2, ptrdiff_t d)
{
    /* s2: a sum of d rounded squares of rounded differences */
    return sqrt(s2) * (1.0 + (double)(d + 4) * 0x1p-52) + KB_TINY;
}

/* W, cn, B and cd from the centres (k x d, unshifted). */
static void FN(kb_tables)(FN(kb_centres) *t, const double *centers, const double *g,
                          ptrdiff_t k, ptrdiff_t d)
{
    double maxcn = 0.0;
    int bad = 0;
    for (ptrdiff_t c = 0; c < k; ++c) {
        double s = 0.0;
        for (ptrdiff_t j = 0; j < d; ++j) {
            const double v = centers[c * d + j] - g[j];
            t->W[j * k + c] = v;
            s += v * v;
        }
        t->cn[c] = s;
        bad |= !(s < INFINITY);
        if (s > maxcn) maxcn = s;
    }
    /* non-finite centres: B = inf fails every test (full path) */
    t->B = bad ? INFINITY : sqrt(maxcn) * (1.0 + (double)(d + 4) * 0x1p-52) + KB_TINY;
    t->ef = (double)(d + 2) * 0x1p-50;
    for (ptrdiff_t c = 0; c < k; ++c) t->cd[c] = INFINITY;
    for (ptrdiff_t c = 0; c < k; ++c)
        for (ptrdiff_t e = c + 1; e < k; ++e) {
            double s = 0.0;
            for (ptrdiff_t j = 0; j < d; ++j) {
                const double v = t->W[j * k + c] - t->W[j * k + e];
                s += v * v;
            }
            /* a lower bound: underflow only shrinks s */
            double lo = sqrt(s) * (1.0 - (double)(d + 4) * 0x1p-52);
            if (!(lo == lo)) lo = 0.0;
            if (lo < t->cd[c]) t->cd[c] = lo;
            if (lo < t->cd[e]) t->cd[e] = lo;
        }
}

/* The movement of each shifted centre from Wold to t->W, and per centre
 * the largest movement of the others. */
static void FN(kb_movement)(FN(kb_centres) *t, const double *Wold, ptrdiff_t k, ptrdiff_t d)
{
    double m1 = -1.0, m2 = -1.0;
    ptrdiff_t a1 = -1;
    for (ptrdiff_t c = 0; c < k; ++c) {
        double s = 0.0;
        for (ptrdiff_t j = 0; j < d; ++j) {
            const double v = t->W[j * k + c] - Wold[j * k + c];
            s += v * v;
        }
        double m = FN(kb_dist_up)(s, d);
        if (!(m == m)) m = INFINITY;
        t->mv[c] = m;
        if (m > m1) {
            m2 = m1;
            m1 = m;
            a1 = c;
        } else if (m > m2) {
            m2 = m;
        }
    }
    for (ptrdiff_t c = 0; c < k; ++c) t->mx[c] = c == a1 ? (m2 < 0 ? 0.0 : m2) : m1;
}

#ifndef GMS_KB_HELPERS /* type-independent: defined once */
#define GMS_KB_HELPERS
/* The full pass provably picks `label` for a row with D_label <= u and
 * D_c >= m for the other centres (see the top of the file). */
static inline int kb_skip_ok(double u, double m, double B, double ef)
{
    const double s = u + 2.0 * B;
    return m > u && (m - u) * (m + u) > ef * s * s + KB_TINY2;
}

/* Argmin (lowest index on ties), its value and the next best value of
 * v_c = cn_c - 2 z[q + c * ld], as the full pass computes them. */
static inline ptrdiff_t kb_argmin(const double *cn, const double *z, ptrdiff_t q,
                                  ptrdiff_t ld, ptrdiff_t k, double *v1, double *v2)
{
    double best = cn[0] - 2 * z[q], second = INFINITY;
    ptrdiff_t arg = 0;
    for (ptrdiff_t c = 1; c < k; ++c) {
        const double v = cn[c] - 2 * z[q + c * ld];
        if (v < best) {
            second = best;
            best = v;
            arg = c;
        } else if (!(v >= second)) {
            second = v; /* a NaN v makes the row undecidable */
        }
    }
    *v1 = best;
    *v2 = second;
    return arg;
}

/* Bounds are stored as float (8 bytes a row: the pass is bound by memory
 * traffic): the 2^-22 scaling covers float's rounding (2^-24 relative) and
 * the 2^-140 terms its subnormal spacing (2^-149), both away from the safe
 * side; NaN or out-of-range upper bounds become inf (never trusted). */
static inline void kb_store(float *ub, double u, double l)
{
    const double uu = u * (1.0 + 0x1p-22) + 0x1p-140;
    const double ll = l * (1.0 - 0x1p-22) - 0x1p-140;
    ub[0] = uu <= FLT_MAX ? (float)uu : INFINITY;
    ub[1] = ll > 0 ? (ll <= FLT_MAX ? (float)ll : FLT_MAX) : 0.0f;
}

/* Upper and lower distance bounds from the squared-distance bounds hi, lo
 * (a NaN upper bound becomes inf: never trusted). */
static inline double kb_up_from_sq(double hi)
{
    return sqrt(hi >= 0 ? hi : (hi < 0 ? 0.0 : INFINITY)) * KB_UP + KB_TINY;
}

static inline double kb_dn_from_sq(double lo)
{
    return lo > 0 ? sqrt(lo) * KB_DN : 0.0;
}

/* Bounds of a row from GEMM values (v1 best, v2 next best), its squared
 * shifted norm na and the margin e (>= 4 E_a). */
static inline void kb_bounds_from_v(double v1, double v2, double na, double e, float *ub)
{
    kb_store(ub, kb_up_from_sq(v1 + na + e), kb_dn_from_sq(v2 + na - e));
}

/* kb_argmin for the ng gathered rows at once (z: centre c's products at
 * z[c * ng ...]): best value bv, its centre ar and the next best sv. The
 * loops run over rows, so they vectorise without changing any row's own
 * sequence of comparisons. */
GMS_HOT static void kb_argmin_rows(const double *cn, const double *z, int ng, ptrdiff_t k,
                                   double *bv, double *sv, int *ar)
{
    for (int q = 0; q < ng; ++q) {
        bv[q] = cn[0] - 2 * z[q];
        sv[q] = INFINITY;
        ar[q] = 0;
    }
    for (ptrdiff_t c = 1; c < k; ++c) {
        const double *zc = z + c * ng;
        const double cc = cn[c];
        for (int q = 0; q < ng; ++q) {
            const double v = cc - 2 * zc[q];
            const int lt = v < bv[q];
            const double sec = lt ? bv[q] : (v >= sv[q] ? sv[q] : v);
            bv[q] = lt ? v : bv[q];
            ar[q] = lt ? (int)c : ar[q];
            sv[q] = sec;
        }
    }
}

/* The margin e >= 4 E_a of a row with squared shifted norm na:
 * (||a|| + B)^2 <= 2 (||a||^2 + B^2), the factor 2 of EF's slack covering
 * na's own rounding. */
static inline double kb_margin(double na, double B, double ef)
{
    return 2.0 * ef * (na + B * B) + KB_TINY2;
}
#endif

/*
 * One bounded assignment pass: labels, bounds (n x 2: upper, lower) and,
 * when sums is not NULL, the per-centre sums and counts. first: no bounds
 * yet (every row is computed, as in the full pass); otherwise the bounds
 * are moved by t->mv / t->mx first.
 */
static int FN(kb_pass)(const REAL *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                       const FN(kb_centres) *t, const double *g, const double *sample_weight,
                       int64_t *labels, float *bounds, double *sums, double *counts,
                       int first, int64_t *n_changed, int n_threads)
{
    const ptrdiff_t nb = gms_n_blocks(n);
    const int n_slots = gms_n_slots(nb);
    const int want_sums = sums != NULL && counts != NULL;
    const ptrdiff_t stride = want_sums ? k * d + k : 0;
    double *acc = (double *)calloc((size_t)(stride * (n_slots > 0 ? n_slots : 1) + 1),
                                   sizeof(double));
    int64_t changed[GMS_MAX_SLOTS] = {0};
    int failed = 0;
    if (!acc) return GMS_ERR_NOMEM;
    const double *W = t->W, *cn = t->cn;
    const double B = t->B, ef = t->ef;
    gms_blas_pin();
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(gms_clamp_threads(n_threads, n_slots))
#endif
    {
        /* gathered rows and their products; the block's own for near-ties */
        double *xs = (double *)malloc((size_t)(2 * GMS_BLOCK_ROWS * (d + k)) * sizeof(double));
        double *z = xs ? xs + GMS_BLOCK_ROWS * d : NULL;
        double *xf = xs ? z + GMS_BLOCK_ROWS * k : NULL;
        double *zf = xs ? xf + GMS_BLOCK_ROWS * d : NULL;
        int idx[GMS_BLOCK_ROWS], ar[GMS_BLOCK_ROWS];
        double nav[GMS_BLOCK_ROWS], bv[GMS_BLOCK_ROWS], sv[GMS_BLOCK_ROWS];
        unsigned char amb[GMS_BLOCK_ROWS];
        if (!xs) gms_set_failed(&failed);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int s = 0; s < n_slots; ++s) {
            if (!xs) continue;
            double *a_sum = acc + s * stride;
            double *a_cnt = a_sum + k * d;
            int64_t ch = 0;
            const ptrdiff_t b1 = gms_slot_begin(s + 1, nb, n_slots);
            for (ptrdiff_t b = gms_slot_begin(s, nb, n_slots); b < b1; ++b) {
                const ptrdiff_t i0 = b * GMS_BLOCK_ROWS;
                const int rows = (int)(gms_min(i0 + GMS_BLOCK_ROWS, n) - i0);
                const REAL *xb = X + i0 * d;
                int ng = 0, n_amb = 0;
                for (int r = 0; r < rows; ++r) {
                    const REAL *x = xb + (ptrdiff_t)r * d;
                    float *ub = bounds + 2 * (i0 + r);
                    const int64_t lab = first ? -1 : labels[i0 + r];
                    if (lab >= 0 && lab < k) { /* else: no usable bounds */
                        double u = ((double)ub[0] + t->mv[lab]) * KB_UP;
                        double l = ((double)ub[1] - t->mx[lab]) * KB_DN;
                        if (!(l > 0)) l = 0.0;
                        double m = (t->cd[lab] - u) * KB_DN;
                        if (!(m > l)) m = l;
                        if (!kb_skip_ok(u, m, B, ef)) {
                            /* tighten u: the distance to the label's centre */
                            double s2 = 0.0;
                            for (ptrdiff_t j = 0; j < d; ++j) {
                                const double e = ((double)x[j] - g[j]) - W[j * k + lab];
                                s2 += e * e;
                            }
                            u = FN(kb_dist_up)(s2, d);
                            m = (t->cd[lab] - u) * KB_DN;
                            if (!(m > l)) m = l;
                        }
                        kb_store(ub, u, l);
                        if (kb_skip_ok(u, m, B, ef)) continue;
                    }
                    double na = 0.0;
                    for (ptrdiff_t j = 0; j < d; ++j) {
                        const double a = (double)x[j] - g[j];
                        xs[(ptrdiff_t)ng * d + j] = a;
                        na += a * a;
                    }
                    nav[ng] = na;
                    idx[ng++] = r;
                }
                if (ng > 0) {
                    /* all rows gathered: this is the full pass's own products call */
                    const int full = ng == rows;
                    FN(km_products)(k, ng, d, W, xs, z, ng);
                    kb_argmin_rows(cn, z, ng, k, bv, sv, ar);
                    for (int q = 0; q < ng; ++q) {
                        const double na = nav[q], v1 = bv[q], v2 = sv[q];
                        const double e = kb_margin(na, B, ef);
                        const ptrdiff_t i = i0 + idx[q];
                        amb[q] = !(full || v2 - v1 > e);
                        if (amb[q]) {
                            ++n_amb;
                            continue;
                        }
                        ch += labels[i] != (int64_t)ar[q];
                        labels[i] = (int64_t)ar[q];
                        kb_bounds_from_v(v1, v2, na, e, bounds + 2 * i);
                    }
                }
                if (n_amb > 0) {
                    /* near-ties: the full pass's products of the whole block */
                    for (int r = 0; r < rows; ++r)
                        for (ptrdiff_t j = 0; j < d; ++j)
                            xf[(ptrdiff_t)r * d + j] = (double)xb[(ptrdiff_t)r * d + j] - g[j];
                    FN(km_products)(k, rows, d, W, xf, zf, rows);
                    for (int q = 0; q < ng; ++q) {
                        if (!amb[q]) continue;
                        const int r = idx[q];
                        const double na = nav[q];
                        double v1, v2;
                        const double e = kb_margin(na, B, ef);
                        const ptrdiff_t arg = kb_argmin(cn, zf, r, rows, k, &v1, &v2);
                        const ptrdiff_t i = i0 + r;
                        ch += labels[i] != (int64_t)arg;
                        labels[i] = (int64_t)arg;
                        kb_bounds_from_v(v1, v2, na, e, bounds + 2 * i);
                    }
                }
                if (want_sums) {
                    /* in row order, as the full pass adds them */
                    for (int r = 0; r < rows; ++r) {
                        const ptrdiff_t i = i0 + r;
                        const int64_t arg = labels[i];
                        const double wi = sample_weight ? sample_weight[i] : 1.0;
                        a_cnt[arg] += wi;
                        double *srow = a_sum + arg * d;
                        const REAL *x = xb + (ptrdiff_t)r * d;
                        for (ptrdiff_t j = 0; j < d; ++j) srow[j] += wi * (double)x[j];
                    }
                }
            }
            changed[s] = ch;
        }
        free(xs);
    }
    gms_blas_unpin();
    if (!failed) {
        int64_t total = 0;
        for (int s = 0; s < n_slots; ++s) total += changed[s];
        *n_changed = total;
        if (want_sums) gms_reduce_slots(acc, n_slots, stride, sums, k * d, counts, k, NULL, 0, NULL);
    }
    free(acc);
    return failed ? GMS_ERR_NOMEM : GMS_OK;
}

/* scikit-learn's _average_centers in place (a centre with no weight copies
 * the heaviest one, in centre order), and the total squared shift from
 * old: per centre the root of its squared differences, squared, summed. */
static double FN(kb_average)(double *centers, const double *sums, const double *counts,
                             ptrdiff_t k, ptrdiff_t d, const double *old)
{
    ptrdiff_t heaviest = 0;
    for (ptrdiff_t c = 1; c < k; ++c)
        if (counts[c] > counts[heaviest]) heaviest = c;
    memcpy(centers, sums, (size_t)(k * d) * sizeof(double));
    for (ptrdiff_t c = 0; c < k; ++c) {
        if (counts[c] > 0) {
            const double alpha = 1.0 / counts[c];
            for (ptrdiff_t j = 0; j < d; ++j) centers[c * d + j] *= alpha;
        } else {
            for (ptrdiff_t j = 0; j < d; ++j) centers[c * d + j] = centers[heaviest * d + j];
        }
    }
    double tot = 0.0;
    for (ptrdiff_t c = 0; c < k; ++c) {
        double s = 0.0;
        for (ptrdiff_t j = 0; j < d; ++j) {
            const double e = old[c * d + j] - centers[c * d + j];
            s += e * e;
        }
        const double r = sqrt(s);
        tot += r * r;
    }
    return tot;
}

int FN(gms_kmeans_bounded_run)(const REAL *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                               double *centers, const double *shift,
                               const double *sample_weight, int64_t *labels, float *bounds,
                               double *sums, double *counts, ptrdiff_t max_iter,
                               double tol_abs, int bounded, int64_t *info, int n_threads)
{
    if (n < 1 || d < 1 || k < 1 || d > INT_MAX / GMS_BLOCK_ROWS ||
        k > INT_MAX / GMS_BLOCK_ROWS || max_iter < 0 || info[0] < 0)
        return GMS_ERR_ARG;
    const int resume = info[2] == GMS_KM_EMPTY;
    ptrdiff_t it = (ptrdiff_t)info[0];
    int64_t changed = resume ? info[1] : -1;
    int status = GMS_KM_MAXITER, rc = GMS_OK;
    FN(kb_centres) t;
    const size_t kd = (size_t)(k * d);
    double *buf = (double *)malloc((3 * kd + 4 * (size_t)k) * sizeof(double));
    if (!buf) return GMS_ERR_NOMEM;
    t.W = buf;
    double *Wold = buf + kd, *old = buf + 2 * kd;
    t.cn = buf + 3 * kd;
    t.cd = t.cn + k;
    t.mv = t.cd + k;
    t.mx = t.mv + k;
    FN(kb_tables)(&t, centers, shift, k, d);
    for (ptrdiff_t c = 0; c < k; ++c) t.mv[c] = t.mx[c] = 0.0;
    int pending = resume;
    for (;;) {
        if (!pending) {
            if (it >= max_iter) break;
            if (bounded)
                rc = FN(kb_pass)(X, n, d, k, &t, shift, sample_weight, labels, bounds, sums,
                                 counts, it == 0, &changed, n_threads);
            else
                rc = FN(gms_kmeans_lloyd)(X, n, d, k, centers, shift, sample_weight, labels,
                                          sums, counts, &changed, n_threads);
            if (rc != GMS_OK) goto done;
            ++it;
            int empty = 0;
            for (ptrdiff_t c = 0; c < k; ++c) empty |= !(counts[c] > 0);
            if (empty) {
                status = GMS_KM_EMPTY; /* the caller relocates, then resumes */
                goto done;
            }
        }
        pending = 0;
        memcpy(old, centers, kd * sizeof(double));
        memcpy(Wold, t.W, kd * sizeof(double));
        const double shift_tot = FN(kb_average)(centers, sums, counts, k, d, old);
        FN(kb_tables)(&t, centers, shift, k, d);
        FN(kb_movement)(&t, Wold, k, d);
        if (changed == 0) {
            status = GMS_KM_STRICT;
            goto done;
        }
        if (shift_tot <= tol_abs) {
            status = GMS_KM_TOL;
            break;
        }
    }
    /* labels consistent with the final centres */
    if (bounded)
        rc = FN(kb_pass)(X, n, d, k, &t, shift, sample_weight, labels, bounds, NULL, NULL,
                         it == 0, &changed, n_threads);
    else
        rc = FN(gms_kmeans_lloyd)(X, n, d, k, centers, shift, sample_weight, labels, NULL,
                                  NULL, &changed, n_threads);
done:
    info[0] = (int64_t)it;
    info[1] = changed;
    info[2] = status;
    free(buf);
    return rc;
}
