/* The access log's line formatter and write buffer: see access_log.h. */
#include "access_log.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A write to a full non-blocking pipe waits this long for room before the lines are dropped:
 * the log must not stop the gateway forever because its reader stopped reading. */
#define JQG_ALOG_STALL_MS 1000

static const char HEX[] = "0123456789abcdef";
static const char *MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int jqg_alog_init(jqg_access_log *log, int fd, size_t capacity)
{
    struct stat st;
    memset(log, 0, sizeof(*log));
    log->fd = fd;
    log->is_pipe = fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    log->unbuffered = capacity == 0;
    log->cap = capacity < 4096 ? 4096 : capacity;
    log->buf = malloc(log->cap);
    log->cached_sec = (time_t)-1;
    return log->buf == NULL ? -1 : 0;
}

void jqg_alog_free(jqg_access_log *log)
{
    free(log->buf);
    log->buf = NULL;
    log->len = log->cap = 0;
}

static size_t count_lines(const char *p, size_t n)
{
    size_t lines = 0;
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

/* write() all of p[0..n): retries EINTR and short writes, waits (bounded) on a full
 * non-blocking descriptor. 0, or -1 with errno. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int r = poll(&pfd, 1, JQG_ALOG_STALL_MS);
            if (r > 0)
                continue;
            if (r < 0 && errno == EINTR)
                continue;
            errno = r == 0 ? EAGAIN : errno;
            return -1;
        }
        if (w == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

int jqg_alog_flush(jqg_access_log *log)
{
    size_t done = 0;
    int rc = 0;
    while (done < log->len) {
        size_t n = log->len - done;
        if (log->is_pipe && n > PIPE_BUF) {
            /* A pipe takes a write whole (never mixed with another process's) only up to
             * PIPE_BUF bytes: cut at the last line end within that; a longer single line
             * goes out alone. */
            const char *start = log->buf + done;
            const char *cut = NULL;
            for (const char *q = start + PIPE_BUF - 1; q >= start; q--) {
                if (*q == '\n') {
                    cut = q;
                    break;
                }
            }
            if (cut == NULL)
                cut = memchr(start + PIPE_BUF, '\n', n - PIPE_BUF);
            n = cut != NULL ? (size_t)(cut - start) + 1 : n;
        }
        if (write_all(log->fd, log->buf + done, n) != 0) {
            log->last_errno = errno;
            log->lines_dropped += (long long)count_lines(log->buf + done, log->len - done);
            rc = -1;
            break;
        }
        log->lines_written += (long long)count_lines(log->buf + done, n);
        done += n;
    }
    log->len = 0;
    return rc;
}

/* Room for `need` more bytes: flush what is buffered, grow when one line is larger than the
 * whole buffer. 0, or -1 when out of memory. */
static int reserve(jqg_access_log *log, size_t need)
{
    if (log->cap - log->len >= need)
        return 0;
    jqg_alog_flush(log);
    if (log->cap >= need)
        return 0;
    char *grown = realloc(log->buf, need);
    if (grown == NULL)
        return -1;
    log->buf = grown;
    log->cap = need;
    return 0;
}

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

static char *put_int(char *o, long long v)
{
    char tmp[24];
    int n = 0;
    unsigned long long u;
    if (v < 0) {
        *o++ = '-';
        u = (unsigned long long)(-(v + 1)) + 1;
    } else {
        u = (unsigned long long)v;
    }
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    while (n > 0)
        *o++ = tmp[--n];
    return o;
}

static char *put_2(char *o, int v)
{
    *o++ = (char)('0' + v / 10);
    *o++ = (char)('0' + v % 10);
    return o;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether any of 8 bytes needs escaping in either format: below 0x20, above 0x7e, '"' or '\'
 * (bit tricks from "Bit Twiddling Hacks": exact as a yes/no answer). Most fields are plain
 * ASCII, so they are copied 8 bytes at a time and only a block with such a byte is looked at
 * byte by byte: the per-byte loop alone cost most of a line's instructions. */
static inline int block_needs_escape(uint64_t x)
{
    uint64_t below = (x - ONES * 0x20) & ~x & HIGHS;
    uint64_t above = ((x + ONES * (127 - 0x7e)) | x) & HIGHS;
    uint64_t quote = x ^ (ONES * '"');
    uint64_t backslash = x ^ (ONES * '\\');
    quote = (quote - ONES) & ~quote & HIGHS;
    backslash = (backslash - ONES) & ~backslash & HIGHS;
    return (below | above | quote | backslash) != 0;
}

/* Copy the longest prefix of s[0..n) made of whole clean 8-byte blocks; returns its length. */
static inline size_t copy_clean_blocks(char *o, const char *s, size_t n)
{
    size_t i = 0;
    while (n - i >= 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (block_needs_escape(x))
            break;
        memcpy(o + i, &x, 8);
        i += 8;
    }
    return i;
}

/* Plain lines: nginx's escaping. '"', '\' and bytes outside printable ASCII become \xHH, so a
 * request cannot forge a line or a field. At most 4 bytes out per byte in. */
static char *put_plain(char *o, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t clean = copy_clean_blocks(o, s + i, n - i);
        o += clean;
        i += clean;
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i++];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = HEX[c >> 4];
            *o++ = HEX[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    return o;
}

/* A JSON string's contents. Request bytes are read as Latin-1 (every byte is one code point,
 * as bytes.decode("latin-1") does), so any byte >= 0x80 becomes \u00XX and the line stays
 * valid JSON whatever the client sent; names from the configuration are UTF-8 already and
 * pass through. At most 6 bytes out per byte in. */
static char *put_json(char *o, const char *s, size_t n, int latin1)
{
    size_t i = 0;
    while (i < n) {
        size_t clean = copy_clean_blocks(o, s + i, n - i);
        o += clean;
        i += clean;
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i++];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f || (latin1 && c >= 0x80)) {
            o = PUT_LIT(o, "\\u00");
            *o++ = HEX[c >> 4];
            *o++ = HEX[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    return o;
}

/* The milliseconds of the line's wall-clock time; its seconds part is formatted again only
 * when the second changes. */
static long line_ms(jqg_access_log *log, double wall)
{
    time_t sec = (time_t)wall;
    long ms = (long)((wall - (double)sec) * 1000.0);
    if (ms > 999)
        ms = 999;
    if (sec != log->cached_sec) {
        struct tm tm;
        char *o;
        gmtime_r(&sec, &tm);
        o = log->plain_time;
        o = put_2(o, tm.tm_mday);
        *o++ = '/';
        o = put(o, MONTHS[tm.tm_mon], 3);
        *o++ = '/';
        o = put_int(o, tm.tm_year + 1900);
        *o++ = ':';
        o = put_2(o, tm.tm_hour);
        *o++ = ':';
        o = put_2(o, tm.tm_min);
        *o++ = ':';
        o = put_2(o, tm.tm_sec);
        o = PUT_LIT(o, " +0000");
        log->plain_time_len = (size_t)(o - log->plain_time);
        o = log->iso_time;
        o = put_int(o, tm.tm_year + 1900);
        *o++ = '-';
        o = put_2(o, tm.tm_mon + 1);
        *o++ = '-';
        o = put_2(o, tm.tm_mday);
        *o++ = 'T';
        o = put_2(o, tm.tm_hour);
        *o++ = ':';
        o = put_2(o, tm.tm_min);
        *o++ = ':';
        o = put_2(o, tm.tm_sec);
        log->iso_time_len = (size_t)(o - log->iso_time);
        log->cached_sec = sec;
    }
    return ms;
}

static size_t field_bytes(const jqg_access_fields *f)
{
    return f->client_len + f->method_len + f->target_len + f->path_len + f->version_len +
           f->request_id_len + (f->route ? f->route_len : 0) + (f->service ? f->service_len : 0);
}

/* Fixed text and numbers of a line, generously: everything but the escaped fields. */
#define JQG_ALOG_FIXED 320

int jqg_alog_append_plain(jqg_access_log *log, const jqg_access_fields *f)
{
    if (reserve(log, JQG_ALOG_FIXED + 4 * field_bytes(f)) != 0) {
        log->lines_dropped++;
        return -1;
    }
    line_ms(log, f->time);
    char *o = log->buf + log->len;
    o = put_plain(o, f->client, f->client_len);
    o = PUT_LIT(o, " - - [");
    o = put(o, log->plain_time, log->plain_time_len);
    o = PUT_LIT(o, "] \"");
    o = put_plain(o, f->method, f->method_len);
    *o++ = ' ';
    o = put_plain(o, f->target, f->target_len);
    o = PUT_LIT(o, " HTTP/");
    o = put_plain(o, f->version, f->version_len);
    o = PUT_LIT(o, "\" ");
    o = put_int(o, f->status);
    *o++ = ' ';
    o = put_int(o, f->bytes);
    o = PUT_LIT(o, " rid=");
    o = put_plain(o, f->request_id, f->request_id_len);
    o = PUT_LIT(o, " route=");
    o = f->route ? put_plain(o, f->route, f->route_len) : PUT_LIT(o, "-");
    o = PUT_LIT(o, " service=");
    o = f->service ? put_plain(o, f->service, f->service_len) : PUT_LIT(o, "-");
    o = PUT_LIT(o, " latency=");
    o = put_int(o, f->latency_ms);
    o = PUT_LIT(o, "ms upstream=");
    if (f->upstream_ms >= 0) {
        o = put_int(o, f->upstream_ms);
        o = PUT_LIT(o, "ms");
    } else {
        *o++ = '-';
    }
    *o++ = '\n';
    log->len = (size_t)(o - log->buf);
    if (log->unbuffered)
        jqg_alog_flush(log);
    return 0;
}

static char *put_json_name(char *o, const char *s, size_t n)
{
    if (s == NULL)
        return PUT_LIT(o, "null");
    *o++ = '"';
    o = put_json(o, s, n, 0);
    *o++ = '"';
    return o;
}

int jqg_alog_append_json(jqg_access_log *log, const jqg_access_fields *f)
{
    if (reserve(log, JQG_ALOG_FIXED + 6 * field_bytes(f)) != 0) {
        log->lines_dropped++;
        return -1;
    }
    long ms = line_ms(log, f->time);
    char *o = log->buf + log->len;
    o = PUT_LIT(o, "{\"time\":\"");
    o = put(o, log->iso_time, log->iso_time_len);
    *o++ = '.';
    *o++ = (char)('0' + ms / 100);
    o = put_2(o, (int)(ms % 100));
    o = PUT_LIT(o, "Z\",\"request_id\":\"");
    o = put_json(o, f->request_id, f->request_id_len, 1);
    o = PUT_LIT(o, "\",\"client\":\"");
    o = put_json(o, f->client, f->client_len, 1);
    o = PUT_LIT(o, "\",\"method\":\"");
    o = put_json(o, f->method, f->method_len, 1);
    o = PUT_LIT(o, "\",\"path\":\"");
    o = put_json(o, f->path, f->path_len, 1);
    o = PUT_LIT(o, "\",\"http_version\":\"");
    o = put_json(o, f->version, f->version_len, 1);
    o = PUT_LIT(o, "\",\"status\":");
    o = put_int(o, f->status);
    o = PUT_LIT(o, ",\"bytes\":");
    o = put_int(o, f->bytes);
    o = PUT_LIT(o, ",\"route\":");
    o = put_json_name(o, f->route, f->route_len);
    o = PUT_LIT(o, ",\"service\":");
    o = put_json_name(o, f->service, f->service_len);
    o = PUT_LIT(o, ",\"latency_ms\":");
    o = put_int(o, f->latency_ms);
    o = PUT_LIT(o, ",\"upstream_latency_ms\":");
    if (f->upstream_ms >= 0)
        o = put_int(o, f->upstream_ms);
    else
        o = PUT_LIT(o, "null");
    o = PUT_LIT(o, "}\n");
    log->len = (size_t)(o - log->buf);
    if (log->unbuffered)
        jqg_alog_flush(log);
    return 0;
}
