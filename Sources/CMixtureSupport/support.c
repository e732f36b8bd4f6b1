// Most of the support code is static inline in the header; this file holds what needs libc headers.
#include "CMixtureSupport.h"
#include <malloc.h>

int mixture_keep_large_allocations_in_heap(void) {
    int ok = mallopt(M_MMAP_MAX, 0);
    ok &= mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
    return ok;
}
