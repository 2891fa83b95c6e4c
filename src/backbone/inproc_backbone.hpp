#pragma once
// InprocBackbone: the Backbone between the shards (threads) of one process; backbone.hpp has the
// contract, tests/contract/backbone_contract_test.cpp checks it.
//
// How it works. One mutex guards all state: the subject table, the pending requests, the
// key-value map with its expiry index, and the watchers. Every subscription and watch owns a
// Mailbox (a FIFO of events and the handler). A publish or KV write appends to the recipients'
// mailboxes under the mutex, so every mailbox holds its events in the order the mutex serialised
// the calls (publish order, revision order). After unlocking, the call posts one "handle the
// oldest event" task per appended event to the recipient's executor; since every task pops the
// front, the order in which threads post does not matter, only that the executor runs its tasks
// one at a time (a shard's io_context does).
// Queue groups pick members round robin, skipping members with max_pending_per_member events
// pushed but not yet handled. A request goes to ONE subscriber: a member of the first queue group
// (by group name) with room, else the oldest plain subscriber; its reply subject is "_INBOX.<n>"
// and the first publish there completes it. The sweeper thread wakes every sweep_interval to
// expire keys and time out requests (so a timeout fires up to one interval late); every call also
// expires due keys first, so an expired key is never visible between sweeps.
// Key-value calls are asynchronous only (backbone.hpp), but nothing here waits on a network: each
// does its work at once on the calling thread under the mutex (private *_now helpers), posts the
// watch events it caused, then posts its completion to the caller's executor.
// Threading: public methods from any thread; no handler and no Executor::post runs under the
// mutex. unsubscribe() also stops events already queued for that subscription from reaching its
// handler. Destruction joins the sweeper and drops outstanding requests without calling them;
// tasks already posted hold their mailbox by shared_ptr and stay safe to run.
// Not here: wildcards, persistence, per-publisher fairness.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
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

#include "backbone/backbone.hpp"

namespace sb::backbone {

namespace detail {

/// Tasks collected under the backbone mutex and posted after unlocking.
using PostList = std::vector<std::pair<ExecutorPtr, Task>>;

/// Events for one subscription or watch, in the order the backbone decided.
template <class Event>
class Mailbox {
 public:
  explicit Mailbox(std::function<void(Event)> handler) : handler_(std::move(handler)) {}

  /// Appends an event; the caller then posts one run_one(). Any thread.
  void push(Event event) {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(event));
    pending_.fetch_add(1);
  }

  /// Pops the oldest event and hands it to the handler unless closed. The executor's thread.
  void run_one() {
    Event event;
    {
      std::lock_guard lock(mutex_);
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    if (open_.load()) handler_(std::move(event));
    pending_.fetch_sub(1);
  }

  /// Stops handing events to the handler (unsubscribe). Any thread.
  void close() noexcept { open_.store(false); }

  /// Events pushed whose run_one() has not finished yet. Any thread.
  std::size_t pending() const noexcept { return pending_.load(); }

 private:
  const std::function<void(Event)> handler_;
  std::mutex mutex_;
  std::deque<Event> queue_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> open_{true};
};

}  // namespace detail

class InprocBackbone final : public Backbone {
 public:
  explicit InprocBackbone(InprocOptions options);
  ~InprocBackbone() override;
  InprocBackbone(const InprocBackbone&) = delete;
  InprocBackbone& operator=(const InprocBackbone&) = delete;

  Status publish(std::string subject, std::string payload, std::string reply_to) override;
  Result<SubscriptionId> subscribe(std::string subject, std::string queue_group,
                                   ExecutorPtr executor, MessageHandler handler) override;
  void unsubscribe(SubscriptionId id) override;
  void request(std::string subject, std::string payload, std::chrono::milliseconds timeout,
               ExecutorPtr executor, ReplyHandler on_reply) override;

  // Each runs the operation at once on the calling thread (the *_now helpers below) and posts
  // its result to `executor`.
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
  using Clock = std::chrono::steady_clock;
  using Posts = detail::PostList;
  using MessageBox = detail::Mailbox<Message>;
  using EventBox = detail::Mailbox<KvEvent>;

  struct Subscriber {
    ExecutorPtr executor;
    std::shared_ptr<MessageBox> box;
  };
  struct Group {
    std::vector<Subscriber> members;
    std::size_t next = 0;  // round-robin cursor
  };
  struct SubjectSubs {
    std::vector<Subscriber> plain;
    std::map<std::string, Group> groups;
  };
  struct SubRef {  // where a subscription id lives in subjects_
    std::string subject;
    std::string group;
    std::shared_ptr<MessageBox> box;
  };
  struct PendingRequest {
    ExecutorPtr executor;
    ReplyHandler on_reply;
    Clock::time_point deadline;
  };
  struct Stored {
    std::string value;
    std::uint64_t revision = 0;
    std::optional<Clock::time_point> expires;
  };
  struct Watcher {
    std::string prefix;
    ExecutorPtr executor;
    std::shared_ptr<EventBox> box;
  };

  // The key-value operations behind the asynchronous forms: run on the calling thread, results
  // as backbone.hpp documents them per operation. Take mutex_ (through locked()).
  Result<KvEntry> get_now(const std::string& key);
  Result<std::uint64_t> put_now(const std::string& key, std::string value,
                                std::chrono::milliseconds ttl);
  Result<std::uint64_t> create_now(const std::string& key, std::string value,
                                   std::chrono::milliseconds ttl);
  Result<std::uint64_t> update_now(const std::string& key, std::string value,
                                   std::uint64_t expected, std::chrono::milliseconds ttl);
  Status delete_now(const std::string& key, std::uint64_t expected);
  Status refresh_now(const std::string& key, std::chrono::milliseconds ttl);
  Result<std::vector<KvEntry>> list_now(const std::string& prefix);

  // Runs body(posts) under mutex_ after expiring due keys, then posts what it collected.
  template <class Body>
  auto locked(Body&& body);
  void sweep_loop();

  // The *_locked helpers require mutex_.
  const Subscriber* pick_member_locked(Group& group);
  const Subscriber* pick_responder_locked(const std::string& subject);
  bool deliver_locked(const Message& message, Posts& posts);
  void complete_request_locked(const Message& message, Posts& posts);
  void time_out_requests_locked(Clock::time_point now, Posts& posts);
  void expire_due_locked(Clock::time_point now, Posts& posts);
  std::uint64_t write_locked(const std::string& key, std::string value,
                             std::chrono::milliseconds ttl, Posts& posts);
  void set_expiry_locked(const std::string& key, Stored& stored, std::chrono::milliseconds ttl);
  void remove_locked(std::map<std::string, Stored>::iterator it, KvOp op, Posts& posts);
  void notify_locked(KvOp op, const KvEntry& entry, Posts& posts);

  const InprocOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;  // wakes the sweeper for shutdown
  bool stopping_ = false;
  std::uint64_t next_id_ = 1;  // subscription, watch and inbox numbers
  std::unordered_map<std::string, SubjectSubs> subjects_;
  std::unordered_map<std::uint64_t, SubRef> sub_index_;
  std::unordered_map<std::string, PendingRequest> requests_;  // by inbox subject
  std::map<std::string, Stored> kv_;
  std::set<std::pair<Clock::time_point, std::string>> expiries_;
  std::uint64_t revision_ = 0;
  std::map<std::uint64_t, Watcher> watchers_;
  std::thread sweeper_;  // last: starts once everything above exists
};

}  // namespace sb::backbone
