# Kong's traditional router, matched in C for every request.
#
# jqgate.gateway.router builds the table once per configuration: one RouteEntry per (route, path) —
# Kong splits a route with several paths so that each path sorts on its own — numbered in
# Kong's order (`pos`, lower wins), and filed in buckets a request can reach cheaply:
#
#   by host:  a route whose hosts are all plain is filed under each of them; every other route
#             (wildcard hosts, or no host condition) under "any host";
#   by path:  inside a host's buckets, a prefix-path entry is filed under its prefix; regex
#             and path-less entries in one list (`rest`), as Kong tries every regex anyway.
#
# find() looks up the request's host (without and with port) and "any host", and in each the
# prefixes of the request path that some route uses (one dict lookup per distinct prefix
# length), then takes, over all reached buckets, the entry with the lowest `pos` whose every
# condition matches. That is exactly "the first route in Kong's order that matches", at a cost
# bounded by the buckets the request reaches, not by the number of routes.

from libc.string cimport memcmp, memset
from cpython.mem cimport PyMem_Malloc


cdef class RouteEntry:
    """One path of one route (or the route itself when it has no paths), with everything the
    request decision needs precomputed."""

    cdef Py_ssize_t match_len(self, bytes method, bytes host, bytes host_port, dict hdrs,
                              bytes path):
        """-1 when a condition fails; else how much of `path` the path condition consumed
        (0 for a route without paths)."""
        if self.methods is not None and method not in self.methods:
            return -1
        if self.has_hosts and not self._host_matches(host, host_port):
            return -1
        if self.headers is not None and not self._headers_match(hdrs):
            return -1
        if self.prefix is not None:
            return len(self.prefix) if path.startswith(self.prefix) else -1
        if self.regex is not None:
            m = self.regex.match(path)
            return -1 if m is None else m.end()
        return 0

    cdef bint _host_matches(self, bytes host, bytes host_port):
        if host in self.hosts or host_port in self.hosts:
            return True
        for item in self.wild_hosts:
            if _wild_host_matches(<tuple>item, host, host_port):
                return True
        return False

    cdef bint _sni_matches(self, bytes sni):
        """Kong: a route with `snis` matches only a TLS connection whose handshake named one
        of them (plain http, or a client that sent no server name, never matches it)."""
        if sni is None:
            return False
        if sni in self.snis:
            return True
        for item in self.wild_snis:
            if _wild_host_matches(<tuple>item, sni, sni):
                return True
        return False

    cdef bint _headers_match(self, dict hdrs):
        """Every header condition holds (Kong: an exact value, compared lower-case, or for a
        single `~*` value, a regex search in the lower-cased request value)."""
        if hdrs is None:
            return False
        for cond in self.headers:
            values = hdrs.get((<tuple>cond)[0])
            if values is None:
                return False
            allowed = <frozenset>(<tuple>cond)[1]
            regex = (<tuple>cond)[2]
            for v in <list>values:
                if v in allowed or (regex is not None and regex.search(v) is not None):
                    break
            else:
                return False
        return True


cdef inline bint _wild_host_matches(tuple item, bytes host, bytes host_port):
    """Kong turns `*` into `.+`: `*.example.com` matches any host ending in `.example.com`
    with at least one character before it, `example.*` any host starting `example.` with
    at least one after. A wildcard written with a port matches that port only."""
    cdef bytes text = item[0]
    cdef bytes port = item[2]
    cdef bytes h = host
    if port is not None:
        if not host_port.endswith(port):
            return False
        h = host_port[:len(host_port) - len(port)]
    if item[1]:
        return len(h) > len(text) and h.endswith(text)
    return len(h) > len(text) and h.startswith(text)


cdef class RouteBuckets:
    """The entries filed under one host key: by plain prefix (or a regex's literal start), and
    the rest (other regexes, no path), each list in Kong's order. seal() compiles the prefixes
    into an open-addressing table of 64-bit FNV-1a hashes, so a lookup hashes the request path
    once, byte by byte, and probes at each length some prefix has: no slice, no allocation."""

    def __init__(self):
        self.by_prefix = {}
        self.lengths = ()
        self.rest = []

    def __dealloc__(self):
        PyMem_Free(self._hashes)
        PyMem_Free(self._cells)
        PyMem_Free(self._is_length)

    def seal(self):
        """Build the lookup table from by_prefix (once, after the builder filled it)."""
        cdef Py_ssize_t size = 8
        cdef Py_ssize_t i, cell
        cdef uint64_t h
        cdef bytes prefix
        while size < 2 * len(self.by_prefix) + 2:
            size *= 2
        self.lengths = tuple(sorted({len(p) for p in self.by_prefix}, reverse=True))
        self._max_length = self.lengths[0] if self.lengths else 0
        self._prefixes = list(self.by_prefix)
        self._lists = [self.by_prefix[p] for p in self._prefixes]
        self._hashes = <uint64_t*>PyMem_Malloc(size * sizeof(uint64_t))
        self._cells = <Py_ssize_t*>PyMem_Malloc(size * sizeof(Py_ssize_t))
        self._is_length = <unsigned char*>PyMem_Malloc(self._max_length + 1)
        if self._hashes == NULL or self._cells == NULL or self._is_length == NULL:
            raise MemoryError()
        self._mask = size - 1
        for i in range(size):
            self._cells[i] = -1
        memset(self._is_length, 0, self._max_length + 1)
        for i in range(len(self._prefixes)):
            prefix = self._prefixes[i]
            self._is_length[len(prefix)] = 1
            h = _fnv1a(<const unsigned char*>PyBytes_AS_STRING(prefix), len(prefix))
            cell = <Py_ssize_t>(h & <uint64_t>self._mask)
            while self._cells[cell] != -1:
                cell = (cell + 1) & self._mask
            self._hashes[cell] = h
            self._cells[cell] = i


cdef class CompiledRouter:
    """The table jqgate.gateway.router builds; find() runs per request (see the module comment)."""

    def __init__(self):
        self.by_host = {}
        self.any_host = RouteBuckets()
        self.reads_headers = False
        self.reads_ports = False
        self.reads_sni = False
        self.matched_len = 0

    cdef RouteEntry find(self, bytes method, bytes raw_host, bytes path, list headers,
                         bint https, bytes sni):
        cdef bytes host = b""
        cdef bytes host_port = b""
        cdef dict hdrs = None
        cdef RouteEntry best = None
        cdef RouteBuckets b
        if raw_host:
            # Most traffic names few hosts: the last split is remembered.
            if https == self._memo_https and raw_host == self._memo_raw:
                host, host_port = self._memo_host, self._memo_host_port
            else:
                host, host_port = _split_host(raw_host, https, self.reads_ports)
                self._memo_raw, self._memo_https = raw_host, https
                self._memo_host, self._memo_host_port = host, host_port
        if self.reads_headers and headers:
            hdrs = _header_values(headers)
        self.matched_len = 0
        self._sni = sni
        if self.by_host and host:
            b = self.by_host.get(host)
            if b is not None:
                best = self._scan(b, best, method, host, host_port, hdrs, path)
            if self.reads_ports and host_port != host:
                b = self.by_host.get(host_port)
                if b is not None:
                    best = self._scan(b, best, method, host, host_port, hdrs, path)
        return self._scan(self.any_host, best, method, host, host_port, hdrs, path)

    cdef RouteEntry _scan(self, RouteBuckets b, RouteEntry best, bytes method, bytes host,
                          bytes host_port, dict hdrs, bytes path):
        """The best entry of `b` for the request, if it comes before `best`: the lists of the
        prefixes the path starts with (one hash pass over the path), then the rest."""
        cdef Py_ssize_t n = len(path)
        cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(path)
        cdef Py_ssize_t i, cell, slot
        cdef Py_ssize_t stop = n if n < b._max_length else b._max_length
        cdef uint64_t h = 14695981039346656037ULL
        cdef bytes prefix
        if b._cells != NULL:
            for i in range(stop):
                h = (h ^ s[i]) * 1099511628211ULL
                if not b._is_length[i + 1]:
                    continue
                cell = <Py_ssize_t>(h & <uint64_t>b._mask)
                while b._cells[cell] != -1:
                    if b._hashes[cell] == h:
                        slot = b._cells[cell]
                        prefix = b._prefixes[slot]
                        if len(prefix) == i + 1 and memcmp(PyBytes_AS_STRING(prefix), s, i + 1) == 0:
                            best = self._first(<list>b._lists[slot], best,
                                               method, host, host_port, hdrs, path)
                            break
                    cell = (cell + 1) & b._mask
        if b.rest:
            best = self._first(b.rest, best, method, host, host_port, hdrs, path)
        return best

    cdef RouteEntry _first(self, list entries, RouteEntry best, bytes method, bytes host,
                           bytes host_port, dict hdrs, bytes path):
        """The first entry of `entries` that matches, if it comes before `best`."""
        cdef RouteEntry e
        cdef Py_ssize_t got
        for item in entries:
            e = <RouteEntry>item
            if best is not None and e.pos >= best.pos:
                return best
            if e.snis is not None and not e._sni_matches(self._sni):
                continue
            got = e.match_len(method, host, host_port, hdrs, path)
            if got >= 0:
                self.matched_len = got
                return e
        return best

    def match(self, bytes method, bytes host, bytes path, list headers=None, bint https=False,
              bytes sni=None):
        """(entry, matched length) or None: find() for Python callers (tests, tools)."""
        cdef RouteEntry e = self.find(method, host, path, headers, https, sni)
        return None if e is None else (e, self.matched_len)


cdef tuple _split_host(bytes raw, bint https, bint with_port):
    """(host without port, host with port) lower-case, as Kong's split_port: the port defaults
    to the scheme's; brackets of an IPv6 literal are kept off the bare host."""
    cdef bytes h = raw.lower()
    cdef Py_ssize_t colon
    cdef bytes bare
    if h.startswith(b"["):
        end = h.find(b"]")
        if end < 0:
            return h, h
        bare = h[1:end]
        if h[end + 1:end + 2] == b":" and h[end + 2:].isdigit():
            return bare, h
        if not with_port:
            return bare, h
        return bare, h[:end + 1] + (b":443" if https else b":80")
    colon = h.find(b":")
    if colon >= 0 and h.find(b":", colon + 1) < 0 and h[colon + 1:].isdigit():
        return h[:colon], h
    if not with_port:
        return h, h
    return h, h + (b":443" if https else b":80")


cdef dict _header_values(list headers):
    """name -> [values], both lower-case, for header conditions; Host is never one."""
    cdef dict out = {}
    for item in headers:
        name = (<bytes>(<tuple>item)[0]).lower()
        if name == b"host":
            continue
        lst = out.get(name)
        if lst is None:
            out[name] = [(<bytes>(<tuple>item)[1]).lower()]
        else:
            (<list>lst).append((<bytes>(<tuple>item)[1]).lower())
    return out


cdef inline bytes _tail(bytes b, Py_ssize_t start):
    """b[start:] without the generic slice machinery (a bytes slice is built directly)."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
    if start <= 0:
        return b
    if start >= n:
        return b""
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(b) + start, n - start)


cdef inline bytes _head(bytes b, Py_ssize_t end):
    """b[:end], built directly."""
    if end >= PyBytes_GET_SIZE(b):
        return b
    if end <= 0:
        return b""
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(b), end)


cpdef bytes kong_upstream_path(bytes base, bytes path, Py_ssize_t matched, bint strip, bint v1):
    """The path the service receives (Kong's router: path_handling v0 and v1). `base` is the
    service path (b"/" when none), `path` the normalised request path, `matched` how much of
    it the route's path condition consumed (-1 when the route has no paths)."""
    cdef bytes postfix
    if not strip and base == b"/":
        return path                          # the common case: the request path as it is
    if matched >= 0 and len(path) > 0:
        postfix = _sanitize_postfix(_tail(path, matched))
    else:
        postfix = _tail(path, 1)
    cdef bint base_slash = base.endswith(b"/")
    if v1:
        if strip:
            if base_slash and postfix.startswith(b"/"):
                return _head(base, len(base) - 1) + postfix
            return base + postfix
        return base + _tail(path, 1)
    if base_slash:
        if not strip:
            return base + _tail(path, 1)
        if not postfix:
            if base == b"/":
                return b"/"
            return base if path.endswith(b"/") else _head(base, len(base) - 1)
        if postfix.startswith(b"/"):
            return _head(base, len(base) - 1) + postfix
        return base + postfix
    if not strip:
        return base if path == b"/" else base + path
    if not postfix:
        return base + b"/" if len(path) > 1 and path.endswith(b"/") else base
    if postfix.startswith(b"/"):
        return base + postfix
    return base + b"/" + postfix


cdef inline bytes _sanitize_postfix(bytes postfix):
    """Kong's sanitize_uri_postfix: a leftover `.`/`..` segment start is dropped."""
    if postfix == b"." or postfix == b"..":
        return b""
    if postfix.startswith(b"./"):
        return _tail(postfix, 2)
    if postfix.startswith(b"../"):
        return _tail(postfix, 3)
    return postfix
