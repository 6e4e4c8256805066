# The request path's clock: CLOCK_MONOTONIC read directly. uvloop's loop.time() is the same
# clock (libuv's uv_now, refreshed once per loop iteration) behind a Python method call; the
# request path reads the time several times per request, so it reads it here. Values compare
# with loop.time() (same epoch; loop.time() may lag by up to a millisecond).

from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC


cdef inline double mono_now() noexcept:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


def monotonic_now():
    """mono_now() for Python code that compares with request timestamps (req.start_time)."""
    return mono_now()
