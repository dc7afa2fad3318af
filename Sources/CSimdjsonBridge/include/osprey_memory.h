// Heap facts for the feature store's memory accounting.
//
// The store allocates its event buffers and value tables with malloc and reports what they
// hold: the usable size malloc gave (at least what was asked for), not a formula.
#ifndef OSPREY_MEMORY_H
#define OSPREY_MEMORY_H

#include <malloc.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The bytes usable in the block at `block` (from malloc), 0 for NULL.
static inline size_t osprey_allocation_size(void *block) {
    return block == NULL ? 0 : malloc_usable_size(block);
}

/// What glibc's allocator keeps beside each small block: its size word.
#define OSPREY_ALLOCATION_HEADER 8

#ifdef __cplusplus
}
#endif

#endif
