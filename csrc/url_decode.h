/* Percent-decoding of URL components, for request.query on the per-request path.
 *
 * urllib's unquote_plus costs about a microsecond per component even when there is nothing to
 * decode; this is one pass over the bytes. Invalid escapes ("%zz", a trailing "%") are kept
 * as written, as urllib does.
 */
#ifndef JQG_URL_DECODE_H
#define JQG_URL_DECODE_H

#include <stddef.h>

/* Decode src[0..len) into dst (which must hold len bytes); '+' becomes a space when
 * plus_is_space is non-zero. Returns the number of bytes written. dst may equal src. */
size_t jqg_percent_decode(const char *src, size_t len, char *dst, int plus_is_space);

#endif
