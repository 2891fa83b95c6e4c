#pragma once
// SessionService: the sessions of the players connected to one shard, and who holds them.
//
// A session belongs to a player, not to a connection: it survives its connection for the grace
// period (seed 001 case 3) and can be taken over by a later login. Which shard holds a player's
// session is recorded in the backbone KV ("sess.<player>" → SessionRecord), written only by
// create-if-absent or by the current holder, so two logins can never both win. The cases of
// seed 001 (docs/protocol.md §7.2) all start in claim():
//   1. no record (offline): a new session, by create-if-absent (a lost race looks again);
//   2. the holder has the player online: TOOK_OVER (take_over() on the holder);
//   3. the holder keeps it detached, within grace: REATTACHED;
//   4. in a room after either: back into it, replaying the events after the client's last_seq.
// A stale record (holder gone: NOT_HERE, or unreadable) is cleared if unchanged and claimed again.
// take_over() is the holder's side, whether asked by a login on this shard or through the inbox.
// Login and registration go to the AuthService pool and come back as posted callbacks; the
// in-flight request travels with them as a RequestScope.
// Threading: the shard thread only. Owns `sessions_` and `by_player_`.
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "internal.pb.h"
#include "node/connections.hpp"
#include "node/shard_env.hpp"
#include "room/room.hpp"

namespace sb::node {

namespace pi = proto::internal;

/// Zone names: 1..32 chars of [A-Za-z0-9_-].
bool valid_zone(std::string_view zone);

struct Session {
  SessionId id;
  PlayerId player;
  std::string name;
  std::string zone;
  net::ConnId conn;            // invalid while detached
  RoomId room;                 // invalid until in a room
  std::string room_type;       // type of `room` ("lobby" or a game)
  std::uint64_t room_seq = 0;  // last room event seq queued to the client
  bool room_changed = false;   // changed rooms while detached: the client's last_seq is stale
  std::uint64_t token_id = 0;
  TimePoint held_until{};      // meaningful while detached
};

class SessionService {
 public:
  explicit SessionService(ShardEnv& env);

  // ---- requests (admitted by Connections)
  void on_register(Conn& c, RequestScope scope, proto::RegisterRequest& r);
  void on_login(Conn& c, RequestScope scope, proto::LoginRequest& r);
  void on_resume(Conn& c, RequestScope scope, const proto::ResumeRequest& r);
  void on_logout(Conn& c, RequestScope scope);

  /// The session's connection has ended: hold the session for the grace period.
  void on_connection_lost(SessionId sid);
  /// The holder's side of a take-over (a login here or a message in the inbox): hands the
  /// session to `t.new_route` and answers its state, or NOT_HERE / TOKEN_INVALID.
  void take_over(const pi::TakeOver& t, std::function<void(pi::TakeOverReply)> done);
  /// An admin kick (ban): closes the connection and ends the session.
  void kick(const pi::Kick& k);
  /// Ends sessions whose grace period has passed.
  void sweep(TimePoint now);

  Session* find(SessionId id);
  Session* find_player(PlayerId player);
  /// Zones of the sessions held here (the zone replica keeps following them).
  std::unordered_set<std::string> zones_in_use() const;
  /// The KV key of a player's session record.
  static std::string record_key(PlayerId p);

 private:
  struct Claim {  // a login/register/resume in progress
    SharedScope scope;
    PlayerId player;
    std::string name;
    std::string zone;
    std::uint64_t last_seq = 0;
    bool is_resume = false;
    std::uint64_t presented_token_id = 0;
    int attempt = 0;
    bool registered = false;   // the account was created by this request (register)
    int backbone_retries = 0;  // claims retried after the backbone was unavailable
  };
  void on_auth_done(SharedScope scope, std::string zone, std::uint64_t last_seq, auth::AuthOutcome o,
                    bool registered = false);
  void claim(Claim cl);
  void claim_new(Claim cl, SessionId sid, std::uint64_t token_id);
  void claim_from(Claim cl, const backbone::KvEntry& entry, SessionId sid, std::uint64_t token_id);
  void fail_claim(const Claim& cl, Errc e, std::string message, std::uint32_t retry_after_ms = 0);
  /// The backbone could not be read or written (no connection, a bucket without a leader):
  /// claims again after a backoff (100, 200, 400, 800 ms), then answers UNAVAILABLE with a
  /// retry hint. A registration's answer says the account exists (log in, do not register again).
  void retry_claim_later(Claim cl);
  void finish_claim(const Claim& cl, const pi::SessionState& state, proto::LoginKind kind, SessionId sid,
                    std::uint64_t token_id);
  /// The take-over's second half, once the record names the new holder: fills the session's
  /// state into `reply`, tells the room of the switch, closes the old connection, forgets it.
  void hand_over(Session& s, pi::TakeOverReply& reply);
  void end_session(SessionId sid, room::LeaveReason why);
  /// Deletes the session record if it still names `sid` (a later holder's record is kept).
  void drop_record(PlayerId player, SessionId sid);

  NodeServices& svc() noexcept { return env_.svc; }

  ShardEnv& env_;
  const config::Config& cfg_;
  std::unordered_map<SessionId, Session> sessions_;
  std::unordered_map<PlayerId, SessionId> by_player_;
};

}  // namespace sb::node
