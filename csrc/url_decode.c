#include "url_decode.h"

static int jqg_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t jqg_percent_decode(const char *src, size_t len, char *dst, int plus_is_space)
{
    size_t in = 0, out = 0;
    while (in < len) {
        unsigned char c = (unsigned char)src[in];
        if (c == '%' && in + 2 < len) {
            int hi = jqg_hex_value((unsigned char)src[in + 1]);
            int lo = jqg_hex_value((unsigned char)src[in + 2]);
            if (hi >= 0 && lo >= 0) {
                dst[out++] = (char)(hi * 16 + lo);
                in += 3;
                continue;
            }
        }
        dst[out++] = (c == '+' && plus_is_space) ? ' ' : (char)c;
        in++;
    }
    return out;
}
