#include "node/session_service.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "node/room_members.hpp"
#include "node/router.hpp"
#include "node/zone_replica.hpp"

namespace sb::node {

using session::State;

bool valid_zone(std::string_view z) {
  if (z.empty() || z.size() > 32) return false;
  for (char c : z) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

SessionService::SessionService(ShardEnv& env) : env_(env), cfg_(env.cfg) {}

std::string SessionService::record_key(PlayerId p) { return "sess." + std::to_string(p.value); }

Session* SessionService::find(SessionId id) {
  if (!id.valid()) return nullptr;
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

Session* SessionService::find_player(PlayerId player) {
  auto it = by_player_.find(player);
  return it == by_player_.end() ? nullptr : find(it->second);
}

std::unordered_set<std::string> SessionService::zones_in_use() const {
  std::unordered_set<std::string> zones;
  for (const auto& [sid, s] : sessions_) zones.insert(s.zone);
  return zones;
}

// ------------------------------------------------------------------ requests

void SessionService::on_register(Conn& c, RequestScope scope, proto::RegisterRequest& r) {
  std::string zone = r.zone().empty() ? cfg_.lobby.default_zone : r.zone();
  if (!valid_zone(zone)) return scope.fail(Errc::invalid_argument, "zone must be 1..32 chars of [A-Za-z0-9_-]");
  svc().auth.register_account(std::move(*r.mutable_username()), std::move(*r.mutable_password()), zone,
                              c.io->remote(), env_.executor,
                              [this, s = share(std::move(scope)), zone](auth::AuthOutcome o) {
                                on_auth_done(s, zone, 0, std::move(o), /*registered=*/true);
                              });
}

void SessionService::on_login(Conn& c, RequestScope scope, proto::LoginRequest& r) {
  std::string zone = r.zone();
  if (!zone.empty() && !valid_zone(zone)) {
    return scope.fail(Errc::invalid_argument, "zone must be 1..32 chars of [A-Za-z0-9_-]");
  }
  const std::uint64_t last_seq = r.last_seq();
  svc().auth.login(std::move(*r.mutable_username()), std::move(*r.mutable_password()), c.io->remote(), env_.executor,
                   [this, s = share(std::move(scope)), zone, last_seq](auth::AuthOutcome o) {
                     on_auth_done(s, zone, last_seq, std::move(o));
                   });
}

void SessionService::on_auth_done(SharedScope scope, std::string zone, std::uint64_t last_seq, auth::AuthOutcome o,
                                  bool registered) {
  if (o.code != Errc::ok) svc().metrics.login(o.code).inc();  // successes are counted once claimed
  if (!env_.parts.conns->find(scope->conn())) return;        // the client left while we were hashing
  if (o.code != Errc::ok) return scope->fail(o.code, o.message, o.retry_after_ms);
  Claim cl;
  cl.scope = std::move(scope);
  cl.player = o.account.id;
  cl.name = o.account.username;
  cl.zone = zone.empty() ? (o.account.zone.empty() ? cfg_.lobby.default_zone : o.account.zone) : zone;
  cl.last_seq = last_seq;
  cl.registered = registered;
  claim(std::move(cl));
}

void SessionService::on_resume(Conn&, RequestScope scope, const proto::ResumeRequest& r) {
  auto claims = svc().tokens.verify(r.token(), svc().clock.unix_ms());
  if (!claims) {
    const Errc e = to_errc(claims.error());
    svc().metrics.login(e).inc();
    return scope.fail(e, e == Errc::token_expired ? "resume token expired" : "resume token invalid");
  }
  Claim cl;
  cl.scope = share(std::move(scope));
  cl.player = claims->player;
  cl.last_seq = r.last_seq();
  cl.is_resume = true;
  cl.presented_token_id = claims->token_id;
  claim(std::move(cl));
}

void SessionService::on_logout(Conn& c, RequestScope scope) {
  const SessionId sid = c.session;
  c.session = {};
  end_session(sid, room::LeaveReason::left);
  scope.ok();
  env_.parts.conns->close(c, proto::CLOSE_LOGOUT, "logged out");
}

// ------------------------------------------------------------------ claiming (seed 001)

void SessionService::fail_claim(const Claim& cl, Errc e, std::string message, std::uint32_t retry_after_ms) {
  svc().metrics.login(e).inc();
  cl.scope->fail(e, std::move(message), retry_after_ms);
}

void SessionService::retry_claim_later(Claim cl) {
  constexpr int kRetries = 4;
  if (cl.backbone_retries >= kRetries) {
    std::string message = cl.registered
                              ? "account created, but the session could not be started (backbone unavailable): "
                                "log in in a moment"
                              : "backbone unavailable, retry";
    return fail_claim(cl, Errc::unavailable, std::move(message), 1000);
  }
  const auto delay = std::chrono::milliseconds(100 << cl.backbone_retries);
  ++cl.backbone_retries;
  --cl.attempt;  // a backoff is not a lost race: keep claim()'s race bound for races
  auto timer = std::make_shared<asio::steady_timer>(env_.io, delay);
  timer->async_wait([this, timer, cl = std::move(cl)](boost::system::error_code ec) mutable {
    if (ec) return;  // the shard is stopping: the scope answers nothing more
    claim(std::move(cl));
  });
}

void SessionService::claim(Claim cl) {
  if (cl.attempt++ > 8) return fail_claim(cl, Errc::unavailable, "could not claim the session, retry");
  if (!env_.parts.conns->find(cl.scope->conn())) return;
  svc().backbone.kv_get(record_key(cl.player), env_.executor, [this, cl](Result<backbone::KvEntry> entry) {
    if (!env_.parts.conns->find(cl.scope->conn())) return;  // gone while we looked: nothing written yet
    const SessionId sid{env_.minter.next()};
    const std::uint64_t token_id = auth::TokenSigner::random_token_id();
    if (entry) return claim_from(cl, *entry, sid, token_id);
    if (to_errc(entry.error()) != Errc::not_found) {
      svc().metrics.kv_failures.inc();
      return retry_claim_later(cl);
    }
    claim_new(cl, sid, token_id);
  });
}

void SessionService::claim_new(Claim cl, SessionId sid, std::uint64_t token_id) {
  // Case 1: nobody holds a session for the player.
  if (cl.is_resume) return fail_claim(cl, Errc::session_expired, "session expired; log in with your password");
  pi::SessionRecord rec;
  *rec.mutable_route() = env_.parts.router->route_here(sid);
  rec.set_token_id(token_id);
  rec.set_connected(true);
  svc().backbone.kv_create(
      record_key(cl.player), rec.SerializeAsString(), {}, env_.executor,
      [this, cl, sid, token_id](Result<std::uint64_t> created) mutable {
        if (!created) {
          if (to_errc(created.error()) == Errc::already_exists) return claim(std::move(cl));  // lost a race: look again
          svc().metrics.kv_failures.inc();
          return retry_claim_later(std::move(cl));
        }
        pi::SessionState state;
        state.set_player_id(cl.player.value);
        state.set_name(cl.name);
        state.set_zone(cl.zone);
        finish_claim(cl, state, proto::NEW_SESSION, sid, token_id);  // also when the client left meanwhile
      });
}

void SessionService::claim_from(Claim cl, const backbone::KvEntry& entry, SessionId sid, std::uint64_t token_id) {
  const std::string key = record_key(cl.player);
  const std::uint64_t rev = entry.revision;
  // Case 4 (and unreadable records): clear the stale record if unchanged, then claim again.
  auto clear_and_retry = [this, key, rev](Claim k) {
    svc().backbone.kv_delete(key, rev, env_.executor, [this, k = std::move(k)](Status st) mutable {
      // conflict / not_found: someone else changed it first, which is what the retry looks at.
      if (!st && to_errc(st.error()) != Errc::conflict && to_errc(st.error()) != Errc::not_found) {
        svc().metrics.kv_failures.inc();
      }
      claim(std::move(k));
    });
  };
  pi::SessionRecord rec;
  if (!rec.ParseFromString(entry.value)) return clear_and_retry(std::move(cl));
  if (cl.is_resume && rec.token_id() != cl.presented_token_id) {
    return fail_claim(cl, Errc::token_invalid, "resume token was replaced");
  }
  pi::TakeOver t;
  t.set_player_id(cl.player.value);
  *t.mutable_new_route() = env_.parts.router->route_here(sid);
  t.set_new_token_id(token_id);
  t.set_is_resume(cl.is_resume);
  t.set_presented_token_id(cl.presented_token_id);
  // Cases 2 and 3: the holder hands the session over.
  auto on_reply = [this, cl, sid, token_id, clear_and_retry](pi::TakeOverReply r) mutable {
    switch (r.status()) {
      case pi::TakeOverReply::OK: {
        if (!cl.name.empty()) r.mutable_state()->set_name(cl.name);
        if (!cl.zone.empty() && !r.state().room_id()) r.mutable_state()->set_zone(cl.zone);
        const auto kind = r.state().was_connected() ? proto::TOOK_OVER : proto::REATTACHED;
        return finish_claim(cl, r.state(), kind, sid, token_id);
      }
      case pi::TakeOverReply::TOKEN_INVALID:
        return fail_claim(cl, Errc::token_invalid, "resume token was replaced");
      case pi::TakeOverReply::NOT_HERE:
      default:
        // Stale record (holder restarted or mid-handover).
        return clear_and_retry(std::move(cl));
    }
  };
  const Location holder = env_.parts.router->of_route(rec.route());
  if (holder.here()) return take_over(t, std::move(on_reply));
  env_.parts.router->take_over(holder, t, std::move(on_reply));
}

void SessionService::take_over(const pi::TakeOver& t, std::function<void(pi::TakeOverReply)> done) {
  const PlayerId player{t.player_id()};
  Session* s = find_player(player);
  pi::TakeOverReply reply;
  if (!s) {
    reply.set_status(pi::TakeOverReply::NOT_HERE);
    return done(std::move(reply));
  }
  if (t.is_resume() && t.presented_token_id() != s->token_id) {
    reply.set_status(pi::TakeOverReply::TOKEN_INVALID);
    return done(std::move(reply));
  }
  pi::SessionRecord rec;
  *rec.mutable_route() = t.new_route();
  rec.set_token_id(t.new_token_id());
  rec.set_connected(true);
  // The record names the new holder first; the session is handed over once that is written.
  svc().backbone.kv_put(record_key(player), rec.SerializeAsString(), {}, env_.executor,
                        [this, done = std::move(done), old = s->id](Result<std::uint64_t> put) {
                          pi::TakeOverReply r;
                          Session* held = find(old);
                          if (!put) svc().metrics.kv_failures.inc();
                          if (!put || !held) {
                            // Not written, or the session ended while it was: the claimer clears
                            // the record if it is still the one it saw and claims again.
                            r.set_status(pi::TakeOverReply::NOT_HERE);
                            return done(std::move(r));
                          }
                          hand_over(*held, r);
                          done(std::move(r));
                        });
}

void SessionService::hand_over(Session& s, pi::TakeOverReply& reply) {
  auto* st = reply.mutable_state();
  st->set_player_id(s.player.value);
  st->set_name(s.name);
  st->set_zone(s.zone);
  st->set_room_id(s.room.value);
  st->set_room_seq(s.room_seq);
  st->set_was_connected(s.conn.valid());
  st->set_room_changed(s.room_changed);
  if (s.conn.valid() && s.room.valid()) {
    // No drop (protocol.md §7.2 case 2): the room sees no presence change; the game is told of
    // the switch so it can reset per-connection state (e.g. input sequence numbers).
    pi::RoomRequest moved;
    moved.set_room_id(s.room.value);
    moved.set_player_id(s.player.value);
    moved.mutable_conn_switch();
    env_.parts.router->send_room(s.room, std::move(moved));
  }
  if (Conn* old = env_.parts.conns->find(s.conn)) {
    old->session = {};
    env_.parts.conns->close(*old, proto::CLOSE_LOGGED_IN_ELSEWHERE, "logged in elsewhere");
  } else {
    svc().metrics.sessions_detached.add(-1);
  }
  const SessionId old_sid = s.id;
  if (s.room.valid()) env_.parts.members->remove_member(s.room, old_sid);
  by_player_.erase(s.player);
  sessions_.erase(old_sid);
  reply.set_status(pi::TakeOverReply::OK);
}

void SessionService::finish_claim(const Claim& cl, const pi::SessionState& state, proto::LoginKind kind, SessionId sid,
                                  std::uint64_t token_id) {
  Session s;
  s.id = sid;
  s.player = PlayerId{state.player_id()};
  s.name = state.name();
  s.zone = state.zone().empty() ? cfg_.lobby.default_zone : state.zone();
  s.token_id = token_id;
  const RoomId old_room{state.room_id()};
  Conn* c = env_.parts.conns->find(cl.scope->conn());
  if (c) {
    s.conn = cl.scope->conn();
    c->session = sid;
  } else {
    // The client vanished mid-login: hold the session as if it had just dropped.
    s.held_until = svc().clock.now() + std::chrono::milliseconds(cfg_.session.session_grace_ms);
    svc().metrics.sessions_detached.add(1);
  }
  env_.parts.zones->watch(s.zone);
  sessions_.emplace(sid, s);
  by_player_[s.player] = sid;
  svc().metrics.login(Errc::ok).inc();
  if (cl.is_resume) svc().metrics.resumes.inc();
  if (c) {
    const auto expires = svc().clock.unix_ms() + static_cast<UnixMillis>(cfg_.auth.token_ttl_s) * 1000;
    proto::ServerFrame out;
    auto* ok = out.mutable_login_ok();
    ok->set_player_id(s.player.value);
    ok->set_username(s.name);
    ok->set_kind(kind);
    ok->set_resume_token(svc().tokens.issue({s.player, token_id, expires}));
    ok->set_token_expires_unix_ms(static_cast<std::uint64_t>(expires));
    ok->set_session_grace_ms(cfg_.session.session_grace_ms);
    env_.parts.conns->set_state(*c, State::authenticated);
    cl.scope->reply(std::move(out));
  }
  if (old_room.valid()) {
    // Seed 001 case 4: back into the room, replaying what the client missed.
    sessions_.at(sid).room = old_room;
    env_.parts.members->attach(sid, old_room, state.room_changed() ? 0 : cl.last_seq);
  } else {
    env_.parts.members->join_zone_lobby(sid, 0);
  }
}

// ------------------------------------------------------------------ endings

void SessionService::on_connection_lost(SessionId sid) {
  Session* s = find(sid);
  if (!s) return;
  s->conn = {};
  s->held_until = svc().clock.now() + std::chrono::milliseconds(cfg_.session.session_grace_ms);
  svc().metrics.sessions_detached.add(1);
  if (s->room.valid()) {
    pi::RoomRequest req;
    req.set_room_id(s->room.value);
    req.set_player_id(s->player.value);
    req.mutable_presence()->set_connected(false);
    env_.parts.router->send_room(s->room, std::move(req));
  }
}

void SessionService::end_session(SessionId sid, room::LeaveReason why) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  if (!s.conn.valid()) svc().metrics.sessions_detached.add(-1);
  env_.parts.members->leave_current_room(s, why);
  const PlayerId player = s.player;
  by_player_.erase(player);
  sessions_.erase(it);
  drop_record(player, sid);
}

void SessionService::drop_record(PlayerId player, SessionId sid) {
  const std::string key = record_key(player);
  svc().backbone.kv_get(key, env_.executor, [this, key, sid](Result<backbone::KvEntry> e) {
    if (!e) {
      if (to_errc(e.error()) != Errc::not_found) svc().metrics.kv_failures.inc();
      return;
    }
    pi::SessionRecord rec;
    if (!rec.ParseFromString(e->value) || rec.route().session_id() != sid.value) return;  // a later holder's
    svc().backbone.kv_delete(key, e->revision, env_.executor, [this](Status st) {
      // conflict: rewritten since (a take-over), so it is no longer ours to remove.
      if (!st && to_errc(st.error()) != Errc::conflict && to_errc(st.error()) != Errc::not_found) {
        svc().metrics.kv_failures.inc();
      }
    });
  });
}

void SessionService::kick(const pi::Kick& k) {
  Session* s = find_player(PlayerId{k.player_id()});
  if (!s) return;
  if (Conn* c = env_.parts.conns->find(s->conn)) {
    c->session = {};
    env_.parts.conns->close(*c, static_cast<proto::CloseReason>(k.close_reason()), k.message());
    s->conn = {};
    svc().metrics.sessions_detached.add(1);  // balanced by end_session
  }
  end_session(s->id, room::LeaveReason::kicked);
}

void SessionService::sweep(TimePoint now) {
  std::vector<SessionId> expired;
  for (const auto& [sid, s] : sessions_) {
    if (!s.conn.valid() && now >= s.held_until) expired.push_back(sid);
  }
  for (SessionId sid : expired) end_session(sid, room::LeaveReason::timed_out);
}

}  // namespace sb::node
