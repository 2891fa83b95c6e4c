#pragma once
// NatsBackbone: the class behind make_nats_backbone(); nats_backbone.hpp has the design and
// docs/decisions/0001-nats-client-integration.md the reasons. Split in two files: nats_bus.cpp
// (connection, publish/subscribe, request/reply, lifecycle) and nats_kv.cpp (key-value, watches).
//
// Ownership and threads. libnats calls back on its own threads (the global delivery pool and the
// connection-event thread) with a closure pointer; every such closure is a heap object holding
// shared_ptrs to the state it needs (never `this`), freed by libnats's on-complete / closed
// callback, so a late callback never touches a destroyed backbone. `this` is captured only by
// tasks run on the backbone's own worker threads, which the destructor joins first.
// Lock order: NatsBackbone::mutex_ before WatchState::mutex before Shared::mutex.
#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backbone/nats_backbone.hpp"

namespace sb::backbone::nats_detail {

using Clock = std::chrono::steady_clock;

struct ConnDeleter {
  void operator()(natsConnection* nc) const {
    natsConnection_Close(nc);
    natsConnection_Destroy(nc);
  }
};
struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
struct JsDeleter {
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
};
struct KvDeleter {
  void operator()(kvStore* kv) const { kvStore_Destroy(kv); }
};
struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;

/// Ends a watch's JetStream subscription: natsSubscription_Destroy alone, never
/// natsSubscription_Unsubscribe first. Unsubscribe on a JetStream subscription also deletes its
/// consumer (jsSub_deleteConsumer), which in libnats 3.4.1 reads the consumer's name without the
/// subscription's lock while libnats's own ordered-consumer reset (started by every reconnect)
/// frees and replaces it: a heap-use-after-free that ASan caught in ~1 contract run in 3 after
/// the restart test. Destroy sends only the UNSUB (it clears the delete-consumer flag, no round
/// trip, never blocks); the server drops the ephemeral ordered consumer once it has no interest
/// (its inactive threshold). Any thread; nullptr is ignored.
inline void drop_watch_subscription(natsSubscription* sub) {
  if (sub != nullptr) natsSubscription_Destroy(sub);
}

/// State shared with libnats callbacks: pending requests and pipelined KV calls (by inbox token),
/// the worker queue, shutdown.
struct Shared {
  /// Completes a request: with the reply (Errc::ok), or nullptr and Errc::timeout /
  /// Errc::unavailable (no responders). Runs on a libnats thread or the timer thread, exactly
  /// once; it posts to its own executor and touches nothing but shared state.
  using Completion = std::function<void(natsMsg* reply, Errc error)>;
  struct Pending {
    Completion complete;
    Clock::time_point deadline;
  };
  std::mutex mutex;
  std::condition_variable wake;        // workers
  std::condition_variable timer_wake;  // the timer: shutdown, or a new earliest deadline
  bool stopping = false;
  std::unordered_map<std::uint64_t, Pending> requests;  // by inbox token
  std::set<std::pair<Clock::time_point, std::uint64_t>> deadlines;
  std::deque<Task> work;     // run by the worker threads
  Task on_reconnected;       // queued on every reconnect (re-creates the watches)
  std::string inbox_prefix;  // "_INBOX.<nuid>."
  std::atomic<std::uint64_t> reconnects{0};

  /// Removes and returns the pending request `token`, if it is still pending. Any thread.
  std::optional<Pending> take(std::uint64_t token);
  /// Queues `task` for the workers; false (task not queued) when stopping. Any thread.
  bool enqueue(Task task);

  /// Keeps the closure of a subscription that libnats created and then destroyed inside a failed
  /// js_Subscribe (the consumer's creation failed, e.g. timed out while JetStream recovers after
  /// a restart): a delivery thread may still be running its callback (libnats checks `closed`,
  /// then calls the callback unlocked), so it is freed a minute later, not at once. Any thread.
  void park(std::shared_ptr<void> closure);
  std::deque<std::pair<Clock::time_point, std::shared_ptr<void>>> parked;  // under `mutex`
};

/// One subscribe() call; shared by the map of subscriptions and the libnats closure.
struct SubState {
  ExecutorPtr executor;
  MessageHandler handler;
  std::atomic<bool> open{true};
};

/// One kv_watch() call. The consumer may be re-created (reconnect): each creation has a new
/// generation and messages from an older one are dropped.
struct WatchState : std::enable_shared_from_this<WatchState> {
  std::string prefix;      // key prefix the caller asked for
  std::string filter;      // subject filter given to JetStream ("$KV.b.a.>")
  std::size_t key_offset;  // length of "$KV.<bucket>."
  ExecutorPtr executor;
  KvEventHandler handler;
  std::atomic<bool> open{true};

  std::mutex mutex;  // guards the rest
  std::uint64_t generation = 0;
  natsSubscription* sub = nullptr;
  bool initial_done = false;
  std::map<std::string, KvEvent> initial;  // gathered until the consumer has nothing pending
  std::uint64_t last_revision = 0;         // last delivered (or snapshot) revision

  /// Handles one message of generation `gen`. A libnats thread; takes `mutex`.
  void on_message(std::uint64_t gen, KvEvent event, std::uint64_t pending);
  /// Ends the initial phase when the consumer reported nothing to deliver. Takes `mutex`.
  void on_empty_start(std::uint64_t gen, std::uint64_t delivered_stream);

 private:
  void post_locked(KvEvent event);
};

}  // namespace sb::backbone::nats_detail

namespace sb::backbone {

class NatsBackbone final : public Backbone {
 public:
  /// Connects and opens the bucket; throws std::runtime_error if it cannot.
  explicit NatsBackbone(NatsOptions options);
  ~NatsBackbone() override;
  NatsBackbone(const NatsBackbone&) = delete;
  NatsBackbone& operator=(const NatsBackbone&) = delete;

  Status publish(std::string subject, std::string payload, std::string reply_to) override;
  Result<SubscriptionId> subscribe(std::string subject, std::string queue_group,
                                   ExecutorPtr executor, MessageHandler handler) override;
  void unsubscribe(SubscriptionId id) override;
  void request(std::string subject, std::string payload, std::chrono::milliseconds timeout,
               ExecutorPtr executor, ReplyHandler on_reply) override;

  void kv_get(std::string key, ExecutorPtr executor, KvEntryHandler done) override;
  void kv_put(std::string key, std::string value, std::chrono::milliseconds ttl,
              ExecutorPtr executor, KvRevisionHandler done) override;
  void kv_create(std::string key, std::string value, std::chrono::milliseconds ttl,
                 ExecutorPtr executor, KvRevisionHandler done) override;
  void kv_update(std::string key, std::string value, std::uint64_t expected,
                 std::chrono::milliseconds ttl, ExecutorPtr executor,
                 KvRevisionHandler done) override;
  void kv_delete(std::string key, std::uint64_t expected, ExecutorPtr executor,
                 KvStatusHandler done) override;
  void kv_refresh(std::string key, std::chrono::milliseconds ttl, ExecutorPtr executor,
                  KvStatusHandler done) override;
  void kv_list(std::string prefix, ExecutorPtr executor, KvListHandler done) override;

  Result<SubscriptionId> kv_watch(std::string prefix, bool initial, ExecutorPtr executor,
                                  KvEventHandler handler) override;

 private:
  using Shared = nats_detail::Shared;
  using SubState = nats_detail::SubState;
  using WatchState = nats_detail::WatchState;
  struct Sub {
    natsSubscription* sub = nullptr;
    std::shared_ptr<SubState> state;
  };

  bool connected() const;
  using Headers = std::vector<std::pair<const char*, std::string>>;
  /// Publishes `data` (with `headers`) on `subject` with a reply subject of the shared inbox;
  /// `complete` gets the reply, Errc::timeout after `timeout` or Errc::unavailable (no
  /// responders; not connected: then at once, on the calling thread). Any thread.
  void send_request(const std::string& subject, const std::string& data, const Headers& headers,
                    std::chrono::milliseconds timeout, Shared::Completion complete);
  /// Queues `op` for a worker and posts its result to `executor`; Errc::unavailable at once
  /// (posted) when not connected.
  template <class R, class Handler, class Op>
  void run_async(const ExecutorPtr& executor, Handler done, Op op);
  void worker_loop();
  void timer_loop();

  // nats_kv.cpp: blocking KV operations, run on the workers only (the key already checked).
  std::string kv_subject(const std::string& key) const;
  Result<std::uint64_t> js_write(const std::string& key, const std::string& value,
                                 const char* operation, std::optional<std::uint64_t> expected);
  Result<KvEntry> get_now(const std::string& key);
  Result<std::uint64_t> create_now(const std::string& key, const std::string& value);
  Status delete_now(const std::string& key, std::uint64_t expected);
  Result<std::vector<KvEntry>> list_now(const std::string& prefix);
  Status start_watch(const std::shared_ptr<WatchState>& watch);
  void rewatch_all();
  /// A pipelined write with an optional expected-last-subject-sequence; `on_conflict`, if set,
  /// takes over on a conflict (a libnats thread).
  void write_async(std::string key, std::string value, const char* expected, ExecutorPtr executor,
                   KvRevisionHandler done,
                   std::function<void(ExecutorPtr, KvRevisionHandler)> on_conflict);

  const NatsOptions options_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::unique_ptr<natsOptions, nats_detail::OptionsDeleter> nats_options_;
  std::unique_ptr<natsConnection, nats_detail::ConnDeleter> conn_;
  std::unique_ptr<jsCtx, nats_detail::JsDeleter> js_;
  std::unique_ptr<kvStore, nats_detail::KvDeleter> kv_;
  std::string stream_;             // "KV_<bucket>"
  std::string kv_prefix_;          // "$KV.<bucket>."
  std::string direct_get_prefix_;  // "$JS.API.DIRECT.GET.KV_<bucket>."
  natsSubscription* inbox_sub_ = nullptr;

  std::mutex mutex_;  // guards the maps and next_id_
  std::uint64_t next_id_ = 1;
  std::atomic<std::uint64_t> next_token_{1};
  std::unordered_map<std::uint64_t, Sub> subs_;
  std::unordered_map<std::uint64_t, std::shared_ptr<WatchState>> watches_;

  std::vector<std::thread> workers_;
  std::thread timer_;
};

}  // namespace sb::backbone
