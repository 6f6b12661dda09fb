/*
 * mshm_atomic.h -- the only way Marshal code touches shared segment memory.
 *
 * Plain fields in mshm_layout.h plus GCC/Clang __atomic builtins (the kernel's
 * READ_ONCE/WRITE_ONCE idea): valid C and C++, identical layout for i386 and
 * x86_64 clients, and every shared access is greppable.  Bulk copies move
 * data in 8-byte relaxed atomic units (Fuchsia's WellDefinedCopyTo/From), so
 * a reader racing the writer is never a data race in the C11 sense.
 * Barriers carry LMM(fn:X) labels; docs/shm-format.md lists the pairings.
 */
#ifndef MSHM_ATOMIC_H
#define MSHM_ATOMIC_H

#include <stddef.h>
#include <stdint.h>

#define mshm_ld_acq(p)    __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define mshm_ld(p)        __atomic_load_n((p), __ATOMIC_RELAXED)
#define mshm_st(p, v)     __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define mshm_st_rel(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define mshm_fence_acq()  __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define mshm_fence_rel()  __atomic_thread_fence(__ATOMIC_RELEASE)

_Static_assert(__atomic_always_lock_free(8, 0),
               "64-bit atomics must be lock-free (address-free across processes)");

#if defined(__x86_64__) || defined(__i386__)
#define mshm_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define mshm_cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define mshm_cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

/*
 * shm -> private copy in relaxed 8-byte words.  n must be a multiple of 8 and
 * both pointers 8-aligned (every record in the layout is).
 */
static inline void
mshm_copy_in(void *dst, const void *shm, size_t n)
{
    uint64_t *d = (uint64_t *)dst;
    const uint64_t *s = (const uint64_t *)shm;
    size_t i;

    for (i = 0; i < n / 8; i++) {
        d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
    }
}

/* private -> shm copy in relaxed 8-byte words; same rules as mshm_copy_in. */
static inline void
mshm_copy_out(void *shm, const void *src, size_t n)
{
    uint64_t *d = (uint64_t *)shm;
    const uint64_t *s = (const uint64_t *)src;
    size_t i;

    for (i = 0; i < n / 8; i++) {
        __atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
    }
}

#endif /* MSHM_ATOMIC_H */
