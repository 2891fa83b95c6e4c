#pragma once
// QueueExecutor: an Executor backed by one thread that runs posted tasks in FIFO order, like a
// shard's io_context; plus wait_for(), a bounded poll for tests of threaded components.
//
// Use it where a test needs callbacks to arrive on "another shard": post() queues, the thread
// runs tasks one at a time, drain() waits until everything posted so far has run, and stop()
// joins the thread and drops tasks not yet started (call it before the state those tasks touch
// goes away; the destructor calls it too). Handlers that record results should capture shared
// state by shared_ptr or be stopped first. Thread-safe; header-only; no Asio.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "core/executor.hpp"

namespace sb::test {

inline constexpr std::chrono::milliseconds kWaitTimeout{5000};

/// Polls `done` every millisecond until it returns true or `timeout` passes; returns its last
/// value. For tests of threaded components only: unit tests of pure code never wait.
template <class Predicate>
bool wait_for(Predicate&& done, std::chrono::milliseconds timeout = kWaitTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class QueueExecutor final : public Executor {
 public:
  QueueExecutor() : thread_([this] { run(); }) {}
  ~QueueExecutor() override { stop(); }
  QueueExecutor(const QueueExecutor&) = delete;
  QueueExecutor& operator=(const QueueExecutor&) = delete;

  /// Queues `task` to run on the executor's thread; dropped after stop(). Any thread.
  void post(Task task) override {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      tasks_.push_back(std::move(task));
      ++posted_;
    }
    changed_.notify_all();
  }

  /// Waits until every task posted before the call has run; false after `timeout`. Any thread
  /// but the executor's own.
  bool drain(std::chrono::milliseconds timeout = kWaitTimeout) {
    std::unique_lock lock(mutex_);
    const std::size_t target = posted_;
    return changed_.wait_for(lock, timeout, [&] { return executed_ >= target || stopped_; });
  }

  /// Lets the running task finish, drops the queued ones and joins the thread. Idempotent; any
  /// thread but the executor's own.
  void stop() {
    std::deque<Task> dropped;  // destroyed outside the lock
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
      dropped.swap(tasks_);
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /// True on the executor's thread (to check that callbacks were not run inline).
  bool in_executor_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  /// Number of tasks run so far. Any thread.
  std::size_t executed() const {
    std::lock_guard lock(mutex_);
    return executed_;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return stopped_ || !tasks_.empty(); });
      if (stopped_) return;
      Task task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      task = nullptr;  // release captures before reporting the task as done
      lock.lock();
      ++executed_;
      changed_.notify_all();
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Task> tasks_;
  std::size_t posted_ = 0;
  std::size_t executed_ = 0;
  bool stopped_ = false;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace sb::test
