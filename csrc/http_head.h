/* HTTP/1.1 message heads scanned in one C pass, for the common case only.
 *
 * Through httptools every header costs two C callbacks, a bytes concatenation and a Python
 * method call -- about 1,000 instructions each, most of what relaying a small message costs.
 * These scanners take only heads that are plainly valid and whose framing is simple:
 *
 *   responses  "HTTP/1.1", a final status, a body framed by one decimal Content-Length (or
 *              none at all for 204 and 304);
 *   requests   a common method, an origin-form target of URI characters, "HTTP/1.1", no body
 *              (neither Content-Length nor Transfer-Encoding), no Expect, not Connection: close;
 *
 * both with token field names and values of visible ASCII / SP / HTAB / obs-text. Anything
 * else -- a head split across reads, bodies framed otherwise, interim or upgrade messages,
 * repeated or odd framing headers, bare LF, obs-fold -- is reported as "not mine", and the
 * caller feeds the same bytes to llhttp, which gives the exact answer and the exact error. So
 * a scanner can never accept a head llhttp would refuse; it can only be cheaper on heads both
 * accept.
 */
#ifndef JQG_HTTP_HEAD_H
#define JQG_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define JQG_HEAD_MAX_FIELDS 64

typedef struct {
    uint32_t name_at, name_len;     /* offsets into the scanned buffer */
    uint32_t value_at, value_len;   /* leading OWS dropped, trailing kept (as llhttp does) */
} jqg_field;

typedef struct {
    int status;                     /* responses */
    uint32_t method_len;            /* requests: the method starts the buffer */
    uint32_t target_at, target_len;
    int connection_close;           /* responses: "Connection: close" */
    long long content_length;       /* responses; -1: the status has no body (204, 304) */
    size_t head_len;                /* bytes through the empty line that ends the head */
    int n_fields;
    jqg_field fields[JQG_HEAD_MAX_FIELDS];
} jqg_head;

/* 1 when buf[0..len) starts with a complete head the fast path may take (out is filled);
 * 0 otherwise (out is left in an unspecified state). */
int jqg_scan_response_head(const char *buf, size_t len, jqg_head *out);
int jqg_scan_request_head(const char *buf, size_t len, jqg_head *out);

/* The one field validator of every path (RFC 9110 5.1, 5.5): a field name is a token, a
 * field value holds only visible ASCII, SP, HTAB and obs-text. */
int jqg_is_token(const char *s, size_t n);
int jqg_is_field_value(const char *s, size_t n);

/* Host / absolute-form authority (RFC 3986 3.2.2, 3.2.3): a reg-name (IPv4 included) or a
 * bracketed IPv6 literal, then an optional ":" port of digits; no userinfo, nothing else. */
int jqg_is_authority(const char *s, size_t n);

#endif
