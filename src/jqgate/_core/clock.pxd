# Declarations of clock.pyx: what the rest of the core uses from it (via core.pxd).

from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

cdef double mono_now() noexcept
