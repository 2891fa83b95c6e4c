#pragma once
// AuthService: registration and password login, off the event loops.
//
// A shard calls register_account()/login(); the service first checks the input (INVALID_ARGUMENT;
// login enforces only the password's upper bound so a raised password_min cannot lock anyone out)
// and applies the per-address and per-account rate limits (answering at once, before any hashing),
// then queues the job on a bounded pool of worker threads (started at low CPU priority so event
// loops keep their latency). Each worker owns its own Store connection (one that failed to open
// makes that worker answer UNAVAILABLE). A login job: find the account, refuse a disabled one
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
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/password.hpp"
#include "auth/rate_limiter.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/executor.hpp"
#include "store/store.hpp"

namespace sb::auth {

/// last_login_ms is refreshed at most this often (a login within it writes nothing).
inline constexpr std::int64_t kLastLoginResolutionMs = 10 * 60 * 1000;

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

/// Checks username rules (length in bytes within options, [A-Za-z0-9_.-]); Errc::invalid_argument
/// if broken (AuthService answers that case with a message naming the rule). Any thread.
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
  /// admin actions); false if the queue is full or the service is shutting down. The job must
  /// post its own results. A worker that could not open its store passes one whose every call
  /// answers Errc::unavailable.
  bool submit(std::function<void(store::Store&)> job);

  /// Stops taking jobs (later calls answer SHUTTING_DOWN) and waits for queued ones. Idempotent.
  /// Any thread except a worker (a job must not call it).
  void shutdown();

  /// Jobs waiting (not running). Any thread.
  std::size_t queue_depth() const;

 private:
  void worker_main(std::size_t index);
  /// Queues `job`: Errc::ok, Errc::unavailable (queue full) or Errc::shutting_down.
  Errc enqueue(std::function<void(store::Store&)> job);
  bool stopping() const;
  /// Applies the per-address limit, and the per-account limit if `account` is non-empty.
  std::optional<AuthOutcome> check_rate(const std::string& source, const std::string& account);
  /// The blocking halves of register_account()/login(); run on a worker.
  AuthOutcome run_register(store::Store& db, const std::string& username, std::string& password,
                           const std::string& zone) const;
  AuthOutcome run_login(store::Store& db, const std::string& username,
                        std::string& password) const;

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
  std::mutex shutdown_mutex_;  // serialises joining, so every shutdown() caller waits for it
};

}  // namespace sb::auth
