/*
 * Vectorisable exp and log for the kernels, and the GMS_HOT attribute.
 *
 * Loops that call these compile to SIMD code: no tables, no branches in
 * the main path, integer tricks for the exponent. Accuracy is within a few
 * ulp of the correctly rounded result, which the tests check against libm.
 * Floating-point contraction stays off (C11 mode) and no loop relies on
 * reassociation, so every SIMD width computes the same bits.
 */
#ifndef GMS_FASTMATH_H
#define GMS_FASTMATH_H

#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Hot functions are compiled for several x86-64 levels and picked at load
 * time (GCC/Clang target_clones + ifunc), so one portable wheel uses
 * AVX2/AVX-512 where the CPU has them. Define GMS_NO_TARGET_CLONES to get a
 * single baseline version (e.g. for sanitizer builds).
 */
#if defined(__x86_64__) && defined(__linux__) && defined(__has_attribute)
#if __has_attribute(target_clones) && !defined(GMS_NO_TARGET_CLONES)
#define GMS_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef GMS_HOT
#define GMS_HOT
#endif

static inline double gms_from_bits(int64_t b)
{
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static inline int64_t gms_to_bits(double x)
{
    int64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/*
 * exp(x) for x <= 0: x = k ln2 + r with |r| <= ln2/2 (ln2 split in two
 * parts), a degree-13 Taylor polynomial for e^r (truncation below 1e-17
 * relative), 2^k built in the exponent bits. Arguments below -708, where
 * the result would be subnormal (< 3.3e-308), give exactly 0, as does
 * -inf; NaN gives NaN (a NaN log-density must not pass for an impossible
 * one); positive arguments are treated as 0 (callers pass x - max).
 */
static inline double gms_exp_nonpositive(double x0)
{
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: rounds to an integer */
    const int64_t shift_bits = INT64_C(0x4338000000000000);
    const int ok = x0 >= -708.0;
    const double x = ok ? (x0 <= 0.0 ? x0 : 0.0) : 0.0;
    const double t = x * log2e + shift;
    const double kf = t - shift;
    const double r = (x - kf * ln2_hi) - kf * ln2_lo;
    /* e^r = sum_{i<=13} r^i / i!, evaluated by Estrin's scheme: pairs,
     * then pairs of pairs, so the dependency chain is 4 levels deep instead
     * of 13 (the forward-backward recursions are latency-bound) */
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double q0 = 1.0 + r;
    const double q1 = 1.0 / 2.0 + r * (1.0 / 6.0);
    const double q2 = 1.0 / 24.0 + r * (1.0 / 120.0);
    const double q3 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    const double q4 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    const double q5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    const double q6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    const double u0 = q0 + r2 * q1;
    const double u1 = q2 + r2 * q3;
    const double u2 = q4 + r2 * q5;
    const double w0 = u0 + r4 * u1;
    const double w1 = u2 + r4 * q6;
    const double p = w0 + r8 * w1;
    const double scale = gms_from_bits((gms_to_bits(t) - shift_bits + 1023) * (INT64_C(1) << 52));
    return ok ? p * scale : (x0 == x0 ? 0.0 : x0);   /* NaN stays NaN */
}

/*
 * log(x) for normal, positive, finite x (callers check x >= DBL_MIN):
 * x = 2^e m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) with
 * s = (m - 1) / (m + 1), |s| < 0.172, odd series to s^23.
 */
static inline double gms_log_normal(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double two52 = 4503599627370496.0;
    const uint64_t bits = (uint64_t)gms_to_bits(x);
    /* the biased exponent as a double, without an integer conversion (so
     * the loop vectorises on every x86-64 level): 2^52 + e, minus 2^52 */
    const double ebias = gms_from_bits((int64_t)((bits >> 52) | UINT64_C(0x4330000000000000))) - two52;
    double m = gms_from_bits((int64_t)((bits & UINT64_C(0x000fffffffffffff)) |
                                       UINT64_C(0x3ff0000000000000)));
    const int big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    const double ef = ebias - 1023.0 + (big ? 1.0 : 0.0);
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    /* log m = 2s + 2s s2 P(s2), P = 1/3 + s2/5 + ... + s2^10/23, by
     * Estrin's scheme (see exp); the small correction term carries the
     * rounding, the leading 2s is added last */
    const double t2 = s2 * s2, t4 = t2 * t2, t8 = t4 * t4;
    const double a0 = 1.0 / 3.0 + s2 * (1.0 / 5.0);
    const double a1 = 1.0 / 7.0 + s2 * (1.0 / 9.0);
    const double a2 = 1.0 / 11.0 + s2 * (1.0 / 13.0);
    const double a3 = 1.0 / 15.0 + s2 * (1.0 / 17.0);
    const double a4 = 1.0 / 19.0 + s2 * (1.0 / 21.0);
    const double b0 = a0 + t2 * a1;
    const double b1 = a2 + t2 * a3;
    const double b2 = a4 + t2 * (1.0 / 23.0);
    const double P = (b0 + t4 * b1) + t8 * b2;
    const double two_s = 2.0 * s;
    return ef * ln2_hi + (two_s + (two_s * s2 * P + ef * ln2_lo));
}

#endif /* GMS_FASTMATH_H */
