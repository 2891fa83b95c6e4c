#pragma once
// Shard: one thread, one io_context, and everything it owns.
//
// A shard accepts on the node's ports (SO_REUSEPORT: every shard listens, the kernel spreads
// connections), runs its connections, owns the sessions of the players connected to it and the
// rooms it hosts, and keeps a local replica of the zone directory. Nothing a shard owns is
// touched by another thread: other shards and nodes reach it only through the backbone — its
// inbox subject "sb.shard.<node>.<index>" (session take-over, room requests, kicks) and the room
// subjects "sb.room.<id>" it subscribes to while it has members there (one copy of each room event
// per shard, fanned out locally). Login work goes to the AuthService pool and comes back as a
// posted callback. Sessions survive their connection for the grace period (seed 001 case 3);
// which shard holds a player's session is recorded in the backbone KV ("sess.<player>"), updated
// only by create-if-absent or by the current holder, so two logins can never both win.
// Threading: the public methods marked "any thread" post to the shard; the rest run on it.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "auth/auth_service.hpp"
#include "auth/token.hpp"
#include "backbone/backbone.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/ids.hpp"
#include "internal.pb.h"
#include "net/connection.hpp"
#include "node/node_metrics.hpp"
#include "room/room.hpp"
#include "room/room_types.hpp"
#include "room/zone_directory.hpp"
#include "session/session_fsm.hpp"
#include "switchboard.pb.h"

namespace sb::node {

namespace asio = boost::asio;

/// Services shared by all shards of a node; each is thread-safe.
struct NodeServices {
  const config::Config& config;
  backbone::Backbone& backbone;
  auth::AuthService& auth;
  const auth::TokenSigner& tokens;
  NodeMetrics& metrics;
  const Clock& clock;
  const room::RoomTypes& room_types;
};

class Shard final : public net::ConnectionEvents {
 public:
  Shard(ShardIndex index, NodeServices services);
  ~Shard() override;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  /// Binds this shard's acceptors (port 0 picks a port; pass the first shard's ports to the
  /// others). Start-up: throws on failure. Call before start().
  void listen(const asio::ip::tcp::endpoint& tcp_ep, const asio::ip::tcp::endpoint& ws_ep);
  std::uint16_t tcp_port() const;
  std::uint16_t ws_port() const;

  /// Subscribes to its inbox and the zone directory and starts the thread.
  void start();
  /// Stops accepting, tells every client the server is shutting down, waits up to `drain` for
  /// connections to flush and close, then stops the loop and joins the thread. Any thread.
  void shutdown(std::chrono::milliseconds drain);

  asio::io_context& io() noexcept { return io_; }
  ShardIndex index() const noexcept { return index_; }
  /// Inbox subject of a shard of a node.
  static std::string inbox_subject(const std::string& node, ShardIndex shard);

  // net::ConnectionEvents
  void on_open(net::Connection& c) override;
  void on_payload(net::Connection& c, std::string_view payload) override;
  void on_frame_too_large(net::Connection& c) override;
  void on_close(net::Connection& c, net::EndReason why) override;

 private:
  struct Conn {
    net::Connection* io = nullptr;
    session::SessionFsm fsm;
    SessionId session;
    TimePoint opened;
    TimePoint last_rx;
    TimePoint last_request;
    std::uint32_t errors = 0;
    double game_tokens = -1;    // GameMessage bucket (session.game_rate); < 0: not started
    TimePoint game_refill{};
  };
  struct Session {
    SessionId id;
    PlayerId player;
    std::string name;
    std::string zone;
    net::ConnId conn;           // invalid while detached
    RoomId room;                // invalid until in a room
    std::string room_type;      // type of `room` ("lobby" or a game)
    std::uint64_t room_seq = 0; // last room event seq queued to the client
    bool room_changed = false;  // changed rooms while detached: the client's last_seq is stale
    std::uint64_t token_id = 0;
    TimePoint held_until{};     // meaningful while detached
  };
  struct RoomSub {
    backbone::SubscriptionId sub;
    std::vector<SessionId> sessions;
    std::uint32_t joining = 0;  // joins/reattaches in flight that subscribed ahead of their reply
  };
  struct Claim {  // a login/register/resume in progress
    net::ConnId conn;
    std::uint32_t request_id = 0;
    PlayerId player;
    std::string name;
    std::string zone;
    std::uint64_t last_seq = 0;
    bool is_resume = false;
    std::uint64_t presented_token_id = 0;
    int attempt = 0;
  };

  // --- requests from clients
  void dispatch(Conn& c, proto::ClientFrame& f);
  void on_hello(Conn& c, std::uint32_t rid, const proto::Hello& h);
  void on_register(Conn& c, std::uint32_t rid, proto::RegisterRequest& r);
  void on_login(Conn& c, std::uint32_t rid, proto::LoginRequest& r);
  void on_resume(Conn& c, std::uint32_t rid, const proto::ResumeRequest& r);
  void on_logout(Conn& c, std::uint32_t rid);
  void on_chat(Conn& c, std::uint32_t rid, proto::ChatSend& r);
  void on_members(Conn& c, std::uint32_t rid);
  void on_create_room(Conn& c, std::uint32_t rid, proto::CreateRoom& r);
  void on_join_room(Conn& c, std::uint32_t rid, const proto::JoinRoom& r);
  void on_auto_join(Conn& c, std::uint32_t rid, proto::AutoJoin& r);
  void on_leave_room(Conn& c, std::uint32_t rid);
  void on_lock_room(Conn& c, std::uint32_t rid, bool locked);
  void on_list_rooms(Conn& c, std::uint32_t rid, const proto::ListRooms& r);
  void on_game(Conn& c, std::uint32_t rid, proto::GameMessage& r);
  /// Checks what CreateRoom and AutoJoin share (session, type, zone, params); answers the error
  /// and finishes the request when something is wrong.
  bool admit_room_request(Conn& c, std::uint32_t rid, const Session* s, const std::string& type,
                          const std::string& zone, const google::protobuf::Map<std::string, std::string>& params);
  /// Answers a room request that failed (finishes the in-flight request).
  void reply_error(net::ConnId cid, std::uint32_t rid, const proto::internal::RoomReply& reply);
  void on_auth_done(net::ConnId conn, std::uint32_t rid, std::string zone, std::uint64_t last_seq,
                    auth::AuthOutcome outcome);

  // --- session ownership (seed 001's four cases)
  void claim(Claim cl);
  void finish_claim(const Claim& cl, const proto::internal::SessionState& state,
                    proto::LoginKind kind, SessionId sid, std::uint64_t token_id);
  proto::internal::TakeOverReply take_over(const proto::internal::TakeOver& t);
  void end_session(SessionId sid, room::LeaveReason why);
  void detach(Session& s);
  std::string session_key(PlayerId p) const;
  proto::internal::Route my_route(SessionId sid) const;

  // --- rooms: client side (any owner)
  /// Places the session in its zone's lobby (the zone's home shard picks or opens one).
  void join_zone_lobby(SessionId sid, int attempt);
  /// Moves a session into `room` after its owner accepted it: leaves the previous room, sends the
  /// reply's frames (the first answers request `rid` when non-zero).
  void enter_room(SessionId sid, RoomId room, const proto::internal::RoomReply& reply, std::uint32_t rid = 0);
  /// Leaves the session's current room (if any) without joining another.
  void leave_current_room(Session& s, room::LeaveReason why);
  /// A joined room answered but the session is gone: give the seat back.
  void give_back_seat(PlayerId player, RoomId room);
  void room_call(RoomId room, proto::internal::RoomRequest req,
                 std::function<void(proto::internal::RoomReply)> done);
  void shard_call(ShardIndex owner, proto::internal::RoomRequest req,
                  std::function<void(proto::internal::RoomReply)> done);
  /// The shard of this node that hosts the auto-joined rooms of `type` in `zone` (stable hash).
  ShardIndex zone_home(const std::string& zone, const std::string& type) const;
  void attach_to_room(SessionId sid, RoomId room, std::uint64_t last_seq);
  void room_send(RoomId room, proto::internal::RoomRequest req);
  void subscribe_room(RoomId room);
  void add_room_member(RoomId room, SessionId sid);
  void remove_room_member(RoomId room, SessionId sid);
  /// A join or reattach in flight: subscribe now and keep the subscription until release_room(),
  /// so that a concurrent failure on this shard cannot drop it under a join that succeeds.
  void hold_room(RoomId room);
  void release_room(RoomId room);
  void drop_room_sub_if_unused(RoomId room);
  void on_room_broadcast(const backbone::Message& m);

  // --- rooms: owner side
  struct HostedRoom {
    std::unique_ptr<room::Room> room;
    asio::steady_timer timer;
    std::optional<TimePoint> armed;
    // What the zone directory last heard (only changes are pushed: ticks and inputs are not).
    std::uint32_t listed_players = UINT32_MAX;
    std::uint32_t listed_spectators = 0;
    bool listed_locked = false;
  };
  proto::internal::RoomReply handle_room(const proto::internal::RoomRequest& req);
  proto::internal::RoomReply join_lobby(const proto::internal::RoomRequest& req);
  proto::internal::RoomReply create_room(const proto::internal::RoomRequest& req);
  proto::internal::RoomReply auto_join_room(const proto::internal::RoomRequest& req);
  /// Creates a room of a registered type here. Errc::invalid_argument (message in `error`).
  Result<room::Room*> open_room(const std::string& type, const std::string& zone, std::uint32_t capacity,
                                PlayerId owner, const room::Params& params, std::string& error);
  RoomId create_lobby(const std::string& zone);
  /// Seats `player` in `r` and fills the reply (frames, seq, errors).
  void join_into(room::Room& r, const proto::internal::RoomRequest& req, bool spectator,
                 proto::internal::RoomReply& reply);
  /// Publishes the room's queued events and removals, updates the zone entry, closes the room
  /// if it ended or emptied, and re-arms its timer. Call after every operation on a room.
  void flush_room(room::Room& r);
  void arm_room(HostedRoom& h);
  void on_room_due(RoomId id);
  void push_zone_counts();
  void on_zone_event(const backbone::KvEvent& ev);
  /// Makes sure this shard's replica follows `zone` (watch + initial listing); marks it used.
  void watch_zone(const std::string& zone);
  /// Stops following zones nobody here looked at for a while (their remote rooms are dropped).
  void forget_idle_zones();

  // --- inbox
  void on_inbox(backbone::Message m);

  // --- output helpers
  void send(Conn& c, const proto::ServerFrame& f);
  void send_frame(Conn& c, const wire::FramePtr& f);
  void send_error(Conn& c, std::uint32_t rid, Errc code, std::string message,
                  std::uint32_t retry_after_ms = 0);
  void close_conn(Conn& c, proto::CloseReason reason, std::string message);
  void set_state(Conn& c, session::State s);
  Conn* find_conn(net::ConnId id);
  Session* find_session(SessionId id);

  // --- timers
  void start_timers();
  void arm_sweep();
  void arm_zone();
  void arm_lag();
  void sweep();
  void probe_lag();
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acc, net::TransportKind kind);

  ShardIndex index_;
  NodeServices svc_;
  const config::Config& cfg_;
  asio::io_context io_{1};
  ExecutorPtr executor_;
  IdMinter minter_;
  std::mt19937_64 rng_;
  std::optional<asio::ip::tcp::acceptor> tcp_acceptor_;
  std::optional<asio::ip::tcp::acceptor> ws_acceptor_;
  net::WriteBatcher batcher_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer zone_timer_;
  asio::steady_timer lag_timer_;
  TimePoint lag_expected_{};
  metrics::Histogram* lag_hist_ = nullptr;
  std::thread thread_;
  bool stopping_ = false;

  std::uint64_t next_conn_ = 0;
  std::unordered_map<net::ConnId, Conn> conns_;
  std::unordered_map<SessionId, Session> sessions_;
  std::unordered_map<PlayerId, SessionId> by_player_;
  std::unordered_map<RoomId, std::unique_ptr<HostedRoom>> rooms_;
  std::unordered_map<RoomId, RoomSub> room_subs_;
  std::set<RoomId> dirty_rooms_;
  std::vector<room::Broadcast> outbox_scratch_;  // flush_room's drain buffer (keeps its capacity)
  std::unordered_map<RoomId, std::string> closed_rooms_;  // closed since the last push -> zone
  room::ZoneDirectory zones_;
  struct ZoneWatch {
    backbone::SubscriptionId sub;
    TimePoint last_used;
  };
  std::unordered_map<std::string, ZoneWatch> zone_watches_;  // zones this shard's players look at
  TimePoint next_zone_gc_{};
  std::vector<backbone::SubscriptionId> subs_;
};

}  // namespace sb::node
