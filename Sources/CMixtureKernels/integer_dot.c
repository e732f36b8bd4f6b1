// Integer dot products of ggml quantized weight rows against activations rounded to 8 bits as
// llama.cpp rounds them (Q8_0 blocks of 32 for Q8_0/Q4_0 weights, Q8_K blocks of 256 for the
// K-quants), so that the integer sums are llama.cpp's and only the float accumulation order differs.
//
// Each kernel unpacks 32 weights into unsigned bytes in weight order and multiplies them against the
// 32 signed activation bytes, four products summed per 32-bit lane (vpdpbusd with VNNI, vpmaddubsw +
// vpmaddwd on plain AVX2). Sums start from the activation's negated lane sums times the format's
// offset (Q4_0's 8, Q6_K's 32), so offsets cost nothing per block. Q8_0/Q4_0 lanes become floats
// once per block, scaled by the 8 blocks' scales computed as one vector; the K-quants multiply the
// lanes by their integer group scales and convert once per super-block of 256. Q4_K's minimums come
// from the activation's integer group sums. The Swift compiler does not form these instructions from
// SIMD code, hence C.

#include "CMixtureKernels.h"

#include <math.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define MIXTURE_X86 1
#endif

static inline float half_to_float(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
#ifdef MIXTURE_X86
    return _cvtsh_ss(h);
#else
    _Float16 f;
    memcpy(&f, &h, 2);
    return (float)f;
#endif
}

static inline int nearest_even(float v) { return (int)nearbyintf(v); }

void mixture_quantize_q8(const float *x, int n, int block, int8_t *q, float *d, int32_t *lanes, int32_t *group_sums) {
    for (int b = 0; b < n / block; b++) {
        const float *v = x + block * b;
        int8_t *out = q + block * b;
        if (block == 32) {
            // llama.cpp's quantize_row_q8_0 (x86): scale kept in F16, inputs multiplied by 127 / max|x|.
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(v[i]));
            const float id = amax != 0 ? 127.0f / amax : 0.0f;
            for (int i = 0; i < 32; i++) out[i] = (int8_t)nearest_even(v[i] * id);
            d[b] = (float)(_Float16)(amax / 127.0f);
        } else {
            // llama.cpp's quantize_row_q8_K_ref: the signed value of largest magnitude maps to -127.
            float max = 0, amax = 0;
            for (int i = 0; i < block; i++) {
                const float a = fabsf(v[i]);
                if (a > amax) { amax = a; max = v[i]; }
            }
            if (amax == 0) {
                memset(out, 0, (size_t)block);
                d[b] = 0;
            } else {
                const float iscale = -127.0f / max;
                for (int i = 0; i < block; i++) {
                    const int r = nearest_even(iscale * v[i]);
                    out[i] = (int8_t)(r < 127 ? r : 127);
                }
                d[b] = 1 / iscale;
            }
        }
    }
    // Lanes pre-multiplied by the offset of the formats that read this rounding: 8 (Q4_0) per 32,
    // 32 (Q6_K) per 256.
    const int offset = block == 32 ? 8 : 32;
    for (int g = 0; g < n / 32; g++) {
        int total = 0;
        for (int j = 8 * g; j < 8 * g + 8; j++) {
            const int four = q[4 * j] + q[4 * j + 1] + q[4 * j + 2] + q[4 * j + 3];
            lanes[j] = -offset * four;
            total += four;
        }
        group_sums[g] = total;
    }
}

/// The eight 6-bit (scale, minimum) pairs of a Q4_K super-block's 12 packed bytes.
static inline void q4_K_scales(const uint8_t *s, uint8_t *scale, uint8_t *minimum) {
    for (int j = 0; j < 4; j++) {
        scale[j] = s[j] & 63;
        minimum[j] = s[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        scale[j] = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        minimum[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

#ifdef MIXTURE_X86

const char *mixture_integer_dot_isa(void) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return "avx512-vnni";
#elif defined(__AVXVNNI__)
    return "avx-vnni";
#else
    return "avx2";
#endif
}

/// start + eight lanes of four unsigned × signed byte products each.
static inline __m256i dot_u8s8(__m256i start, __m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(start, u, s);
#elif defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(start, u, s);
#else
    return _mm256_add_epi32(start, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/// 16 bytes of nibbles as 32 bytes: the low nibbles, then the high ones (one broadcast load, one
/// variable shift of the upper half, one mask).
static inline __m256i nibbles16(const uint8_t *p) {
    const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
    return _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

/// The F16 scales of 8 blocks `stride` bytes apart, as floats.
static inline uint16_t load16(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return h; }

static inline __m256 scales8(const uint8_t *p, int stride) {
    __m128i h = _mm_cvtsi32_si128(load16(p));
    h = _mm_insert_epi16(h, load16(p + stride), 1);
    h = _mm_insert_epi16(h, load16(p + 2 * stride), 2);
    h = _mm_insert_epi16(h, load16(p + 3 * stride), 3);
    h = _mm_insert_epi16(h, load16(p + 4 * stride), 4);
    h = _mm_insert_epi16(h, load16(p + 5 * stride), 5);
    h = _mm_insert_epi16(h, load16(p + 6 * stride), 6);
    h = _mm_insert_epi16(h, load16(p + 7 * stride), 7);
    return _mm256_cvtph_ps(h);
}

/// Asks for the cache lines of the `bytes` that lie PREFETCH_DISTANCE ahead of p: rows are short
/// (a 2048-column Q4_0 row is 1152 bytes) and the hardware prefetchers restart at every page.
#define PREFETCH_DISTANCE 1024
static inline void prefetch_ahead(const uint8_t *p, int bytes) {
    for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + PREFETCH_DISTANCE + o, _MM_HINT_T0);
}


#define ZERO4 {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}

// Every kernel runs N activation vectors (N a compile-time 1 to 4) against one row, with two sets
// of accumulators (even and odd blocks) so that the fused multiply-add chains overlap.

// Q8_0: signed bytes. With VNNI they are read as unsigned (q + 128) and the sums start from 128 ×
// the lane sums; plain AVX2 (whose vpmaddubsw saturates) multiplies magnitudes by sign-moved activations.
static inline __attribute__((always_inline)) __m256i q8_0_lanes(__m256i q, const mixture_q8_ref *a, int b) {
    const __m256i x = load32(a->q + 32 * b);
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
    return dot_u8s8(_mm256_slli_epi32(load32(a->lanes + 8 * b), 4), _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)), x);
#else
    return dot_u8s8(_mm256_setzero_si256(), _mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
#endif
}

static inline __attribute__((always_inline)) void q8_0_rows(const uint8_t *w, const mixture_q8_ref *x, int blocks, float *out, const int N) {
    // Two named accumulator sets (even and odd blocks), every index a constant once unrolled, so
    // that they stay in registers.
    __m256 even[4] = ZERO4, odd[4] = ZERO4;
    int b = 0;
    for (; b + 8 <= blocks; b += 8) {
        const uint8_t *p = w + 34 * b;
        prefetch_ahead(p, 272);
        const __m256 dw = scales8(p, 34);
        // Per-block scales stored and broadcast from memory (folded into the multiply-add on AVX-512).
        float s[4][8];
        for (int t = 0; t < N; t++) _mm256_storeu_ps(s[t], _mm256_mul_ps(dw, _mm256_loadu_ps(x[t].d + b)));
#pragma clang loop unroll(full)
        for (int i = 0; i < 8; i += 2) {
            const __m256i q0 = load32(p + 34 * i + 2), q1 = load32(p + 34 * (i + 1) + 2);
            for (int t = 0; t < N; t++) {
                even[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q8_0_lanes(q0, x + t, b + i)), _mm256_set1_ps(s[t][i]), even[t]);
                odd[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q8_0_lanes(q1, x + t, b + i + 1)), _mm256_set1_ps(s[t][i + 1]), odd[t]);
            }
        }
    }
    for (; b < blocks; b++) {
        const uint8_t *p = w + 34 * b;
        const float dw = half_to_float(p);
        const __m256i q = load32(p + 34 * 0 + 2);
        for (int t = 0; t < N; t++)
            even[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q8_0_lanes(q, x + t, b)), _mm256_set1_ps(dw * x[t].d[b]), even[t]);
    }
    for (int t = 0; t < N; t++) out[t] = hsum(_mm256_add_ps(even[t], odd[t]));
}

// Q4_0: unsigned nibbles; the sums start from 8 × the lane sums (w = d (q - 8)).
static inline __attribute__((always_inline)) __m256i q4_0_lanes(__m256i u, const mixture_q8_ref *a, int b) {
    return dot_u8s8(load32(a->lanes + 8 * b), u, load32(a->q + 32 * b));
}

static inline __attribute__((always_inline)) void q4_0_rows(const uint8_t *w, const mixture_q8_ref *x, int blocks, float *out, const int N) {
    // Two named accumulator sets (even and odd blocks), every index a constant once unrolled, so
    // that they stay in registers.
    __m256 even[4] = ZERO4, odd[4] = ZERO4;
    int b = 0;
    for (; b + 8 <= blocks; b += 8) {
        const uint8_t *p = w + 18 * b;
        prefetch_ahead(p, 144);
        const __m256 dw = scales8(p, 18);
        // Per-block scales stored and broadcast from memory (folded into the multiply-add on AVX-512).
        float s[4][8];
        for (int t = 0; t < N; t++) _mm256_storeu_ps(s[t], _mm256_mul_ps(dw, _mm256_loadu_ps(x[t].d + b)));
#pragma clang loop unroll(full)
        for (int i = 0; i < 8; i += 2) {
            const __m256i u0 = nibbles16(p + 18 * i + 2), u1 = nibbles16(p + 18 * (i + 1) + 2);
            for (int t = 0; t < N; t++) {
                even[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q4_0_lanes(u0, x + t, b + i)), _mm256_set1_ps(s[t][i]), even[t]);
                odd[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q4_0_lanes(u1, x + t, b + i + 1)), _mm256_set1_ps(s[t][i + 1]), odd[t]);
            }
        }
    }
    for (; b < blocks; b++) {
        const uint8_t *p = w + 18 * b;
        const float dw = half_to_float(p);
        const __m256i u = nibbles16(p + 18 * 0 + 2);
        for (int t = 0; t < N; t++)
            even[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q4_0_lanes(u, x + t, b)), _mm256_set1_ps(dw * x[t].d[b]), even[t]);
    }
    for (int t = 0; t < N; t++) out[t] = hsum(_mm256_add_ps(even[t], odd[t]));
}

// Q4_K: per 32-byte chunk c, the low nibbles are group 2c and the high nibbles group 2c + 1. The
// lanes of each group are multiplied by its 6-bit scale in integers; one conversion per super-block.
static inline __attribute__((always_inline)) void q4_K_rows(const uint8_t *w, const mixture_q8_ref *x, int blocks, float *out, const int N) {
    __m256 acc[4] = ZERO4, minimums[4] = ZERO4;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int sb = 0; sb < blocks / 8; sb++, w += 144) {
        prefetch_ahead(w, 144);
        const float d = half_to_float(w), dmin = half_to_float(w + 2);
        // The 6-bit scales and minimums of the 8 groups, unpacked four at a time in 32-bit words.
        uint32_t a0, a1, a2;
        memcpy(&a0, w + 4, 4); memcpy(&a1, w + 8, 4); memcpy(&a2, w + 12, 4);
        const uint32_t scales_lo = a0 & 0x3F3F3F3F, mins_lo = a1 & 0x3F3F3F3F;
        const uint32_t scales_hi = (a2 & 0x0F0F0F0F) | (((a0 >> 6) & 0x03030303) << 4);
        const uint32_t mins_hi = ((a2 >> 4) & 0x0F0F0F0F) | (((a1 >> 6) & 0x03030303) << 4);
        const __m256i scale = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)(((uint64_t)scales_hi << 32) | scales_lo)));
        const __m256i minimum = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)(((uint64_t)mins_hi << 32) | mins_lo)));
        __m256i sums[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
#pragma clang loop unroll(full)
        for (int c = 0; c < 4; c++) {
            const __m256i v = load32(w + 16 + 32 * c);
            const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            const __m256i sl = _mm256_permutevar8x32_epi32(scale, _mm256_set1_epi32(2 * c));
            const __m256i sh = _mm256_permutevar8x32_epi32(scale, _mm256_set1_epi32(2 * c + 1));
            for (int t = 0; t < N; t++) {
                const int8_t *q = x[t].q + 256 * sb + 64 * c;
                sums[t] = _mm256_add_epi32(sums[t], _mm256_mullo_epi32(dot_u8s8(_mm256_setzero_si256(), lo, load32(q)), sl));
                sums[t] = _mm256_add_epi32(sums[t], _mm256_mullo_epi32(dot_u8s8(_mm256_setzero_si256(), hi, load32(q + 32)), sh));
            }
        }
        for (int t = 0; t < N; t++) {
            const float dx = x[t].d[sb];
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[t]), _mm256_set1_ps(d * dx), acc[t]);
            // Σ_j minimum_j · (sum of the activation's q over group j), in lanes.
            const __m256i m = _mm256_mullo_epi32(minimum, load32(x[t].group_sums + 8 * sb));
            minimums[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(dmin * dx), minimums[t]);
        }
    }
    for (int t = 0; t < N; t++) out[t] = hsum(acc[t]) - hsum(minimums[t]);
}

// Q6_K: the 6-bit values (0..63) unsigned, sums starting from 32 × the lane sums. Group k of half h
// holds weights 128h + 32k ..< +32, whose two scales (one per 16 weights) cover lanes 0-3 and 4-7.
static inline __attribute__((always_inline)) void q6_K_rows(const uint8_t *w, const mixture_q8_ref *x, int blocks, float *out, const int N) {
    __m256 acc[4] = ZERO4;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
    for (int sb = 0; sb < blocks / 8; sb++, w += 210) {
        prefetch_ahead(w, 210);
        const float d = half_to_float(w + 208);
        __m256i sums[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
#pragma clang loop unroll(full)
        for (int h = 0; h < 2; h++) {
            // The half's 8 scales, and per group k the lane pattern (scale 2k ×4, scale 2k + 1 ×4).
            const __m256i scales = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w + 192 + 8 * h)));
            const __m256i ql0 = load32(w + 64 * h), ql1 = load32(w + 64 * h + 32), qh = load32(w + 128 + 32 * h);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
#pragma clang loop unroll(full)
            for (int k = 0; k < 4; k++) {
                const __m256i pattern = _mm256_permutevar8x32_epi32(scales, _mm256_setr_epi32(2 * k, 2 * k, 2 * k, 2 * k, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1));
                for (int t = 0; t < N; t++) {
                    const int at = 256 * sb + 128 * h + 32 * k;
                    const __m256i start = load32(x[t].lanes + at / 4);
                    const __m256i lanes = dot_u8s8(start, q[k], load32(x[t].q + at));
                    sums[t] = _mm256_add_epi32(sums[t], _mm256_mullo_epi32(lanes, pattern));
                }
            }
        }
        for (int t = 0; t < N; t++) acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[t]), _mm256_set1_ps(d * x[t].d[sb]), acc[t]);
    }
    for (int t = 0; t < N; t++) out[t] = hsum(acc[t]);
}

#else  // portable scalar versions of the same arithmetic

const char *mixture_integer_dot_isa(void) { return "scalar"; }

static inline void q8_0_rows(const uint8_t *w, const mixture_q8_ref *x, int blocks, float *out, const int N) {
    for (int t = 0; t < N; t++) {
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            const uint8_t *p = w + 34 * b;
            int s = 0;
            for (int i = 0; i < 32; i++) s += (int8_t)p[2 + i] * x[t].q[32 * b + i];
            total += half_to_float(p) * x[t].d[b] * (float)s;
        }
        out[t] = total;
    }
}

static inline void q4_0_rows(const uint8_t *w, const mixture_q8_ref *x, int blocks, float *out, const int N) {
    for (int t = 0; t < N; t++) {
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            const uint8_t *p = w + 18 * b;
            const int8_t *q = x[t].q + 32 * b;
            int s = 0;
            for (int i = 0; i < 16; i++) s += ((p[2 + i] & 15) - 8) * q[i] + ((p[2 + i] >> 4) - 8) * q[16 + i];
            total += half_to_float(p) * x[t].d[b] * (float)s;
        }
        out[t] = total;
    }
}

static inline void q4_K_rows(const uint8_t *w, const mixture_q8_ref *x, int blocks, float *out, const int N) {
    for (int t = 0; t < N; t++) {
        float total = 0;
        for (int sb = 0; sb < blocks / 8; sb++) {
            const uint8_t *p = w + 144 * sb;
            uint8_t scale[8], minimum[8];
            q4_K_scales(p + 4, scale, minimum);
            const float d = half_to_float(p), dmin = half_to_float(p + 2);
            int sum = 0, m = 0;
            for (int j = 0; j < 8; j++) {
                int s = 0;
                for (int i = 0; i < 32; i++) s += ((p[16 + 32 * (j / 2) + i] >> (4 * (j % 2))) & 15) * x[t].q[256 * sb + 32 * j + i];
                sum += scale[j] * s;
                m += minimum[j] * x[t].group_sums[8 * sb + j];
            }
            total += d * x[t].d[sb] * (float)sum - dmin * x[t].d[sb] * (float)m;
        }
        out[t] = total;
    }
}

static inline void q6_K_rows(const uint8_t *w, const mixture_q8_ref *x, int blocks, float *out, const int N) {
    for (int t = 0; t < N; t++) {
        float total = 0;
        for (int sb = 0; sb < blocks / 8; sb++) {
            const uint8_t *p = w + 210 * sb;
            int sum = 0;
            for (int e = 0; e < 256; e += 16) {
                const int h = e / 128, within = e % 128;
                int s = 0;
                for (int i = 0; i < 16; i++) {
                    const int k = within + i;
                    const int low = (p[64 * h + k % 64] >> (4 * (k / 64))) & 15;
                    const int high = (p[128 + 32 * h + k % 32] >> (2 * (k / 32))) & 3;
                    s += ((low | (high << 4)) - 32) * x[t].q[256 * sb + e + i];
                }
                sum += ((const int8_t *)p)[192 + e / 16] * s;
            }
            total += half_to_float(p + 208) * x[t].d[sb] * (float)sum;
        }
        out[t] = total;
    }
}

#endif

// One instance per token count, each fully unrolled.
#define DOTS(name, kernel) \
    void name(const void *row, const mixture_q8_ref *x, int tokens, int columns, float *out) { \
        const int blocks = columns / 32; \
        switch (tokens) { \
        case 1: kernel(row, x, blocks, out, 1); break; \
        case 2: kernel(row, x, blocks, out, 2); break; \
        case 3: kernel(row, x, blocks, out, 3); break; \
        default: kernel(row, x, blocks, out, 4); break; \
        } \
    }
DOTS(mixture_dots_q8_0, q8_0_rows)
DOTS(mixture_dots_q4_0, q4_0_rows)
DOTS(mixture_dots_q4_K, q4_K_rows)
DOTS(mixture_dots_q6_K, q6_K_rows)

// Whole row ranges: token groups outside (their activations stay in L1), rows inside.
#define ROWS(name, kernel) \
    void name(const void *base, long row_bytes, int first, int last, const mixture_q8_ref *x, int tokens, int columns, float *out, long out_stride) { \
        const int blocks = columns / 32; \
        float r4[4]; \
        for (int t = 0; t < tokens; t += 4) { \
            const int group = tokens - t < 4 ? tokens - t : 4; \
            for (int r = first; r < last; r++) { \
                const uint8_t *row = (const uint8_t *)base + (long)r * row_bytes; \
                switch (group) { \
                case 1: kernel(row, x + t, blocks, r4, 1); break; \
                case 2: kernel(row, x + t, blocks, r4, 2); break; \
                case 3: kernel(row, x + t, blocks, r4, 3); break; \
                default: kernel(row, x + t, blocks, r4, 4); break; \
                } \
                for (int i = 0; i < group; i++) out[(long)(t + i) * out_stride + r] = r4[i]; \
            } \
        } \
    }
ROWS(mixture_rows_q8_0, q8_0_rows)
ROWS(mixture_rows_q4_0, q4_0_rows)
ROWS(mixture_rows_q4_K, q4_K_rows)
ROWS(mixture_rows_q6_K, q6_K_rows)
