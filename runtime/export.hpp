#pragma once
// TROUPE_EXPORT marks what libtroupe.so exports. The library is built with
// hidden visibility by default (-fvisibility=hidden), so a symbol the
// application may use is exported only when its class, function or
// variable carries this macro: the public classes and free functions of
// the public headers, and the few internals their inline and template
// code reaches. For the static library and for applications it changes
// nothing.

#define TROUPE_EXPORT __attribute__((visibility("default")))
