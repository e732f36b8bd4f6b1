#ifndef CMIXTURE_SUPPORT_H
#define CMIXTURE_SUPPORT_H

// Swift has no prefetch intrinsic. Kernels that widen weight rows before using them ask for the next
// rows ahead of time, so the memory latency overlaps with arithmetic instead of stalling it.
static inline void mixture_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
