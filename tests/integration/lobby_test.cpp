// Lobby placement over real sockets: concurrent logins never overfill a lobby.
#include <map>

#include "harness.hpp"

namespace sb::test {
namespace {

class LobbyTest : public NodeTest {};

asio::awaitable<bool> join_one(client::Client& c, std::string name) {
  if (auto st = co_await c.connect(); !st) {
    ADD_FAILURE() << name << ": connect: " << st.error().message();
    co_return false;
  }
  auto ok = co_await c.register_account(name, "password-1");
  if (!ok) ADD_FAILURE() << name << ": register: " << ok.error().message() << " " << c.last_error_message();
  co_return static_cast<bool>(ok);
}

TEST_F(LobbyTest, ConcurrentLoginsNeverOverfillALobby) {
  config_.lobby.capacity = 7;
  start();
  constexpr int kPlayers = 60;
  std::vector<client::Client*> players;
  int done = 0, succeeded = 0;
  for (int i = 0; i < kPlayers; ++i) {
    auto& c = make_client();
    players.push_back(&c);
    asio::co_spawn(io_, join_one(c, "player" + std::to_string(i)), [&](std::exception_ptr e, bool ok) {
      ++done;
      if (!e && ok) ++succeeded;
    });
  }
  ASSERT_TRUE(pump_until([&] { return done == kPlayers; }, 60s));
  ASSERT_EQ(succeeded, kPlayers);
  ASSERT_TRUE(pump_until([&] {
    for (auto* p : players) if (p->room_id() == 0) return false;
    return true;
  }, 20s));
  std::map<std::uint64_t, int> per_room;
  for (auto* p : players) per_room[p->room_id()]++;
  for (const auto& [room, n] : per_room) EXPECT_LE(n, 7) << "room " << room;
  // The zone's home shard places every player in the fullest lobby with space: 60 players in
  // lobbies of 7 make exactly 9 lobbies, 8 of them full.
  EXPECT_EQ(per_room.size(), 9u);
  int full = 0;
  for (const auto& [room, n] : per_room) full += n == 7;
  EXPECT_EQ(full, 8);
  // The rooms' own member lists agree with what clients were told.
  for (auto* p : players) {
    auto m = run(p->members());
    ASSERT_TRUE(m);
    EXPECT_LE(m->members_size(), 7);
    EXPECT_EQ(m->room_id(), p->room_id());
  }
}

}  // namespace
}  // namespace sb::test
