#pragma once
// The type-erased message node every mailbox holds. Internal.

#include <cstdint>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

#include "runtime/detail/pool.hpp"
#include "runtime/export.hpp"

namespace troupe::detail {

// One per message type; its address is the type's identity.
struct TypeTag {
  std::string_view name;
};

template <class T>
constexpr std::string_view type_name_of() {
  std::string_view f = __PRETTY_FUNCTION__;
  auto start = f.find("T = ") + 4;
  auto end = f.find_first_of(";]", start);
  return f.substr(start, end - start);
}

template <class T>
TROUPE_EXPORT inline constexpr TypeTag type_tag{type_name_of<T>()};

template <class T>
constexpr const TypeTag* type_of() {
  return &type_tag<std::remove_cvref_t<T>>;
}

enum class MsgKind : std::uint8_t {
  user,         // an ordinary message, counted against a bounded mailbox
  exit_msg,     // Exit{} from a trapped exit signal: user-visible, never bounded
  down,         // Down{} from a monitor: user-visible, never bounded; aux = monitor ref
  reply,        // a call's reply: aux = call ref; discarded unless that call still waits
  exit_signal,  // system lane: an exit signal, handled by the runtime
  wake,         // system lane: no payload, just makes the process run its waiters
  timeout,      // system lane: a receive timeout came due; aux = its timer id
  cpu_limit,    // system lane: past the watchdog's hard limit; fail at the next receive
};

inline bool is_system(MsgKind k) {
  return k == MsgKind::exit_signal || k == MsgKind::wake || k == MsgKind::timeout ||
         k == MsgKind::cpu_limit;
}

struct MessageNode {
  MessageNode* next = nullptr;
  const TypeTag* type = nullptr;
  void (*destroy)(MessageNode*) noexcept = nullptr;
  std::uint64_t aux = 0;
  std::uint32_t target_gen = 0;  // the incarnation it was sent to; others discard it
  MsgKind kind = MsgKind::user;
  bool counted = false;  // counted against the target's mailbox bound

  void dispose() noexcept { destroy(this); }
};

// T(args...) where T has such a constructor, else T{args...} (aggregates).
template <class T, class... Args>
T construct(Args&&... args) {
  if constexpr (std::is_constructible_v<T, Args&&...>)
    return T(std::forward<Args>(args)...);
  else
    return T{std::forward<Args>(args)...};
}

template <class T>
struct TypedMessage final : MessageNode {
  T value;

  template <class... Args>
  explicit TypedMessage(Args&&... args) : value(construct<T>(std::forward<Args>(args)...)) {}

  static void destroy_node(MessageNode* node) noexcept {
    auto* self = static_cast<TypedMessage*>(node);
    self->~TypedMessage();
    pool_free(self, sizeof(TypedMessage));
  }
};

template <class T, class... Args>
MessageNode* make_message(MsgKind kind, Args&&... args) {
  void* mem = pool_alloc(sizeof(TypedMessage<T>));
  TypedMessage<T>* msg;
  try {
    msg = new (mem) TypedMessage<T>(std::forward<Args>(args)...);
  } catch (...) {
    pool_free(mem, sizeof(TypedMessage<T>));
    throw;
  }
  msg->type = type_of<T>();
  msg->destroy = &TypedMessage<T>::destroy_node;
  msg->kind = kind;
  return msg;
}

template <class T>
T& payload(MessageNode* node) {
  return static_cast<TypedMessage<T>*>(node)->value;
}

// A singly linked FIFO owned by one thread.
struct NodeList {
  MessageNode* head = nullptr;
  MessageNode* tail = nullptr;

  bool empty() const { return head == nullptr; }
  void push_back(MessageNode* n) {
    n->next = nullptr;
    if (tail)
      tail->next = n;
    else
      head = n;
    tail = n;
  }
  // Unlinks `n`, whose predecessor is `prev` (nullptr when n is the head).
  void remove_after(MessageNode* prev, MessageNode* n) {
    MessageNode* next = n->next;
    if (prev)
      prev->next = next;
    else
      head = next;
    if (tail == n) tail = prev;
    n->next = nullptr;
  }
};

}  // namespace troupe::detail
