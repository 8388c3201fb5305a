#pragma once
// Mailbox: a multi-producer, single-consumer queue of tasks for one shard (Vyukov's
// intrusive MPSC queue). Push is one atomic exchange; no mutex.
//
// Thread-safety: Push() from any thread; Pop() from the owning shard thread only.

#include <atomic>
#include <functional>
#include <memory>

namespace eddy {

class Mailbox {
 public:
  using Task = std::function<void()>;

  Mailbox() : head_(&stub_), tail_(&stub_) {}
  ~Mailbox() {
    while (Pop()) {
    }
  }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  void Push(Task task) {
    Node* n = new Node{std::move(task), {nullptr}};
    // acq_rel: the exchange orders this node's construction before its link becomes
    // visible, and the consumer's acquire on `next` sees the task.
    Node* prev = head_.exchange(n, std::memory_order_acq_rel);
    prev->next.store(n, std::memory_order_release);
  }

  // Pops one task, or returns an empty function when the queue is (momentarily) empty.
  Task Pop() {
    Node* tail = tail_;
    Node* next = tail->next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (next == nullptr) return {};
      tail_ = next;
      tail = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail_ = next;
      return Take(tail);
    }
    if (tail != head_.load(std::memory_order_acquire)) return {};  // a push is mid-way
    PushStub();
    next = tail->next.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail_ = next;
      return Take(tail);
    }
    return {};
  }

  bool MaybeNonEmpty() const {
    return tail_->next.load(std::memory_order_acquire) != nullptr ||
           head_.load(std::memory_order_acquire) != tail_;
  }

 private:
  struct Node {
    Task task;
    std::atomic<Node*> next;
  };

  Task Take(Node* n) {
    Task t = std::move(n->task);
    delete n;
    return t;
  }
  void PushStub() {
    stub_.next.store(nullptr, std::memory_order_relaxed);
    Node* prev = head_.exchange(&stub_, std::memory_order_acq_rel);
    prev->next.store(&stub_, std::memory_order_release);
  }

  std::atomic<Node*> head_;  // producers
  Node* tail_;               // consumer only
  Node stub_{{}, {nullptr}};
};

}  // namespace eddy
