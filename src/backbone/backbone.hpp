#pragma once
// Backbone: the one way work and shared state cross shards and nodes.
//
// Two halves behind one interface (docs/architecture.md):
//  * a bus: publish/subscribe on dot-separated subjects ("sb.room.42"), queue groups (each message
//    goes to one member of the group), and request/reply with a timeout;
//  * a key-value store with revisions: get, put, create-if-absent, update-if-revision, delete,
//    watch a prefix, and (inproc only) keys with a time-to-live that expire unless refreshed.
// Implementations: `inproc` (this process; the single-node default and many-nodes-in-one-process
// tests) and `nats` (nats_backbone.hpp). Both pass tests/contract/backbone_contract_suite.hpp.
// Per-key TTL is optional: an implementation without it (nats: 2.9.10 KV expires by bucket age
// only and does not tell watchers) returns Errc::invalid_argument for any non-zero ttl, so
// liveness is built on heartbeats over core subjects, never on expiring keys.
//
// Threading: every method may be called from any thread. Callbacks never run inline inside the
// call that registered or triggered them: they are posted to the Executor given at subscribe /
// request / watch time, so a shard receives everything on its own thread. Messages from one
// publisher on one subject arrive at one subscriber in publish order (given an executor that runs
// its tasks one at a time in post order, as a shard does).
// Subjects: non-empty tokens separated by '.', no whitespace or control characters; no wildcards
// in this version (exact match only), so the tokens "*" and ">" are rejected. KV keys follow the
// same rules. A bad subject or key is Errc::invalid_argument.
// The backbone is coordination, not durability: nothing here survives a restart.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/executor.hpp"

namespace sb::backbone {

struct Message {
  std::string subject;
  std::string reply_to;  // empty unless the sender expects a reply (request())
  std::string payload;
};

using MessageHandler = std::function<void(Message)>;
using ReplyHandler = std::function<void(Result<Message>)>;

/// Handle of a subscription or watch; destroying it does NOT unsubscribe (call unsubscribe()).
struct SubscriptionId {
  std::uint64_t value = 0;
  friend bool operator==(SubscriptionId, SubscriptionId) = default;
};

struct KvEntry {
  std::string key;
  std::string value;
  std::uint64_t revision = 0;  // strictly increasing across the whole store; 0 = never written
};

enum class KvOp { put, del, expired };

struct KvEvent {
  KvOp op = KvOp::put;
  KvEntry entry;  // for del/expired: value empty, revision = the deletion's revision
};

using KvEventHandler = std::function<void(KvEvent)>;
using KvEntryHandler = std::function<void(Result<KvEntry>)>;
using KvRevisionHandler = std::function<void(Result<std::uint64_t>)>;
using KvStatusHandler = std::function<void(Status)>;
using KvListHandler = std::function<void(Result<std::vector<KvEntry>>)>;

class Backbone {
 public:
  virtual ~Backbone() = default;

  // ---- bus

  /// Publishes `payload` on `subject` to every plain subscriber and to one member of each queue
  /// group. Never blocks on slow subscribers beyond a bounded queue: returns Errc::unavailable when
  /// a queue-group member's pending queue is full (back pressure) and the message is dropped for
  /// that group; returns success when nobody subscribes. A non-empty `reply_to` must be a valid
  /// subject.
  virtual Status publish(std::string subject, std::string payload, std::string reply_to = {}) = 0;

  /// Subscribes to `subject`; `handler` runs on `executor`. Empty `queue_group` = every message;
  /// otherwise the subscription joins that group. Returns Errc::invalid_argument on a bad subject
  /// or a group name with whitespace.
  virtual Result<SubscriptionId> subscribe(std::string subject, std::string queue_group,
                                           ExecutorPtr executor, MessageHandler handler) = 0;

  /// Ends a subscription or a watch. Idempotent; after it returns no new callback is posted
  /// (callbacks already posted may still run).
  virtual void unsubscribe(SubscriptionId id) = 0;

  /// Sends `payload` to one subscriber of `subject` with a private reply subject; `on_reply` runs
  /// on `executor` exactly once: with the first reply, Errc::timeout after `timeout`, or
  /// Errc::unavailable immediately (still posted) when nobody subscribes to `subject`, or
  /// Errc::invalid_argument (posted) on a bad subject. Which subscriber is chosen is the
  /// implementation's (inproc: inproc_backbone.hpp; nats: every plain subscriber and one member
  /// of each queue group receive it, the first reply wins — so services subscribe in a group).
  virtual void request(std::string subject, std::string payload, std::chrono::milliseconds timeout,
                       ExecutorPtr executor, ReplyHandler on_reply) = 0;

  // ---- key-value store (asynchronous only: issue 7 §1, no blocking round trip on a shard)
  //
  // Each call starts the operation and returns at once; `done` runs exactly once, on `executor`,
  // never inline inside the call. Over a network each is a round trip, so nothing waits for one.
  // Every operation may also end with: Errc::invalid_argument (a bad key, a negative ttl, or a
  // non-zero ttl where per-key TTL is not supported: nats), Errc::unavailable (not connected to
  // the backbone, or the bucket has no leader), Errc::timeout (no answer within the
  // implementation's KV timeout; a write's outcome is then unknown). When the backbone is
  // destroyed, completions not yet posted are dropped without being called. `done` must not be
  // empty; a caller that does not need the value still counts a failure. (Tests block on these
  // through tests/fakes/kv_sync.hpp.)

  /// Reads the key: its current entry, or Errc::not_found.
  virtual void kv_get(std::string key, ExecutorPtr executor, KvEntryHandler done) = 0;

  /// Writes unconditionally: the new revision. `ttl` zero = no expiry; otherwise the key expires
  /// (KvOp::expired to watchers) unless written again (or refreshed) within `ttl`. Every write
  /// (put, create, update) sets the expiry from its own `ttl`.
  virtual void kv_put(std::string key, std::string value, std::chrono::milliseconds ttl,
                      ExecutorPtr executor, KvRevisionHandler done) = 0;

  /// Writes only if the key does not exist: the new revision, or Errc::already_exists.
  virtual void kv_create(std::string key, std::string value, std::chrono::milliseconds ttl,
                         ExecutorPtr executor, KvRevisionHandler done) = 0;

  /// Writes only if the key's current revision is `expected`: the new revision, or
  /// Errc::conflict (also when the key does not exist, and for `expected` 0).
  virtual void kv_update(std::string key, std::string value, std::uint64_t expected,
                         std::chrono::milliseconds ttl, ExecutorPtr executor,
                         KvRevisionHandler done) = 0;

  /// Deletes the key; with `expected` non-zero only if its revision matches (else
  /// Errc::conflict). Deleting a missing key is Errc::not_found.
  virtual void kv_delete(std::string key, std::uint64_t expected, ExecutorPtr executor,
                         KvStatusHandler done) = 0;

  /// Extends the key's time-to-live to `ttl` from now without changing value or revision; zero
  /// removes the expiry (without per-key TTL: only checks that the key exists; non-zero is
  /// Errc::invalid_argument). Errc::not_found if the key does not exist.
  virtual void kv_refresh(std::string key, std::chrono::milliseconds ttl, ExecutorPtr executor,
                          KvStatusHandler done) = 0;

  /// All current entries whose key starts with `prefix` (empty: all), ordered by key.
  virtual void kv_list(std::string prefix, ExecutorPtr executor, KvListHandler done) = 0;

  /// Watches keys starting with `prefix`. If `initial` is true the current entries are delivered
  /// first as KvOp::put events in key order; then every later change in revision order, with no
  /// gap or duplicate between the two. Ends with unsubscribe().
  virtual Result<SubscriptionId> kv_watch(std::string prefix, bool initial, ExecutorPtr executor,
                                          KvEventHandler handler) = 0;
};

struct InprocOptions {
  /// Queue-group back pressure bound: messages posted but not yet handled per member.
  std::size_t max_pending_per_member = 65536;
  /// How often expired keys and timed-out requests are swept.
  std::chrono::milliseconds sweep_interval{50};
};

/// The in-process backbone: production code for a single node and for tests that run many nodes
/// in one process. Owns one internal thread for TTL expiry and request timeouts.
std::unique_ptr<Backbone> make_inproc_backbone(InprocOptions options = {});

}  // namespace sb::backbone
