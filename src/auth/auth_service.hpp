#pragma once
// AuthService: registration and password login, off the event loops.
//
// A shard calls register_account()/login(); the service first applies the per-address and
// per-account rate limits (answering at once, before any hashing), then queues the job on a
// bounded pool of worker threads (started at low CPU priority so event loops keep their latency).
// Each worker owns its own Store connection. A login job: find the account, refuse a disabled one
// (ACCOUNT_DISABLED), verify the argon2id hash (an unknown user is verified against a dummy hash
// so both cost the same), count a bad password (disabling the account once the counter passes the
// cluster setting max_login_errors, default 10), refuse an active ban (BANNED, with reason and time
// left) and reset the counter on success. The outcome is posted to the caller's Executor.
// A full queue answers UNAVAILABLE at once (back pressure). Thread-safe: any thread may call.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "auth/password.hpp"
#include "auth/rate_limiter.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/executor.hpp"
#include "store/store.hpp"

namespace sb::auth {

struct AuthOptions {
  std::size_t workers = 1;             // hashing threads
  std::size_t max_queue = 4096;        // jobs waiting beyond this are refused (UNAVAILABLE)
  int worker_nice = 10;                // setpriority() for worker threads; 0 = unchanged
  HashParams hash;
  double address_rate_per_sec = 10;    // 0 = unlimited
  double address_burst = 50;
  double account_rate_per_sec = 0.5;   // 0 = unlimited
  double account_burst = 5;
  std::size_t username_min = 3;
  std::size_t username_max = 24;
  std::size_t password_min = 8;
  std::size_t password_max = 128;
  std::string default_zone = "default";
};

struct AuthOutcome {
  Errc code = Errc::ok;
  std::string message;               // human-readable, safe to show the client
  std::uint32_t retry_after_ms = 0;  // RATE_LIMITED, BANNED (0 = permanent ban)
  store::Account account;            // valid when code == ok (password_hash cleared)
};

using AuthCallback = std::function<void(AuthOutcome)>;

/// Checks username rules (length, [A-Za-z0-9_.-]); Errc::invalid_argument with a message.
Result<void> validate_username(std::string_view name, const AuthOptions& options);

class AuthService {
 public:
  using StoreFactory = std::function<std::unique_ptr<store::Store>()>;

  /// Starts `options.workers` threads, each opening its own store with `open_store`.
  AuthService(AuthOptions options, StoreFactory open_store, const Clock& clock);
  /// Stops accepting, finishes queued jobs, joins the workers.
  ~AuthService();
  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  /// Creates an account and answers with it (code ok), or ALREADY_EXISTS / INVALID_ARGUMENT /
  /// RATE_LIMITED / UNAVAILABLE. `source` is the client's address (rate-limit key).
  void register_account(std::string username, std::string password, std::string zone,
                        std::string source, ExecutorPtr executor, AuthCallback done);

  /// Verifies a password login as described above.
  void login(std::string username, std::string password, std::string source, ExecutorPtr executor,
             AuthCallback done);

  /// Runs `job` on a worker with its Store (for other blocking store work such as ban checks or
  /// admin actions); false if the queue is full. The job must post its own results.
  bool submit(std::function<void(store::Store&)> job);

  /// Stops taking jobs (later calls answer SHUTTING_DOWN) and waits for queued ones. Idempotent.
  void shutdown();

  /// Jobs waiting (not running). Any thread.
  std::size_t queue_depth() const;

 private:
  void worker_main(std::size_t index);
  bool enqueue(std::function<void(store::Store&)> job);
  /// Applies the per-address limit, and the per-account limit if `account` is non-empty.
  std::optional<AuthOutcome> check_rate(const std::string& source, const std::string& account);

  AuthOptions options_;
  StoreFactory open_store_;
  const Clock& clock_;
  RateLimiter address_limiter_;
  RateLimiter account_limiter_;
  std::string dummy_hash_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void(store::Store&)>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace sb::auth
