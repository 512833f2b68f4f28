// zlib for permessage-deflate (RFC 7692). deflateInit2/inflateInit2 are macros Swift cannot call;
// these inline wrappers pass ZLIB_VERSION and sizeof(z_stream) for it.
#ifndef SWITCHYARD_CZLIB_SHIM_H
#define SWITCHYARD_CZLIB_SHIM_H
#include <zlib.h>

static inline int sy_deflate_init_raw(z_stream *stream, int level, int windowBits, int memLevel) {
    return deflateInit2(stream, level, Z_DEFLATED, -windowBits, memLevel, Z_DEFAULT_STRATEGY);
}

static inline int sy_inflate_init_raw(z_stream *stream, int windowBits) {
    return inflateInit2(stream, -windowBits);
}
#endif
