#pragma once
// Lock-free LIFO inboxes (many producers, one consumer) of intrusive nodes:
// producers push with one CAS; the consumer takes everything at once and
// gets it back in arrival order. Internal.

#include <atomic>

namespace troupe::detail {

// Pushes `node` (linked through node->*next); returns the previous head,
// so the caller knows whether the inbox was empty.
template <class T, T* T::*Next>
T* lifo_push(std::atomic<T*>& head, T* node, std::memory_order order) {
  T* old = head.load(std::memory_order_relaxed);
  do {
    node->*Next = old;
  } while (!head.compare_exchange_weak(old, node, order, std::memory_order_relaxed));
  return old;
}

// Takes every node, oldest first: calls visit(node) for each in arrival order.
template <class T, T* T::*Next, class Visit>
void lifo_take_all(std::atomic<T*>& head, Visit visit) {
  T* n = head.exchange(nullptr, std::memory_order_acquire);
  T* ordered = nullptr;
  while (n) {
    T* next = n->*Next;
    n->*Next = ordered;
    ordered = n;
    n = next;
  }
  while (ordered) {
    T* next = ordered->*Next;
    visit(ordered);
    ordered = next;
  }
}

}  // namespace troupe::detail
