/* The access log's line formatter and write buffer (jqgate/_core/observe/access_log.pyx drives it).
 *
 * One request = one line, formatted straight into a buffer from the request's fields, with no
 * Python object made on the way. The buffer is written out in whole lines (like nginx's
 * `access_log ... buffer=64k`): when the next line would not fit, when the owner's timer
 * says so, and at shutdown / SIGHUP. Each write() carries whole lines only, so several worker
 * processes appending to one file (O_APPEND) or one pipe never interleave inside a line.
 */
#ifndef JQGATE_ACCESS_LOG_H
#define JQGATE_ACCESS_LOG_H

#include <stddef.h>
#include <time.h>

typedef struct {
    int fd;
    int is_pipe;             /* pipes take whole lines atomically only up to PIPE_BUF bytes */
    int unbuffered;          /* asked for a 0-byte buffer: every line is written at once */
    char *buf;
    size_t len;
    size_t cap;
    long long lines_written;
    long long lines_dropped; /* lost to write errors (disk full, closed pipe ...) */
    int last_errno;          /* of the last failed write; 0 when none */
    /* The timestamp's seconds part, formatted once per second. */
    time_t cached_sec;
    char plain_time[32];     /* 03/Dec/2026:09:21:54 +0000 */
    size_t plain_time_len;
    char iso_time[32];       /* 2026-12-03T09:21:54 */
    size_t iso_time_len;
} jqg_access_log;

/* One answered request. Strings are (pointer, length); a NULL route or service is "none".
 * upstream_ms < 0: no upstream answered. */
typedef struct {
    const char *client;     size_t client_len;
    const char *method;     size_t method_len;
    const char *target;     size_t target_len;   /* the raw request-target (plain lines) */
    const char *path;       size_t path_len;     /* without the query (JSON's "path") */
    const char *version;    size_t version_len;  /* "1.1" */
    const char *request_id; size_t request_id_len;
    const char *route;      size_t route_len;
    const char *service;    size_t service_len;
    int status;
    long long bytes;
    long long latency_ms;
    long long upstream_ms;
    double time;            /* wall clock, seconds since the epoch (the caller reads it) */
} jqg_access_fields;

/* 0, or -1 when the buffer cannot be allocated. capacity 0: write each line at once. */
int jqg_alog_init(jqg_access_log *log, int fd, size_t capacity);
void jqg_alog_free(jqg_access_log *log);

/* Append one line; flushes first when it would not fit. 0, or -1 when out of memory (the line
 * is dropped and counted). */
int jqg_alog_append_plain(jqg_access_log *log, const jqg_access_fields *f);
int jqg_alog_append_json(jqg_access_log *log, const jqg_access_fields *f);

/* Write out every buffered line. 0, or -1 when a write failed (the unwritten lines are dropped
 * and counted in lines_dropped, errno in last_errno). */
int jqg_alog_flush(jqg_access_log *log);

#endif
