#pragma once
// Behaviour suite for every Backbone implementation (src/backbone/backbone.hpp).
//
// Included by one test file per implementation (backbone_contract_test.cpp: inproc;
// backbone_contract_natstest.cpp: nats against a real nats-server), each of which instantiates
// BackboneContractTest with its factories; every TEST_P here runs once per factory, and every
// test gets a fresh backbone (and, on nats, a fresh bucket). Callbacks arrive on QueueExecutors
// (one thread each, like shards) and are recorded in Recorders held by shared_ptr; tests wait for
// them with bounded polls and never assert an upper bound on time. Straight-line KV steps block on
// the asynchronous calls through tests/fakes/kv_sync.hpp (kv_get_sync, ...), whose completions
// run on an executor of their own.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "backbone/backbone.hpp"
#include "fakes/kv_sync.hpp"
#include "fakes/queue_executor.hpp"

namespace sb::backbone {
namespace {

using namespace std::chrono_literals;
using test::kv_create_sync;
using test::kv_delete_sync;
using test::kv_get_sync;
using test::kv_list_sync;
using test::kv_put_sync;
using test::kv_refresh_sync;
using test::kv_update_sync;
using test::QueueExecutor;
using test::wait_for;

struct BackboneFactory {
  std::string name;
  std::function<std::unique_ptr<Backbone>()> make;
  bool per_key_ttl = true;  // false: non-zero ttl is Errc::invalid_argument (backbone.hpp)
};

void PrintTo(const BackboneFactory& factory, std::ostream* os) { *os << factory.name; }

/// Thread-safe list of everything a callback received.
template <class T>
class Recorder {
 public:
  void add(T item) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(item));
  }
  std::vector<T> items() const {
    std::lock_guard lock(mutex_);
    return items_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  bool wait_size(std::size_t n, std::chrono::milliseconds timeout = test::kWaitTimeout) const {
    return wait_for([&] { return size() >= n; }, timeout);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<T> items_;
};

using Messages = Recorder<Message>;
using Events = Recorder<KvEvent>;
using Replies = Recorder<Result<Message>>;

MessageHandler record_to(std::shared_ptr<Messages> r) {
  return [r](Message m) { r->add(std::move(m)); };
}
KvEventHandler record_to(std::shared_ptr<Events> r) {
  return [r](KvEvent e) { r->add(std::move(e)); };
}
ReplyHandler record_to(std::shared_ptr<Replies> r) {
  return [r](Result<Message> m) { r->add(std::move(m)); };
}

/// "ok" or the error's name, so that failures print readably.
template <class R>
std::string_view code(const R& result) {
  return errc_name(result ? Errc::ok : to_errc(result.error()));
}

std::vector<std::string> payloads(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Message& m : messages) out.push_back(m.payload);
  return out;
}

std::vector<std::string> numbered(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(std::to_string(i));
  return out;
}

bool same_entry(const KvEvent& event, KvOp op, const KvEntry& entry) {
  return event.op == op && event.entry.key == entry.key && event.entry.value == entry.value &&
         event.entry.revision == entry.revision;
}

// True when `events` is exactly the entries current after some cut of `writes` (in key order,
// as puts) followed by every later write in revision order: no gap, no duplicate, no reordering.
// `writes` must be every write under the watched prefix (puts only).
bool is_snapshot_then_changes(const std::vector<KvEvent>& events, std::vector<KvEntry> writes) {
  std::sort(writes.begin(), writes.end(),
            [](const KvEntry& a, const KvEntry& b) { return a.revision < b.revision; });
  std::map<std::string, KvEntry> current;
  for (std::size_t cut = 0;; ++cut) {
    if (current.size() + (writes.size() - cut) == events.size()) {
      std::size_t i = 0;
      bool match = true;
      for (const auto& [key, entry] : current) {
        match = match && same_entry(events[i++], KvOp::put, entry);
      }
      for (std::size_t w = cut; w < writes.size(); ++w) {
        match = match && same_entry(events[i++], KvOp::put, writes[w]);
      }
      if (match) return true;
    }
    if (cut == writes.size()) return false;
    current[writes[cut].key] = writes[cut];
  }
}

class BackboneContractTest : public ::testing::TestWithParam<BackboneFactory> {
 protected:
  void SetUp() override {
    backbone_ = GetParam().make();
    ASSERT_NE(backbone_, nullptr);
  }
  // Executors stop first so no handler is running when the backbone goes away.
  void TearDown() override {
    for (auto& e : executors_) e->stop();
    backbone_.reset();
  }

  Backbone& bb() { return *backbone_; }

  // The key's value, or "<error name>" when there is none.
  std::string value_of(const std::string& key) {
    auto got = kv_get_sync(bb(), key);
    return got ? got->value : "<" + std::string(code(got)) + ">";
  }

  std::shared_ptr<QueueExecutor> executor() {
    return executors_.emplace_back(std::make_shared<QueueExecutor>());
  }

  SubscriptionId subscribe(const std::string& subject, const std::string& group,
                           const std::shared_ptr<QueueExecutor>& ex, MessageHandler handler) {
    auto id = bb().subscribe(subject, group, ex, std::move(handler));
    EXPECT_EQ(code(id), "ok") << subject;
    return id ? *id : SubscriptionId{};
  }

  // Subscribes a handler that answers every request with "re:" + payload.
  void echo_service(const std::string& subject, const std::shared_ptr<QueueExecutor>& ex) {
    Backbone* bb = backbone_.get();
    subscribe(subject, "svc", ex,
              [bb](Message m) { (void)bb->publish(m.reply_to, "re:" + m.payload); });
  }

  void drain_all() {
    for (auto& e : executors_) EXPECT_TRUE(e->drain());
  }

  // Where per-key ttl is not supported, every form refuses a non-zero one and changes nothing.
  void expect_ttl_refused() {
    EXPECT_EQ(code(kv_put_sync(bb(), "ttl.no", "v", 100ms)), "invalid_argument");
    EXPECT_EQ(code(kv_create_sync(bb(), "ttl.no", "v", 100ms)), "invalid_argument");
    EXPECT_EQ(code(kv_get_sync(bb(), "ttl.no")), "not_found");
    const std::uint64_t rev = kv_put_sync(bb(), "ttl.no", "v").value();
    EXPECT_EQ(code(kv_update_sync(bb(), "ttl.no", "w", rev, 100ms)), "invalid_argument");
    EXPECT_EQ(code(kv_refresh_sync(bb(), "ttl.no", 100ms)), "invalid_argument");
    EXPECT_EQ(code(kv_refresh_sync(bb(), "ttl.no", 0ms)), "ok");
    EXPECT_EQ(code(kv_refresh_sync(bb(), "ttl.missing", 0ms)), "not_found");
    EXPECT_EQ(kv_get_sync(bb(), "ttl.no").value().revision, rev);
  }

 private:
  std::unique_ptr<Backbone> backbone_;
  std::vector<std::shared_ptr<QueueExecutor>> executors_;
};

// ---- publish / subscribe

TEST_P(BackboneContractTest, PublishFansOutToEverySubscriber) {
  auto ex1 = executor();
  auto ex2 = executor();
  auto a = std::make_shared<Messages>(), b = std::make_shared<Messages>();
  auto c = std::make_shared<Messages>(), other = std::make_shared<Messages>();
  subscribe("t.fan", "", ex1, record_to(a));
  subscribe("t.fan", "", ex1, record_to(b));
  subscribe("t.fan", "", ex2, record_to(c));
  subscribe("t.other", "", ex2, record_to(other));

  for (int i = 0; i < 5; ++i) ASSERT_EQ(code(bb().publish("t.fan", std::to_string(i))), "ok");
  ASSERT_EQ(code(bb().publish("t.fan", "5", "t.reply.here")), "ok");
  ASSERT_EQ(code(bb().publish("t.other", "sentinel")), "ok");

  for (const auto& r : {a, b, c}) {
    ASSERT_TRUE(r->wait_size(6));
    auto got = r->items();
    EXPECT_EQ(payloads(got), numbered(6));
    EXPECT_EQ(got[0].subject, "t.fan");
    EXPECT_EQ(got[0].reply_to, "");
    EXPECT_EQ(got[5].reply_to, "t.reply.here");
  }
  ASSERT_TRUE(other->wait_size(1));
  drain_all();
  EXPECT_EQ(payloads(other->items()), std::vector<std::string>{"sentinel"});
  EXPECT_EQ(a->size(), 6u);
}

TEST_P(BackboneContractTest, PublishWithoutSubscribersSucceeds) {
  EXPECT_EQ(code(bb().publish("t.nobody", "x")), "ok");
}

TEST_P(BackboneContractTest, CallbacksRunOnTheExecutorNeverInline) {
  auto ex = executor();
  auto seen = std::make_shared<Recorder<std::string>>();
  auto returned = std::make_shared<std::atomic<bool>>(false);
  QueueExecutor* thread = ex.get();
  auto note = [seen, returned, thread](const std::string& what) {
    const bool ok = returned->load() && thread->in_executor_thread();
    seen->add(what + (ok ? ":posted" : ":inline"));
  };
  Backbone* bb = &this->bb();
  ASSERT_EQ(code(kv_put_sync(*bb, "inline.k", "v")), "ok");
  // Everything is called from the executor's own thread: an inline callback would run before
  // `returned` is set.
  ex->post([=] {
    (void)bb->subscribe("t.inline", "", ex, [note](Message) { note("message"); });
    (void)bb->publish("t.inline", "x");
    bb->request("t.nobody", "x", 5s, ex, [note](Result<Message> r) {
      note(r ? "reply" : std::string(errc_name(to_errc(r.error()))));
    });
    (void)bb->kv_watch("inline.", true, ex, [note](KvEvent) { note("watch"); });
    returned->store(true);
  });
  ASSERT_TRUE(seen->wait_size(3));
  auto got = seen->items();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got,
            (std::vector<std::string>{"message:posted", "unavailable:posted", "watch:posted"}));
}

TEST_P(BackboneContractTest, NoDeliveryAfterUnsubscribe) {
  auto ex = executor();
  auto gone = std::make_shared<Messages>(), stays = std::make_shared<Messages>();
  const SubscriptionId id = subscribe("t.unsub", "", ex, record_to(gone));
  subscribe("t.unsub", "", ex, record_to(stays));
  ASSERT_EQ(code(bb().publish("t.unsub", "before")), "ok");
  ASSERT_TRUE(gone->wait_size(1));
  ASSERT_TRUE(stays->wait_size(1));

  bb().unsubscribe(id);
  bb().unsubscribe(id);                      // idempotent
  bb().unsubscribe(SubscriptionId{987654});  // unknown id: no effect
  ASSERT_EQ(code(bb().publish("t.unsub", "after")), "ok");
  ASSERT_TRUE(stays->wait_size(2));
  drain_all();
  EXPECT_EQ(payloads(gone->items()), std::vector<std::string>{"before"});
  EXPECT_EQ(payloads(stays->items()), (std::vector<std::string>{"before", "after"}));
}

TEST_P(BackboneContractTest, QueueGroupDeliversEachMessageToExactlyOneMember) {
  auto ex1 = executor();
  auto ex2 = executor();
  std::vector<std::shared_ptr<Messages>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(std::make_shared<Messages>());
    subscribe("t.work", "workers", i == 0 ? ex1 : ex2, record_to(workers.back()));
  }
  auto audit = std::make_shared<Messages>(), plain = std::make_shared<Messages>();
  subscribe("t.work", "audit", ex1, record_to(audit));
  subscribe("t.work", "", ex2, record_to(plain));

  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(code(bb().publish("t.work", std::to_string(i))), "ok");

  auto total = [&] {
    std::size_t n = 0;
    for (const auto& w : workers) n += w->size();
    return n;
  };
  ASSERT_TRUE(plain->wait_size(kCount));
  ASSERT_TRUE(audit->wait_size(kCount));
  ASSERT_TRUE(wait_for([&] { return total() >= kCount; }));
  drain_all();
  EXPECT_EQ(total(), static_cast<std::size_t>(kCount));  // none twice
  std::set<std::string> seen;
  for (const auto& w : workers) {
    EXPECT_GT(w->size(), 0u) << "every member gets a share";
    for (const Message& m : w->items()) seen.insert(m.payload);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(audit->size(), static_cast<std::size_t>(kCount));
}

TEST_P(BackboneContractTest, QueueGroupKeepsDeliveringAfterMembersLeave) {
  auto ex = executor();
  std::vector<std::shared_ptr<Messages>> members;
  std::vector<SubscriptionId> ids;
  for (int i = 0; i < 3; ++i) {
    members.push_back(std::make_shared<Messages>());
    ids.push_back(subscribe("t.leave", "g", ex, record_to(members.back())));
  }
  auto total = [&] { return members[0]->size() + members[1]->size() + members[2]->size(); };
  for (int i = 0; i < 7; ++i) ASSERT_EQ(code(bb().publish("t.leave", "a")), "ok");
  ASSERT_TRUE(wait_for([&] { return total() >= 7; }));
  bb().unsubscribe(ids[0]);
  bb().unsubscribe(ids[2]);
  drain_all();
  const std::size_t before = members[1]->size();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(code(bb().publish("t.leave", "b")), "ok");
  ASSERT_TRUE(members[1]->wait_size(before + 10));
  drain_all();
  EXPECT_EQ(total(), 17u);
}

TEST_P(BackboneContractTest, DeliversTenThousandMessagesInPublishOrder) {
  constexpr int kCount = 10'000;
  auto ex1 = executor();
  auto ex2 = executor();
  auto both = std::make_shared<Messages>(), only_a = std::make_shared<Messages>();
  subscribe("t.order.a", "", ex1, record_to(both));
  subscribe("t.order.b", "", ex1, record_to(both));
  subscribe("t.order.a", "", ex2, record_to(only_a));

  auto publisher = [this](std::string subject) {
    for (int i = 0; i < kCount; ++i)
      EXPECT_EQ(code(bb().publish(subject, std::to_string(i))), "ok");
  };
  std::thread pa(publisher, "t.order.a");
  std::thread pb(publisher, "t.order.b");
  pa.join();
  pb.join();

  ASSERT_TRUE(both->wait_size(2 * kCount, 30s));
  ASSERT_TRUE(only_a->wait_size(kCount, 30s));
  std::vector<Message> from_a, from_b;
  for (Message& m : both->items()) (m.subject == "t.order.a" ? from_a : from_b).push_back(m);
  EXPECT_TRUE(payloads(from_a) == numbered(kCount));
  EXPECT_TRUE(payloads(from_b) == numbered(kCount));
  EXPECT_TRUE(payloads(only_a->items()) == numbered(kCount));
}

TEST_P(BackboneContractTest, RejectsInvalidSubjects) {
  auto ex = executor();
  auto replies = std::make_shared<Replies>();
  const std::vector<std::string> bad = {"",     ".",   "a.",    ".a",  "a..b", "a b",
                                        "a\tb", "a\n", "a.*.c", "a.>", "*",    ">"};
  for (const std::string& s : bad) {
    EXPECT_EQ(code(bb().publish(s, "x")), "invalid_argument") << '"' << s << '"';
    EXPECT_EQ(code(bb().publish("t.ok", "x", s.empty() ? "a b" : s)), "invalid_argument") << s;
    EXPECT_EQ(code(bb().subscribe(s, "", ex, [](Message) {})), "invalid_argument") << s;
    EXPECT_EQ(code(kv_put_sync(bb(), s, "v")), "invalid_argument") << s;
    bb().request(s, "x", 5s, ex, record_to(replies));
  }
  EXPECT_EQ(code(bb().subscribe("t.ok", "bad group", ex, [](Message) {})), "invalid_argument");
  ASSERT_TRUE(replies->wait_size(bad.size()));
  for (const auto& r : replies->items()) EXPECT_EQ(code(r), "invalid_argument");

  for (const std::string s : {"a", "sb.room.42", "a-b_c.D9", "_INBOX.x"}) {
    EXPECT_EQ(code(bb().publish(s, "x")), "ok") << s;
    EXPECT_EQ(code(bb().subscribe(s, "", ex, [](Message) {})), "ok") << s;
  }
}

// ---- request / reply

TEST_P(BackboneContractTest, RequestGetsTheReply) {
  auto service = executor();
  auto caller = executor();
  echo_service("t.echo", service);

  auto replies = std::make_shared<Replies>();
  bb().request("t.echo", "ping", 5s, caller, record_to(replies));
  ASSERT_TRUE(replies->wait_size(1));
  const auto reply = replies->items()[0];
  ASSERT_EQ(code(reply), "ok");
  EXPECT_EQ(reply->payload, "re:ping");
  EXPECT_FALSE(reply->subject.empty());

  // Many requests in flight at once each get their own answer.
  auto matched = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 50; ++i) {
    const std::string payload = "n" + std::to_string(i);
    bb().request("t.echo", payload, 5s, caller, [matched, payload](Result<Message> r) {
      if (r && r->payload == "re:" + payload) ++*matched;
    });
  }
  EXPECT_TRUE(wait_for([&] { return matched->load() == 50; }));
}

TEST_P(BackboneContractTest, RequestCarriesAReplySubject) {
  auto ex = executor();
  auto seen = std::make_shared<Messages>();
  subscribe("t.rq", "", ex, record_to(seen));
  auto replies = std::make_shared<Replies>();
  bb().request("t.rq", "hello", 5s, ex, record_to(replies));
  ASSERT_TRUE(seen->wait_size(1));
  const Message m = seen->items()[0];
  EXPECT_EQ(m.subject, "t.rq");
  EXPECT_EQ(m.payload, "hello");
  EXPECT_FALSE(m.reply_to.empty());
  EXPECT_NE(m.reply_to, "t.rq");
}

TEST_P(BackboneContractTest, RequestTimesOutExactlyOnce) {
  auto ex = executor();
  auto silent = std::make_shared<Messages>();
  subscribe("t.silent", "", ex, record_to(silent));
  auto replies = std::make_shared<Replies>();
  bb().request("t.silent", "x", 100ms, ex, record_to(replies));
  ASSERT_TRUE(replies->wait_size(1));
  EXPECT_EQ(code(replies->items()[0]), "timeout");

  // A reply after the timeout is ignored.
  ASSERT_TRUE(silent->wait_size(1));
  EXPECT_EQ(code(bb().publish(silent->items()[0].reply_to, "late")), "ok");
  std::this_thread::sleep_for(300ms);
  drain_all();
  EXPECT_EQ(replies->size(), 1u);
}

TEST_P(BackboneContractTest, RequestCompletesOnceWithTheFirstReply) {
  auto service = executor();
  auto caller = executor();
  Backbone* bb = &this->bb();
  subscribe("t.twice", "", service, [bb](Message m) {
    (void)bb->publish(m.reply_to, "first");
    (void)bb->publish(m.reply_to, "second");
  });
  auto replies = std::make_shared<Replies>();
  bb->request("t.twice", "x", 300ms, caller, record_to(replies));
  ASSERT_TRUE(replies->wait_size(1));
  std::this_thread::sleep_for(600ms);  // past the timeout: it must not fire as well
  drain_all();
  const auto got = replies->items();
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(code(got[0]), "ok");
  EXPECT_EQ(got[0]->payload, "first");
}

TEST_P(BackboneContractTest, RequestWithoutSubscriberIsUnavailable) {
  auto ex = executor();
  auto replies = std::make_shared<Replies>();
  bb().request("t.nobody", "x", 5s, ex, record_to(replies));
  ASSERT_TRUE(replies->wait_size(1));
  EXPECT_EQ(code(replies->items()[0]), "unavailable");

  const SubscriptionId id = subscribe("t.gone", "", ex, [](Message) {});
  bb().unsubscribe(id);
  bb().request("t.gone", "x", 5s, ex, record_to(replies));
  ASSERT_TRUE(replies->wait_size(2));
  EXPECT_EQ(code(replies->items()[1]), "unavailable");
}

// ---- key-value store

TEST_P(BackboneContractTest, KvGetPutCreate) {
  EXPECT_EQ(code(kv_get_sync(bb(), "kv.a")), "not_found");
  auto r1 = kv_put_sync(bb(), "kv.a", "one");
  ASSERT_EQ(code(r1), "ok");
  EXPECT_GT(*r1, 0u);
  auto got = kv_get_sync(bb(), "kv.a");
  ASSERT_EQ(code(got), "ok");
  EXPECT_EQ(got->key, "kv.a");
  EXPECT_EQ(got->value, "one");
  EXPECT_EQ(got->revision, *r1);

  EXPECT_EQ(code(kv_create_sync(bb(), "kv.a", "other")), "already_exists");
  EXPECT_EQ(value_of("kv.a"), "one");

  auto r2 = kv_create_sync(bb(), "kv.b", "two");
  ASSERT_EQ(code(r2), "ok");
  EXPECT_GT(*r2, *r1);
  auto r3 = kv_put_sync(bb(), "kv.a", "uno");
  ASSERT_EQ(code(r3), "ok");
  EXPECT_GT(*r3, *r2);
  EXPECT_EQ(value_of("kv.a"), "uno");
  EXPECT_EQ(kv_get_sync(bb(), "kv.a").value().revision, *r3);
  EXPECT_EQ(value_of("kv.b"), "two");
}

TEST_P(BackboneContractTest, KvUpdateRequiresTheCurrentRevision) {
  EXPECT_EQ(code(kv_update_sync(bb(), "kv.u", "v", 1)), "conflict");  // missing key
  EXPECT_EQ(code(kv_get_sync(bb(), "kv.u")), "not_found");
  const std::uint64_t r1 = kv_put_sync(bb(), "kv.u", "one").value();
  EXPECT_EQ(code(kv_update_sync(bb(), "kv.u", "bad", r1 + 1)), "conflict");
  EXPECT_EQ(code(kv_update_sync(bb(), "kv.u", "bad", 0)), "conflict");
  EXPECT_EQ(value_of("kv.u"), "one");

  auto r2 = kv_update_sync(bb(), "kv.u", "two", r1);
  ASSERT_EQ(code(r2), "ok");
  EXPECT_GT(*r2, r1);
  EXPECT_EQ(value_of("kv.u"), "two");
  EXPECT_EQ(code(kv_update_sync(bb(), "kv.u", "stale", r1)), "conflict");
  EXPECT_EQ(kv_get_sync(bb(), "kv.u").value().revision, *r2);
}

TEST_P(BackboneContractTest, KvDeleteChecksExpectedRevision) {
  EXPECT_EQ(code(kv_delete_sync(bb(), "kv.d")), "not_found");
  const std::uint64_t r1 = kv_put_sync(bb(), "kv.d", "one").value();
  EXPECT_EQ(code(kv_delete_sync(bb(), "kv.d", r1 + 1)), "conflict");
  EXPECT_EQ(value_of("kv.d"), "one");
  EXPECT_EQ(code(kv_delete_sync(bb(), "kv.d", r1)), "ok");
  EXPECT_EQ(code(kv_get_sync(bb(), "kv.d")), "not_found");
  EXPECT_EQ(code(kv_delete_sync(bb(), "kv.d", r1)), "not_found");

  // A deleted key can be created again.
  ASSERT_EQ(code(kv_create_sync(bb(), "kv.d", "again")), "ok");
  EXPECT_EQ(code(kv_delete_sync(bb(), "kv.d")), "ok");  // expected 0: unconditional
  EXPECT_EQ(code(kv_delete_sync(bb(), "kv.d")), "not_found");
  EXPECT_EQ(code(kv_list_sync(bb(), "kv.d")), "ok");
  EXPECT_TRUE(kv_list_sync(bb(), "kv.d")->empty());
}

TEST_P(BackboneContractTest, KvRevisionsStrictlyIncreaseAcrossTheStore) {
  auto ex = executor();
  auto events = std::make_shared<Events>();
  ASSERT_EQ(code(bb().kv_watch("rev.", false, ex, record_to(events))), "ok");
  std::vector<std::uint64_t> returned;
  returned.push_back(kv_put_sync(bb(), "rev.a", "1").value());
  returned.push_back(kv_put_sync(bb(), "rev.b", "1").value());
  returned.push_back(kv_create_sync(bb(), "rev.c", "1").value());
  returned.push_back(kv_update_sync(bb(), "rev.a", "2", returned[0]).value());
  ASSERT_EQ(code(kv_delete_sync(bb(), "rev.b")), "ok");
  returned.push_back(kv_put_sync(bb(), "rev.b", "2").value());
  for (std::size_t i = 1; i < returned.size(); ++i) EXPECT_GT(returned[i], returned[i - 1]) << i;

  ASSERT_TRUE(events->wait_size(6));
  const auto got = events->items();
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_GT(got[i].entry.revision, got[i - 1].entry.revision) << i;
  }
  EXPECT_EQ(got[4].op, KvOp::del);
  EXPECT_EQ(got[4].entry.key, "rev.b");
  EXPECT_EQ(got[4].entry.value, "");
  EXPECT_EQ(got[5].entry.revision, returned[4]);
}

TEST_P(BackboneContractTest, KvListReturnsPrefixMatchesSortedByKey) {
  for (const char* key : {"ls.b", "ls.a", "ls.c.x", "lt.a", "ls"}) {
    ASSERT_EQ(code(kv_put_sync(bb(), key, std::string("v-") + key)), "ok");
  }
  auto listed = kv_list_sync(bb(), "ls.");
  ASSERT_EQ(code(listed), "ok");
  std::vector<std::string> keys;
  for (const KvEntry& e : *listed) {
    keys.push_back(e.key);
    EXPECT_EQ(e.value, "v-" + e.key);
    EXPECT_EQ(e.revision, kv_get_sync(bb(), e.key).value().revision);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"ls.a", "ls.b", "ls.c.x"}));
  EXPECT_TRUE(kv_list_sync(bb(), "zz.")->empty());
  EXPECT_EQ(kv_list_sync(bb(), "")->size(), 5u);
}

TEST_P(BackboneContractTest, KvWatchWithoutInitialSeesOnlyLaterChanges) {
  auto ex = executor();
  auto events = std::make_shared<Events>();
  ASSERT_EQ(code(kv_put_sync(bb(), "w.old", "old")), "ok");
  ASSERT_EQ(code(bb().kv_watch("w.", false, ex, record_to(events))), "ok");
  const std::uint64_t r1 = kv_put_sync(bb(), "w.a", "1").value();
  const std::uint64_t r2 = kv_update_sync(bb(), "w.a", "2", r1).value();
  ASSERT_EQ(code(kv_put_sync(bb(), "x.other", "no")), "ok");
  ASSERT_EQ(code(kv_delete_sync(bb(), "w.a")), "ok");
  const std::uint64_t r4 = kv_put_sync(bb(), "w.end", "end").value();

  ASSERT_TRUE(events->wait_size(4));
  drain_all();
  const auto got = events->items();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(same_entry(got[0], KvOp::put, {"w.a", "1", r1}));
  EXPECT_TRUE(same_entry(got[1], KvOp::put, {"w.a", "2", r2}));
  EXPECT_EQ(got[2].op, KvOp::del);
  EXPECT_EQ(got[2].entry.key, "w.a");
  EXPECT_EQ(got[2].entry.value, "");
  EXPECT_GT(got[2].entry.revision, r2);
  EXPECT_LT(got[2].entry.revision, r4);
  EXPECT_TRUE(same_entry(got[3], KvOp::put, {"w.end", "end", r4}));
}

TEST_P(BackboneContractTest, KvWatchWithInitialDeliversSnapshotThenChanges) {
  auto ex = executor();
  const std::uint64_t rb = kv_put_sync(bb(), "wi.b", "b").value();
  const std::uint64_t ra = kv_put_sync(bb(), "wi.a", "a").value();
  ASSERT_EQ(code(kv_put_sync(bb(), "wj.c", "c")), "ok");
  auto events = std::make_shared<Events>();
  auto id = bb().kv_watch("wi.", true, ex, record_to(events));
  ASSERT_EQ(code(id), "ok");
  const std::uint64_t rc = kv_put_sync(bb(), "wi.c", "c").value();
  ASSERT_TRUE(events->wait_size(3));
  drain_all();
  auto got = events->items();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(same_entry(got[0], KvOp::put, {"wi.a", "a", ra}));
  EXPECT_TRUE(same_entry(got[1], KvOp::put, {"wi.b", "b", rb}));
  EXPECT_TRUE(same_entry(got[2], KvOp::put, {"wi.c", "c", rc}));

  // After unsubscribe nothing more arrives (a second watcher tells us the change went out).
  bb().unsubscribe(*id);
  bb().unsubscribe(*id);
  auto witness = std::make_shared<Events>();
  ASSERT_EQ(code(bb().kv_watch("wi.", false, ex, record_to(witness))), "ok");
  ASSERT_EQ(code(kv_put_sync(bb(), "wi.d", "d")), "ok");
  ASSERT_TRUE(witness->wait_size(1));
  drain_all();
  EXPECT_EQ(events->size(), 3u);
}

TEST_P(BackboneContractTest, KvWatchIsGapFreeUnderConcurrentWriters) {
  constexpr int kWrites = 2000;
  auto ex = executor();
  auto events = std::make_shared<Events>();
  std::vector<KvEntry> writes[2];
  std::latch start(2);
  auto writer = [&](int t) {
    start.arrive_and_wait();
    for (int i = 0; i < kWrites; ++i) {
      // Thread 0 starts the watch half-way while thread 1 keeps writing.
      if (t == 0 && i == kWrites / 4) {
        EXPECT_EQ(code(bb().kv_watch("gap.", true, ex, record_to(events))), "ok");
      }
      const std::string key = "gap." + std::to_string(t) + "." + std::to_string(i % 10);
      const std::string value = std::to_string(i);
      auto rev = kv_put_sync(bb(), key, value);
      ASSERT_EQ(code(rev), "ok");
      writes[t].push_back({key, value, *rev});
    }
  };
  std::thread t0(writer, 0), t1(writer, 1);
  t0.join();
  t1.join();

  std::vector<KvEntry> all = writes[0];
  all.insert(all.end(), writes[1].begin(), writes[1].end());
  ASSERT_EQ(all.size(), 2u * kWrites);
  std::uint64_t last = 0;
  for (const KvEntry& e : all) last = std::max(last, e.revision);
  ASSERT_TRUE(wait_for(
      [&] {
        auto got = events->items();
        return !got.empty() && got.back().entry.revision == last;
      },
      30s));
  drain_all();
  const auto got = events->items();
  // At least thread 0's writes after the watch began follow the snapshot.
  EXPECT_GE(got.size(), static_cast<std::size_t>(kWrites - kWrites / 4));
  EXPECT_TRUE(is_snapshot_then_changes(got, all));
}

TEST_P(BackboneContractTest, KvTtlExpiryRemovesKeyAndNotifiesWatchers) {
  if (!GetParam().per_key_ttl) return expect_ttl_refused();
  auto ex = executor();
  auto events = std::make_shared<Events>();
  ASSERT_EQ(code(bb().kv_watch("ttl.", false, ex, record_to(events))), "ok");
  const std::uint64_t ra = kv_put_sync(bb(), "ttl.a", "short", 150ms).value();
  const std::uint64_t rb = kv_put_sync(bb(), "ttl.b", "keep").value();

  ASSERT_TRUE(events->wait_size(3));
  const auto got = events->items();
  EXPECT_TRUE(same_entry(got[0], KvOp::put, {"ttl.a", "short", ra}));
  EXPECT_TRUE(same_entry(got[1], KvOp::put, {"ttl.b", "keep", rb}));
  EXPECT_EQ(got[2].op, KvOp::expired);
  EXPECT_EQ(got[2].entry.key, "ttl.a");
  EXPECT_EQ(got[2].entry.value, "");
  EXPECT_GT(got[2].entry.revision, rb);

  EXPECT_EQ(code(kv_get_sync(bb(), "ttl.a")), "not_found");
  ASSERT_EQ(kv_list_sync(bb(), "ttl.")->size(), 1u);
  EXPECT_EQ(kv_list_sync(bb(), "ttl.")->front().key, "ttl.b");
  EXPECT_EQ(code(kv_create_sync(bb(), "ttl.a", "again")), "ok");
}

TEST_P(BackboneContractTest, KvRefreshKeepsKeyAlivePastItsTtl) {
  if (!GetParam().per_key_ttl) return expect_ttl_refused();
  const std::uint64_t rev = kv_put_sync(bb(), "ttl.live", "v", 300ms).value();
  const auto until = std::chrono::steady_clock::now() + 900ms;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(code(kv_refresh_sync(bb(), "ttl.live", 300ms)), "ok");
    std::this_thread::sleep_for(50ms);
  }
  auto got = kv_get_sync(bb(), "ttl.live");
  ASSERT_EQ(code(got), "ok");
  EXPECT_EQ(got->value, "v");
  EXPECT_EQ(got->revision, rev);  // refresh changes neither value nor revision
  EXPECT_EQ(code(kv_refresh_sync(bb(), "ttl.missing", 300ms)), "not_found");

  // Without refreshes it expires.
  EXPECT_TRUE(wait_for([&] { return code(kv_get_sync(bb(), "ttl.live")) == "not_found"; }));
}

TEST_P(BackboneContractTest, KvWriteWithoutTtlClearsTheExpiry) {
  if (!GetParam().per_key_ttl) return expect_ttl_refused();
  ASSERT_EQ(code(kv_put_sync(bb(), "ttl.p", "v", 100ms)), "ok");
  ASSERT_EQ(code(kv_put_sync(bb(), "ttl.p", "forever")), "ok");
  const std::uint64_t rev = kv_put_sync(bb(), "ttl.u", "v", 100ms).value();
  ASSERT_EQ(code(kv_update_sync(bb(), "ttl.u", "forever", rev)), "ok");
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(code(kv_get_sync(bb(), "ttl.p")), "ok");
  EXPECT_EQ(code(kv_get_sync(bb(), "ttl.u")), "ok");
}

TEST_P(BackboneContractTest, KvConcurrentCreateAndUpdateHaveExactlyOneWinner) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 100;
  std::barrier sync(kThreads);
  std::vector<std::vector<std::string>> create_codes(kRounds), update_codes(kRounds);
  std::mutex mutex;
  auto racer = [&](int t) {
    for (int round = 0; round < kRounds; ++round) {
      const std::string key = "race.k" + std::to_string(round);
      sync.arrive_and_wait();
      auto created = kv_create_sync(bb(), key, "c" + std::to_string(t));
      sync.arrive_and_wait();
      const std::uint64_t rev = kv_get_sync(bb(), key).value().revision;
      sync.arrive_and_wait();
      auto updated = kv_update_sync(bb(), key, "u" + std::to_string(t), rev);
      std::lock_guard lock(mutex);
      create_codes[round].emplace_back(code(created));
      update_codes[round].emplace_back(code(updated));
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(racer, t);
  for (auto& th : threads) th.join();

  for (int round = 0; round < kRounds; ++round) {
    auto& c = create_codes[round];
    auto& u = update_codes[round];
    EXPECT_EQ(std::count(c.begin(), c.end(), "ok"), 1) << round;
    EXPECT_EQ(std::count(c.begin(), c.end(), "already_exists"), kThreads - 1) << round;
    EXPECT_EQ(std::count(u.begin(), u.end(), "ok"), 1) << round;
    EXPECT_EQ(std::count(u.begin(), u.end(), "conflict"), kThreads - 1) << round;
  }
}

// ---- key-value store, asynchronous calls on the test's own executor

// Starts one asynchronous KV call with `start(done)` and waits for its completion.
template <class R, class Start>
R await_kv(Start start) {
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  start([promise](R r) { promise->set_value(std::move(r)); });
  if (future.wait_for(test::kWaitTimeout) != std::future_status::ready) {
    ADD_FAILURE() << "no completion";
    return R(fail(Errc::timeout));
  }
  return future.get();
}

TEST_P(BackboneContractTest, KvAsyncCompletesOnTheExecutorNeverInline) {
  auto ex = executor();
  auto seen = std::make_shared<Recorder<std::string>>();
  auto returned = std::make_shared<std::atomic<bool>>(false);
  QueueExecutor* thread = ex.get();
  auto note = [seen, returned, thread](std::string what) {
    const bool ok = returned->load() && thread->in_executor_thread();
    seen->add(what + (ok ? ":posted" : ":inline"));
  };
  Backbone* bb = &this->bb();
  ASSERT_EQ(code(kv_put_sync(*bb, "async.k", "v")), "ok");
  // Called from the executor's own thread: an inline completion would run before `returned`.
  ex->post([=] {
    bb->kv_get("async.k", ex, [note](Result<KvEntry> r) { note("get:" + std::string(code(r))); });
    bb->kv_put("async.p", "v", {}, ex,
               [note](Result<std::uint64_t> r) { note("put:" + std::string(code(r))); });
    bb->kv_create("async.k", "v", {}, ex,
                  [note](Result<std::uint64_t> r) { note("create:" + std::string(code(r))); });
    bb->kv_update("async.k", "v", 0, {}, ex,
                  [note](Result<std::uint64_t> r) { note("update:" + std::string(code(r))); });
    bb->kv_delete("async.missing", 0, ex,
                  [note](Status r) { note("delete:" + std::string(code(r))); });
    bb->kv_refresh("async.k", {}, ex,
                   [note](Status r) { note("refresh:" + std::string(code(r))); });
    bb->kv_list("async.k", ex, [note](Result<std::vector<KvEntry>> r) {
      note("list:" + std::string(code(r)) + (r ? std::to_string(r->size()) : ""));
    });
    bb->kv_get("bad key", ex, [note](Result<KvEntry> r) { note("bad:" + std::string(code(r))); });
    returned->store(true);
  });
  ASSERT_TRUE(seen->wait_size(8));
  auto got = seen->items();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{
                     "bad:invalid_argument:posted", "create:already_exists:posted",
                     "delete:not_found:posted", "get:ok:posted", "list:ok1:posted",
                     "put:ok:posted", "refresh:ok:posted", "update:conflict:posted"}));
}

TEST_P(BackboneContractTest, KvAsyncOnOneExecutorAgreesWithTheBlockingHelpers) {
  auto ex = executor();
  using Rev = Result<std::uint64_t>;
  auto get = [&](const std::string& key) {
    return await_kv<Result<KvEntry>>([&](auto done) { bb().kv_get(key, ex, done); });
  };
  auto put = [&](const std::string& key, const std::string& value) {
    return await_kv<Rev>([&](auto done) { bb().kv_put(key, value, {}, ex, done); });
  };
  auto create = [&](const std::string& key, const std::string& value) {
    return await_kv<Rev>([&](auto done) { bb().kv_create(key, value, {}, ex, done); });
  };
  auto update = [&](const std::string& key, const std::string& value, std::uint64_t expected) {
    return await_kv<Rev>([&](auto done) { bb().kv_update(key, value, expected, {}, ex, done); });
  };
  auto remove = [&](const std::string& key, std::uint64_t expected) {
    return await_kv<Status>([&](auto done) { bb().kv_delete(key, expected, ex, done); });
  };
  auto refresh = [&](const std::string& key) {
    return await_kv<Status>([&](auto done) { bb().kv_refresh(key, {}, ex, done); });
  };
  auto list = [&](const std::string& prefix) {
    return await_kv<Result<std::vector<KvEntry>>>(
        [&](auto done) { bb().kv_list(prefix, ex, done); });
  };

  EXPECT_EQ(code(get("as.a")), "not_found");
  const Rev r1 = put("as.a", "one");
  ASSERT_EQ(code(r1), "ok");
  EXPECT_EQ(kv_get_sync(bb(), "as.a").value().revision, *r1);  // seen from another executor
  auto got = get("as.a");
  ASSERT_EQ(code(got), "ok");
  EXPECT_TRUE(got->key == "as.a" && got->value == "one" && got->revision == *r1);

  EXPECT_EQ(code(create("as.a", "other")), "already_exists");
  const Rev r2 = create("as.b", "two");
  ASSERT_EQ(code(r2), "ok");
  EXPECT_GT(*r2, *r1);
  EXPECT_EQ(code(update("as.a", "x", *r1 + 100)), "conflict");
  EXPECT_EQ(code(update("as.missing", "x", *r1)), "conflict");
  const Rev r3 = update("as.a", "uno", *r1);
  ASSERT_EQ(code(r3), "ok");
  EXPECT_GT(*r3, *r2);
  EXPECT_EQ(code(update("as.a", "stale", *r1)), "conflict");
  EXPECT_EQ(value_of("as.a"), "uno");

  EXPECT_EQ(code(remove("as.a", *r1)), "conflict");
  EXPECT_EQ(code(remove("as.a", *r3)), "ok");
  EXPECT_EQ(code(remove("as.a", 0)), "not_found");
  EXPECT_EQ(code(kv_get_sync(bb(), "as.a")), "not_found");
  EXPECT_EQ(code(refresh("as.b")), "ok");
  EXPECT_EQ(code(refresh("as.a")), "not_found");

  ASSERT_EQ(code(kv_put_sync(bb(), "as.c", "three")), "ok");  // written from another executor
  auto listed = list("as.");
  ASSERT_EQ(code(listed), "ok");
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "as.b");
  EXPECT_EQ((*listed)[0].value, "two");
  EXPECT_EQ((*listed)[0].revision, *r2);
  EXPECT_EQ((*listed)[1].key, "as.c");
  EXPECT_EQ(code(put("bad key", "v")), "invalid_argument");
  EXPECT_EQ(code(get("as.*")), "invalid_argument");
}

}  // namespace
}  // namespace sb::backbone
