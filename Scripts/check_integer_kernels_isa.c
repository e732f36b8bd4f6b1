// Test harness for Scripts/check_integer_kernels_isa.sh: random Q8_0/Q4_0/Q4_K/Q6_K rows (valid F16
// scales) against 5 random activation vectors, every kernel, one line per product.
#include "CMixtureKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
static uint16_t half_of(float f) { _Float16 h = (_Float16)f; uint16_t u; memcpy(&u, &h, 2); return u; }
int main(void) {
    srand(3);
    const int columns = 256 * 3 + 0, tokens = 5;  // 3 super-blocks / 24 blocks
    float x[5][768];
    for (int t = 0; t < tokens; t++) for (int i = 0; i < columns; i++) x[t][i] = ((rand() % 2001) - 1000) / 500.0f * ((rand() % 7) ? 1 : 0.01f);
    static uint8_t w[4][4096];
    for (int k = 0; k < 4; k++) for (int i = 0; i < 4096; i++) w[k][i] = rand();
    // valid F16 scales
    for (int b = 0; b < 24; b++) { uint16_t h = half_of(0.01f + (rand() % 100) / 1000.0f); memcpy(w[0] + 34 * b, &h, 2); memcpy(w[1] + 18 * b, &h, 2); }
    for (int b = 0; b < 3; b++) { uint16_t h = half_of(0.02f), m = half_of(0.005f); memcpy(w[2] + 144 * b, &h, 2); memcpy(w[2] + 144 * b + 2, &m, 2); memcpy(w[3] + 210 * b + 208, &h, 2); }
    for (int blockmode = 0; blockmode < 2; blockmode++) {
        int block = blockmode ? 256 : 32;
        static int8_t q[5][768]; static float d[5][24]; static int32_t lanes[5][192], gs[5][24];
        mixture_q8_ref ref[5];
        for (int t = 0; t < tokens; t++) { mixture_quantize_q8(x[t], columns, block, q[t], d[t], lanes[t], gs[t]); ref[t] = (mixture_q8_ref){q[t], d[t], lanes[t], gs[t]}; }
        float out[5];
        if (!blockmode) {
            mixture_rows_q8_0(w[0], 0, 0, 1, ref, tokens, columns, out, 1); for (int t = 0; t < tokens; t++) printf("q8_0 %d %.6g\n", t, out[t]);
            mixture_rows_q4_0(w[1], 0, 0, 1, ref, tokens, columns, out, 1); for (int t = 0; t < tokens; t++) printf("q4_0 %d %.6g\n", t, out[t]);
        } else {
            mixture_rows_q4_K(w[2], 0, 0, 1, ref, tokens, columns, out, 1); for (int t = 0; t < tokens; t++) printf("q4_K %d %.6g\n", t, out[t]);
            mixture_rows_q6_K(w[3], 0, 0, 1, ref, tokens, columns, out, 1); for (int t = 0; t < tokens; t++) printf("q6_K %d %.6g\n", t, out[t]);
        }
    }
    printf("isa %s\n", mixture_integer_dot_isa());
    return 0;
}
