# Declarations of routing/router.pyx: what the rest of the core uses from it (via core.pxd).

from libc.string cimport memcmp, memset
from cpython.mem cimport PyMem_Malloc

cdef class RouteEntry:
    cdef public Py_ssize_t pos          # place in Kong's order: lower wins
    cdef public object route            # the config Route record
    cdef public object target           # what the builder attached (a ServiceTarget, ...)
    cdef public ServiceTarget service   # None: the route has no (enabled) service
    cdef public frozenset methods       # upper-case bytes; None = any method
    cdef public frozenset hosts         # plain hosts, lower-case bytes (with ":port" if written so)
    cdef public tuple wild_hosts        # (text, is_suffix, port) — see _wild_host_matches
    cdef public bint has_hosts
    cdef public tuple headers           # ((name, frozenset(values), regex or None), ...) lower-case
    cdef public bytes prefix            # plain path condition (prefix)
    cdef public object regex            # compiled bytes regex path condition (anchored at start)
    cdef public bint https_only         # protocols without http: plain http gets Kong's 426
    cdef public frozenset snis          # plain TLS server names, lower-case bytes; None = any
    cdef public tuple wild_snis         # ("*.example.com" / "example.*" as wild_hosts, no port)
    cdef public bint strip_path
    cdef public bint preserve_host
    cdef public bint path_v1            # path_handling v1 (else v0)
    cdef public bytes service_path      # the service's path, b"/" when none

    cdef Py_ssize_t match_len(self, bytes method, bytes host, bytes host_port, dict hdrs,
                              bytes path)
    cdef bint _host_matches(self, bytes host, bytes host_port)
    cdef bint _sni_matches(self, bytes sni)
    cdef bint _headers_match(self, dict hdrs)

cdef bint _wild_host_matches(tuple item, bytes host, bytes host_port)
cdef class RouteBuckets:
    cdef public dict by_prefix          # bytes prefix -> [RouteEntry]  (filled by the builder)
    cdef public tuple lengths           # the distinct prefix lengths, longest first
    cdef public list rest
    cdef list _prefixes                 # slot -> prefix bytes
    cdef list _lists                    # slot -> [RouteEntry]
    cdef uint64_t* _hashes              # table: hash of the prefix in this cell
    cdef Py_ssize_t* _cells             # table: slot index, -1 = empty
    cdef Py_ssize_t _mask
    cdef unsigned char* _is_length      # [0, _max_length]: some prefix has this length
    cdef Py_ssize_t _max_length

cdef class CompiledRouter:
    cdef public dict by_host            # lower-case bytes host (or host:port) -> RouteBuckets
    cdef public RouteBuckets any_host
    cdef public bint reads_headers      # some route has a headers condition
    cdef public bint reads_ports        # some host condition names a port
    cdef public bint reads_sni          # some route has an snis condition
    cdef public Py_ssize_t matched_len  # the last find()'s path consumption
    cdef bytes _sni                     # the request's TLS server name, for this find()
    cdef bytes _memo_raw, _memo_host, _memo_host_port
    cdef bint _memo_https

    cdef RouteEntry find(self, bytes method, bytes raw_host, bytes path, list headers,
                         bint https, bytes sni)
    cdef RouteEntry _scan(self, RouteBuckets b, RouteEntry best, bytes method, bytes host,
                          bytes host_port, dict hdrs, bytes path)
    cdef RouteEntry _first(self, list entries, RouteEntry best, bytes method, bytes host,
                           bytes host_port, dict hdrs, bytes path)

cdef tuple _split_host(bytes raw, bint https, bint with_port)
cdef dict _header_values(list headers)
cdef bytes _tail(bytes b, Py_ssize_t start)
cdef bytes _head(bytes b, Py_ssize_t end)
cpdef bytes kong_upstream_path(bytes base, bytes path, Py_ssize_t matched, bint strip, bint v1)
cdef bytes _sanitize_postfix(bytes postfix)
