#include "backbone/inproc_backbone.hpp"

#include <string_view>
#include <type_traits>

#include "backbone/subjects.hpp"
#include "core/log.hpp"

namespace sb::backbone {
namespace {

constexpr std::string_view kInboxPrefix = "_INBOX.";

bool valid_key_and_ttl(const std::string& key, std::chrono::milliseconds ttl) {
  return valid_subject(key) && ttl.count() >= 0;
}

template <class Event>
void enqueue(const ExecutorPtr& executor, const std::shared_ptr<detail::Mailbox<Event>>& box,
             Event event, detail::PostList& posts) {
  box->push(std::move(event));
  posts.emplace_back(executor, [box] { box->run_one(); });
}

void post_reply(detail::PostList& posts, ExecutorPtr executor, ReplyHandler on_reply,
                Result<Message> result) {
  posts.emplace_back(std::move(executor), [h = std::move(on_reply),
                                           r = std::move(result)]() mutable { h(std::move(r)); });
}

void post_all(detail::PostList& posts) {
  for (auto& [executor, task] : posts) executor->post(std::move(task));
}

}  // namespace

std::unique_ptr<Backbone> make_inproc_backbone(InprocOptions options) {
  return std::make_unique<InprocBackbone>(options);
}

InprocBackbone::InprocBackbone(InprocOptions options)
    : options_(options), sweeper_([this] { sweep_loop(); }) {}

InprocBackbone::~InprocBackbone() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  sweeper_.join();
  // requests_ is destroyed with the object: outstanding requests are abandoned without callbacks.
}

template <class Body>
auto InprocBackbone::locked(Body&& body) {
  Posts posts;
  std::unique_lock lock(mutex_);
  expire_due_locked(Clock::now(), posts);
  if constexpr (std::is_void_v<std::invoke_result_t<Body&, Posts&>>) {
    body(posts);
    lock.unlock();
    post_all(posts);
  } else {
    auto result = body(posts);
    lock.unlock();
    post_all(posts);
    return result;
  }
}

void InprocBackbone::sweep_loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, options_.sweep_interval, [this] { return stopping_; })) {
    Posts posts;
    const auto now = Clock::now();
    expire_due_locked(now, posts);
    time_out_requests_locked(now, posts);
    lock.unlock();
    post_all(posts);
    lock.lock();
  }
}

// ---- bus

Status InprocBackbone::publish(std::string subject, std::string payload, std::string reply_to) {
  if (!valid_subject(subject) || (!reply_to.empty() && !valid_subject(reply_to))) {
    return fail(Errc::invalid_argument);
  }
  Message message{std::move(subject), std::move(reply_to), std::move(payload)};
  const bool delivered = locked([&](Posts& posts) {
    complete_request_locked(message, posts);
    return deliver_locked(message, posts);
  });
  if (!delivered) return fail(Errc::unavailable);
  return {};
}

Result<SubscriptionId> InprocBackbone::subscribe(std::string subject, std::string queue_group,
                                                 ExecutorPtr executor, MessageHandler handler) {
  SB_CHECK(executor && handler);
  if (!valid_subject(subject) || !printable(queue_group)) return fail(Errc::invalid_argument);
  return locked([&](Posts&) {
    const std::uint64_t id = next_id_++;
    Subscriber sub{std::move(executor), std::make_shared<MessageBox>(std::move(handler))};
    SubjectSubs& subs = subjects_[subject];
    if (queue_group.empty()) {
      subs.plain.push_back(sub);
    } else {
      subs.groups[queue_group].members.push_back(sub);
    }
    sub_index_.emplace(id, SubRef{std::move(subject), std::move(queue_group), sub.box});
    return SubscriptionId{id};
  });
}

void InprocBackbone::unsubscribe(SubscriptionId id) {
  // Keeps the handler alive until after unlocking: destroying its captures may call back into us.
  std::shared_ptr<void> handler_owner;
  std::lock_guard lock(mutex_);
  if (auto w = watchers_.find(id.value); w != watchers_.end()) {
    w->second.box->close();
    handler_owner = w->second.box;
    watchers_.erase(w);
    return;
  }
  auto ref = sub_index_.find(id.value);
  if (ref == sub_index_.end()) return;
  const SubRef& r = ref->second;
  r.box->close();
  handler_owner = r.box;
  auto subs = subjects_.find(r.subject);
  auto is_this = [&](const Subscriber& s) { return s.box == r.box; };
  if (r.group.empty()) {
    std::erase_if(subs->second.plain, is_this);
  } else {
    auto group = subs->second.groups.find(r.group);
    std::erase_if(group->second.members, is_this);
    if (group->second.members.empty()) {
      subs->second.groups.erase(group);
    } else {
      group->second.next %= group->second.members.size();
    }
  }
  if (subs->second.plain.empty() && subs->second.groups.empty()) subjects_.erase(subs);
  sub_index_.erase(ref);
}

void InprocBackbone::request(std::string subject, std::string payload,
                             std::chrono::milliseconds timeout, ExecutorPtr executor,
                             ReplyHandler on_reply) {
  SB_CHECK(executor && on_reply);
  locked([&](Posts& posts) {
    if (!valid_subject(subject)) {
      return post_reply(posts, executor, std::move(on_reply), fail(Errc::invalid_argument));
    }
    const Subscriber* responder = pick_responder_locked(subject);
    if (responder == nullptr) {
      return post_reply(posts, executor, std::move(on_reply), fail(Errc::unavailable));
    }
    std::string inbox = std::string(kInboxPrefix) + std::to_string(next_id_++);
    enqueue(responder->executor, responder->box,
            Message{std::move(subject), inbox, std::move(payload)}, posts);
    requests_.emplace(std::move(inbox), PendingRequest{std::move(executor), std::move(on_reply),
                                                       Clock::now() + timeout});
  });
}

const InprocBackbone::Subscriber* InprocBackbone::pick_member_locked(Group& group) {
  const std::size_t n = group.members.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = (group.next + i) % n;
    if (group.members[k].box->pending() < options_.max_pending_per_member) {
      group.next = (k + 1) % n;
      return &group.members[k];
    }
  }
  return nullptr;
}

// A request goes to a queue-group member first (groups are how services share load; members at
// their pending bound are skipped), else to the oldest plain subscriber.
const InprocBackbone::Subscriber* InprocBackbone::pick_responder_locked(
    const std::string& subject) {
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return nullptr;
  for (auto& [name, group] : it->second.groups) {
    if (const Subscriber* member = pick_member_locked(group)) return member;
  }
  return it->second.plain.empty() ? nullptr : &it->second.plain.front();
}

// Returns false when some queue group had no member with room (the message is dropped there).
bool InprocBackbone::deliver_locked(const Message& message, Posts& posts) {
  auto it = subjects_.find(message.subject);
  if (it == subjects_.end()) return true;
  for (const Subscriber& sub : it->second.plain) enqueue(sub.executor, sub.box, message, posts);
  bool delivered = true;
  for (auto& [name, group] : it->second.groups) {
    if (const Subscriber* member = pick_member_locked(group)) {
      enqueue(member->executor, member->box, message, posts);
    } else {
      delivered = false;
    }
  }
  return delivered;
}

void InprocBackbone::complete_request_locked(const Message& message, Posts& posts) {
  if (!message.subject.starts_with(kInboxPrefix)) return;
  auto it = requests_.find(message.subject);
  if (it == requests_.end()) return;  // late, duplicate, or not ours
  post_reply(posts, std::move(it->second.executor), std::move(it->second.on_reply), message);
  requests_.erase(it);
}

void InprocBackbone::time_out_requests_locked(Clock::time_point now, Posts& posts) {
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    post_reply(posts, std::move(it->second.executor), std::move(it->second.on_reply),
               fail(Errc::timeout));
    it = requests_.erase(it);
  }
}

// ---- key-value store, asynchronous: run the operation now, post its result. The posted task
// holds only the handler and the result, so it stays safe after the backbone is gone.

namespace {
template <class R, class Handler>
void post_result(const ExecutorPtr& executor, Handler done, R result) {
  SB_CHECK(executor && done);
  executor->post(
      [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}
}  // namespace

void InprocBackbone::kv_get(std::string key, ExecutorPtr executor, KvEntryHandler done) {
  post_result(executor, std::move(done), get_now(key));
}
void InprocBackbone::kv_put(std::string key, std::string value, std::chrono::milliseconds ttl,
                            ExecutorPtr executor, KvRevisionHandler done) {
  post_result(executor, std::move(done), put_now(key, std::move(value), ttl));
}
void InprocBackbone::kv_create(std::string key, std::string value, std::chrono::milliseconds ttl,
                               ExecutorPtr executor, KvRevisionHandler done) {
  post_result(executor, std::move(done), create_now(key, std::move(value), ttl));
}
void InprocBackbone::kv_update(std::string key, std::string value, std::uint64_t expected,
                               std::chrono::milliseconds ttl, ExecutorPtr executor,
                               KvRevisionHandler done) {
  post_result(executor, std::move(done), update_now(key, std::move(value), expected, ttl));
}
void InprocBackbone::kv_delete(std::string key, std::uint64_t expected, ExecutorPtr executor,
                               KvStatusHandler done) {
  post_result(executor, std::move(done), delete_now(key, expected));
}
void InprocBackbone::kv_refresh(std::string key, std::chrono::milliseconds ttl,
                                ExecutorPtr executor, KvStatusHandler done) {
  post_result(executor, std::move(done), refresh_now(key, ttl));
}
void InprocBackbone::kv_list(std::string prefix, ExecutorPtr executor, KvListHandler done) {
  post_result(executor, std::move(done), list_now(prefix));
}

// ---- key-value store: the operations themselves, run on the calling thread

Result<KvEntry> InprocBackbone::get_now(const std::string& key) {
  if (!valid_subject(key)) return fail(Errc::invalid_argument);
  return locked([&](Posts&) -> Result<KvEntry> {
    auto it = kv_.find(key);
    if (it == kv_.end()) return fail(Errc::not_found);
    return KvEntry{key, it->second.value, it->second.revision};
  });
}

Result<std::uint64_t> InprocBackbone::put_now(const std::string& key, std::string value,
                                              std::chrono::milliseconds ttl) {
  if (!valid_key_and_ttl(key, ttl)) return fail(Errc::invalid_argument);
  return locked([&](Posts& posts) -> Result<std::uint64_t> {
    return write_locked(key, std::move(value), ttl, posts);
  });
}

Result<std::uint64_t> InprocBackbone::create_now(const std::string& key, std::string value,
                                                 std::chrono::milliseconds ttl) {
  if (!valid_key_and_ttl(key, ttl)) return fail(Errc::invalid_argument);
  return locked([&](Posts& posts) -> Result<std::uint64_t> {
    if (kv_.contains(key)) return fail(Errc::already_exists);
    return write_locked(key, std::move(value), ttl, posts);
  });
}

Result<std::uint64_t> InprocBackbone::update_now(const std::string& key, std::string value,
                                                 std::uint64_t expected,
                                                 std::chrono::milliseconds ttl) {
  if (!valid_key_and_ttl(key, ttl)) return fail(Errc::invalid_argument);
  return locked([&](Posts& posts) -> Result<std::uint64_t> {
    auto it = kv_.find(key);
    if (it == kv_.end() || it->second.revision != expected) return fail(Errc::conflict);
    return write_locked(key, std::move(value), ttl, posts);
  });
}

Status InprocBackbone::delete_now(const std::string& key, std::uint64_t expected) {
  if (!valid_subject(key)) return fail(Errc::invalid_argument);
  return locked([&](Posts& posts) -> Status {
    auto it = kv_.find(key);
    if (it == kv_.end()) return fail(Errc::not_found);
    if (expected != 0 && it->second.revision != expected) return fail(Errc::conflict);
    remove_locked(it, KvOp::del, posts);
    return {};
  });
}

Status InprocBackbone::refresh_now(const std::string& key, std::chrono::milliseconds ttl) {
  if (!valid_key_and_ttl(key, ttl)) return fail(Errc::invalid_argument);
  return locked([&](Posts&) -> Status {
    auto it = kv_.find(key);
    if (it == kv_.end()) return fail(Errc::not_found);
    set_expiry_locked(key, it->second, ttl);
    return {};
  });
}

Result<std::vector<KvEntry>> InprocBackbone::list_now(const std::string& prefix) {
  return locked([&](Posts&) -> Result<std::vector<KvEntry>> {
    std::vector<KvEntry> out;
    for (auto it = kv_.lower_bound(prefix); it != kv_.end() && it->first.starts_with(prefix);
         ++it) {
      out.push_back(KvEntry{it->first, it->second.value, it->second.revision});
    }
    return out;
  });
}

Result<SubscriptionId> InprocBackbone::kv_watch(std::string prefix, bool initial,
                                                ExecutorPtr executor, KvEventHandler handler) {
  SB_CHECK(executor && handler);
  // The snapshot is taken under the same lock that registers the watcher: no gap, no duplicate.
  return locked([&](Posts& posts) {
    const std::uint64_t id = next_id_++;
    Watcher& w = watchers_[id];
    w = Watcher{std::move(prefix), std::move(executor),
                std::make_shared<EventBox>(std::move(handler))};
    if (initial) {
      for (auto it = kv_.lower_bound(w.prefix); it != kv_.end() && it->first.starts_with(w.prefix);
           ++it) {
        enqueue(w.executor, w.box,
                KvEvent{KvOp::put, KvEntry{it->first, it->second.value, it->second.revision}},
                posts);
      }
    }
    return SubscriptionId{id};
  });
}

void InprocBackbone::expire_due_locked(Clock::time_point now, Posts& posts) {
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    auto it = kv_.find(expiries_.begin()->second);
    SB_CHECK(it != kv_.end());
    remove_locked(it, KvOp::expired, posts);  // also erases the expiries_ entry
  }
}

std::uint64_t InprocBackbone::write_locked(const std::string& key, std::string value,
                                           std::chrono::milliseconds ttl, Posts& posts) {
  Stored& stored = kv_[key];
  set_expiry_locked(key, stored, ttl);
  stored.value = std::move(value);
  stored.revision = ++revision_;
  notify_locked(KvOp::put, KvEntry{key, stored.value, stored.revision}, posts);
  return stored.revision;
}

// Every write sets the expiry from its own ttl; zero means none.
void InprocBackbone::set_expiry_locked(const std::string& key, Stored& stored,
                                       std::chrono::milliseconds ttl) {
  if (stored.expires) expiries_.erase({*stored.expires, key});
  stored.expires.reset();
  if (ttl.count() > 0) {
    stored.expires = Clock::now() + ttl;
    expiries_.emplace(*stored.expires, key);
  }
}

void InprocBackbone::remove_locked(std::map<std::string, Stored>::iterator it, KvOp op,
                                   Posts& posts) {
  if (it->second.expires) expiries_.erase({*it->second.expires, it->first});
  const KvEntry gone{it->first, {}, ++revision_};
  kv_.erase(it);
  notify_locked(op, gone, posts);
}

void InprocBackbone::notify_locked(KvOp op, const KvEntry& entry, Posts& posts) {
  for (auto& [id, w] : watchers_) {
    if (entry.key.starts_with(w.prefix)) enqueue(w.executor, w.box, KvEvent{op, entry}, posts);
  }
}

}  // namespace sb::backbone
