#ifndef CMIXTURE_SUPPORT_H
#define CMIXTURE_SUPPORT_H

// Swift has no prefetch intrinsic. Prefetches never fault, so an address past the end of a buffer
// is harmless.
static inline void mixture_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

// Forwards and merges allocate and free megabyte-sized buffers over and over. glibc serves those
// with mmap and unmaps them on free, so each use pays page faults to zero fresh pages. Keeping them
// in the heap lets the next use reuse the pages (see HeapPolicy). Returns 1 on success.
int mixture_keep_large_allocations_in_heap(void);

// Swaps two paths in one step (renameat2 with RENAME_EXCHANGE), so a replaced output folder is
// never missing, even for an instant. Returns 0, or -1 with errno (EINVAL where the filesystem
// cannot, ENOSYS on old kernels).
int mixture_exchange_paths(const char *a, const char *b);

// libFuzzer's driver (linked only into the -sanitize=fuzzer build of mixture-fuzz, whose own main
// must call it because SwiftPM names every executable's entry point itself).
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
