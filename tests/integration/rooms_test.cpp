// Game rooms over real sockets: create, join by id, spectators, lock, auto-join, room lists,
// game messages, targeted events, kicks, the end of a room, ticks, presence and replay.
// A "drill" room type (below) exercises every part of the handler API through the node.
#include <atomic>
#include <set>
#include <thread>

#include "harness.hpp"
#include "room/room_types.hpp"

namespace sb::test {
namespace {

/// "hog": the drill handler blocks its shard's thread until the test releases it, as a slow game
/// would: requests queued for that shard wait, the other shard runs on. Lets a test force an order
/// that a busy machine produces only now and then.
struct Hog {
  std::atomic<bool> started{false};
  std::atomic<bool> released{false};
};
Hog g_hog;

/// Releases the hog on every path out of a test, so the node can stop.
struct HogRelease {
  ~HogRelease() { g_hog.released = true; }
};

/// Test game: reacts to text commands sent as game messages.
///   "kick"           kicks the sender          "end:<text>"  ends the room with <text>
///   "hog"            blocks the shard until g_hog.released (at most 20 s)
///   "lock"/"unlock"  locks or unlocks          "to:<id>"     sends "secret" to player <id> only
///   anything else    broadcast as "echo:<text>"
/// Ticks at param tick_hz (broadcast "tick:<n>"), refuses players named "nobody", announces
/// presence changes ("away:<id>", "back:<id>") and connection switches ("switch:<id>"), and shows
/// "view:<id>" to a joining player.
class DrillHandler final : public room::RoomHandler {
 public:
  explicit DrillHandler(std::uint32_t tick_hz) : tick_hz_(tick_hz) {}
  void on_create(room::RoomContext& r) override { r.set_tick_hz(tick_hz_); }
  std::optional<room::Refusal> on_join_request(const room::RoomContext&, const room::Member& m) override {
    if (m.name == "nobody") return room::Refusal{Errc::refused, "nobody may not play"};
    return std::nullopt;
  }
  void on_presence(room::RoomContext& r, const room::Member& m, bool connected) override {
    r.broadcast_game((connected ? "back:" : "away:") + std::to_string(m.player.value));
  }
  void on_switch(room::RoomContext& r, const room::Member& m) override {
    r.broadcast_game("switch:" + std::to_string(m.player.value));
  }
  Status on_message(room::RoomContext& r, const room::Member& m, std::string_view data) override {
    const std::string d(data);
    if (d == "hog") {
      g_hog.started = true;
      for (int i = 0; i < 20'000 && !g_hog.released; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return {};
    }
    if (d == "kick") r.kick(m.player, "drill kick");
    else if (d.rfind("end:", 0) == 0) r.end(d.substr(4));
    else if (d == "lock") r.set_locked(true);
    else if (d == "unlock") r.set_locked(false);
    else if (d.rfind("to:", 0) == 0) r.send_game(PlayerId{std::stoull(d.substr(3))}, "secret");
    else if (d == "bad") return fail(Errc::invalid_argument);
    else r.broadcast_game("echo:" + d);
    return {};
  }
  void on_tick(room::RoomContext& r) override { r.broadcast_game("tick:" + std::to_string(r.ticks())); }
  std::string view(const room::RoomContext&, PlayerId viewer) const override {
    return "view:" + std::to_string(viewer.value);
  }

 private:
  std::uint32_t tick_hz_;
};

room::RoomType drill_type() {
  room::RoomType t;
  t.name = "drill";
  t.make = [](const room::RoomSpec& spec, std::string& error) -> Result<std::unique_ptr<room::RoomHandler>> {
    std::uint32_t hz = 0;
    if (auto it = spec.params.find("tick_hz"); it != spec.params.end()) {
      hz = static_cast<std::uint32_t>(std::strtoul(it->second.c_str(), nullptr, 10));
      if (hz > 100) {
        error = "tick_hz must be 0..100";
        return fail(Errc::invalid_argument);
      }
    }
    return std::unique_ptr<room::RoomHandler>(std::make_unique<DrillHandler>(hz));
  };
  t.default_capacity = 2;
  t.max_capacity = 50;
  t.max_spectators = 2;
  return t;
}

bool is_game(const proto::ServerFrame& f, const std::string& text) {
  return f.has_room_event() && f.room_event().has_game() && f.room_event().game() == text;
}

class RoomsTest : public NodeTest {
 protected:
  void SetUp() override {
    NodeTest::SetUp();
    room_types_.add(drill_type());
    start();
  }
  /// Registered and placed in its lobby.
  client::Client& player(const std::string& name) {
    auto& c = registered(name);
    EXPECT_TRUE(in_room(c)) << name;
    return c;
  }
};

TEST_F(RoomsTest, CreateJoinRelayAndLeaveBackToTheLobby) {
  auto& alice = player("alice");
  auto& bob = player("bob");
  const auto lobby = alice.room_id();
  auto created = run(alice.create_room("relay", "", 4));
  ASSERT_TRUE(created) << alice.last_error_message();
  EXPECT_EQ(created->room_type(), "relay");
  EXPECT_EQ(created->capacity(), 4u);
  ASSERT_EQ(created->members_size(), 1);
  EXPECT_NE(created->room_id(), lobby);
  EXPECT_EQ(alice.room_id(), created->room_id());

  auto joined = run(bob.join_room(created->room_id()));
  ASSERT_TRUE(joined) << bob.last_error_message();
  EXPECT_EQ(joined->members_size(), 2);
  ASSERT_TRUE(wait_push(alice, [&](const proto::ServerFrame& f) {
    return f.has_room_event() && f.room_event().has_member_joined() &&
           f.room_event().member_joined().player_id() == bob.player_id();
  }));

  ASSERT_TRUE(bob.send_game("hello"));
  auto relayed = wait_push(alice, [](const proto::ServerFrame& f) {
    return f.has_room_event() && f.room_event().has_relay();
  });
  ASSERT_TRUE(relayed);
  EXPECT_EQ(relayed->room_event().relay().from_player_id(), bob.player_id());
  EXPECT_EQ(relayed->room_event().relay().data(), "hello");

  ASSERT_TRUE(run(bob.leave_room()));
  auto back = wait_push(bob, [](const proto::ServerFrame& f) { return f.has_room_joined(); });
  ASSERT_TRUE(back);
  EXPECT_EQ(back->room_joined().room_type(), "lobby");
  ASSERT_TRUE(wait_push(alice, [&](const proto::ServerFrame& f) {
    return f.has_room_event() && f.room_event().has_member_left() &&
           f.room_event().member_left().player_id() == bob.player_id();
  }));
  // In the lobby there is no game room to leave or send to.
  EXPECT_EQ(run(bob.leave_room()).error(), make_error_code(Errc::bad_state));
}

TEST_F(RoomsTest, WebSocketClientsPlayToo) {
  auto& tcp = player("tcpplayer");
  auto& ws = make_client(client::ClientOptions::Transport::websocket);
  ASSERT_TRUE(run(ws.connect()));
  ASSERT_TRUE(run(ws.register_account("wsplayer", "password-1")));
  ASSERT_TRUE(in_room(ws));
  auto room = run(tcp.create_room("relay", "", 2));
  ASSERT_TRUE(room);
  ASSERT_TRUE(run(ws.join_room(room->room_id())));
  ASSERT_TRUE(ws.send_game(std::string("\x00\x01binary\xff", 9)));
  auto got = wait_push(tcp, [](const proto::ServerFrame& f) { return f.has_room_event() && f.room_event().has_relay(); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->room_event().relay().data(), std::string("\x00\x01binary\xff", 9));
  EXPECT_EQ(got->room_event().relay().from_player_id(), ws.player_id());
}

/// True for `room`'s event saying that `player` joined (or, with `left`, left) it.
bool is_member_event(const proto::ServerFrame& f, std::uint64_t room, std::uint64_t player, bool left) {
  if (!f.has_room_event() || f.room_event().room_id() != room) return false;
  const auto& ev = f.room_event();
  if (left) return ev.has_member_left() && ev.member_left().player_id() == player;
  return ev.has_member_joined() && ev.member_joined().player_id() == player;
}

// A client that asks for a game room at once after LoginOk races its own lobby placement (the
// zone's home shard seats it in the lobby and answers later). Whichever lands first, the session
// ends in the game room only: the lobby seats it and then lets it go again, so a lobby member
// sees member_joined then member_left (waiting for both, not for "not listed", which also holds
// before the placement has landed).
TEST_F(RoomsTest, AGameRoomRightAfterLoginWinsOverTheLobbyPlacement) {
  auto& other = player("bystander");
  const auto lobby = other.room_id();
  auto& eager = make_client();
  ASSERT_TRUE(run(eager.connect()));
  ASSERT_TRUE(run(eager.register_account("eager", "password-1")));
  // No wait for the lobby's RoomJoined: straight into a game room.
  auto room = run(eager.create_room("relay", "", 2));
  ASSERT_TRUE(room) << eager.last_error_message();
  ASSERT_TRUE(wait_push(other, [&](const proto::ServerFrame& f) {
    return is_member_event(f, lobby, eager.player_id(), false);
  }));
  ASSERT_TRUE(wait_push(other, [&](const proto::ServerFrame& f) {
    return is_member_event(f, lobby, eager.player_id(), true);
  })) << "the lobby kept a seat for a player who is in a game room";
  auto listed = run(other.members());
  ASSERT_TRUE(listed);
  for (const auto& m : listed->members()) EXPECT_NE(m.player_id(), eager.player_id());
  auto mine = run(eager.members());
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->room_id(), room->room_id());
}

// The order a busy machine produces now and then, forced: the lobby's home shard is held up, so
// the game room is entered before the lobby placement has even run. When the placement lands
// afterwards, the lobby must give the seat back (it used to keep it: a ghost lobby member).
TEST_F(RoomsTest, ALobbyPlacementLandingAfterTheGameRoomGivesTheSeatBack) {
  HogRelease release_on_exit;
  g_hog.started = false;
  g_hog.released = false;
  auto& other = player("onlooker");
  const auto lobby = other.room_id();
  const ShardIndex home = shard_of(lobby);
  // A drill room on the lobby's home shard (rooms live on their creator's connection's shard).
  client::Client* hogger = nullptr;
  for (int i = 0; i < 16 && !hogger; ++i) {
    auto& c = player("hogger" + std::to_string(i));
    auto r = run(c.create_room("drill", "", 2));
    ASSERT_TRUE(r) << c.last_error_message();
    if (shard_of(r->room_id()) == home) hogger = &c;
  }
  ASSERT_NE(hogger, nullptr) << "no connection landed on the lobby's home shard";
  // Candidates for the eager player, connected (Hello done) before the shard is held up.
  std::vector<client::Client*> candidates;
  for (int i = 0; i < 16; ++i) {
    auto& c = make_client();
    ASSERT_TRUE(run(c.connect()));
    candidates.push_back(&c);
  }
  ASSERT_TRUE(hogger->send_game("hog"));
  ASSERT_TRUE(pump_until([] { return g_hog.started.load(); }));
  // Only a connection on the other shard answers while the home shard is held up.
  auto answered = std::make_shared<std::vector<bool>>(candidates.size(), false);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    asio::co_spawn(io_, candidates[i]->ping(), [answered, i](std::exception_ptr e, Result<proto::Pong> p) {
      if (!e && p) (*answered)[i] = true;
    });
  }
  client::Client* eager = nullptr;
  ASSERT_TRUE(pump_until([&] {
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if ((*answered)[i]) eager = candidates[i];
    }
    return eager != nullptr;
  }));
  ASSERT_TRUE(run(eager->register_account("eagerest", "password-1"))) << eager->last_error_message();
  auto room = run(eager->create_room("relay", "", 2));
  ASSERT_TRUE(room) << eager->last_error_message();
  ASSERT_NE(shard_of(room->room_id()), home);
  auto mine = run(eager->members());
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->room_id(), room->room_id());
  ASSERT_FALSE(g_hog.released) << "the placement must still be pending here";
  g_hog.released = true;  // the placement runs now, after the game room
  ASSERT_TRUE(wait_push(other, [&](const proto::ServerFrame& f) {
    return is_member_event(f, lobby, eager->player_id(), false);
  }));
  ASSERT_TRUE(wait_push(other, [&](const proto::ServerFrame& f) {
    return is_member_event(f, lobby, eager->player_id(), true);
  })) << "the lobby kept a seat for a player who is in a game room";
  auto listed = run(other.members());
  ASSERT_TRUE(listed);
  for (const auto& m : listed->members()) EXPECT_NE(m.player_id(), eager->player_id());
  mine = run(eager->members());
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->room_id(), room->room_id());
}

TEST_F(RoomsTest, CapacityLockAndSpectators) {
  auto& owner = player("owner");
  auto& second = player("second");
  auto& third = player("third");
  auto& watcher = player("watcher");
  auto room = run(owner.create_room("drill", "", 2));
  ASSERT_TRUE(room);
  const auto id = room->room_id();
  ASSERT_TRUE(run(second.join_room(id)));
  EXPECT_EQ(run(third.join_room(id)).error(), make_error_code(Errc::room_full));
  auto watching = run(watcher.join_room(id, true));
  ASSERT_TRUE(watching) << watcher.last_error_message();
  EXPECT_TRUE(watching->spectator());
  // Spectators do not take seats, and cannot play.
  auto m = run(owner.members());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->members_size(), 3);
  ASSERT_TRUE(watcher.send_game("hi"));
  ASSERT_TRUE(pump_until([&] { return watcher.last_error().code() == proto::BAD_STATE; }));

  // Only the creator may lock.
  ASSERT_TRUE(run(second.leave_room()));
  EXPECT_EQ(run(watcher.lock_room(true)).error(), make_error_code(Errc::bad_state));
  ASSERT_TRUE(run(owner.lock_room(true)));
  EXPECT_EQ(run(third.join_room(id)).error(), make_error_code(Errc::room_locked));
  ASSERT_TRUE(run(owner.lock_room(false)));
  EXPECT_TRUE(run(third.join_room(id)));
}

TEST_F(RoomsTest, RefusalsAndBadRequestsAreAnswered) {
  auto& a = player("anna");
  auto& nobody = player("nobody");
  auto room = run(a.create_room("drill", "", 5));
  ASSERT_TRUE(room);
  auto refused = run(nobody.join_room(room->room_id()));
  EXPECT_EQ(refused.error(), make_error_code(Errc::refused));
  EXPECT_EQ(nobody.last_error_message(), "nobody may not play");
  EXPECT_EQ(run(nobody.join_room(999999)).error(), make_error_code(Errc::not_found));
  EXPECT_EQ(run(nobody.join_room(0xFF00000000000001ull), 2s).error(), make_error_code(Errc::not_found));
  EXPECT_EQ(run(nobody.create_room("chess")).error(), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(run(nobody.create_room("lobby")).error(), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(run(nobody.create_room("drill", "", 51)).error(), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(run(nobody.create_room("drill", "", 2, {{"tick_hz", "1000"}})).error(),
            make_error_code(Errc::invalid_argument));
  EXPECT_EQ(nobody.last_error_message(), "tick_hz must be 0..100");
  std::map<std::string, std::string> many;
  for (int i = 0; i < 17; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_EQ(run(nobody.create_room("drill", "", 2, many)).error(), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(run(nobody.create_room("drill", "bad zone!")).error(), make_error_code(Errc::invalid_argument));
  // A game message in the lobby is answered with an error carrying its request id.
  ASSERT_TRUE(nobody.send_game("x"));
  ASSERT_TRUE(pump_until([&] { return nobody.last_error().code() == proto::BAD_STATE; }));
  // A game message the game rejects is answered too, and the room goes on.
  ASSERT_TRUE(a.send_game("bad"));
  ASSERT_TRUE(pump_until([&] { return a.last_error().code() == proto::INVALID_ARGUMENT; }));
  ASSERT_TRUE(a.send_game("still here"));
  EXPECT_TRUE(wait_push(a, [](const proto::ServerFrame& f) { return is_game(f, "echo:still here"); }));
}

TEST_F(RoomsTest, AutoJoinFillsTheFullestRoomAndListsAgree) {
  std::vector<client::Client*> players;
  for (int i = 0; i < 5; ++i) players.push_back(&player("auto" + std::to_string(i)));
  std::map<std::uint64_t, int> seats;
  for (auto* p : players) {
    auto r = run(p->auto_join("drill"));
    ASSERT_TRUE(r) << p->last_error_message();
    ++seats[r->room_id()];
  }
  // Capacity 2: 2 + 2 + 1, never a third in a room.
  ASSERT_EQ(seats.size(), 3u);
  std::multiset<int> counts;
  for (auto& [id, n] : seats) counts.insert(n);
  EXPECT_EQ(counts, (std::multiset<int>{1, 2, 2}));
  // The zone list (from each edge's replica) converges to the same counts.
  auto& looker = player("looker");
  ASSERT_TRUE(pump_until(
      [&] {
        auto list = run(looker.list_rooms("", "drill"));
        if (!list) return false;
        std::map<std::uint64_t, int> seen;
        for (const auto& info : list->rooms()) seen[info.room_id()] = static_cast<int>(info.players());
        return seen == seats;
      },
      5s));
  auto all = run(looker.list_rooms());
  ASSERT_TRUE(all);
  bool has_lobby = false;
  for (const auto& info : all->rooms()) has_lobby |= info.room_type() == "lobby";
  EXPECT_TRUE(has_lobby);
  // The lone player's room is picked next (fullest with space), not a new one.
  auto& sixth = player("auto5");
  auto r = run(sixth.auto_join("drill"));
  ASSERT_TRUE(r);
  EXPECT_EQ(seats.count(r->room_id()), 1u);
  EXPECT_EQ(seats[r->room_id()], 1);
}

TEST_F(RoomsTest, AnotherZonesRoomsAreListedOnFirstLook) {
  auto& host = player("hoster");
  auto& looker = player("looker2");
  std::vector<std::uint64_t> made;
  // Rooms in a zone nobody on the looker's shard was in: its replica starts following the zone
  // at the first list, and the list converges to the hosts' counts.
  for (int i = 0; i < 3; ++i) {
    auto r = run(host.create_room("relay", "faraway", 8));
    ASSERT_TRUE(r);
    made.push_back(r->room_id());
  }
  ASSERT_TRUE(pump_until(
      [&] {
        auto list = run(looker.list_rooms("faraway"));
        if (!list || list->zone() != "faraway") return false;
        // The host moved on from the first two rooms (each creation left the previous one, which
        // closed empty): only the last remains, with one player.
        return list->rooms_size() == 1 && list->rooms(0).room_id() == made.back() && list->rooms(0).players() == 1;
      },
      5s));
  ASSERT_TRUE(run(looker.join_room(made.back())));
  ASSERT_TRUE(pump_until(
      [&] {
        auto list = run(looker.list_rooms("faraway", "relay"));
        return list && list->rooms_size() == 1 && list->rooms(0).players() == 2;
      },
      5s));
  EXPECT_EQ(run(looker.list_rooms("bad zone")).error(), make_error_code(Errc::invalid_argument));
}

TEST_F(RoomsTest, TargetedEventsReachOnlyTheirPlayer) {
  auto& a = player("amy");
  auto& b = player("ben");
  auto room = run(a.create_room("drill", "", 2));
  ASSERT_TRUE(room);
  ASSERT_TRUE(run(b.join_room(room->room_id())));
  EXPECT_EQ(room->game_state(), "view:" + std::to_string(a.player_id()));
  ASSERT_TRUE(a.send_game("to:" + std::to_string(b.player_id())));
  ASSERT_TRUE(a.send_game("after"));
  auto secret = wait_push(b, [](const proto::ServerFrame& f) { return is_game(f, "secret"); });
  ASSERT_TRUE(secret);
  // Amy sees the echo after the secret's number, but never the secret.
  bool amy_saw_secret = false;
  auto after = wait_push(a, [&](const proto::ServerFrame& f) {
    amy_saw_secret |= is_game(f, "secret");
    return is_game(f, "echo:after");
  });
  ASSERT_TRUE(after);
  EXPECT_FALSE(amy_saw_secret);
  EXPECT_GT(after->room_event().seq(), secret->room_event().seq());
}

TEST_F(RoomsTest, KickAndEndSendPlayersBackToTheirLobby) {
  auto& a = player("kay");
  auto& b = player("lee");
  auto room = run(a.create_room("drill", "", 2));
  ASSERT_TRUE(room);
  ASSERT_TRUE(run(b.join_room(room->room_id())));
  ASSERT_TRUE(b.send_game("kick"));
  auto left = wait_push(b, [](const proto::ServerFrame& f) { return f.has_room_left(); });
  ASSERT_TRUE(left);
  EXPECT_EQ(left->room_left().reason(), 2u);
  EXPECT_EQ(left->room_left().message(), "drill kick");
  auto lobby = wait_push(b, [](const proto::ServerFrame& f) { return f.has_room_joined(); });
  ASSERT_TRUE(lobby);
  EXPECT_EQ(lobby->room_joined().room_type(), "lobby");

  ASSERT_TRUE(run(b.join_room(room->room_id())));
  ASSERT_TRUE(a.send_game("end:blue wins"));
  for (auto* c : {&a, &b}) {
    auto ended = wait_push(*c, [](const proto::ServerFrame& f) {
      return f.has_room_event() && f.room_event().has_ended();
    });
    ASSERT_TRUE(ended);
    EXPECT_EQ(ended->room_event().ended().results(), "blue wins");
    auto gone = wait_push(*c, [](const proto::ServerFrame& f) { return f.has_room_left(); });
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->room_left().reason(), 3u);
    auto back = wait_push(*c, [](const proto::ServerFrame& f) { return f.has_room_joined(); });
    ASSERT_TRUE(back);
    EXPECT_EQ(back->room_joined().room_type(), "lobby");
  }
  // The ended room is closed.
  EXPECT_EQ(run(a.join_room(room->room_id())).error(), make_error_code(Errc::not_found));
}

TEST_F(RoomsTest, BackInTheLobbyAfterALongGameEveryLobbyEventArrives) {
  auto& gamer = player("gamer");
  auto& chatter = player("chatter");
  ASSERT_TRUE(run(gamer.create_room("drill", "", 2, {{"tick_hz", "100"}})));
  // Let the game room's numbering run far past the lobby's.
  ASSERT_TRUE(wait_push(gamer, [](const proto::ServerFrame& f) { return is_game(f, "tick:60"); }));
  ASSERT_TRUE(run(gamer.leave_room()));
  auto lobby = wait_push(gamer, [](const proto::ServerFrame& f) { return f.has_room_joined(); });
  ASSERT_TRUE(lobby);
  EXPECT_LT(lobby->room_joined().seq(), 60u);
  ASSERT_TRUE(run(chatter.chat("welcome back")));
  EXPECT_TRUE(wait_push(gamer, [](const proto::ServerFrame& f) {
    return f.has_room_event() && f.room_event().has_chat() && f.room_event().chat().text() == "welcome back";
  }));
}

TEST_F(RoomsTest, ALockedRoomSaysSoToItsCreatorAndAutoJoinMatchesParams) {
  auto& a = player("locker");
  auto created = run(a.create_room("relay", "", 4, {}, true));
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->locked());
  // Auto-join only shares a room with the same parameters.
  auto& p1 = player("stakes1");
  auto& p2 = player("stakes2");
  auto& p3 = player("stakes3");
  auto r1 = run(p1.auto_join("drill", "", {{"tick_hz", "1"}}));
  auto r2 = run(p2.auto_join("drill", "", {{"tick_hz", "2"}}));
  auto r3 = run(p3.auto_join("drill", "", {{"tick_hz", "1"}}));
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_NE(r1->room_id(), r2->room_id());
  EXPECT_EQ(r1->room_id(), r3->room_id());
}

TEST_F(RoomsTest, KickedWhileAwayTheReturningClientGetsASnapshot) {
  auto& a = player("keeper");
  auto& b = player("wanderer");
  auto room = run(a.create_room("drill", "", 2));
  ASSERT_TRUE(room);
  ASSERT_TRUE(run(b.join_room(room->room_id())));
  const std::string token = b.resume_token();
  const auto seen = b.last_seq();
  b.drop();
  const std::string away = "away:" + std::to_string(b.player_id());
  ASSERT_TRUE(wait_push(a, [&](const proto::ServerFrame& f) { return is_game(f, away); }));
  ASSERT_TRUE(a.send_game("end:over"));
  ASSERT_TRUE(wait_push(a, [](const proto::ServerFrame& f) { return f.has_room_left(); }));
  auto& b2 = make_client();
  ASSERT_TRUE(run(b2.connect()));
  b2.set_resume_state(token, seen);
  ASSERT_TRUE(run(b2.resume()));
  // Its last_seq was about the ended room: it gets the lobby's snapshot, not a replay.
  auto snap = wait_push(b2, [](const proto::ServerFrame& f) { return f.has_room_joined(); });
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->room_joined().room_type(), "lobby");
}

TEST_F(RoomsTest, TicksArriveInOrder) {
  auto& a = player("tia");
  ASSERT_TRUE(run(a.create_room("drill", "", 2, {{"tick_hz", "50"}})));
  std::uint64_t last = 0;
  int seen = 0;
  ASSERT_TRUE(wait_push(a, [&](const proto::ServerFrame& f) {
    if (!f.has_room_event() || !f.room_event().has_game()) return false;
    const auto& g = f.room_event().game();
    if (g.rfind("tick:", 0) != 0) return false;
    const auto n = std::stoull(g.substr(5));
    EXPECT_EQ(n, last + 1);
    last = n;
    return ++seen == 10;
  }));
}

TEST_F(RoomsTest, AGameLearnsOfDropsAndReturnsAndReplaysWhatWasMissed) {
  auto& a = player("ann");
  auto& b = player("boris");
  auto room = run(a.create_room("drill", "", 2));
  ASSERT_TRUE(room);
  ASSERT_TRUE(run(b.join_room(room->room_id())));
  const std::string token = b.resume_token();
  const auto seen = b.last_seq();
  b.drop();
  const std::string away = "away:" + std::to_string(b.player_id());
  ASSERT_TRUE(wait_push(a, [&](const proto::ServerFrame& f) { return is_game(f, away); }));
  ASSERT_TRUE(a.send_game("while you were out"));
  ASSERT_TRUE(wait_push(a, [](const proto::ServerFrame& f) { return is_game(f, "echo:while you were out"); }));

  auto& b2 = make_client();
  ASSERT_TRUE(run(b2.connect()));
  b2.set_resume_state(token, seen);
  auto resumed = run(b2.resume());
  ASSERT_TRUE(resumed) << b2.last_error_message();
  EXPECT_EQ(resumed->kind(), proto::REATTACHED);
  // The replay brings exactly what was missed, in order, then the game's own "back" event.
  ASSERT_TRUE(wait_push(b2, [](const proto::ServerFrame& f) { return is_game(f, "echo:while you were out"); }));
  const std::string back = "back:" + std::to_string(b.player_id());
  ASSERT_TRUE(wait_push(b2, [&](const proto::ServerFrame& f) { return is_game(f, back); }));
  ASSERT_TRUE(wait_push(a, [&](const proto::ServerFrame& f) { return is_game(f, back); }));
  ASSERT_TRUE(b2.send_game("i am back"));
  EXPECT_TRUE(wait_push(a, [](const proto::ServerFrame& f) { return is_game(f, "echo:i am back"); }));
}

/// True for what a take-over must never show the room: a presence event, or the drill game's
/// own announcement of a drop or a return.
bool is_presence(const proto::ServerFrame& f) {
  if (!f.has_room_event()) return false;
  const auto& ev = f.room_event();
  if (ev.has_member_disconnected() || ev.has_member_reconnected()) return true;
  return ev.has_game() && (ev.game().rfind("away:", 0) == 0 || ev.game().rfind("back:", 0) == 0);
}

// protocol.md §7.2 case 2 and §7.4: a take-over is no disconnection. The other member sees no
// presence change, the game is told of the switch only, the new connection gets the room's
// snapshot and the old one is closed "logged in elsewhere".
TEST_F(RoomsTest, ATakeOverIsNoDisconnectionForTheRoom) {
  auto& host = player("host");
  auto& mover = player("mover");
  auto room = run(host.create_room("drill", "", 2));
  ASSERT_TRUE(room);
  ASSERT_TRUE(run(mover.join_room(room->room_id())));
  ASSERT_TRUE(wait_push(host, [&](const proto::ServerFrame& f) {
    return f.has_room_event() && f.room_event().has_member_joined();
  }));

  auto& again = make_client();
  ASSERT_TRUE(run(again.connect()));
  auto ok = run(again.login("mover", "password-1"));
  ASSERT_TRUE(ok) << again.last_error_message();
  EXPECT_EQ(ok->kind(), proto::TOOK_OVER);
  // The new connection: the game room's snapshot (last_seq 0), the player still connected.
  auto snap = wait_push(again, [](const proto::ServerFrame& f) { return f.has_room_joined(); });
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->room_joined().room_id(), room->room_id());
  EXPECT_EQ(snap->room_joined().game_state(), "view:" + std::to_string(mover.player_id()));
  ASSERT_EQ(snap->room_joined().members_size(), 2);
  for (const auto& m : snap->room_joined().members()) EXPECT_TRUE(m.connected()) << m.player_id();
  // The old connection: closed with the documented reason.
  ASSERT_TRUE(pump_until([&] { return mover.last_close().has_value() && !mover.connected(); }));
  EXPECT_EQ(mover.last_close()->reason(), proto::CLOSE_LOGGED_IN_ELSEWHERE);
  EXPECT_EQ(mover.last_close()->message(), "logged in elsewhere");

  // The other member: the game's "switch", then the mover's message from its new connection,
  // and nothing about presence before, between or after.
  ASSERT_TRUE(again.send_game("from the new device"));
  const std::string switched = "switch:" + std::to_string(mover.player_id());
  std::vector<std::string> seen;
  bool presence = false;
  ASSERT_TRUE(wait_push(host, [&](const proto::ServerFrame& f) {
    presence = presence || is_presence(f);
    if (f.has_room_event() && f.room_event().has_game()) seen.push_back(f.room_event().game());
    return is_game(f, "echo:from the new device");
  }));
  EXPECT_FALSE(presence);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], switched);
  // Anything late would come within a round trip: one more message, still no presence event.
  ASSERT_TRUE(again.send_game("still here"));
  ASSERT_TRUE(wait_push(host, [&](const proto::ServerFrame& f) {
    presence = presence || is_presence(f);
    return is_game(f, "echo:still here");
  }));
  EXPECT_FALSE(presence);
  auto members = run(host.members());
  ASSERT_TRUE(members);
  for (const auto& m : members->members()) EXPECT_TRUE(m.connected()) << m.player_id();
}

// The same take-over with the last_seq the old connection had seen: the new connection gets a
// replay of exactly what it missed (the game's "switch" included) and no presence event.
TEST_F(RoomsTest, ATakeOverWithALastSeqReplaysWithoutPresenceEvents) {
  auto& host = player("hostess");
  auto& mover = player("traveller");
  auto room = run(host.create_room("drill", "", 2));
  ASSERT_TRUE(room);
  ASSERT_TRUE(run(mover.join_room(room->room_id())));
  ASSERT_TRUE(mover.send_game("before"));
  ASSERT_TRUE(wait_push(mover, [](const proto::ServerFrame& f) { return is_game(f, "echo:before"); }));
  const auto seen = mover.last_seq();
  ASSERT_TRUE(host.send_game("missed"));
  ASSERT_TRUE(wait_push(host, [](const proto::ServerFrame& f) { return is_game(f, "echo:missed"); }));

  auto& again = make_client();
  ASSERT_TRUE(run(again.connect()));
  proto::ClientFrame login = login_frame(0, "traveller", "password-1");
  login.mutable_login()->set_last_seq(seen);
  auto answer = run(again.request(login));
  ASSERT_TRUE(answer);
  ASSERT_TRUE(answer->has_login_ok()) << answer->DebugString();
  EXPECT_EQ(answer->login_ok().kind(), proto::TOOK_OVER);
  std::vector<std::string> replay;
  bool presence = false;
  bool snapshot = false;
  const std::string switched = "switch:" + std::to_string(mover.player_id());
  ASSERT_TRUE(wait_push(again, [&](const proto::ServerFrame& f) {
    presence = presence || is_presence(f);
    snapshot = snapshot || f.has_room_joined();
    if (f.has_room_event()) {
      EXPECT_GT(f.room_event().seq(), seen);
      if (f.room_event().has_game()) replay.push_back(f.room_event().game());
    }
    return is_game(f, switched);
  }));
  EXPECT_FALSE(presence);
  EXPECT_FALSE(snapshot);
  EXPECT_EQ(replay, (std::vector<std::string>{"echo:missed", switched}));
  ASSERT_TRUE(pump_until([&] { return mover.last_close().has_value() && !mover.connected(); }));
  EXPECT_EQ(mover.last_close()->reason(), proto::CLOSE_LOGGED_IN_ELSEWHERE);
}

class RoomsFloodTest : public NodeTest {
 protected:
  void SetUp() override {
    NodeTest::SetUp();
    config_.session.game_rate = 10;
    config_.session.game_burst = 20;
    config_.session.max_errors = 5;
    start();
  }
};

TEST_F(RoomsFloodTest, AGameMessageFloodIsRateLimitedThenClosed) {
  auto& flooder = registered("flooder");
  ASSERT_TRUE(in_room(flooder));
  ASSERT_TRUE(run(flooder.create_room("relay", "", 2)));
  // Within the burst every message is relayed.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(flooder.send_game("m" + std::to_string(i)));
  ASSERT_TRUE(wait_push(flooder, [](const proto::ServerFrame& f) {
    return f.has_room_event() && f.room_event().has_relay() && f.room_event().relay().data() == "m19";
  }));
  // Past it: RATE_LIMITED, and after max_errors of those the connection is closed.
  for (int i = 0; i < 10; ++i) (void)flooder.send_game("x");
  ASSERT_TRUE(pump_until([&] { return flooder.last_close().has_value(); }));
  EXPECT_EQ(flooder.last_close()->reason(), proto::CLOSE_PROTOCOL_ERROR);
  EXPECT_EQ(flooder.last_error().code(), proto::RATE_LIMITED);
  EXPECT_GT(flooder.last_error().retry_after_ms(), 0u);
}

}  // namespace
}  // namespace sb::test
