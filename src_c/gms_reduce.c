/* The statistics tree of gms_reduce.h. */
#include "gms_reduce.h"
#include "gms_kernels.h"

#include <stdlib.h>
#include <string.h>

int gms_reducer_init(gms_reducer *r, ptrdiff_t stride, ptrdiff_t leaf_units)
{
    memset(r, 0, sizeof(*r));
    if (stride < 1 || leaf_units < 1) return GMS_ERR_ARG;
    r->stride = stride;
    r->leaf_units = leaf_units;
    r->open = (double *)calloc((size_t)stride, sizeof(double));
    return r->open ? GMS_OK : GMS_ERR_NOMEM;
}

void gms_reducer_free(gms_reducer *r)
{
    free(r->stack);
    free(r->open);
    r->stack = r->open = NULL;
    r->capacity = r->depth = 0;
}

int gms_reducer_reserve(gms_reducer *r, int64_t more)
{
    /* before the push of leaf j < L the counter holds popcount(j) <=
     * floor(log2 L) sums; the push writes one more */
    int64_t leaves = r->units / r->leaf_units + (more > 0 ? more : 0);
    int need = 1;
    while (leaves > 1) {
        leaves >>= 1;
        ++need;
    }
    if (need > GMS_REDUCE_MAX_DEPTH) return GMS_ERR_ARG;
    if (need <= r->capacity) return GMS_OK;
    double *grown = (double *)realloc(r->stack, (size_t)need * (size_t)r->stride * sizeof(double));
    if (grown == NULL) return GMS_ERR_NOMEM;
    r->stack = grown;
    r->capacity = need;
    return GMS_OK;
}

void gms_reducer_push(gms_reducer *r, const double *leaf)
{
    const ptrdiff_t n = r->stride;
    memcpy(r->stack + (ptrdiff_t)r->depth * n, leaf, (size_t)n * sizeof(double));
    r->level[r->depth] = 0;
    /* equal levels: the older (left) sum absorbs the newer (right) one */
    while (r->depth > 0 && r->level[r->depth - 1] == r->level[r->depth]) {
        double *left = r->stack + (ptrdiff_t)(r->depth - 1) * n;
        const double *right = left + n;
        for (ptrdiff_t i = 0; i < n; ++i) left[i] += right[i];
        r->level[r->depth - 1] += 1;
        r->depth -= 1;
    }
    r->depth += 1;
}

void gms_reducer_total(const gms_reducer *r, double *out)
{
    const ptrdiff_t n = r->stride;
    int i = r->depth;
    if (r->units % r->leaf_units != 0) {
        memcpy(out, r->open, (size_t)n * sizeof(double));
    } else if (i > 0) {
        --i;
        memcpy(out, r->stack + (ptrdiff_t)i * n, (size_t)n * sizeof(double));
    } else {
        memset(out, 0, (size_t)n * sizeof(double));
    }
    /* newest to oldest, each older sum added to the running total */
    while (i-- > 0) {
        const double *p = r->stack + (ptrdiff_t)i * n;
        for (ptrdiff_t j = 0; j < n; ++j) out[j] = p[j] + out[j];
    }
}
