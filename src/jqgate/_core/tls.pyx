# cython: language_level=3
"""TLS on the proxy listeners, in C: OpenSSL over memory BIOs under the HTTP/1.1 and HTTP/2
protocol objects, in place of uvloop's SSL transport (sslproto.pyx).

Why: uvloop's SSLProtocol pumps every record through Python-level `ssl.SSLObject` and
`ssl.MemoryBIO` calls (each one a method call, a GIL release and re-acquire, a bytes object, and
an SSLWantReadError raised and caught where a handshake or a shutdown waits for the peer). Per
kept-alive request that cost ~13,000 instructions over OpenSSL's own work (nginx pays ~4,000), and
~200,000 per new connection (bench/instructions.py --tls). Here one C object per connection is the
TCP transport's protocol and the HTTP protocol's transport, and calls OpenSSL directly.

Which OpenSSL: the one Python's `ssl` module is linked against, found at import by dlopen(3) of
the `_ssl` extension (its libssl), so the contexts jqgate.tls builds with `ssl.SSLContext` (the
certificates, versions, ALPN, session tickets and cache, all configured through Python's API) are
used as they are: a connection is SSL_new() on the listener context's SSL_CTX. Nothing is linked
at build time. `available` is False (and `why` says why) when the symbols cannot be found or the
context layout check below fails; jqgate.tls then keeps uvloop's SSL transport.

What the HTTP protocols see: a transport with write/writelines/close/abort/pause_reading/
resume_reading/get_extra_info (peername, sockname, socket from the TCP transport;
"ssl_object" is the connection itself, which answers selected_alpn_protocol(), version(),
cipher(), session_reused and jqgate_sni, the name the client sent).

SNI: the listener context's servername callback is this module's; it records the name and asks
the listener's `choose(name)` (jqgate.tls: Kong's exact / wildcard / default rule over the
current certificate table) for a context to switch to (SSL_set_SSL_CTX), as Python's
sni_callback did. A reload swaps the table; a handshake under way keeps what it chose.

Closing: close() sends close_notify and closes the socket once what was written has left,
without waiting for the peer's close_notify (nginx's no-wait shutdown); a peer's close_notify
is end of input (eof_received). A handshake that fails sends OpenSSL's alert and closes; one that
does not finish within the listener's handshake timeout is aborted. Both are a client's doing,
logged at debug level only (as uvloop's transport did; nginx logs them at info, below its
default level), so scanners do not flood the log.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE

import logging as _logging
import ssl as _ssl

_log = _logging.getLogger("jqgate.tls")

cdef extern from *:
    """
    #include <dlfcn.h>
    /* CPython's _ssl.c: `typedef struct { PyObject_HEAD SSL_CTX *ctx; ... } PySSLContext;`
       (3.6 to 3.13). Checked at import against the context's own getters (_check_layout). */
    typedef struct { PyObject_HEAD void *ctx; } jqgate_PySSLContext;
    static void *jqgate_ssl_ctx_of(PyObject *o) { return ((jqgate_PySSLContext *)o)->ctx; }
    """
    void *dlopen(const char *filename, int flags)
    void *dlsym(void *handle, const char *symbol)
    const char *dlerror()
    int RTLD_NOW
    int RTLD_NOLOAD
    void *jqgate_ssl_ctx_of(object o)

# OpenSSL's constants (the same since 1.1.0)
cdef enum:
    SSL_ERROR_WANT_READ = 2
    SSL_ERROR_WANT_WRITE = 3
    SSL_ERROR_ZERO_RETURN = 6
    SSL_TLSEXT_ERR_OK = 0
    TLSEXT_NAMETYPE_host_name = 0
    SSL_CTRL_SET_TLSEXT_SERVERNAME_CB = 53
    SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG = 54
    SSL_CTRL_GET_MIN_PROTO_VERSION = 130
    BIO_C_SET_BUF_MEM_EOF_RETURN = 130
    CRYPTO_EX_INDEX_SSL = 0
    READ_CHUNK = 16384              # the most plaintext one TLS record holds

ctypedef void (*generic_fp)()
ctypedef int (*servername_cb_t)(void *ssl, int *al, void *arg) noexcept

ctypedef void *(*f_SSL_new)(void *ctx)
ctypedef void (*f_SSL_free)(void *ssl)
ctypedef void (*f_SSL_set_bio)(void *ssl, void *rbio, void *wbio)
ctypedef void (*f_SSL_void)(void *ssl)
ctypedef int (*f_SSL_int)(void *ssl)
ctypedef int (*f_SSL_read)(void *ssl, void *buf, int num)
ctypedef int (*f_SSL_write)(void *ssl, const void *buf, int num)
ctypedef int (*f_SSL_get_error)(const void *ssl, int ret)
ctypedef const char *(*f_SSL_get_servername)(const void *ssl, int type)
ctypedef void *(*f_SSL_set_SSL_CTX)(void *ssl, void *ctx)
ctypedef void (*f_SSL_get0_alpn_selected)(const void *ssl, const unsigned char **data,
                                          unsigned int *len)
ctypedef const char *(*f_SSL_get_version)(const void *ssl)
ctypedef const void *(*f_SSL_get_current_cipher)(const void *ssl)
ctypedef const char *(*f_SSL_CIPHER_get_name)(const void *cipher)
ctypedef int (*f_SSL_CIPHER_get_bits)(const void *cipher, int *alg_bits)
ctypedef int (*f_SSL_set_ex_data)(void *ssl, int idx, void *data)
ctypedef void *(*f_SSL_get_ex_data)(const void *ssl, int idx)
ctypedef int (*f_CRYPTO_get_ex_new_index)(int class_index, long argl, void *argp,
                                          void *new_func, void *dup_func, void *free_func)
ctypedef long (*f_SSL_CTX_callback_ctrl)(void *ctx, int cmd, generic_fp fp)
ctypedef long (*f_SSL_CTX_ctrl)(void *ctx, int cmd, long larg, void *parg)
ctypedef unsigned long long (*f_SSL_CTX_get_options)(const void *ctx)
ctypedef const void *(*f_BIO_s_mem)()
ctypedef void *(*f_BIO_new)(const void *method)
ctypedef int (*f_BIO_read)(void *bio, void *data, int dlen)
ctypedef int (*f_BIO_write)(void *bio, const void *data, int dlen)
ctypedef size_t (*f_BIO_ctrl_pending)(void *bio)
ctypedef long (*f_BIO_ctrl)(void *bio, int cmd, long larg, void *parg)
ctypedef void (*f_ERR_clear_error)()
ctypedef unsigned long (*f_ERR_get_error)()
ctypedef void (*f_ERR_error_string_n)(unsigned long e, char *buf, size_t len)

cdef struct OpenSSL:
    f_SSL_new SSL_new
    f_SSL_free SSL_free
    f_SSL_set_bio SSL_set_bio
    f_SSL_void SSL_set_accept_state
    f_SSL_int SSL_do_handshake
    f_SSL_int SSL_shutdown
    f_SSL_int SSL_pending
    f_SSL_int SSL_session_reused
    f_SSL_read SSL_read
    f_SSL_write SSL_write
    f_SSL_get_error SSL_get_error
    f_SSL_get_servername SSL_get_servername
    f_SSL_set_SSL_CTX SSL_set_SSL_CTX
    f_SSL_get0_alpn_selected SSL_get0_alpn_selected
    f_SSL_get_version SSL_get_version
    f_SSL_get_current_cipher SSL_get_current_cipher
    f_SSL_CIPHER_get_name SSL_CIPHER_get_name
    f_SSL_CIPHER_get_bits SSL_CIPHER_get_bits
    f_SSL_set_ex_data SSL_set_ex_data
    f_SSL_get_ex_data SSL_get_ex_data
    f_CRYPTO_get_ex_new_index CRYPTO_get_ex_new_index
    f_SSL_CTX_callback_ctrl SSL_CTX_callback_ctrl
    f_SSL_CTX_ctrl SSL_CTX_ctrl
    f_SSL_CTX_get_options SSL_CTX_get_options
    f_BIO_s_mem BIO_s_mem
    f_BIO_new BIO_new
    f_BIO_read BIO_read
    f_BIO_write BIO_write
    f_BIO_ctrl_pending BIO_ctrl_pending
    f_BIO_ctrl BIO_ctrl
    f_ERR_clear_error ERR_clear_error
    f_ERR_get_error ERR_get_error
    f_ERR_error_string_n ERR_error_string_n

cdef OpenSSL O
cdef int EX_INDEX = -1
cdef char READ_BUF[READ_CHUNK]     # used only with the GIL held, within one call

available = False
why = "not loaded"


cdef void *_sym(void *lib, const char *name) except NULL:
    cdef void *p = dlsym(lib, name)
    if p == NULL:
        raise ImportError("OpenSSL symbol %s not found" % name.decode())
    return p


cdef int _load() except -1:
    """Fill O from the libssl/libcrypto that Python's _ssl extension is linked against."""
    global EX_INDEX
    import _ssl
    cdef bytes path = _ssl.__file__.encode()
    cdef void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD)
    if lib == NULL:
        raise ImportError("dlopen(%s): %s" % (_ssl.__file__, (dlerror() or b"").decode()))
    O.SSL_new = <f_SSL_new>_sym(lib, b"SSL_new")
    O.SSL_free = <f_SSL_free>_sym(lib, b"SSL_free")
    O.SSL_set_bio = <f_SSL_set_bio>_sym(lib, b"SSL_set_bio")
    O.SSL_set_accept_state = <f_SSL_void>_sym(lib, b"SSL_set_accept_state")
    O.SSL_do_handshake = <f_SSL_int>_sym(lib, b"SSL_do_handshake")
    O.SSL_shutdown = <f_SSL_int>_sym(lib, b"SSL_shutdown")
    O.SSL_pending = <f_SSL_int>_sym(lib, b"SSL_pending")
    O.SSL_session_reused = <f_SSL_int>_sym(lib, b"SSL_session_reused")
    O.SSL_read = <f_SSL_read>_sym(lib, b"SSL_read")
    O.SSL_write = <f_SSL_write>_sym(lib, b"SSL_write")
    O.SSL_get_error = <f_SSL_get_error>_sym(lib, b"SSL_get_error")
    O.SSL_get_servername = <f_SSL_get_servername>_sym(lib, b"SSL_get_servername")
    O.SSL_set_SSL_CTX = <f_SSL_set_SSL_CTX>_sym(lib, b"SSL_set_SSL_CTX")
    O.SSL_get0_alpn_selected = <f_SSL_get0_alpn_selected>_sym(lib, b"SSL_get0_alpn_selected")
    O.SSL_get_version = <f_SSL_get_version>_sym(lib, b"SSL_get_version")
    O.SSL_get_current_cipher = <f_SSL_get_current_cipher>_sym(lib, b"SSL_get_current_cipher")
    O.SSL_CIPHER_get_name = <f_SSL_CIPHER_get_name>_sym(lib, b"SSL_CIPHER_get_name")
    O.SSL_CIPHER_get_bits = <f_SSL_CIPHER_get_bits>_sym(lib, b"SSL_CIPHER_get_bits")
    O.SSL_set_ex_data = <f_SSL_set_ex_data>_sym(lib, b"SSL_set_ex_data")
    O.SSL_get_ex_data = <f_SSL_get_ex_data>_sym(lib, b"SSL_get_ex_data")
    O.CRYPTO_get_ex_new_index = <f_CRYPTO_get_ex_new_index>_sym(lib, b"CRYPTO_get_ex_new_index")
    O.SSL_CTX_callback_ctrl = <f_SSL_CTX_callback_ctrl>_sym(lib, b"SSL_CTX_callback_ctrl")
    O.SSL_CTX_ctrl = <f_SSL_CTX_ctrl>_sym(lib, b"SSL_CTX_ctrl")
    O.SSL_CTX_get_options = <f_SSL_CTX_get_options>_sym(lib, b"SSL_CTX_get_options")
    O.BIO_s_mem = <f_BIO_s_mem>_sym(lib, b"BIO_s_mem")
    O.BIO_new = <f_BIO_new>_sym(lib, b"BIO_new")
    O.BIO_read = <f_BIO_read>_sym(lib, b"BIO_read")
    O.BIO_write = <f_BIO_write>_sym(lib, b"BIO_write")
    O.BIO_ctrl_pending = <f_BIO_ctrl_pending>_sym(lib, b"BIO_ctrl_pending")
    O.BIO_ctrl = <f_BIO_ctrl>_sym(lib, b"BIO_ctrl")
    O.ERR_clear_error = <f_ERR_clear_error>_sym(lib, b"ERR_clear_error")
    O.ERR_get_error = <f_ERR_get_error>_sym(lib, b"ERR_get_error")
    O.ERR_error_string_n = <f_ERR_error_string_n>_sym(lib, b"ERR_error_string_n")
    EX_INDEX = O.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL, NULL)
    if EX_INDEX < 0:
        raise ImportError("no SSL ex_data index")
    return 0


cdef int _check_layout() except -1:
    """The SSL_CTX pointer read from an ssl.SSLContext must be that context's: its minimum
    version and options, read through OpenSSL, must be what Python set."""
    ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_SERVER)
    for version in (_ssl.TLSVersion.TLSv1_2, _ssl.TLSVersion.TLSv1_3):
        ctx.minimum_version = version
        p = context_pointer(ctx)
        if O.SSL_CTX_ctrl(p, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, NULL) != version.value:
            raise ImportError("ssl.SSLContext's layout is not the one this module reads")
        if O.SSL_CTX_get_options(p) != <unsigned long long>int(ctx.options):
            raise ImportError("ssl.SSLContext's options do not match OpenSSL's")
    return 0


cdef void *context_pointer(object ctx) except NULL:
    if not isinstance(ctx, _ssl.SSLContext):
        raise TypeError("an ssl.SSLContext is needed, not %r" % (ctx,))
    cdef void *p = jqgate_ssl_ctx_of(ctx)
    if p == NULL:
        raise ValueError("the SSLContext has no SSL_CTX")
    return p


cdef str _openssl_error(str what):
    cdef char buf[256]
    cdef unsigned long e = O.ERR_get_error()
    if e == 0:
        return what
    O.ERR_error_string_n(e, buf, sizeof(buf))
    O.ERR_clear_error()
    return "%s: %s" % (what, buf.decode("ascii", "replace"))


cdef int _servername_callback(void *ssl, int *alert, void *arg) noexcept with gil:
    """OpenSSL's SNI callback on every listener context (see the module docstring)."""
    cdef void *owner = O.SSL_get_ex_data(ssl, EX_INDEX)
    cdef const char *name = O.SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)
    if owner == NULL or name == NULL:
        return SSL_TLSEXT_ERR_OK
    try:
        (<TLSConnection>owner)._server_name(name)
    except BaseException:
        _log.exception("TLS: choosing the certificate for a server name failed; the default "
                       "certificate answers")
    return SSL_TLSEXT_ERR_OK


cdef enum:
    HANDSHAKE = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


@cython.final
cdef class TLSListener:
    """The protocol factory of one TLS listener (for loop.create_server, without ssl=):
    `app_factory()` makes the HTTP protocol of each connection once its handshake is done;
    `context` is the listener's ssl.SSLContext (the default certificate, ALPN, tickets); for a
    server name, `choose(name)` returns the ssl.SSLContext to switch to, or None."""

    cdef readonly object app_factory, context, choose, loop
    cdef readonly double handshake_timeout
    cdef void *ctx

    def __init__(self, app_factory, context, choose, loop, double handshake_timeout):
        if not available:
            raise RuntimeError("core TLS is not available: " + why)
        self.app_factory = app_factory
        self.context = context
        self.choose = choose
        self.loop = loop
        self.handshake_timeout = handshake_timeout
        self.ctx = context_pointer(context)
        # This context's SNI callback becomes this module's (Python's sni_callback, if one was
        # set, would look for a Python SSL object that these connections do not have).
        O.SSL_CTX_callback_ctrl(self.ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                                <generic_fp><servername_cb_t>_servername_callback)
        O.SSL_CTX_ctrl(self.ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, NULL)

    def __call__(self):
        cdef TLSConnection conn = TLSConnection.__new__(TLSConnection)
        conn.listener = self
        return conn


@cython.final
cdef class TLSConnection:
    """One TLS connection: the TCP transport's protocol and the HTTP protocol's transport."""

    cdef TLSListener listener
    cdef void *ssl
    cdef void *rbio                 # ciphertext in (from the socket); owned by ssl
    cdef void *wbio                 # ciphertext out (to the socket); owned by ssl
    cdef object transport           # the TCP transport
    cdef object _raw_write
    cdef object app                 # the HTTP protocol, once the handshake is done
    cdef object timer               # the handshake deadline
    cdef object _chosen             # the SSLContext the server name switched to, if any
    cdef int state
    cdef bint app_made, app_paused, read_scheduled
    cdef readonly object jqgate_sni     # the server name the client sent (str), or None

    def __dealloc__(self):
        if self.ssl != NULL:
            O.SSL_free(self.ssl)
            self.ssl = NULL

    # -- the TCP transport's protocol -------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        self._raw_write = transport.write
        self.ssl = O.SSL_new(self.listener.ctx)
        if self.ssl == NULL:
            _log.error(_openssl_error("TLS: SSL_new failed"))
            self.state = CLOSING
            transport.abort()
            return
        self.rbio = O.BIO_new(O.BIO_s_mem())
        self.wbio = O.BIO_new(O.BIO_s_mem())
        if self.rbio == NULL or self.wbio == NULL:
            _log.error("TLS: BIO_new failed")
            self.state = CLOSING
            transport.abort()
            return
        # an empty memory BIO means "retry later", not end of file
        O.BIO_ctrl(self.rbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, NULL)
        O.BIO_ctrl(self.wbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, NULL)
        O.SSL_set_bio(self.ssl, self.rbio, self.wbio)
        O.SSL_set_ex_data(self.ssl, EX_INDEX, <void *>self)
        O.SSL_set_accept_state(self.ssl)
        if self.listener.handshake_timeout > 0:
            self.timer = self.listener.loop.call_later(self.listener.handshake_timeout,
                                                       self._handshake_timed_out)

    def data_received(self, data):
        if self.state >= CLOSING or self.ssl == NULL:
            return
        cdef bytes b = data if type(data) is bytes else bytes(data)
        O.BIO_write(self.rbio, PyBytes_AS_STRING(b), <int>PyBytes_GET_SIZE(b))
        if self.state == HANDSHAKE:
            self._handshake()
        if self.state == OPEN and not self.app_paused:
            self._read_app()

    def eof_received(self):
        if self.app_made and self.state == OPEN:
            self.app.eof_received()
        return False                # TLS has no half-close: the socket closes

    def connection_lost(self, exc):
        self.state = CLOSED
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        app = self.app
        if self.app_made:
            self.app_made = False
            app.connection_lost(exc)
        self.app = None
        self.transport = None
        self._raw_write = None
        self._chosen = None
        if self.ssl != NULL:
            O.SSL_free(self.ssl)
            self.ssl = NULL

    def pause_writing(self):
        if self.app_made:
            self.app.pause_writing()

    def resume_writing(self):
        if self.app_made:
            self.app.resume_writing()

    # -- OpenSSL ----------------------------------------------------------------------------

    cdef int _server_name(self, const char *name) except -1:
        self.jqgate_sni = name.decode("ascii", "replace")
        choose = self.listener.choose
        if choose is None:
            return 0
        ctx = choose(self.jqgate_sni)
        if ctx is not None:
            O.SSL_set_SSL_CTX(self.ssl, context_pointer(ctx))
            self._chosen = ctx
        return 0

    cdef int _handshake(self) except -1:
        O.ERR_clear_error()
        cdef int r = O.SSL_do_handshake(self.ssl)
        cdef int err
        if r == 1:
            self._flush()           # its last flight and the session tickets
            self.state = OPEN
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.app = self.listener.app_factory()
            self.app_made = True
            self.app.connection_made(self)
            return 0
        err = O.SSL_get_error(self.ssl, r)
        if err == SSL_ERROR_WANT_READ or err == SSL_ERROR_WANT_WRITE:
            self._flush()
            return 0
        reason = _openssl_error("TLS handshake failed")
        self._flush()               # OpenSSL's alert, if it made one
        self.state = CLOSING
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        _log.debug("%s (client %s)", reason, self.transport.get_extra_info("peername"))
        self.transport.close()
        return 0

    cdef int _read_app(self) except -1:
        """Decrypt what is in, hand it to the HTTP protocol in one data_received."""
        cdef int n, err = 0
        cdef bytes first = None
        cdef list more = None
        while True:
            O.ERR_clear_error()
            n = O.SSL_read(self.ssl, READ_BUF, READ_CHUNK)
            if n <= 0:
                err = O.SSL_get_error(self.ssl, n)
                break
            piece = PyBytes_FromStringAndSize(READ_BUF, n)
            if first is None:
                first = piece
            elif more is None:
                more = [first, piece]
            else:
                more.append(piece)
            if O.SSL_pending(self.ssl) == 0 and O.BIO_ctrl_pending(self.rbio) == 0:
                # Nothing more is in: skip the SSL_read that would only say so (a request
                # usually fits one record: one SSL_read per request, as nginx does).
                err = SSL_ERROR_WANT_READ
                break
        if first is not None and self.state == OPEN:
            self.app.data_received(first if more is None else b"".join(more))
        if self.state != OPEN:
            return 0
        self._flush()               # anything OpenSSL answers after the handshake (KeyUpdate)
        if err == SSL_ERROR_WANT_READ or err == SSL_ERROR_WANT_WRITE:
            return 0
        if err == SSL_ERROR_ZERO_RETURN:
            # the client's close_notify: end of its input
            if self.app_made:
                self.app.eof_received()
            self.close()
            return 0
        _log.debug("%s (client %s)", _openssl_error("TLS read failed"),
                  self.transport.get_extra_info("peername"))
        self.abort()
        return 0

    cdef int _flush(self) except -1:
        cdef size_t n = O.BIO_ctrl_pending(self.wbio)
        if n == 0 or self._raw_write is None:
            return 0
        out = PyBytes_FromStringAndSize(NULL, n)
        O.BIO_read(self.wbio, PyBytes_AS_STRING(out), <int>n)
        self._raw_write(out)
        return 0

    def _handshake_timed_out(self):
        self.timer = None
        if self.state == HANDSHAKE and self.transport is not None:
            _log.debug("TLS handshake timed out (client %s)",
                      self.transport.get_extra_info("peername"))
            self.state = CLOSING
            self.transport.abort()

    def _read_later(self):
        self.read_scheduled = False
        if self.state == OPEN and not self.app_paused and self.ssl != NULL:
            self._read_app()

    # -- the HTTP protocol's transport ------------------------------------------------------

    def write(self, data):
        if self.state != OPEN or self.ssl == NULL:
            return
        cdef bytes b = data if type(data) is bytes else bytes(data)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
        if n == 0:
            return
        O.ERR_clear_error()
        if O.SSL_write(self.ssl, PyBytes_AS_STRING(b), <int>n) <= 0:
            _log.debug("%s (client %s)", _openssl_error("TLS write failed"),
                      self.transport.get_extra_info("peername"))
            self.abort()
            return
        self._flush()

    def writelines(self, list_of_data):
        # one TLS record (and one socket write) for the pieces, not one each
        self.write(b"".join(list_of_data))

    def close(self):
        if self.state >= CLOSING:
            return
        cdef bint was_open = self.state == OPEN
        self.state = CLOSING
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if was_open and self.ssl != NULL:
            O.ERR_clear_error()
            O.SSL_shutdown(self.ssl)        # close_notify; the peer's is not waited for
            O.ERR_clear_error()
            self._flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self):
        if self.state < CLOSING:
            self.state = CLOSING
        if self.transport is not None:
            self.transport.abort()

    def is_closing(self):
        return self.state >= CLOSING or self.transport is None or self.transport.is_closing()

    def can_write_eof(self):
        return False

    def write_eof(self):
        raise NotImplementedError("TLS has no half-close")

    def pause_reading(self):
        self.app_paused = True
        if self.transport is not None and self.state < CLOSING:
            self.transport.pause_reading()

    def resume_reading(self):
        if not self.app_paused:
            return
        self.app_paused = False
        if self.transport is None or self.state >= CLOSING:
            return
        self.transport.resume_reading()
        # Records decrypted or received while paused are read on the next loop turn (not from
        # inside the HTTP protocol's own call).
        if not self.read_scheduled and self.ssl != NULL and (
                O.SSL_pending(self.ssl) > 0 or O.BIO_ctrl_pending(self.rbio) > 0):
            self.read_scheduled = True
            self.listener.loop.call_soon(self._read_later)

    def is_reading(self):
        return not self.app_paused

    def get_write_buffer_size(self):
        return 0 if self.transport is None else self.transport.get_write_buffer_size()

    def set_write_buffer_limits(self, high=None, low=None):
        if self.transport is not None:
            self.transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self):
        return self.transport.get_write_buffer_limits()

    def set_protocol(self, protocol):
        self.app = protocol

    def get_protocol(self):
        return self.app

    def get_extra_info(self, name, default=None):
        if name == "ssl_object":
            return self
        if name == "sslcontext":
            return self._chosen if self._chosen is not None else self.listener.context
        if name == "cipher":
            return self.cipher()
        if name in ("peercert", "compression"):
            return None
        if self.transport is None:
            return default
        return self.transport.get_extra_info(name, default)

    # -- what ssl.SSLObject answers, for the HTTP protocols and logs -------------------------

    server_side = True
    server_hostname = None

    def selected_alpn_protocol(self):
        cdef const unsigned char *data = NULL
        cdef unsigned int n = 0
        if self.ssl == NULL:
            return None
        O.SSL_get0_alpn_selected(self.ssl, &data, &n)
        return None if n == 0 else (<const char *>data)[:n].decode("ascii")

    def version(self):
        if self.ssl == NULL or self.state == HANDSHAKE:
            return None
        return O.SSL_get_version(self.ssl).decode("ascii")

    def cipher(self):
        if self.ssl == NULL or self.state == HANDSHAKE:
            return None
        cdef const void *c = O.SSL_get_current_cipher(self.ssl)
        if c == NULL:
            return None
        return (O.SSL_CIPHER_get_name(c).decode("ascii"), self.version(),
                O.SSL_CIPHER_get_bits(c, NULL))

    @property
    def session_reused(self):
        return self.ssl != NULL and O.SSL_session_reused(self.ssl) == 1


try:
    _load()
    _check_layout()
    available = True
    why = ""
except ImportError as exc:
    why = str(exc)
