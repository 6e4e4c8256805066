/* See http_head.h: one-pass scans of plainly valid HTTP/1.1 heads. */
#include "http_head.h"

#include <string.h>

/* Designated initialisers of a byte table for the ASCII digits and letters, which both the
 * field-name (tchar) and the reg-name tables below take. */
#define ALNUM_BYTES \
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, \
    ['8'] = 1, ['9'] = 1, \
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, \
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, \
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, \
    ['Y'] = 1, ['Z'] = 1, \
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, \
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, \
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, \
    ['y'] = 1, ['z'] = 1

/* tchar of RFC 9110 5.6.2: the bytes a field name is made of. */
static const unsigned char is_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ALNUM_BYTES,
};

/* Bytes of a field value (and of a reason phrase): HTAB, SP, VCHAR, obs-text. DEL and the
 * other controls are left to llhttp, which refuses them. */
static int is_value_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* s[0..n) equals the lower-case word, ignoring ASCII case. */
static int equals_lower(const char *s, size_t n, const char *word, size_t word_len)
{
    if (n != word_len)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (unsigned char)word[i])
            return 0;
    }
    return 1;
}

#define EQUALS(s, n, word) equals_lower((s), (n), (word), sizeof(word) - 1)

/* A field name (tchar bytes: checked before) equals the lower-case word (letters and '-'),
 * ignoring case, eight bytes at a time: OR-ing 0x20 into a tchar lower-cases a letter and
 * turns no other tchar into a letter or '-' ('^' becomes '~', '_' DEL: neither is in a word),
 * so the folded bytes equal the word's exactly when the name does, ignoring case. */
static inline int name_is(const char *s, size_t n, const char *word, size_t word_len)
{
    const uint64_t fold = 0x2020202020202020ULL;
    uint64_t a, b;
    if (n != word_len)
        return 0;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (((unsigned char)s[i] | 0x20) != (unsigned char)word[i])
                return 0;
        return 1;
    }
    for (size_t i = 0; i + 8 <= n; i += 8) {
        memcpy(&a, s + i, 8);
        memcpy(&b, word + i, 8);
        if ((a | fold) != b)
            return 0;
    }
    memcpy(&a, s + n - 8, 8);           /* the last eight bytes (overlapping the loop's) */
    memcpy(&b, word + n - 8, 8);
    return (a | fold) == b;
}

#define NAME_IS(s, n, word) name_is((s), (n), (word), sizeof(word) - 1)


/* The high bit of each of the eight bytes in x (in memory order from the low byte) that is
 * below 0x20 or DEL: the bytes a plain run of value bytes stops at. A byte above a flagged one
 * may be flagged too (a borrow runs on), so only the lowest flag is exact: it marks the first
 * such byte, and a word without flags has none. */
static inline uint64_t flagged_bytes(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t del = x ^ (0x7f * ones);
    return ((x - 0x20 * ones) & ~x & highs) | ((del - ones) & ~del & highs);
}

static inline int word_flagged(uint64_t x)
{
    return flagged_bytes(x) != 0;
}

/* How many bytes of a word with the flags m (flagged_bytes) come before its first flagged
 * byte; 0 where that cannot be found in one instruction (the caller then walks on byte by
 * byte, which is only slower). */
static inline size_t before_first_flag(uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(m) >> 3;
#else
    (void)m;
    return 0;
#endif
}

/* Whether s[0..n) holds only value bytes. Eight bytes at a time first; a flagged word is
 * checked byte by byte. */
int jqg_is_field_value(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (word_flagged(x))
            break;
    }
    for (; i < n; i++)
        if (!is_value_byte((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Scans "\r\n"-terminated text from buf[at]; returns the offset of the CR, or -1 when a
 * byte is not a value byte, the CR is not followed by LF, or the buffer ends first. One pass:
 * the CR is the first byte that is not a value byte (it is a control), so the search for it
 * and the check of the bytes before it are the same walk: eight bytes at a time to the first
 * flagged byte (an HTAB is flagged too and walked over), then that byte alone. */
static long line_end(const char *buf, size_t len, size_t at)
{
    size_t i = at;
    for (;;) {
        while (i + 8 <= len) {
            uint64_t x;
            memcpy(&x, buf + i, 8);
            uint64_t m = flagged_bytes(x);
            if (m) {
                i += before_first_flag(m);
                break;
            }
            i += 8;
        }
        if (i >= len)
            return -1;
        unsigned char c = (unsigned char)buf[i];
        if (c == '\r')
            return (i + 1 < len && buf[i + 1] == '\n') ? (long)i : -1;
        if (!is_value_byte(c))
            return -1;
        i++;
    }
}

/* What the header fields said about framing and the connection. */
typedef struct {
    int has_length, connection_close, refused;
    long long length;
} field_facts;

/* Scans the field lines from buf[at] through the empty line into out->fields; returns the
 * offset just past the head, or 0 when a line is not plainly valid. Framing and connection
 * fields are read into facts; fields the fast paths never take set facts->refused. */
static size_t scan_fields(const char *buf, size_t len, size_t at, jqg_head *out,
                          field_facts *facts)
{
    int n = 0;
    memset(facts, 0, sizeof(*facts));
    for (;;) {
        if (at + 1 < len && buf[at] == '\r' && buf[at + 1] == '\n')
            break;                      /* the empty line: end of the head */
        /* field-line = field-name ":" OWS field-value OWS CRLF; no obs-fold */
        size_t name_at = at;
        while (at < len && is_tchar[(unsigned char)buf[at]])
            at++;
        if (at == name_at || at >= len || buf[at] != ':' || n == JQG_HEAD_MAX_FIELDS)
            return 0;
        size_t name_len = at - name_at;
        at++;
        while (at < len && (buf[at] == ' ' || buf[at] == '\t'))
            at++;
        long end = line_end(buf, len, at);
        if (end < 0)
            return 0;
        const char *name = buf + name_at, *value = buf + at;
        size_t value_len = (size_t)end - at;
        if (NAME_IS(name, name_len, "content-length")) {
            if (facts->has_length || value_len == 0 || value_len > 18)
                return 0;
            for (size_t i = 0; i < value_len; i++) {
                if (value[i] < '0' || value[i] > '9')
                    return 0;
                facts->length = facts->length * 10 + (value[i] - '0');
            }
            facts->has_length = 1;
        } else if (NAME_IS(name, name_len, "connection")) {
            if (EQUALS(value, value_len, "close"))
                facts->connection_close = 1;
            else if (!EQUALS(value, value_len, "keep-alive"))
                return 0;
        } else if (NAME_IS(name, name_len, "transfer-encoding") || NAME_IS(name, name_len, "upgrade")
                   || NAME_IS(name, name_len, "expect")) {
            facts->refused = 1;
        }
        out->fields[n].name_at = (uint32_t)name_at;
        out->fields[n].name_len = (uint32_t)name_len;
        out->fields[n].value_at = (uint32_t)at;
        out->fields[n].value_len = (uint32_t)value_len;
        n++;
        at = (size_t)end + 2;
    }
    out->n_fields = n;
    return at + 2;
}

int jqg_scan_response_head(const char *buf, size_t len, jqg_head *out)
{
    /* status-line = "HTTP/1.1" SP 3DIGIT SP reason-phrase CRLF */
    if (len < 13 || memcmp(buf, "HTTP/1.1 ", 9) != 0)
        return 0;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return 0;
        status = status * 10 + (buf[i] - '0');
    }
    if (status < 200 || status > 599 || buf[12] != ' ')
        return 0;                       /* interim and upgrade answers are llhttp's */
    long end = line_end(buf, len, 13);
    if (end < 0)
        return 0;
    field_facts facts;
    size_t head_len = scan_fields(buf, len, (size_t)end + 2, out, &facts);
    int bodiless = status == 204 || status == 304;
    if (head_len == 0 || facts.refused || bodiless == facts.has_length)
        return 0;       /* close-delimited body, or a length on a status without one */
    out->status = status;
    out->connection_close = facts.connection_close;
    out->head_len = head_len;
    out->content_length = bodiless ? -1 : facts.length;
    return 1;
}

/* The methods the request fast path takes; llhttp knows them all. */
static int common_method(const char *m, size_t n)
{
    switch (n) {
    case 3: return memcmp(m, "GET", 3) == 0 || memcmp(m, "PUT", 3) == 0;
    case 4: return memcmp(m, "HEAD", 4) == 0 || memcmp(m, "POST", 4) == 0;
    case 5: return memcmp(m, "PATCH", 5) == 0;
    case 6: return memcmp(m, "DELETE", 6) == 0;
    case 7: return memcmp(m, "OPTIONS", 7) == 0;
    default: return 0;
    }
}

int jqg_scan_request_head(const char *buf, size_t len, jqg_head *out)
{
    /* request-line = method SP origin-form SP "HTTP/1.1" CRLF */
    size_t at = 0;
    while (at < len && at < 8 && buf[at] >= 'A' && buf[at] <= 'Z')
        at++;
    if (at >= len || buf[at] != ' ' || !common_method(buf, at))
        return 0;
    size_t method_len = at++;
    size_t target_at = at;
    if (at >= len || buf[at] != '/')
        return 0;                       /* absolute-form, authority-form, '*': llhttp's */
    while (at < len && (unsigned char)buf[at] > 0x20 && (unsigned char)buf[at] < 0x7f)
        at++;
    size_t target_len = at - target_at;
    if (len - at < 11 || memcmp(buf + at, " HTTP/1.1\r\n", 11) != 0)
        return 0;
    field_facts facts;
    size_t head_len = scan_fields(buf, len, at + 11, out, &facts);
    if (head_len == 0 || facts.refused || facts.has_length || facts.connection_close)
        return 0;       /* bodies, Expect, upgrades and last requests go the long way */
    out->method_len = (uint32_t)method_len;
    out->target_at = (uint32_t)target_at;
    out->target_len = (uint32_t)target_len;
    out->head_len = head_len;
    return 1;
}

int jqg_is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar[(unsigned char)s[i]])
            return 0;
    return 1;
}

/* unreserved / sub-delims of RFC 3986 (2.2, 2.3): the bytes a reg-name is made of, with
 * pct-encoded triplets; an IPv4 address is made of them too. */
static const unsigned char is_reg_name_byte[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1,
    ['!'] = 1, ['$'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1,
    [','] = 1, [';'] = 1, ['='] = 1,
    ALNUM_BYTES,
};

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int jqg_is_authority(const char *s, size_t n)
{
    size_t at = 0;
    if (n == 0)
        return 0;
    if (s[0] == '[') {
        /* IP-literal: an IPv6 address (hex digits, ':' and a dotted IPv4 tail); IPvFuture
         * is not taken */
        at = 1;
        while (at < n && (is_hex((unsigned char)s[at]) || s[at] == ':' || s[at] == '.'))
            at++;
        if (at == 1 || at >= n || s[at] != ']')
            return 0;
        at++;
    } else {
        while (at < n) {
            unsigned char c = (unsigned char)s[at];
            if (is_reg_name_byte[c])
                at++;
            else if (c == '%' && at + 2 < n && is_hex((unsigned char)s[at + 1])
                     && is_hex((unsigned char)s[at + 2]))
                at += 3;
            else
                break;
        }
        if (at == 0)
            return 0;
    }
    if (at == n)
        return 1;
    if (s[at] != ':')
        return 0;       /* userinfo ("@"), a path, spaces, controls */
    for (at++; at < n; at++)
        if (s[at] < '0' || s[at] > '9')
            return 0;
    return 1;
}
