#include "auth/auth_service.hpp"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "fakes/fake_store.hpp"

namespace sb::auth {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 30s;  // generous: only a broken service ever waits this long
const HashParams kFast{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

// Collects posted tasks; the test thread runs them, as a shard's loop would.
class QueueExecutor final : public Executor {
 public:
  void post(Task task) override {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_all();
  }
  /// Waits up to `timeout` for a task and runs it here; false on timeout.
  bool run_one(std::chrono::milliseconds timeout = kWait) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      if (!cv_.wait_for(lock, timeout, [this] { return !tasks_.empty(); })) return false;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
    return true;
  }
  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return tasks_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
};

// A pending answer: filled when the executor runs the callback.
struct Answer {
  std::shared_ptr<std::optional<AuthOutcome>> slot = std::make_shared<std::optional<AuthOutcome>>();
  AuthCallback callback() {
    return [slot = slot](AuthOutcome o) { *slot = std::move(o); };
  }
  bool ready() const { return slot->has_value(); }
};

class AuthServiceTest : public ::testing::Test {
 protected:
  static AuthOptions options() {
    AuthOptions o;
    o.workers = 2;
    o.worker_nice = 0;
    o.hash = kFast;
    o.address_rate_per_sec = 0;
    o.account_rate_per_sec = 0;
    return o;
  }
  std::unique_ptr<AuthService> make(const AuthOptions& o = options()) {
    return std::make_unique<AuthService>(o, fakes::fake_store_factory(db_), clock_);
  }

  /// Runs executor tasks until `answer` is filled (or the wait times out: Errc::timeout).
  AuthOutcome wait_for(const Answer& answer) {
    while (!answer.ready()) {
      if (!exec_->run_one()) {
        AuthOutcome timed_out;
        timed_out.code = Errc::timeout;
        return timed_out;
      }
    }
    return **answer.slot;
  }

  AuthOutcome login(AuthService& service, const std::string& user, const std::string& password,
                    const std::string& source = "10.0.0.1") {
    Answer answer;
    service.login(user, password, source, exec_, answer.callback());
    EXPECT_FALSE(answer.ready()) << "answered inline";
    return wait_for(answer);
  }

  AuthOutcome register_account(AuthService& service, const std::string& user,
                               const std::string& password, const std::string& zone = "",
                               const std::string& source = "10.0.0.1") {
    Answer answer;
    service.register_account(user, password, zone, source, exec_, answer.callback());
    EXPECT_FALSE(answer.ready()) << "answered inline";
    return wait_for(answer);
  }

  /// Registers through the service and returns the new id.
  PlayerId add_user(AuthService& service, const std::string& user, const std::string& password) {
    auto outcome = register_account(service, user, password);
    EXPECT_EQ(outcome.code, Errc::ok) << outcome.message;
    return outcome.account.id;
  }

  store::Account stored(PlayerId id) {
    auto account = db_->open()->accounts().find_by_id(id);
    EXPECT_TRUE(account);
    return account ? *account : store::Account{};
  }

  std::shared_ptr<fakes::FakeDatabase> db_ = std::make_shared<fakes::FakeDatabase>();
  ManualClock clock_;
  std::shared_ptr<QueueExecutor> exec_ = std::make_shared<QueueExecutor>();
};

// ---- registration ----

TEST_F(AuthServiceTest, RegisterCreatesAccount) {
  auto service = make();
  auto outcome = register_account(*service, "Alice", "correct horse");
  ASSERT_EQ(outcome.code, Errc::ok) << outcome.message;
  EXPECT_TRUE(outcome.account.id.valid());
  EXPECT_EQ(outcome.account.username, "Alice");
  EXPECT_EQ(outcome.account.zone, "default");
  EXPECT_EQ(outcome.account.created_ms, clock_.unix_ms());
  EXPECT_TRUE(outcome.account.password_hash.empty());

  const store::Account account = stored(outcome.account.id);
  EXPECT_EQ(account.username, "Alice");
  EXPECT_TRUE(account.password_hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$")) << account.password_hash;
  EXPECT_TRUE(verify_password(account.password_hash, "correct horse"));
}

TEST_F(AuthServiceTest, RegisterKeepsRequestedZone) {
  auto service = make();
  auto outcome = register_account(*service, "alice", "correct horse", "eu-west");
  ASSERT_EQ(outcome.code, Errc::ok);
  EXPECT_EQ(outcome.account.zone, "eu-west");
  EXPECT_EQ(stored(outcome.account.id).zone, "eu-west");
}

TEST_F(AuthServiceTest, RegisterDuplicateIsAlreadyExists) {
  auto service = make();
  add_user(*service, "alice", "correct horse");
  auto outcome = register_account(*service, "ALICE", "another password");
  EXPECT_EQ(outcome.code, Errc::already_exists);
  EXPECT_EQ(outcome.message, "username taken");
}

TEST_F(AuthServiceTest, RegisterInvalidUsernameIsRefusedBeforeTheStore) {
  auto service = make();
  const auto calls = db_->calls.load();
  for (const std::string& name :
       {std::string("ab"), std::string(25, 'a'), std::string("has space"), std::string("semi;colon"),
        std::string("ünïcode"), std::string()}) {
    auto outcome = register_account(*service, name, "correct horse");
    EXPECT_EQ(outcome.code, Errc::invalid_argument) << name;
    EXPECT_NE(outcome.message.find("username"), std::string::npos) << outcome.message;
  }
  EXPECT_EQ(db_->calls.load(), calls);
  // The edges of the rule are accepted.
  EXPECT_EQ(register_account(*service, "abc", "correct horse").code, Errc::ok);
  EXPECT_EQ(register_account(*service, "A-b_c.9" + std::string(17, 'x'), "correct horse").code,
            Errc::ok);
}

TEST_F(AuthServiceTest, RegisterPasswordLengthIsChecked) {
  auto service = make();
  const auto calls = db_->calls.load();
  auto short_pw = register_account(*service, "alice", "1234567");
  EXPECT_EQ(short_pw.code, Errc::invalid_argument);
  EXPECT_EQ(short_pw.message, "password must be 8 to 128 bytes");
  EXPECT_EQ(register_account(*service, "alice", std::string(129, 'p')).code, Errc::invalid_argument);
  EXPECT_EQ(db_->calls.load(), calls);
  EXPECT_EQ(register_account(*service, "alice", "12345678").code, Errc::ok);
  EXPECT_EQ(register_account(*service, "bob", std::string(128, 'p')).code, Errc::ok);
}

TEST(ValidateUsernameTest, FollowsTheOptions) {
  AuthOptions o;
  EXPECT_TRUE(validate_username("abc", o));
  EXPECT_TRUE(validate_username("Player_1.x-y", o));
  EXPECT_EQ(to_errc(validate_username("ab", o).error()), Errc::invalid_argument);
  EXPECT_EQ(to_errc(validate_username("a b c", o).error()), Errc::invalid_argument);
  o.username_min = 1;
  EXPECT_TRUE(validate_username("a", o));
}

// ---- login ----

TEST_F(AuthServiceTest, LoginReturnsAccountAndResetsCounter) {
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  EXPECT_EQ(login(*service, "alice", "wrong one").code, Errc::bad_credentials);
  EXPECT_EQ(login(*service, "alice", "wrong two").code, Errc::bad_credentials);
  ASSERT_EQ(stored(id).failed_logins, 2u);

  clock_.advance(5s);
  auto outcome = login(*service, "Alice", "correct horse");
  ASSERT_EQ(outcome.code, Errc::ok) << outcome.message;
  EXPECT_EQ(outcome.account.id, id);
  EXPECT_EQ(outcome.account.username, "alice");
  EXPECT_TRUE(outcome.account.password_hash.empty());
  EXPECT_EQ(outcome.account.failed_logins, 0u);
  const store::Account account = stored(id);
  EXPECT_EQ(account.failed_logins, 0u);
  EXPECT_EQ(account.last_login_ms, clock_.unix_ms());
}

TEST_F(AuthServiceTest, LastLoginIsRefreshedAtMostOncePerResolution) {
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  ASSERT_EQ(login(*service, "alice", "correct horse").code, Errc::ok);
  const auto first = stored(id).last_login_ms;
  ASSERT_EQ(first, clock_.unix_ms());
  clock_.advance(std::chrono::minutes(5));
  ASSERT_EQ(login(*service, "alice", "correct horse").code, Errc::ok);
  EXPECT_EQ(stored(id).last_login_ms, first) << "within the resolution nothing is written";
  clock_.advance(std::chrono::minutes(6));
  ASSERT_EQ(login(*service, "alice", "correct horse").code, Errc::ok);
  EXPECT_EQ(stored(id).last_login_ms, clock_.unix_ms());
}

TEST_F(AuthServiceTest, WrongPasswordIncrementsCounter) {
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  auto outcome = login(*service, "alice", "incorrect horse");
  EXPECT_EQ(outcome.code, Errc::bad_credentials);
  EXPECT_EQ(outcome.message, "unknown user or wrong password");
  EXPECT_EQ(stored(id).failed_logins, 1u);
  EXPECT_EQ(login(*service, "alice", "incorrect horse").code, Errc::bad_credentials);
  EXPECT_EQ(stored(id).failed_logins, 2u);
}

TEST_F(AuthServiceTest, UnknownUserGetsTheSameAnswerAsAWrongPassword) {
  auto service = make();
  add_user(*service, "alice", "correct horse");
  auto unknown = login(*service, "mallory", "correct horse");
  auto wrong = login(*service, "alice", "incorrect horse");
  EXPECT_EQ(unknown.code, Errc::bad_credentials);
  EXPECT_EQ(unknown.code, wrong.code);
  EXPECT_EQ(unknown.message, wrong.message);
}

TEST_F(AuthServiceTest, LockoutExactlyWhenCounterPassesConfiguredMaximum) {
  ASSERT_TRUE(db_->open()->config().set(store::kMaxLoginErrorsKey, "3"));
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(login(*service, "alice", "wrong").code, Errc::bad_credentials) << i;
  }
  auto fourth = login(*service, "alice", "wrong");
  EXPECT_EQ(fourth.code, Errc::account_disabled);
  EXPECT_NE(fourth.message.find("too many failed logins"), std::string::npos) << fourth.message;
  EXPECT_TRUE(stored(id).disabled);

  auto right = login(*service, "alice", "correct horse");
  EXPECT_EQ(right.code, Errc::account_disabled);
  EXPECT_EQ(stored(id).failed_logins, 4u);  // a disabled account is refused before verifying
}

TEST_F(AuthServiceTest, DefaultMaximumIsTenWhenUnset) {
  auto service = make();
  add_user(*service, "alice", "correct horse");
  for (std::uint32_t i = 1; i <= store::kDefaultMaxLoginErrors; ++i) {
    ASSERT_EQ(login(*service, "alice", "wrong").code, Errc::bad_credentials) << i;
  }
  EXPECT_EQ(login(*service, "alice", "wrong").code, Errc::account_disabled);
}

TEST_F(AuthServiceTest, UnparsableMaximumFallsBackToDefault) {
  ASSERT_TRUE(db_->open()->config().set(store::kMaxLoginErrorsKey, "3x"));
  auto service = make();
  add_user(*service, "alice", "correct horse");
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(login(*service, "alice", "wrong").code, Errc::bad_credentials) << i;
  }
}

TEST_F(AuthServiceTest, DisabledAccountIsRefusedWithItsReason) {
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  ASSERT_TRUE(db_->open()->accounts().set_disabled(id, true, "chargeback"));
  auto outcome = login(*service, "alice", "correct horse");
  EXPECT_EQ(outcome.code, Errc::account_disabled);
  EXPECT_EQ(outcome.message, "account disabled: chargeback");
}

TEST_F(AuthServiceTest, BannedAnswersReasonAndTimeLeft) {
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  store::Ban ban;
  ban.player = id;
  ban.reason = "griefing";
  ban.created_ms = clock_.unix_ms();
  ban.expires_ms = clock_.unix_ms() + 90'000;
  ASSERT_TRUE(db_->open()->bans().add(ban));
  clock_.advance(10s);

  auto outcome = login(*service, "alice", "correct horse");
  EXPECT_EQ(outcome.code, Errc::banned);
  EXPECT_NE(outcome.message.find("griefing"), std::string::npos) << outcome.message;
  EXPECT_EQ(outcome.retry_after_ms, 80'000u);
}

TEST_F(AuthServiceTest, PermanentBanAnswersZeroRetryAfter) {
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  store::Ban ban;
  ban.player = id;
  ban.reason = "cheating";
  ban.expires_ms = 0;
  ASSERT_TRUE(db_->open()->bans().add(ban));
  auto outcome = login(*service, "alice", "correct horse");
  EXPECT_EQ(outcome.code, Errc::banned);
  EXPECT_NE(outcome.message.find("cheating"), std::string::npos);
  EXPECT_EQ(outcome.retry_after_ms, 0u);
}

TEST_F(AuthServiceTest, VeryLongBanClampsRetryAfter) {
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  store::Ban ban;
  ban.player = id;
  ban.expires_ms = clock_.unix_ms() + 365LL * 24 * 3600 * 1000;  // > 2^32 ms
  ASSERT_TRUE(db_->open()->bans().add(ban));
  EXPECT_EQ(login(*service, "alice", "correct horse").retry_after_ms, 0xffffffffu);
}

TEST_F(AuthServiceTest, ExpiredBanIsIgnored) {
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  store::Ban ban;
  ban.player = id;
  ban.reason = "spam";
  ban.expires_ms = clock_.unix_ms() + 1'000;
  ASSERT_TRUE(db_->open()->bans().add(ban));
  ASSERT_EQ(login(*service, "alice", "correct horse").code, Errc::banned);
  clock_.advance(1s);
  EXPECT_EQ(login(*service, "alice", "correct horse").code, Errc::ok);
}

TEST_F(AuthServiceTest, BanIsCheckedOnlyAfterThePassword) {
  auto service = make();
  const PlayerId id = add_user(*service, "alice", "correct horse");
  store::Ban ban;
  ban.player = id;
  ban.expires_ms = 0;
  ASSERT_TRUE(db_->open()->bans().add(ban));
  EXPECT_EQ(login(*service, "alice", "wrong").code, Errc::bad_credentials);
}

TEST_F(AuthServiceTest, LoginChecksOnlyThePasswordUpperBound) {
  {
    auto service = make();
    add_user(*service, "alice", "8 bytes!");
  }
  AuthOptions o = options();
  o.password_min = 12;  // raised after alice registered: she must still get in
  auto service = make(o);
  EXPECT_EQ(login(*service, "alice", "8 bytes!").code, Errc::ok);
  const auto calls = db_->calls.load();
  auto too_long = login(*service, "alice", std::string(129, 'p'));
  EXPECT_EQ(too_long.code, Errc::invalid_argument);
  EXPECT_EQ(too_long.message, "password must be 1 to 128 bytes");
  EXPECT_EQ(login(*service, "alice", "").code, Errc::invalid_argument);
  EXPECT_EQ(login(*service, "a b", "8 bytes!").code, Errc::invalid_argument);
  EXPECT_EQ(db_->calls.load(), calls);
}

// ---- rate limits ----

TEST_F(AuthServiceTest, AddressLimitAnswersWithoutTouchingTheStore) {
  AuthOptions o = options();
  o.address_rate_per_sec = 1;
  o.address_burst = 2;
  auto service = make(o);
  EXPECT_EQ(login(*service, "alice", "password1", "1.2.3.4").code, Errc::bad_credentials);
  EXPECT_EQ(login(*service, "bob", "password1", "1.2.3.4").code, Errc::bad_credentials);

  const auto calls = db_->calls.load();
  auto limited = login(*service, "carol", "password1", "1.2.3.4");
  EXPECT_EQ(limited.code, Errc::rate_limited);
  EXPECT_EQ(limited.retry_after_ms, 1000u);
  EXPECT_EQ(db_->calls.load(), calls);
  // Registration shares the address budget.
  EXPECT_EQ(register_account(*service, "carol", "password1", "", "1.2.3.4").code,
            Errc::rate_limited);
  EXPECT_EQ(db_->calls.load(), calls);

  // Another address is unaffected; and the first one recovers with time.
  EXPECT_EQ(login(*service, "carol", "password1", "5.6.7.8").code, Errc::bad_credentials);
  clock_.advance(1s);
  EXPECT_EQ(login(*service, "carol", "password1", "1.2.3.4").code, Errc::bad_credentials);
}

TEST_F(AuthServiceTest, AccountLimitIsKeyedCaseInsensitively) {
  AuthOptions o = options();
  o.account_rate_per_sec = 0.5;
  o.account_burst = 2;
  auto service = make(o);
  add_user(*service, "bob", "correct horse");
  EXPECT_EQ(login(*service, "bob", "wrong", "1.1.1.1").code, Errc::bad_credentials);
  EXPECT_EQ(login(*service, "BOB", "wrong", "2.2.2.2").code, Errc::bad_credentials);

  const auto calls = db_->calls.load();
  auto limited = login(*service, "Bob", "correct horse", "3.3.3.3");
  EXPECT_EQ(limited.code, Errc::rate_limited);
  EXPECT_EQ(limited.retry_after_ms, 2000u);
  EXPECT_EQ(db_->calls.load(), calls);
  // Other accounts are not limited by bob's bucket.
  EXPECT_EQ(login(*service, "carol", "wrong", "3.3.3.3").code, Errc::bad_credentials);
  clock_.advance(2s);
  EXPECT_EQ(login(*service, "bob", "correct horse", "3.3.3.3").code, Errc::ok);
}

TEST_F(AuthServiceTest, ImmediateAnswersStillGoThroughTheExecutor) {
  auto service = make();
  Answer answer;
  service->login("x", "y", "1.1.1.1", exec_, answer.callback());  // invalid: answered at once
  EXPECT_FALSE(answer.ready());
  EXPECT_EQ(exec_->pending(), 1u);
  ASSERT_TRUE(exec_->run_one());
  ASSERT_TRUE(answer.ready());
  EXPECT_EQ((*answer.slot)->code, Errc::invalid_argument);
}

// ---- back pressure, failures, shutdown ----

// Occupies a worker until release() is called.
struct Blocker {
  std::shared_ptr<std::promise<void>> started = std::make_shared<std::promise<void>>();
  std::shared_ptr<std::promise<void>> released = std::make_shared<std::promise<void>>();
  std::shared_future<void> release_signal = released->get_future().share();

  bool occupy(AuthService& service) {
    if (!service.submit([s = started, r = release_signal](store::Store&) {
          s->set_value();
          r.wait();
        })) {
      return false;
    }
    return started->get_future().wait_for(kWait) == std::future_status::ready;
  }
  void release() {
    if (!released_already) released->set_value();
    released_already = true;
  }
  // Never leave a worker blocked: the service's destructor would wait for it forever.
  ~Blocker() { release(); }
  bool released_already = false;
};

TEST_F(AuthServiceTest, FullQueueAnswersUnavailableAtOnce) {
  AuthOptions o = options();
  o.workers = 1;
  o.max_queue = 1;
  auto service = make(o);
  Blocker blocker;
  ASSERT_TRUE(blocker.occupy(*service));
  EXPECT_EQ(service->queue_depth(), 0u);

  Answer queued;
  service->login("alice", "password1", "1.1.1.1", exec_, queued.callback());
  EXPECT_EQ(service->queue_depth(), 1u);
  auto busy = login(*service, "bob", "password1");
  EXPECT_EQ(busy.code, Errc::unavailable);
  EXPECT_EQ(busy.message, "server busy");
  EXPECT_FALSE(service->submit([](store::Store&) {}));
  EXPECT_FALSE(queued.ready());

  blocker.release();
  EXPECT_EQ(wait_for(queued).code, Errc::bad_credentials);
}

TEST_F(AuthServiceTest, FailingStoreAnswersUnavailable) {
  auto service = make();
  add_user(*service, "alice", "correct horse");
  db_->fail_calls = true;
  EXPECT_EQ(login(*service, "alice", "correct horse").code, Errc::unavailable);
  EXPECT_EQ(register_account(*service, "bob", "correct horse").code, Errc::unavailable);
}

class AuthServiceOpenFailureTest
    : public AuthServiceTest,
      public ::testing::WithParamInterface<fakes::FakeDatabase::OpenMode> {};

TEST_P(AuthServiceOpenFailureTest, WorkerWithoutStoreAnswersUnavailable) {
  db_->open_mode = GetParam();
  auto service = make();
  EXPECT_EQ(login(*service, "alice", "correct horse").code, Errc::unavailable);
  EXPECT_EQ(register_account(*service, "alice", "correct horse").code, Errc::unavailable);
  // Jobs submitted directly get a store that answers unavailable too.
  std::promise<Errc> seen;
  ASSERT_TRUE(service->submit([&seen](store::Store& db) {
    auto r = db.accounts().find_by_name("alice");
    seen.set_value(r ? Errc::ok : to_errc(r.error()));
  }));
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get(), Errc::unavailable);
  EXPECT_EQ(db_->opened.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(NullOrThrow, AuthServiceOpenFailureTest,
                         ::testing::Values(fakes::FakeDatabase::OpenMode::null,
                                           fakes::FakeDatabase::OpenMode::throws));

TEST_F(AuthServiceTest, EachWorkerOpensItsOwnStore) {
  AuthOptions o = options();
  o.workers = 3;
  auto service = make(o);
  service->shutdown();
  EXPECT_EQ(db_->opened.load(), 3);
}

TEST_F(AuthServiceTest, AfterShutdownEverythingAnswersShuttingDown) {
  auto service = make();
  add_user(*service, "alice", "correct horse");
  service->shutdown();
  service->shutdown();  // idempotent
  EXPECT_EQ(login(*service, "alice", "correct horse").code, Errc::shutting_down);
  EXPECT_EQ(login(*service, "x", "").code, Errc::shutting_down);
  EXPECT_EQ(register_account(*service, "bob", "correct horse").code, Errc::shutting_down);
  EXPECT_FALSE(service->submit([](store::Store&) {}));
}

TEST_F(AuthServiceTest, ShutdownFinishesQueuedJobs) {
  AuthOptions o = options();
  o.workers = 1;
  auto service = make(o);
  add_user(*service, "alice", "correct horse");
  Blocker blocker;
  ASSERT_TRUE(blocker.occupy(*service));
  Answer queued;
  service->login("alice", "correct horse", "1.1.1.1", exec_, queued.callback());
  ASSERT_EQ(service->queue_depth(), 1u);

  std::thread stopper([&service] { service->shutdown(); });
  // Wait until shutdown has begun (new requests answer SHUTTING_DOWN) before freeing the worker,
  // so the queued login is still waiting when the service stops.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (login(*service, "x", "").code == Errc::shutting_down) break;
  }
  blocker.release();
  stopper.join();
  EXPECT_EQ(wait_for(queued).code, Errc::ok);
}

TEST_F(AuthServiceTest, WorkersRunAtTheConfiguredNiceValue) {
  AuthOptions o = options();
  o.workers = 1;
  o.worker_nice = 7;
  const int main_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  auto service = make(o);
  std::promise<int> nice;
  ASSERT_TRUE(service->submit([&nice](store::Store&) {
    nice.set_value(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())));
  }));
  auto f = nice.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_GE(f.get(), 7);
  // Only the worker thread was changed.
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), main_nice);
}

TEST_F(AuthServiceTest, BadHashParamsFailAtStartUp) {
  AuthOptions o = options();
  o.hash.mem_limit = 1024;  // below libsodium's minimum
  EXPECT_THROW(make(o), std::invalid_argument);
}

}  // namespace
}  // namespace sb::auth
