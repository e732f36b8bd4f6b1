#ifndef CMIXTURE_KERNELS_H
#define CMIXTURE_KERNELS_H

#include <stdint.h>

/// One activation vector rounded to 8 bits the way llama.cpp rounds it for the weight type at hand,
/// the form the integer dot products read: x[i] ≈ d[i / block] · q[i], block = 32 for Q8_0/Q4_0
/// weights (llama.cpp's Q8_0: d = max|x| / 127 kept in F16, q = round-half-even(x · 127 / max|x|))
/// and 256 for the K-quants (its Q8_K: d = −max / 127 for the signed value of largest magnitude,
/// q = round-half-even(x / d)). `lanes[j]` is minus the sum of q[4j ..< 4j + 4] times the offset of
/// the formats that read the rounding (8 for Q4_0 per 32, 32 for Q6_K per 256), and `group_sums[g]`
/// the sum of q[32g ..< 32g + 32] (for Q4_K's minimums).
typedef struct {
    const int8_t *q;
    const float *d;
    const int32_t *lanes;
    const int32_t *group_sums;
} mixture_q8_ref;

/// Rounds `n` floats (a multiple of `block`, 32 or 256): fills n bytes of q, n / block floats of d,
/// n / 4 int32 of lanes and n / 32 of group_sums.
void mixture_quantize_q8(const float *x, int n, int block, int8_t *q, float *d, int32_t *lanes, int32_t *group_sums);

/// One row of ggml blocks (`columns` weights) against `tokens` (1 to 4) activation vectors rounded
/// with the block size of the type (32 for Q8_0/Q4_0, 256 for Q4_K/Q6_K): out[t] = row · x[t]. The
/// row's blocks are unpacked once for all the vectors.
void mixture_dots_q8_0(const void *row, const mixture_q8_ref *x, int tokens, int columns, float *out);
void mixture_dots_q4_0(const void *row, const mixture_q8_ref *x, int tokens, int columns, float *out);
void mixture_dots_q4_K(const void *row, const mixture_q8_ref *x, int tokens, int columns, float *out);
void mixture_dots_q6_K(const void *row, const mixture_q8_ref *x, int tokens, int columns, float *out);

/// Rows [first, last) of a matrix of `row_bytes`-byte rows at `base`, each against `tokens` (any
/// count) activation vectors, in groups of up to 4 vectors: out[t * out_stride + r] = row r · x[t].
void mixture_rows_q8_0(const void *base, long row_bytes, int first, int last, const mixture_q8_ref *x, int tokens, int columns, float *out, long out_stride);
void mixture_rows_q4_0(const void *base, long row_bytes, int first, int last, const mixture_q8_ref *x, int tokens, int columns, float *out, long out_stride);
void mixture_rows_q4_K(const void *base, long row_bytes, int first, int last, const mixture_q8_ref *x, int tokens, int columns, float *out, long out_stride);
void mixture_rows_q6_K(const void *base, long row_bytes, int first, int last, const mixture_q8_ref *x, int tokens, int columns, float *out, long out_stride);

/// Which instruction set the integer products were compiled for ("avx512-vnni", "avx-vnni", "avx2" or "scalar").
const char *mixture_integer_dot_isa(void);

#endif
