#pragma once
// Binds a hiredis async context to a libuv loop through hiredis's event
// hooks (addRead, delRead, addWrite, delWrite, cleanup).
//
// Why not hiredis's own adapters/libuv.h: in hiredis 0.14 (Debian 12) its
// poll callback ignores libuv's error status. libuv reports a socket error
// (POLLERR: a refused connect, a reset connection) as status UV_EBADF and
// stops the poll, so with that adapter hiredis never learns of the failure
// and the connection hangs forever. This one hands such errors to hiredis,
// which then reads the socket error and disconnects with its cause. It
// follows the upstream adapter otherwise (newer hiredis fixed it the same way).

#include <hiredis/async.h>
#include <uv.h>

namespace troupe::detail {

// REDIS_OK or REDIS_ERR. Loop thread only.
int redis_attach_uv(redisAsyncContext* ac, uv_loop_t* loop);

}  // namespace troupe::detail
