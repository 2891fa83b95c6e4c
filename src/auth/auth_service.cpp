#include "auth/auth_service.hpp"

#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "core/log.hpp"

namespace sb::auth {
namespace {

constexpr const char* kBadCredentials = "unknown user or wrong password";

AuthOutcome outcome(Errc code, std::string message, std::uint32_t retry_after_ms = 0) {
  AuthOutcome result;
  result.code = code;
  result.message = std::move(message);
  result.retry_after_ms = retry_after_ms;
  return result;
}

// Store errors are already project errors; the client only learns "try later" or "our fault".
AuthOutcome store_failure(const boost::system::error_code& ec) {
  if (to_errc(ec) == Errc::unavailable) {
    return outcome(Errc::unavailable, "service unavailable, try again later");
  }
  return outcome(Errc::internal, "internal error");
}

AuthOutcome disabled(const store::Account& account) {
  if (account.disabled_reason.empty()) return outcome(Errc::account_disabled, "account disabled");
  return outcome(Errc::account_disabled, "account disabled: " + account.disabled_reason);
}

std::uint32_t clamp_ms(std::int64_t ms) {
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(ms, 0, std::numeric_limits<std::uint32_t>::max()));
}

/// Every answer goes through the caller's executor, so callbacks never run on a worker or inline.
void deliver(const ExecutorPtr& executor, AuthCallback done, AuthOutcome result) {
  executor->post([done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

void wipe(std::string& secret) {
  if (!secret.empty()) sodium_memzero(secret.data(), secret.size());
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_username_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::optional<std::string> username_error(std::string_view name, const AuthOptions& options) {
  if (name.size() < options.username_min || name.size() > options.username_max) {
    return fmt::format("username must be {} to {} characters", options.username_min,
                       options.username_max);
  }
  if (!std::all_of(name.begin(), name.end(), is_username_char)) {
    return std::string("username may contain only letters, digits, '_', '.' and '-'");
  }
  return std::nullopt;
}

/// The cluster setting, or its default when unset or unparsable (logged: an operator typo must
/// not turn into "never lock" or "always lock").
Result<std::uint32_t> max_login_errors(store::ConfigRepo& config) {
  auto value = config.get(store::kMaxLoginErrorsKey);
  if (!value) return value.error();
  if (!*value) return store::kDefaultMaxLoginErrors;
  const std::string& text = **value;
  std::uint32_t parsed = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, parsed);
  if (text.empty() || ec != std::errc{} || ptr != end) {
    spdlog::warn("auth: bad {} setting '{}', using {}", store::kMaxLoginErrorsKey, text,
                 store::kDefaultMaxLoginErrors);
    return store::kDefaultMaxLoginErrors;
  }
  return parsed;
}

// What a worker uses when it could not open its own store: every call answers
// Errc::unavailable, so queued jobs get a normal error instead of a crash.
class UnavailableStore final : public store::Store,
                               public store::AccountRepo,
                               public store::BanRepo,
                               public store::ConfigRepo {
 public:
  store::AccountRepo& accounts() override { return *this; }
  store::BanRepo& bans() override { return *this; }
  store::ConfigRepo& config() override { return *this; }

  Result<PlayerId> create(const std::string&, const std::string&, const std::string&,
                          UnixMillis) override {
    return fail(Errc::unavailable);
  }
  Result<store::Account> find_by_name(const std::string&) override { return fail(Errc::unavailable); }
  Result<store::Account> find_by_id(PlayerId) override { return fail(Errc::unavailable); }
  Result<store::Account> record_failed_login(PlayerId, std::uint32_t) override {
    return fail(Errc::unavailable);
  }
  Status record_good_login(PlayerId, UnixMillis) override { return fail(Errc::unavailable); }
  Status set_disabled(PlayerId, bool, const std::string&) override { return fail(Errc::unavailable); }

  Result<std::uint64_t> add(const store::Ban&) override { return fail(Errc::unavailable); }
  Result<std::optional<store::Ban>> active(PlayerId, UnixMillis) override {
    return fail(Errc::unavailable);
  }
  Result<std::uint32_t> lift(PlayerId) override { return fail(Errc::unavailable); }
  Result<std::vector<store::Ban>> list_active(UnixMillis) override { return fail(Errc::unavailable); }

  Result<std::optional<std::string>> get(const std::string&) override {
    return fail(Errc::unavailable);
  }
  Status set(const std::string&, const std::string&) override { return fail(Errc::unavailable); }
  Result<std::vector<std::pair<std::string, std::string>>> all() override {
    return fail(Errc::unavailable);
  }
};

}  // namespace

Result<void> validate_username(std::string_view name, const AuthOptions& options) {
  if (username_error(name, options)) return fail(Errc::invalid_argument);
  return {};
}

AuthService::AuthService(AuthOptions options, StoreFactory open_store, const Clock& clock)
    : options_(std::move(options)),
      open_store_(std::move(open_store)),
      clock_(clock),
      address_limiter_(options_.address_rate_per_sec, options_.address_burst),
      account_limiter_(options_.account_rate_per_sec, options_.account_burst) {
  init_sodium();
  // Unknown users are verified against this, so it must carry the same parameters as real hashes.
  // Failing here (e.g. hash params outside libsodium's limits) is a start-up error.
  std::array<unsigned char, 16> random{};
  randombytes_buf(random.data(), random.size());
  auto dummy = hash_password(
      std::string_view(reinterpret_cast<const char*>(random.data()), random.size()), options_.hash);
  if (!dummy) throw std::invalid_argument("auth: cannot hash with the configured parameters");
  dummy_hash_ = std::move(*dummy);

  const std::size_t count = std::max<std::size_t>(options_.workers, 1);
  try {
    for (std::size_t i = 0; i < count; ++i) workers_.emplace_back(&AuthService::worker_main, this, i);
  } catch (...) {
    shutdown();
    throw;
  }
}

AuthService::~AuthService() { shutdown(); }

void AuthService::register_account(std::string username, std::string password, std::string zone,
                                   std::string source, ExecutorPtr executor, AuthCallback done) {
  SB_CHECK(executor && done);
  if (stopping()) {
    return deliver(executor, std::move(done), outcome(Errc::shutting_down, "server shutting down"));
  }
  if (auto problem = username_error(username, options_)) {
    return deliver(executor, std::move(done), outcome(Errc::invalid_argument, std::move(*problem)));
  }
  if (password.size() < options_.password_min || password.size() > options_.password_max) {
    return deliver(executor, std::move(done),
                   outcome(Errc::invalid_argument,
                           fmt::format("password must be {} to {} bytes", options_.password_min,
                                       options_.password_max)));
  }
  if (auto limited = check_rate(source, {})) {
    return deliver(executor, std::move(done), std::move(*limited));
  }
  if (zone.empty()) zone = options_.default_zone;

  // The job holds copies of executor and done: if it is refused, the originals answer.
  const Errc queued = enqueue(
      [this, username = std::move(username), password = std::move(password),
       zone = std::move(zone), executor, done](store::Store& db) mutable {
        deliver(executor, std::move(done), run_register(db, username, password, zone));
      });
  if (queued == Errc::unavailable) {
    deliver(executor, std::move(done), outcome(Errc::unavailable, "server busy"));
  } else if (queued == Errc::shutting_down) {
    deliver(executor, std::move(done), outcome(Errc::shutting_down, "server shutting down"));
  }
}

void AuthService::login(std::string username, std::string password, std::string source,
                        ExecutorPtr executor, AuthCallback done) {
  SB_CHECK(executor && done);
  if (stopping()) {
    return deliver(executor, std::move(done), outcome(Errc::shutting_down, "server shutting down"));
  }
  if (auto problem = username_error(username, options_)) {
    return deliver(executor, std::move(done), outcome(Errc::invalid_argument, std::move(*problem)));
  }
  // Only the upper bound (hashing cost) is enforced at login: raising password_min later must not
  // lock out accounts registered under the old rule.
  if (password.empty() || password.size() > options_.password_max) {
    return deliver(executor, std::move(done),
                   outcome(Errc::invalid_argument,
                           fmt::format("password must be 1 to {} bytes", options_.password_max)));
  }
  if (auto limited = check_rate(source, lower_ascii(username))) {
    return deliver(executor, std::move(done), std::move(*limited));
  }

  const Errc queued = enqueue([this, username = std::move(username), password = std::move(password),
                               executor, done](store::Store& db) mutable {
    deliver(executor, std::move(done), run_login(db, username, password));
  });
  if (queued == Errc::unavailable) {
    deliver(executor, std::move(done), outcome(Errc::unavailable, "server busy"));
  } else if (queued == Errc::shutting_down) {
    deliver(executor, std::move(done), outcome(Errc::shutting_down, "server shutting down"));
  }
}

bool AuthService::submit(std::function<void(store::Store&)> job) {
  return enqueue(std::move(job)) == Errc::ok;
}

void AuthService::shutdown() {
  // Held while joining so that a second caller also returns only once the workers are gone.
  std::lock_guard join_lock(shutdown_mutex_);
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    workers.swap(workers_);
  }
  cv_.notify_all();
  for (auto& worker : workers) worker.join();
}

std::size_t AuthService::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool AuthService::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

Errc AuthService::enqueue(std::function<void(store::Store&)> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return Errc::shutting_down;
    if (queue_.size() >= options_.max_queue) return Errc::unavailable;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return Errc::ok;
}

std::optional<AuthOutcome> AuthService::check_rate(const std::string& source,
                                                   const std::string& account) {
  const TimePoint now = clock_.now();
  if (auto wait = address_limiter_.acquire(source, now)) {
    return outcome(Errc::rate_limited, "too many attempts from your address, retry later",
                   clamp_ms(wait->count()));
  }
  if (!account.empty()) {
    if (auto wait = account_limiter_.acquire(account, now)) {
      return outcome(Errc::rate_limited, "too many attempts for this account, retry later",
                     clamp_ms(wait->count()));
    }
  }
  return std::nullopt;
}

void AuthService::worker_main(std::size_t index) {
  if (options_.worker_nice != 0) {
    // On Linux the nice value is per thread, so this lowers only this worker. Failure (not
    // permitted, e.g. a negative value without CAP_SYS_NICE) leaves the default: harmless.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), options_.worker_nice);
  }

  std::unique_ptr<store::Store> own;
  std::string why = "no store returned";
  try {
    own = open_store_();
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown exception";
  }
  if (!own) {
    spdlog::error("auth worker {}: cannot open store ({}); its jobs will answer unavailable", index,
                  why);
  }
  UnavailableStore unavailable;
  store::Store& db = own ? *own : static_cast<store::Store&>(unavailable);

  for (;;) {
    std::function<void(store::Store&)> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    // A submit() job that throws must not take the worker (and the process) down with it.
    try {
      job(db);
    } catch (const std::exception& e) {
      spdlog::error("auth worker {}: job failed: {}", index, e.what());
    } catch (...) {
      spdlog::error("auth worker {}: job failed", index);
    }
  }
}

AuthOutcome AuthService::run_register(store::Store& db, const std::string& username,
                                      std::string& password, const std::string& zone) const {
  auto hash = hash_password(password, options_.hash);
  wipe(password);
  if (!hash) return outcome(Errc::internal, "internal error");

  const UnixMillis now = clock_.unix_ms();
  auto id = db.accounts().create(username, *hash, zone, now);
  if (!id) {
    if (to_errc(id.error()) == Errc::already_exists) {
      return outcome(Errc::already_exists, "username taken");
    }
    return store_failure(id.error());
  }
  AuthOutcome result;
  result.account.id = *id;
  result.account.username = username;
  result.account.zone = zone;
  result.account.created_ms = now;
  return result;
}

AuthOutcome AuthService::run_login(store::Store& db, const std::string& username,
                                   std::string& password) const {
  auto found = db.accounts().find_by_name(username);
  if (!found) {
    if (to_errc(found.error()) != Errc::not_found) return store_failure(found.error());
    // Same argon2 cost as a real account, so the response time does not tell which names exist.
    (void)verify_password(dummy_hash_, password);
    wipe(password);
    return outcome(Errc::bad_credentials, kBadCredentials);
  }
  store::Account account = std::move(*found);
  if (account.disabled) return disabled(account);

  const bool good = verify_password(account.password_hash, password);
  wipe(password);
  if (!good) {
    auto max_errors = max_login_errors(db.config());
    if (!max_errors) return store_failure(max_errors.error());
    auto updated = db.accounts().record_failed_login(account.id, *max_errors);
    if (!updated) return store_failure(updated.error());
    if (updated->disabled) return disabled(*updated);
    return outcome(Errc::bad_credentials, kBadCredentials);
  }

  const UnixMillis now = clock_.unix_ms();
  auto ban = db.bans().active(account.id, now);
  if (!ban) return store_failure(ban.error());
  if (const auto& active = *ban) {
    std::string message = active->reason.empty() ? "banned" : "banned: " + active->reason;
    // Permanent bans answer 0; a timed one at least 1 ms so it never reads as permanent.
    const std::uint32_t left =
        active->expires_ms == 0 ? 0 : std::max<std::uint32_t>(1, clamp_ms(active->expires_ms - now));
    return outcome(Errc::banned, std::move(message), left);
  }

  // A good login must reset the bad-password counter. Otherwise write only when last_login_ms
  // is more than kLastLoginResolutionMs old: every write is a synchronous commit, and a login
  // storm should not become a storm of disk flushes for a timestamp.
  if (account.failed_logins > 0 || now - account.last_login_ms > kLastLoginResolutionMs) {
    if (auto status = db.accounts().record_good_login(account.id, now); !status) {
      return store_failure(status.error());
    }
    account.last_login_ms = now;
  }
  account.password_hash.clear();
  account.failed_logins = 0;
  AuthOutcome result;
  result.account = std::move(account);
  return result;
}

}  // namespace sb::auth
