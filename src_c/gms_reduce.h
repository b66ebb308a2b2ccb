/*
 * Deterministic reduction of partial sums (sufficient statistics, chain
 * counts) that may arrive over many kernel calls.
 *
 * Work is cut into units (blocks of GMS_BLOCK_ROWS rows, or sequences);
 * `leaf_units` consecutive units are summed in order into one leaf, and
 * leaves are combined in a fixed binary tree over their index (a binary
 * counter: leaf j's sum joins its left neighbour's once both cover 2^l
 * leaves). The tree depends only on the leaf indices and their count, so
 * the total is the same bits whether the data came in one call or in
 * chunks whose sizes are multiples of the unit, and whatever the number of
 * threads. A reducer holds O(log(leaves)) partial sums.
 */
#ifndef GMS_REDUCE_H
#define GMS_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks summed in order into one leaf of the statistics tree. */
#define GMS_LEAF_BLOCKS 8
/* Most levels of the tree (2^62 leaves). */
#define GMS_REDUCE_MAX_DEPTH 62

typedef struct gms_reducer {
    ptrdiff_t stride;      /* doubles per partial sum */
    ptrdiff_t leaf_units;  /* units per leaf */
    int64_t units;         /* units folded so far */
    int depth;             /* partial sums on the stack */
    int capacity;          /* stack entries allocated */
    int level[GMS_REDUCE_MAX_DEPTH + 1];
    double *stack;         /* capacity x stride; bottom = oldest */
    double *open;          /* the leaf in progress (units % leaf_units != 0) */
} gms_reducer;

int gms_reducer_init(gms_reducer *r, ptrdiff_t stride, ptrdiff_t leaf_units);
void gms_reducer_free(gms_reducer *r);
/* Room for `more` pushes without allocating; GMS_ERR_NOMEM when it cannot. */
int gms_reducer_reserve(gms_reducer *r, int64_t more);
/* Fold a complete leaf (after gms_reducer_reserve). */
void gms_reducer_push(gms_reducer *r, const double *leaf);
/* The total so far (the leaf in progress counted as the last leaf). */
void gms_reducer_total(const gms_reducer *r, double *out);

/* Leaves a pass over `n_units` more units touches, the first of which may
 * continue the open leaf: [*first, *first + count). */
static inline int64_t gms_reducer_leaves(const gms_reducer *r, int64_t n_units,
                                         int64_t *first)
{
    *first = r->units / r->leaf_units;
    if (n_units <= 0) return 0;
    return (r->units + n_units - 1) / r->leaf_units - *first + 1;
}

#ifdef __cplusplus
}
#endif

#endif /* GMS_REDUCE_H */
