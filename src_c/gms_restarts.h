/*
 * Lockstep E-steps of several restarts of one mixture (n_init > 1): one
 * pass over X computes every model's statistics. Declarations; the
 * type-generic body is gms_restarts_impl.h.
 */
#ifndef GMS_RESTARTS_H
#define GMS_RESTARTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gms_reducer; /* gms_reduce.h */

/*
 * Model m (0 <= m < n_models) has its parameters at means[m], prec_chol[m],
 * log_norm[m] (the layout of gms_estep_into) and its centres at centres[m];
 * its statistics are folded into reds[m], exactly as gms_estep_into would
 * fold them (the same blocks, leaves and tree: the same bits). All reducers
 * must have folded the same number of units. Each block of X is read once
 * for all models while it is in cache.
 */
#define GMS_DECLARE_RESTARTS(R, S)                                             \
    int gms_estep_restarts_into_##S(struct gms_reducer *const *reds,           \
        ptrdiff_t n_models, int cov_type, const R *X, ptrdiff_t n,             \
        ptrdiff_t d, ptrdiff_t k, const R *const *means,                       \
        const R *const *prec_chol, const double *const *log_norm,              \
        const double *sample_weight, const double *const *centres,             \
        int n_threads);

GMS_DECLARE_RESTARTS(double, d)
GMS_DECLARE_RESTARTS(float, f)
#undef GMS_DECLARE_RESTARTS

#ifdef __cplusplus
}
#endif

#endif /* GMS_RESTARTS_H */
