#pragma once
// Executor: how a thread-safe service hands a callback back to the thread that owns the caller.
//
// Libraries that run their own threads (backbone, password hashing pool, store worker) never call
// a shard's code directly: they call `post(fn)` on the Executor the caller gave them, and the
// shard runs `fn` on its own thread. A shard's Executor wraps `asio::post(io_context, fn)`;
// tests use an inline or queue-backed Executor. Kept free of Asio so game and store code need not
// include it.
#include <functional>
#include <memory>

namespace sb {

using Task = std::function<void()>;

class Executor {
 public:
  virtual ~Executor() = default;
  /// Queues `task` to run later on the executor's thread. Any thread. Never runs it inline.
  virtual void post(Task task) = 0;
};

using ExecutorPtr = std::shared_ptr<Executor>;

}  // namespace sb
