#include "persist/detail/redis_uv_adapter.hpp"

namespace troupe::detail {
namespace {

struct Events {
  redisAsyncContext* ac = nullptr;  // null once hiredis cleaned up
  uv_poll_t poll{};
  int events = 0;
};

void on_poll(uv_poll_t* handle, int status, int ready) {
  auto* e = static_cast<Events*>(handle->data);
  // On error libuv stopped the poll; let hiredis try what it waited for, so
  // that it sees the socket error and disconnects.
  int ev = status < 0 ? e->events : ready;
  if (e->ac && (ev & UV_READABLE)) redisAsyncHandleRead(e->ac);
  if (e->ac && (ev & UV_WRITABLE)) redisAsyncHandleWrite(e->ac);
  if (status < 0 && e->ac && e->events) uv_poll_start(&e->poll, e->events, on_poll);
}

void update(Events* e, int events) {
  e->events = events;
  if (e->events) {
    uv_poll_start(&e->poll, e->events, on_poll);
  } else {
    uv_poll_stop(&e->poll);
  }
}

void add_read(void* p) {
  update(static_cast<Events*>(p), static_cast<Events*>(p)->events | UV_READABLE);
}
void del_read(void* p) {
  update(static_cast<Events*>(p), static_cast<Events*>(p)->events & ~UV_READABLE);
}
void add_write(void* p) {
  update(static_cast<Events*>(p), static_cast<Events*>(p)->events | UV_WRITABLE);
}
void del_write(void* p) {
  update(static_cast<Events*>(p), static_cast<Events*>(p)->events & ~UV_WRITABLE);
}

void cleanup(void* p) {
  auto* e = static_cast<Events*>(p);
  e->ac = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&e->poll),
           [](uv_handle_t* h) { delete static_cast<Events*>(h->data); });
}

}  // namespace

int redis_attach_uv(redisAsyncContext* ac, uv_loop_t* loop) {
  if (ac->ev.data != nullptr) return REDIS_ERR;
  auto* e = new Events;
  if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
    delete e;
    return REDIS_ERR;
  }
  e->ac = ac;
  e->poll.data = e;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  ac->ev.data = e;
  return REDIS_OK;
}

}  // namespace troupe::detail
