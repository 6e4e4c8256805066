/* See response_head.h: a one-pass scan of plainly valid upstream response heads. */
#include "response_head.h"

#include <string.h>

/* tchar of RFC 9110 5.6.2: the bytes a field name is made of. */
static const unsigned char is_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
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

/* Scans "\r\n"-terminated text from buf[at]; returns the offset of the CR, or -1 when a
 * byte is not a value byte, a CR is not followed by LF, or the buffer ends first. */
static long line_end(const char *buf, size_t len, size_t at)
{
    for (size_t i = at; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\r')
            return (i + 1 < len && buf[i + 1] == '\n') ? (long)i : -1;
        if (!is_value_byte(c))
            return -1;
    }
    return -1;
}

int jqg_scan_response_head(const char *buf, size_t len, jqg_response_head *out)
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

    int n = 0, close = 0, has_length = 0;
    long long length = 0;
    size_t at = (size_t)end + 2;
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
        end = line_end(buf, len, at);
        if (end < 0)
            return 0;
        const char *name = buf + name_at, *value = buf + at;
        size_t value_len = (size_t)end - at;
        if (EQUALS(name, name_len, "content-length")) {
            if (has_length || value_len == 0 || value_len > 18)
                return 0;
            for (size_t i = 0; i < value_len; i++) {
                if (value[i] < '0' || value[i] > '9')
                    return 0;
                length = length * 10 + (value[i] - '0');
            }
            has_length = 1;
        } else if (EQUALS(name, name_len, "connection")) {
            if (EQUALS(value, value_len, "close"))
                close = 1;
            else if (!EQUALS(value, value_len, "keep-alive"))
                return 0;
        } else if (EQUALS(name, name_len, "transfer-encoding") || EQUALS(name, name_len, "upgrade")) {
            return 0;
        }
        out->fields[n].name_at = (uint32_t)name_at;
        out->fields[n].name_len = (uint32_t)name_len;
        out->fields[n].value_at = (uint32_t)at;
        out->fields[n].value_len = (uint32_t)value_len;
        n++;
        at = (size_t)end + 2;
    }

    int bodiless = status == 204 || status == 304;
    if (bodiless == has_length)
        return 0;       /* close-delimited body, or a length on a status without one */
    out->status = status;
    out->n_fields = n;
    out->connection_close = close;
    out->head_len = at + 2;
    out->content_length = bodiless ? -1 : length;
    return 1;
}
