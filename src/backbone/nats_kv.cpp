// NatsBackbone, part 2: the key-value store on a JetStream KV bucket, and watches (design in
// nats_backbone.hpp). Every *_now function blocks on the network, so it runs only as a task on a
// worker thread (delete, refresh, list, and a create over a deletion marker); there is no
// synchronous KV form.
#include <algorithm>
#include <string_view>

#include "backbone/nats_backbone_impl.hpp"
#include "backbone/subjects.hpp"
#include "core/log.hpp"

namespace sb::backbone {
namespace {

using nats_detail::MsgPtr;
using nats_detail::WatchState;
using namespace std::chrono_literals;

constexpr const char* kOperationHeader = "KV-Operation";  // "DEL" or "PURGE" on a removal
constexpr int kRaceRetries = 8;  // create/delete re-read when a concurrent write got in between

// A libnats or JetStream failure as a backbone error: the server was unreachable or could not
// act (no stream leader, JetStream not ready) -> unavailable, no answer in time -> timeout.
Errc map_status(natsStatus s, jsErrCode js_error) {
  if (s == NATS_TIMEOUT) return Errc::timeout;
  if (js_error != 0) spdlog::debug("nats kv: jetstream error {}", static_cast<int>(js_error));
  return Errc::unavailable;
}

bool is_removal(natsMsg* msg) {
  const char* op = nullptr;
  return natsMsgHeader_Get(msg, kOperationHeader, &op) == NATS_OK && op != nullptr;
}

std::string data_of(natsMsg* msg) {
  return {natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))};
}

// The widest subject filter that still covers every key starting with `prefix`: the whole
// tokens of the prefix, then ">" ("a.b.c" -> "a.b.>", "a" -> ">").
std::string filter_for(std::string_view prefix) {
  const std::size_t dot = prefix.rfind('.');
  if (dot == std::string_view::npos) return ">";
  return std::string(prefix.substr(0, dot + 1)) + ">";
}

bool valid_ttl(std::chrono::milliseconds ttl) { return ttl.count() == 0; }

constexpr const char* kExpectedHeader = "Nats-Expected-Last-Subject-Sequence";

template <class Handler, class R>
void post_now(const ExecutorPtr& executor, Handler done, R result) {
  executor->post([done = std::move(done), r = std::move(result)]() mutable { done(std::move(r)); });
}

// The number after `"name":` in a small JSON answer, or 0.
std::uint64_t json_number(std::string_view json, std::string_view name) {
  const std::string needle = "\"" + std::string(name) + "\":";
  const std::size_t at = json.find(needle);
  if (at == std::string_view::npos) return 0;
  return std::strtoull(json.data() + at + needle.size(), nullptr, 10);
}

// A JetStream publish acknowledgement: {"stream":"KV_b","seq":7} or {"error":{...,"err_code":N}}.
Result<std::uint64_t> parse_ack(natsMsg* reply) {
  const std::string json = data_of(reply);
  if (json.find("\"error\"") != std::string::npos) {
    if (json_number(json, "err_code") == JSStreamWrongLastSequenceErr) return fail(Errc::conflict);
    spdlog::debug("nats kv: write refused: {}", json);
    return fail(Errc::unavailable);
  }
  const std::uint64_t seq = json_number(json, "seq");
  if (seq == 0) return fail(Errc::internal);
  return seq;
}

// A direct-get answer: the stored message with Nats-Sequence, or a 404 status.
Result<KvEntry> parse_direct_get(natsMsg* reply, const std::string& key) {
  const char* status = nullptr;
  if (natsMsgHeader_Get(reply, "Status", &status) == NATS_OK && status != nullptr) {
    return fail(std::string_view(status) == "404" ? Errc::not_found : Errc::unavailable);
  }
  if (is_removal(reply)) return fail(Errc::not_found);
  const char* seq = nullptr;
  if (natsMsgHeader_Get(reply, "Nats-Sequence", &seq) != NATS_OK || seq == nullptr) {
    return fail(Errc::internal);
  }
  return KvEntry{key, data_of(reply), std::strtoull(seq, nullptr, 10)};
}

struct WatchClosure {
  std::shared_ptr<WatchState> state;
  std::uint64_t generation;
};

void free_watch_closure(void* closure) { delete static_cast<WatchClosure*>(closure); }

// A libnats delivery thread: one message of a watch's ordered consumer.
void on_watch_message(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  MsgPtr msg(raw);
  auto* c = static_cast<WatchClosure*>(closure);
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg.get()) != NATS_OK) return;
  const std::uint64_t revision = meta->Sequence.Stream;
  const std::uint64_t pending = meta->NumPending;
  jsMsgMetaData_Destroy(meta);
  const std::string_view subject = natsMsg_GetSubject(msg.get());
  KvEvent event;
  event.entry.key = std::string(subject.substr(std::min(subject.size(), c->state->key_offset)));
  event.entry.revision = revision;
  if (is_removal(msg.get())) {
    event.op = KvOp::del;
  } else {
    event.entry.value = data_of(msg.get());
  }
  c->state->on_message(c->generation, std::move(event), pending);
}

}  // namespace

// ---- watch state (libnats threads and the backbone's)

void WatchState::post_locked(KvEvent event) {
  last_revision = std::max(last_revision, event.entry.revision);
  if (!event.entry.key.starts_with(prefix)) return;  // the subject filter is wider than prefix
  executor->post([self = shared_from_this(), event = std::move(event)]() mutable {
    if (self->open.load()) self->handler(std::move(event));
  });
}

void WatchState::on_message(std::uint64_t gen, KvEvent event, std::uint64_t pending) {
  std::lock_guard lock(mutex);
  if (gen != generation || !open.load()) return;
  if (initial_done) {
    if (event.entry.revision <= last_revision) return;  // already delivered before a re-creation
    return post_locked(std::move(event));
  }
  last_revision = std::max(last_revision, event.entry.revision);
  initial[event.entry.key] = std::move(event);
  if (pending != 0) return;
  initial_done = true;
  std::map<std::string, KvEvent> snapshot;
  snapshot.swap(initial);
  for (auto& [key, e] : snapshot) {
    if (e.op == KvOp::put) post_locked(std::move(e));
  }
}

void WatchState::on_empty_start(std::uint64_t gen, std::uint64_t delivered_stream) {
  std::lock_guard lock(mutex);
  if (gen != generation) return;
  initial_done = true;
  last_revision = std::max(last_revision, delivered_stream);
}

// ---- helpers

template <class R, class Handler, class Op>
void NatsBackbone::run_async(const ExecutorPtr& executor, Handler done, Op op) {
  SB_CHECK(executor && done);
  auto post = [executor, done = std::move(done)](R result) mutable {
    executor->post(
        [done = std::move(done), r = std::move(result)]() mutable { done(std::move(r)); });
  };
  if (!connected()) return post(R(fail(Errc::unavailable)));
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->stopping) return;
    shared_->work.push_back([post = std::move(post), op = std::move(op)]() mutable { post(op()); });
  }
  shared_->wake.notify_one();
}

std::string NatsBackbone::kv_subject(const std::string& key) const { return kv_prefix_ + key; }

// One JetStream publish on the key's subject. `expected`: nullopt = unconditional, 0 = only if
// the subject has no message, n = only if the subject's last message is revision n.
Result<std::uint64_t> NatsBackbone::js_write(const std::string& key, const std::string& value,
                                             const char* operation,
                                             std::optional<std::uint64_t> expected) {
  if (!connected()) return fail(Errc::unavailable);
  natsMsg* raw = nullptr;
  if (natsMsg_Create(&raw, kv_subject(key).c_str(), nullptr, value.data(),
                     static_cast<int>(value.size())) != NATS_OK) {
    return fail(Errc::internal);
  }
  MsgPtr msg(raw);
  if (operation != nullptr) (void)natsMsgHeader_Set(raw, kOperationHeader, operation);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (expected) {
    if (*expected == 0) {
      po.ExpectNoMessage = true;
    } else {
      po.ExpectLastSubjectSeq = *expected;
    }
  }
  jsPubAck* ack = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus s = js_PublishMsg(&ack, js_.get(), raw, &po, &js_error);
  if (s == NATS_OK) {
    const std::uint64_t revision = ack->Sequence;
    jsPubAck_Destroy(ack);
    return revision;
  }
  if (js_error == JSStreamWrongLastSequenceErr) return fail(Errc::conflict);
  return fail(map_status(s, js_error));
}

// ---- blocking operations

Result<KvEntry> NatsBackbone::get_now(const std::string& key) {
  if (!valid_subject(key)) return fail(Errc::invalid_argument);
  if (!connected()) return fail(Errc::unavailable);
  natsMsg* raw = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_GetLastMsg(&raw, js_.get(), stream_.c_str(), kv_subject(key).c_str(), nullptr, &js_error);
  if (s == NATS_NOT_FOUND || js_error == JSNoMessageFoundErr) return fail(Errc::not_found);
  if (s != NATS_OK) return fail(map_status(s, js_error));
  MsgPtr msg(raw);
  if (is_removal(raw)) return fail(Errc::not_found);
  return KvEntry{key, data_of(raw), natsMsg_GetSequence(raw)};
}

Result<std::uint64_t> NatsBackbone::create_now(const std::string& key, const std::string& value) {
  for (int attempt = 0; attempt < kRaceRetries; ++attempt) {
    auto created = js_write(key, value, nullptr, 0);
    if (created || created.error() != make_error_code(Errc::conflict)) return created;
    // The subject has a message: a live value, or a deletion marker we may write over.
    natsMsg* raw = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetLastMsg(&raw, js_.get(), stream_.c_str(), kv_subject(key).c_str(),
                                       nullptr, &js_error);
    if (s == NATS_NOT_FOUND || js_error == JSNoMessageFoundErr) continue;  // purged meanwhile
    if (s != NATS_OK) return fail(map_status(s, js_error));
    MsgPtr msg(raw);
    if (!is_removal(raw)) return fail(Errc::already_exists);
    auto over = js_write(key, value, nullptr, natsMsg_GetSequence(raw));
    if (over || over.error() != make_error_code(Errc::conflict)) return over;
  }
  return fail(Errc::conflict);
}

Status NatsBackbone::delete_now(const std::string& key, std::uint64_t expected) {
  for (int attempt = 0; attempt < kRaceRetries; ++attempt) {
    auto current = get_now(key);
    if (!current) return current.error();
    if (expected != 0 && current->revision != expected) return fail(Errc::conflict);
    auto removed = js_write(key, "", "DEL", current->revision);
    if (removed) return {};
    if (removed.error() != make_error_code(Errc::conflict) || expected != 0) {
      return removed.error();
    }
  }
  return fail(Errc::conflict);
}

// The bucket's current entries: the last message per key (deletion markers removing keys).
Result<std::vector<KvEntry>> NatsBackbone::list_now(const std::string& prefix) {
  if (!prefix.empty() && !printable(prefix)) return fail(Errc::invalid_argument);
  if (!connected()) return fail(Errc::unavailable);
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  kvWatcher* watcher = nullptr;
  natsStatus s = kvStore_Watch(&watcher, kv_.get(), filter_for(prefix).c_str(), &wo);
  if (s != NATS_OK) return fail(map_status(s, static_cast<jsErrCode>(0)));
  std::map<std::string, KvEntry> current;
  for (;;) {
    kvEntry* e = nullptr;
    s = kvWatcher_Next(&e, watcher, options_.op_timeout.count());
    if (s != NATS_OK || e == nullptr) break;  // nullptr: the end of the current values
    std::string key = kvEntry_Key(e);
    const bool wanted = key.starts_with(prefix);
    if (wanted && kvEntry_Operation(e) != kvOp_Put) {
      current.erase(key);
    } else if (wanted) {
      KvEntry entry{key,
                    std::string(static_cast<const char*>(kvEntry_Value(e)),
                                static_cast<std::size_t>(kvEntry_ValueLen(e))),
                    kvEntry_Revision(e)};
      current[std::move(key)] = std::move(entry);
    }
    kvEntry_Destroy(e);
  }
  kvWatcher_Destroy(watcher);
  if (s != NATS_OK) return fail(map_status(s, static_cast<jsErrCode>(0)));
  std::vector<KvEntry> out;
  out.reserve(current.size());
  for (auto& [key, entry] : current) out.push_back(std::move(entry));
  return out;
}

// ---- asynchronous forms

// get, put, create and update are pipelined: one message out with a reply subject of the
// shared inbox, the answer parsed on the libnats thread and posted (docs/decisions/0001: a pool
// of blocking workers managed ~12k writes/s here, pipelined publishes ~117k/s).

void NatsBackbone::kv_get(std::string key, ExecutorPtr executor, KvEntryHandler done) {
  SB_CHECK(executor && done);
  if (!valid_subject(key))
    return post_now(executor, std::move(done), Result<KvEntry>(fail(Errc::invalid_argument)));
  // JetStream direct get (the bucket's stream allows it): the last message on the key's subject.
  send_request(
      direct_get_prefix_ + kv_subject(key), "", {}, options_.op_timeout,
      [executor, done = std::move(done), key](natsMsg* reply, Errc error) mutable {
        post_now(executor, std::move(done),
                 error != Errc::ok ? Result<KvEntry>(fail(error)) : parse_direct_get(reply, key));
      });
}

void NatsBackbone::write_async(std::string key, std::string value, const char* expected,
                               ExecutorPtr executor, KvRevisionHandler done,
                               std::function<void(ExecutorPtr, KvRevisionHandler)> on_conflict) {
  Headers headers;
  if (expected != nullptr) headers.emplace_back(kExpectedHeader, expected);
  send_request(kv_subject(key), value, headers, options_.op_timeout,
               [executor, done = std::move(done), on_conflict = std::move(on_conflict)](
                   natsMsg* reply, Errc error) mutable {
                 Result<std::uint64_t> r =
                     error != Errc::ok ? Result<std::uint64_t>(fail(error)) : parse_ack(reply);
                 if (!r && r.error() == make_error_code(Errc::conflict) && on_conflict) {
                   return on_conflict(std::move(executor), std::move(done));
                 }
                 post_now(executor, std::move(done), std::move(r));
               });
}

void NatsBackbone::kv_put(std::string key, std::string value, std::chrono::milliseconds ttl,
                          ExecutorPtr executor, KvRevisionHandler done) {
  SB_CHECK(executor && done);
  if (!valid_subject(key) || !valid_ttl(ttl)) {
    return post_now(executor, std::move(done), Result<std::uint64_t>(fail(Errc::invalid_argument)));
  }
  write_async(std::move(key), std::move(value), nullptr, std::move(executor), std::move(done), {});
}

void NatsBackbone::kv_create(std::string key, std::string value, std::chrono::milliseconds ttl,
                             ExecutorPtr executor, KvRevisionHandler done) {
  SB_CHECK(executor && done);
  if (!valid_subject(key) || !valid_ttl(ttl)) {
    return post_now(executor, std::move(done), Result<std::uint64_t>(fail(Errc::invalid_argument)));
  }
  // The subject has a message: a live value (already_exists) or a deletion marker to write over,
  // which takes a read and a second write: the rare case goes to the workers.
  auto slow = [this, shared = shared_, key, value](ExecutorPtr ex, KvRevisionHandler h) {
    shared->enqueue([this, key, value, ex = std::move(ex), h = std::move(h)]() mutable {
      post_now(ex, std::move(h), create_now(key, value));
    });
  };
  write_async(key, std::move(value), "0", std::move(executor), std::move(done), std::move(slow));
}

void NatsBackbone::kv_update(std::string key, std::string value, std::uint64_t expected,
                             std::chrono::milliseconds ttl, ExecutorPtr executor,
                             KvRevisionHandler done) {
  SB_CHECK(executor && done);
  if (!valid_subject(key) || !valid_ttl(ttl)) {
    return post_now(executor, std::move(done), Result<std::uint64_t>(fail(Errc::invalid_argument)));
  }
  if (expected == 0) {
    return post_now(executor, std::move(done), Result<std::uint64_t>(fail(Errc::conflict)));
  }
  write_async(std::move(key), std::move(value), std::to_string(expected).c_str(),
              std::move(executor), std::move(done), {});
}

// delete, refresh and list take a read before (or instead of) a write: blocking calls on the
// workers.

void NatsBackbone::kv_delete(std::string key, std::uint64_t expected, ExecutorPtr executor,
                             KvStatusHandler done) {
  SB_CHECK(executor && done);
  if (!valid_subject(key)) {
    return post_now(executor, std::move(done), Status(fail(Errc::invalid_argument)));
  }
  run_async<Status>(executor, std::move(done),
                    [this, key = std::move(key), expected] { return delete_now(key, expected); });
}
void NatsBackbone::kv_refresh(std::string key, std::chrono::milliseconds ttl, ExecutorPtr executor,
                              KvStatusHandler done) {
  SB_CHECK(executor && done);
  // Without per-key TTL there is no expiry to extend: zero only checks that the key exists.
  if (!valid_subject(key) || !valid_ttl(ttl)) {
    return post_now(executor, std::move(done), Status(fail(Errc::invalid_argument)));
  }
  run_async<Status>(executor, std::move(done), [this, key = std::move(key)]() -> Status {
    auto current = get_now(key);
    if (!current) return current.error();
    return {};
  });
}
void NatsBackbone::kv_list(std::string prefix, ExecutorPtr executor, KvListHandler done) {
  run_async<Result<std::vector<KvEntry>>>(executor, std::move(done),
                                          [this, prefix] { return list_now(prefix); });
}

// ---- watches

// Creates the watch's consumer for its current generation: the last value per key when the
// initial values are still to come, else everything after the last revision delivered.
Status NatsBackbone::start_watch(const std::shared_ptr<WatchState>& watch) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream_.c_str();
  // A plain ephemeral push consumer, not libnats's "ordered" one: the backbone already re-creates
  // every watch after a reconnect and drops repeats by revision, and libnats 3.4.1's own reset of
  // ordered consumers (on every reconnect) races both the backbone dropping the old subscription
  // (a heap-use-after-free) and the connection's close at destruction (the subscription and its
  // whole connection leaked: ASan, ~1 suite run in 7 with a backbone destroyed just after a
  // reconnect). What "ordered" added is kept: no acks, one delivery, memory storage, one replica;
  // the pending limits are lifted below, so libnats never drops a message (no gap to detect).
  so.Config.AckPolicy = js_AckNone;
  so.Config.MaxDeliver = 1;
  so.Config.MemoryStorage = true;
  so.Config.Replicas = 1;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(watch->mutex);
    generation = ++watch->generation;
    if (!watch->initial_done) {
      watch->initial.clear();
      so.Config.DeliverPolicy = js_DeliverLastPerSubject;
    } else if (watch->last_revision > 0) {
      so.Config.DeliverPolicy = js_DeliverByStartSequence;
      so.Config.OptStartSeq = watch->last_revision + 1;
    } else {
      so.Config.DeliverPolicy = js_DeliverNew;
    }
  }
  auto* closure = new WatchClosure{watch, generation};
  natsSubscription* sub = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const std::string& filter = watch->filter;
  natsStatus s = js_Subscribe(&sub, js_.get(), filter.c_str(), on_watch_message, closure, nullptr,
                              &so, &js_error);
  if (s != NATS_OK) {
    shared_->park(std::shared_ptr<void>(closure, free_watch_closure));  // not `delete`: see park
    return fail(map_status(s, js_error));
  }
  (void)natsSubscription_SetOnCompleteCB(sub, free_watch_closure, closure);
  (void)natsSubscription_SetPendingLimits(sub, -1, -1);
  auto drop = [sub] { nats_detail::drop_watch_subscription(sub); };
  // A consumer with nothing to deliver sends nothing, so nothing would end the initial phase:
  // ask it. Delivered.Stream is then where it starts, the floor for a later re-creation.
  jsConsumerInfo* info = nullptr;
  s = natsSubscription_GetConsumerInfo(&info, sub, nullptr, &js_error);
  if (s != NATS_OK) {
    drop();
    return fail(map_status(s, js_error));
  }
  if (info->NumPending == 0 && info->Delivered.Consumer == 0) {
    watch->on_empty_start(generation, info->Delivered.Stream);
  }
  jsConsumerInfo_Destroy(info);
  {
    std::lock_guard lock(watch->mutex);
    if (watch->generation == generation && watch->open.load()) {
      watch->sub = sub;
      return {};
    }
  }
  drop();  // unsubscribed (or re-created) meanwhile
  return {};
}

// A worker thread, after a reconnect: every watch gets a new consumer that continues after the
// last revision it delivered. Gives up while disconnected (the next reconnect queues it again).
void NatsBackbone::rewatch_all() {
  std::vector<std::shared_ptr<WatchState>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, w] : watches_) all.push_back(w);
  }
  auto stopping = [this] {
    std::lock_guard lock(shared_->mutex);
    return shared_->stopping;
  };
  for (auto& w : all) {
    natsSubscription* old = nullptr;
    {
      std::lock_guard lock(w->mutex);
      old = std::exchange(w->sub, nullptr);
      ++w->generation;
    }
    nats_detail::drop_watch_subscription(old);
    while (w->open.load() && !stopping() && connected()) {
      auto started = start_watch(w);
      if (started) break;
      spdlog::warn("nats: re-creating a watch on '{}': {}", w->prefix, started.error().message());
      std::this_thread::sleep_for(100ms);  // JetStream may still be recovering its streams
    }
  }
}

Result<SubscriptionId> NatsBackbone::kv_watch(std::string prefix, bool initial,
                                              ExecutorPtr executor, KvEventHandler handler) {
  if (!prefix.empty() && !printable(prefix)) return fail(Errc::invalid_argument);
  SB_CHECK(executor && handler);
  if (!connected()) return fail(Errc::unavailable);
  auto watch = std::make_shared<WatchState>();
  watch->filter = kv_prefix_ + filter_for(prefix);
  watch->prefix = std::move(prefix);
  watch->key_offset = kv_prefix_.size();
  watch->executor = std::move(executor);
  watch->handler = std::move(handler);
  watch->initial_done = !initial;
  if (auto started = start_watch(watch); !started) return started.error();
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  watches_.emplace(id, std::move(watch));
  return SubscriptionId{id};
}

}  // namespace sb::backbone
