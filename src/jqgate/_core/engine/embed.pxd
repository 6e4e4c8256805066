# Declarations of engine/embed.pyx: what the rest of the core uses from it (via core.pxd).

cdef str embed_request_id()
