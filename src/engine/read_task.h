#pragma once
// Reads that read top to bottom (STYLE §3.2): a read that fans out over the shards is a
// C++20 coroutine whose steps return values —
//
//   ReadTask Recommender::Run(...) {
//     UserPart user = co_await OnShard<UserPart>(shards_, s, [..](ShardState& st) {...});
//     std::vector<Part> parts = co_await Gather<Part>(shards_, [..](ShardState& st) {...});
//     ...
//   }
//
// `co_await OnShard(set, s, fn)` runs fn on shard s's thread and resumes the coroutine
// there with its result; `co_await Gather(set, part)` runs part on every shard (after it
// caught up, as ShardSet::ScatterGather) and resumes on the shard that finished last with
// every partial, by shard. A ReadTask starts at once and frees itself when it returns; it
// answers through the callback it was given (exactly once, on its last step's thread).
//
// Thread-safety: a coroutine runs on one thread at a time (each step on the thread that
// resumed it); its frame is touched by nobody else meanwhile. An awaiter does nothing after
// handing the work over, since the work may resume (and finish) the coroutine before the
// hand-over returns (it does when the shards have stopped and tasks run inline).

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "engine/shard_set.h"

namespace eddy {

struct ReadTask {
  struct promise_type {
    ReadTask get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

// `co_await Async<T>(start)` calls start with a callback and resumes the coroutine with
// the value it is called with, on the thread that calls it (a shard's, or another node's
// answer's). Every step below is one.
template <typename T>
class AsyncAwaiter {
 public:
  explicit AsyncAwaiter(std::function<void(std::function<void(T)>)> start) : start_(std::move(start)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    start_([this, h](T v) {
      result_.emplace(std::move(v));
      h.resume();
    });
  }
  T await_resume() { return std::move(*result_); }

 private:
  std::function<void(std::function<void(T)>)> start_;
  std::optional<T> result_;
};

template <typename T>
AsyncAwaiter<T> Async(std::function<void(std::function<void(T)>)> start) {
  return AsyncAwaiter<T>(std::move(start));
}

template <typename T>
AsyncAwaiter<T> OnShard(const ShardSet& set, size_t shard, std::function<T(ShardState&)> fn) {
  return Async<T>([&set, shard, fn = std::move(fn)](std::function<void(T)> done) mutable {
    set.OnShard(shard, [fn = std::move(fn), done = std::move(done)](ShardState& st) { done(fn(st)); });
  });
}

// `catch_up` and `upto` as ShardSet::ScatterGather's.
template <typename P>
AsyncAwaiter<std::vector<P>> Gather(const ShardSet& set, std::function<P(ShardState&)> part,
                                    bool catch_up = true, ShardSet::Horizon upto = nullptr) {
  return Async<std::vector<P>>([&set, part = std::move(part), catch_up, upto = std::move(upto)](
                                   std::function<void(std::vector<P>)> done) mutable {
    set.ScatterGather<P>(
        std::move(part), [done = std::move(done)](std::vector<P>& parts) { done(std::move(parts)); },
        catch_up, std::move(upto));
  });
}

}  // namespace eddy
