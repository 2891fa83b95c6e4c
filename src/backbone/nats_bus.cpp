// NatsBackbone, part 1: connection, publish/subscribe, request/reply, lifecycle (design in
// nats_backbone.hpp and nats_backbone_impl.hpp).
#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "backbone/nats_backbone_impl.hpp"
#include "backbone/subjects.hpp"
#include "core/log.hpp"

namespace sb::backbone {
namespace {

using nats_detail::Clock;
using nats_detail::MsgPtr;
using nats_detail::Shared;
using nats_detail::SubState;

std::string nats_error(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && text != last) text += std::string(": ") + last;
  return text;
}

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) throw std::runtime_error("nats backbone: " + what + ": " + nats_error(s));
}

// Closures handed to libnats. Each owns only shared state and is freed by libnats's on-complete
// (subscriptions) or closed (connection) callback.
struct SubClosure {
  std::shared_ptr<SubState> state;
};
struct SharedClosure {
  std::shared_ptr<Shared> shared;
};

template <class Closure>
void free_closure(void* closure) {
  delete static_cast<Closure*>(closure);
}

void post_reply(const ExecutorPtr& executor, ReplyHandler on_reply, Result<Message> result) {
  executor->post([h = std::move(on_reply), r = std::move(result)]() mutable { h(std::move(r)); });
}

Message copy_message(natsMsg* msg) {
  Message m;
  m.subject = natsMsg_GetSubject(msg);
  if (const char* reply = natsMsg_GetReply(msg)) m.reply_to = reply;
  m.payload.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  return m;
}

// A libnats delivery thread: copy, post, touch nothing else.
void on_message(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  MsgPtr msg(raw);
  const std::shared_ptr<SubState>& state = static_cast<SubClosure*>(closure)->state;
  if (!state->open.load()) return;
  state->executor->post([state, m = copy_message(msg.get())]() mutable {
    if (state->open.load()) state->handler(std::move(m));
  });
}

// A libnats delivery thread: a reply (or a no-responders status) for one pending request.
void on_inbox(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  MsgPtr msg(raw);
  Shared& shared = *static_cast<SharedClosure*>(closure)->shared;
  const std::string_view subject = natsMsg_GetSubject(msg.get());
  if (subject.size() <= shared.inbox_prefix.size()) return;
  const std::uint64_t token =
      std::strtoull(subject.data() + shared.inbox_prefix.size(), nullptr, 10);
  auto pending = shared.take(token);
  if (!pending) return;  // timed out already, or a second reply
  if (natsMsg_IsNoResponders(msg.get())) {
    pending->complete(nullptr, Errc::unavailable);
  } else {
    pending->complete(msg.get(), Errc::ok);
  }
}

// The connection-event thread of libnats.
// No reply can come back to a request in flight once the connection is gone (the server that
// would route it forgot our inbox), so each ends now with Errc::unavailable instead of at its
// timeout. (A write in flight may still have been applied: its outcome is unknown, as after a
// timeout.)
void on_disconnected(natsConnection*, void* closure) {
  Shared& shared = *static_cast<SharedClosure*>(closure)->shared;
  std::unordered_map<std::uint64_t, Shared::Pending> in_flight;
  {
    std::lock_guard lock(shared.mutex);
    if (shared.stopping) return;
    in_flight.swap(shared.requests);
    shared.deadlines.clear();
  }
  spdlog::warn("nats: disconnected; {} requests in flight fail", in_flight.size());
  for (auto& [token, pending] : in_flight) pending.complete(nullptr, Errc::unavailable);
}

void on_reconnected(natsConnection* nc, void* closure) {
  Shared& shared = *static_cast<SharedClosure*>(closure)->shared;
  char url[256] = {0};
  (void)natsConnection_GetConnectedUrl(nc, url, sizeof url);
  spdlog::info("nats: reconnected to {}", url);
  shared.reconnects.fetch_add(1);
  {
    std::lock_guard lock(shared.mutex);
    if (shared.stopping || !shared.on_reconnected) return;
    shared.work.push_back(shared.on_reconnected);
  }
  shared.wake.notify_one();
}

void on_closed(natsConnection*, void* closure) { free_closure<SharedClosure>(closure); }

}  // namespace

std::optional<Shared::Pending> Shared::take(std::uint64_t token) {
  std::lock_guard lock(mutex);
  auto it = requests.find(token);
  if (it == requests.end()) return std::nullopt;
  Pending p = std::move(it->second);
  deadlines.erase({p.deadline, token});
  requests.erase(it);
  return p;
}

bool Shared::enqueue(Task task) {
  {
    std::lock_guard lock(mutex);
    if (stopping) return false;
    work.push_back(std::move(task));
  }
  wake.notify_one();
  return true;
}

void Shared::park(std::shared_ptr<void> closure) {
  using namespace std::chrono_literals;
  std::deque<std::pair<Clock::time_point, std::shared_ptr<void>>> expired;
  std::lock_guard lock(mutex);
  const auto now = Clock::now();
  while (!parked.empty() && parked.front().first + 60s < now) {
    expired.push_back(std::move(parked.front()));
    parked.pop_front();
  }
  parked.emplace_back(now, std::move(closure));
}

std::unique_ptr<Backbone> make_nats_backbone(NatsOptions options) {
  return std::make_unique<NatsBackbone>(std::move(options));
}

NatsBackbone::NatsBackbone(NatsOptions options)
    : options_(std::move(options)),
      stream_("KV_" + options_.bucket),
      kv_prefix_("$KV." + options_.bucket + "."),
      direct_get_prefix_("$JS.API.DIRECT.GET." + stream_ + ".") {
  if (options_.servers.empty()) throw std::runtime_error("nats backbone: no servers configured");
  std::string servers;
  for (const auto& s : options_.servers) servers += (servers.empty() ? "" : ",") + s;

  natsOptions* raw_options = nullptr;
  check(natsOptions_Create(&raw_options), "options");
  nats_options_.reset(raw_options);
  natsOptions* o = raw_options;
  std::vector<const char*> urls;
  for (const auto& s : options_.servers) urls.push_back(s.c_str());
  check(natsOptions_SetServers(o, urls.data(), static_cast<int>(urls.size())), "servers");
  check(natsOptions_SetName(o, options_.name.c_str()), "name");
  check(natsOptions_SetTimeout(o, options_.connect_timeout.count()), "timeout");
  check(natsOptions_SetReconnectWait(o, options_.reconnect_wait.count()), "reconnect wait");
  check(natsOptions_SetMaxReconnect(o, -1), "max reconnect");
  check(natsOptions_SetSendAsap(o, options_.send_asap), "send asap");
  check(natsOptions_UseGlobalMessageDelivery(o, options_.global_delivery), "global delivery");
  // One closure for the three connection callbacks, freed by the closed callback (the last one).
  auto* conn_closure = new SharedClosure{shared_};
  check(natsOptions_SetDisconnectedCB(o, on_disconnected, conn_closure), "callbacks");
  check(natsOptions_SetReconnectedCB(o, on_reconnected, conn_closure), "callbacks");
  check(natsOptions_SetClosedCB(o, on_closed, conn_closure), "callbacks");

  natsConnection* nc = nullptr;
  if (natsStatus s = natsConnection_Connect(&nc, o); s != NATS_OK) {
    delete conn_closure;  // no connection, so no closed callback
    throw std::runtime_error("nats backbone: cannot connect to " + servers + ": " + nats_error(s));
  }
  conn_.reset(nc);

  jsOptions jo;
  check(jsOptions_Init(&jo), "jetstream options");
  jo.Wait = options_.op_timeout.count();
  jsCtx* js = nullptr;
  check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
  js_.reset(js);
  kvStore* kv = nullptr;
  natsStatus s = js_KeyValue(&kv, js, options_.bucket.c_str());
  if (s == NATS_NOT_FOUND) {
    kvConfig cfg;
    check(kvConfig_Init(&cfg), "bucket config");
    cfg.Bucket = options_.bucket.c_str();
    cfg.History = static_cast<uint8_t>(std::clamp(options_.history, 1, 64));
    cfg.Replicas = options_.replicas;
    cfg.StorageType = js_FileStorage;
    s = js_CreateKeyValue(&kv, js, &cfg);
  }
  if (s != NATS_OK) {
    throw std::runtime_error("nats backbone: cannot open key-value bucket '" + options_.bucket +
                             "' on " + servers +
                             " (is JetStream enabled, nats-server -js?): " + nats_error(s));
  }
  kv_.reset(kv);

  char* inbox = nullptr;
  check(natsInbox_Create(&inbox), "inbox");
  shared_->inbox_prefix = std::string(inbox) + ".";
  natsInbox_Destroy(inbox);
  auto* inbox_closure = new SharedClosure{shared_};
  s = natsConnection_Subscribe(&inbox_sub_, nc, (shared_->inbox_prefix + "*").c_str(), on_inbox,
                               inbox_closure);
  if (s != NATS_OK) delete inbox_closure;
  check(s, "inbox subscription");
  check(natsSubscription_SetOnCompleteCB(inbox_sub_, free_closure<SharedClosure>, inbox_closure),
        "inbox subscription");
  check(natsSubscription_SetPendingLimits(inbox_sub_, -1, -1), "inbox subscription");

  shared_->on_reconnected = [this] { rewatch_all(); };
  for (std::size_t i = 0; i < std::max<std::size_t>(1, options_.kv_workers); ++i) {
    workers_.emplace_back([this] { worker_loop(); });
  }
  timer_ = std::thread([this] { timer_loop(); });
}

NatsBackbone::~NatsBackbone() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    shared_->work.clear();
    shared_->requests.clear();
    shared_->deadlines.clear();
    shared_->on_reconnected = nullptr;
  }
  shared_->wake.notify_all();
  shared_->timer_wake.notify_all();
  for (auto& t : workers_) t.join();
  timer_.join();
  std::unordered_map<std::uint64_t, Sub> subs;
  std::unordered_map<std::uint64_t, std::shared_ptr<WatchState>> watches;
  {
    std::lock_guard lock(mutex_);
    subs.swap(subs_);
    watches.swap(watches_);
  }
  for (auto& [id, sub] : subs) {
    sub.state->open.store(false);
    natsSubscription_Destroy(sub.sub);  // closing the connection unsubscribes
  }
  for (auto& [id, watch] : watches) {
    watch->open.store(false);
    std::lock_guard lock(watch->mutex);
    ++watch->generation;
    if (watch->sub != nullptr) natsSubscription_Destroy(watch->sub);
    watch->sub = nullptr;
  }
  natsSubscription_Destroy(inbox_sub_);
  kv_.reset();
  js_.reset();
  conn_.reset();  // closes: libnats frees the closures through the callbacks
}

bool NatsBackbone::connected() const {
  return natsConnection_Status(conn_.get()) == NATS_CONN_STATUS_CONNECTED;
}

void NatsBackbone::worker_loop() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(shared_->mutex);
      shared_->wake.wait(lock, [&] { return shared_->stopping || !shared_->work.empty(); });
      if (shared_->stopping) return;
      task = std::move(shared_->work.front());
      shared_->work.pop_front();
    }
    task();
  }
}

void NatsBackbone::timer_loop() {
  std::unique_lock lock(shared_->mutex);
  while (!shared_->stopping) {
    const auto now = Clock::now();
    std::vector<Shared::Pending> expired;
    while (!shared_->deadlines.empty() && shared_->deadlines.begin()->first <= now) {
      const std::uint64_t token = shared_->deadlines.begin()->second;
      shared_->deadlines.erase(shared_->deadlines.begin());
      auto it = shared_->requests.find(token);
      expired.push_back(std::move(it->second));
      shared_->requests.erase(it);
    }
    if (!expired.empty()) {
      lock.unlock();
      for (auto& p : expired) p.complete(nullptr, Errc::timeout);
      lock.lock();
      continue;
    }
    if (shared_->deadlines.empty()) {
      shared_->timer_wake.wait(lock);
    } else {
      const Clock::time_point next = shared_->deadlines.begin()->first;  // a copy: may be erased
      shared_->timer_wake.wait_until(lock, next);
    }
  }
}

// ---- bus

Status NatsBackbone::publish(std::string subject, std::string payload, std::string reply_to) {
  if (!valid_subject(subject) || (!reply_to.empty() && !valid_subject(reply_to))) {
    return fail(Errc::invalid_argument);
  }
  const int size = static_cast<int>(payload.size());
  const natsStatus s =
      reply_to.empty() ? natsConnection_Publish(conn_.get(), subject.c_str(), payload.data(), size)
                       : natsConnection_PublishRequest(conn_.get(), subject.c_str(),
                                                       reply_to.c_str(), payload.data(), size);
  // While reconnecting libnats buffers; an error means that buffer is full or the connection is
  // closed.
  if (s != NATS_OK) return fail(Errc::unavailable);
  return {};
}

Result<SubscriptionId> NatsBackbone::subscribe(std::string subject, std::string queue_group,
                                               ExecutorPtr executor, MessageHandler handler) {
  if (!valid_subject(subject) || !printable(queue_group)) return fail(Errc::invalid_argument);
  SB_CHECK(executor && handler);
  auto state = std::make_shared<SubState>();
  state->executor = std::move(executor);
  state->handler = std::move(handler);
  auto* closure = new SubClosure{state};
  natsSubscription* sub = nullptr;
  natsStatus s =
      queue_group.empty()
          ? natsConnection_Subscribe(&sub, conn_.get(), subject.c_str(), on_message, closure)
          : natsConnection_QueueSubscribe(&sub, conn_.get(), subject.c_str(), queue_group.c_str(),
                                          on_message, closure);
  if (s != NATS_OK) {
    delete closure;
    return fail(Errc::unavailable);
  }
  (void)natsSubscription_SetOnCompleteCB(sub, free_closure<SubClosure>, closure);
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  subs_.emplace(id, Sub{sub, std::move(state)});
  return SubscriptionId{id};
}

void NatsBackbone::unsubscribe(SubscriptionId id) {
  std::shared_ptr<WatchState> watch;
  Sub sub;
  {
    std::lock_guard lock(mutex_);
    if (auto it = subs_.find(id.value); it != subs_.end()) {
      sub = std::move(it->second);
      subs_.erase(it);
    } else if (auto w = watches_.find(id.value); w != watches_.end()) {
      watch = std::move(w->second);
      watches_.erase(w);
    } else {
      return;
    }
  }
  if (sub.sub != nullptr) {
    sub.state->open.store(false);
    (void)natsSubscription_Unsubscribe(sub.sub);
    natsSubscription_Destroy(sub.sub);
    return;
  }
  watch->open.store(false);
  natsSubscription* consumer = nullptr;
  {
    std::lock_guard lock(watch->mutex);
    ++watch->generation;
    consumer = std::exchange(watch->sub, nullptr);
  }
  // Destroy only (nats_detail::drop_watch_subscription): no consumer deletion round trip, so it
  // is done here, at once, and nothing is left queued for the workers to leak at shutdown.
  nats_detail::drop_watch_subscription(consumer);
}

void NatsBackbone::send_request(const std::string& subject, const std::string& data,
                                const Headers& headers, std::chrono::milliseconds timeout,
                                Shared::Completion complete) {
  if (!connected()) return complete(nullptr, Errc::unavailable);
  const std::uint64_t token = next_token_.fetch_add(1);
  const std::string reply = shared_->inbox_prefix + std::to_string(token);
  natsMsg* raw = nullptr;
  if (natsMsg_Create(&raw, subject.c_str(), reply.c_str(), data.data(),
                     static_cast<int>(data.size())) != NATS_OK) {
    return complete(nullptr, Errc::internal);
  }
  MsgPtr msg(raw);
  for (const auto& [key, value] : headers) (void)natsMsgHeader_Set(raw, key, value.c_str());
  const auto deadline = Clock::now() + timeout;
  bool earliest = false;
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->stopping) return;
    shared_->requests.emplace(token, Shared::Pending{std::move(complete), deadline});
    const auto at = shared_->deadlines.emplace(deadline, token).first;
    earliest = at == shared_->deadlines.begin();
  }
  if (earliest) shared_->timer_wake.notify_one();
  if (natsConnection_PublishMsg(conn_.get(), raw) != NATS_OK) {
    if (auto pending = shared_->take(token)) pending->complete(nullptr, Errc::unavailable);
  }
}

void NatsBackbone::request(std::string subject, std::string payload,
                           std::chrono::milliseconds timeout, ExecutorPtr executor,
                           ReplyHandler on_reply) {
  SB_CHECK(executor && on_reply);
  if (!valid_subject(subject)) {
    return post_reply(executor, std::move(on_reply), fail(Errc::invalid_argument));
  }
  send_request(subject, payload, {}, timeout,
               [executor, on_reply = std::move(on_reply)](natsMsg* reply, Errc error) mutable {
                 if (error != Errc::ok) {
                   return post_reply(executor, std::move(on_reply), fail(error));
                 }
                 post_reply(executor, std::move(on_reply), copy_message(reply));
               });
}

}  // namespace sb::backbone
