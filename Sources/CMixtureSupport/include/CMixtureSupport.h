#ifndef CMIXTURE_SUPPORT_H
#define CMIXTURE_SUPPORT_H

// Forwards and merges allocate and free megabyte-sized buffers over and over. glibc serves those
// with mmap and unmaps them on free, so each use pays page faults to zero fresh pages. Keeping them
// in the heap lets the next use reuse the pages (see HeapPolicy). Returns 1 on success.
int mixture_keep_large_allocations_in_heap(void);

#endif
