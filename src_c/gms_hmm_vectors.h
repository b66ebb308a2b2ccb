/*
 * Eight-lane double vectors for the chain recursions (gms_hmm_scaled.c,
 * gms_hmm_viterbi.c): GCC/Clang vector extensions, which lower to AVX-512,
 * AVX2 or SSE2 halves depending on the clone. The recursions keep their
 * state in these, so a matrix-vector product broadcasts the vector's lanes
 * with register shuffles instead of reloading them from memory. Only for
 * static, inlined helpers: no vector crosses an ABI boundary, so the note
 * about the AVX-512 calling convention (-Wpsabi) is moot.
 */
#ifndef GMS_HMM_VECTORS_H
#define GMS_HMM_VECTORS_H

#include <stdint.h>

#if !defined(__GNUC__)
#error "the HMM recursions need GCC or Clang vector extensions"
#endif
#pragma GCC diagnostic ignored "-Wpsabi"

typedef double v8d __attribute__((vector_size(64)));
typedef double v8du __attribute__((vector_size(64), aligned(8))); /* unaligned */
typedef int64_t v8i __attribute__((vector_size(64)));

#if defined(__clang__)
#define PERM(v, a, b, c, d, e, f, g, h) __builtin_shufflevector((v), (v), a, b, c, d, e, f, g, h)
#else
#define PERM(v, a, b, c, d, e, f, g, h) __builtin_shuffle((v), (v8i){a, b, c, d, e, f, g, h})
#endif
#define LANE(v, i) PERM(v, i, i, i, i, i, i, i, i)

#endif /* GMS_HMM_VECTORS_H */
