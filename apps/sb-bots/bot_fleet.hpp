#pragma once
// BotFleet: the bots of one process, each a client::Client driven by one coroutine.
//
// A launcher starts bots at the ramp rate. Each bot connects (TCP/WS + Hello), logs in, registers
// or does "login, and register on BAD_CREDENTIALS", then sits in the lobby sending chat messages
// with exponentially distributed gaps (a Poisson process of `chat_rate` per second) whose tag is
// the sender's CLOCK_MONOTONIC time in ns; every receiver records now - tag as delivery latency
// (same machine, same clock). Retryable failures back off with full jitter and try again; permanent
// ones (banned, wrong password in login mode, ...) retire the bot. Lost connections are resumed by
// the client library (auto_reconnect); if the resume is refused the bot logs in again. drop_all()
// closes every logged-in bot's socket abruptly to measure the resume storm. Counters go to a
// BotStats that the process reports every second. Everything runs on one io_context thread; the
// fleet must outlive the io_context's run and be destroyed after it stops.
// Game scenarios: a logged-in bot auto-joins a poker table or a capture-the-flag room and hands
// every game event to a games::PokerBot / ctf::CtfBot, sending what they decide at once (poker:
// an Action when it is the bot's turn; ctf: an Input after a State, a few per second). It counts
// hands (once per table: the bot in the first seat), ticks received and gaps in the tick numbers
// (lost), input-to-acknowledging-State latency and server-stamp-to-arrival latency of events.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bot_stats.hpp"
#include "client.hpp"

namespace sb::bots {

namespace asio = boost::asio;

enum class LoginMode { register_or_login, register_only, login_only };

struct FleetConfig {
  client::ClientOptions client;  // host, port, transport, timeouts, backoff
  std::uint64_t first_index = 0;
  std::uint64_t count = 100;
  double ramp = 1000;       // new connections per second
  double chat_rate = 0.2;   // messages per bot per second, 0 = none
  std::string prefix = "bot";
  std::string password = "bot-password";
  std::string zone;
  LoginMode mode = LoginMode::register_or_login;
  std::size_t text_bytes = 64;
  int source_ips = 1;       // spread source addresses over 127.0.0.1 .. 127.0.0.N
  std::uint64_t seed = 0;
  /// "lobby" (chat only), "poker" or "ctf": after logging in, game bots auto-join a room of that
  /// type in `game_zone` (empty = their zone) with `game_params`, play, and join again when it ends.
  std::string scenario = "lobby";
  std::string game_zone;
  std::map<std::string, std::string> game_params;
  /// Game bots wait until every bot of this process is logged in before joining games (a
  /// benchmark's logins then do not compete with the games for the server's CPU).
  bool join_after_all_in = false;
};

class BotFleet {
 public:
  BotFleet(asio::io_context& io, FleetConfig config);
  ~BotFleet();
  BotFleet(const BotFleet&) = delete;
  BotFleet& operator=(const BotFleet&) = delete;

  /// Starts the launcher. Once.
  void start();
  /// Drops the connection of every logged-in bot without logging out; they resume.
  void drop_all();
  /// Stops launching, wakes and closes every bot. Idempotent.
  void stop();
  /// True once stop() was called and every bot coroutine has returned.
  bool finished() const noexcept { return stopping_ && running_ == 0 && !launching_; }

  const BotStats& stats() const noexcept { return stats_; }

 private:
  struct Bot;

  asio::awaitable<void> launcher();
  asio::awaitable<void> run_bot(Bot* bot);
  asio::awaitable<bool> log_in(Bot* bot);
  asio::awaitable<Result<proto::LoginOk>> login_once(Bot* bot);
  asio::awaitable<void> sleep(Bot* bot, std::chrono::milliseconds d);
  void on_state(Bot* bot, client::State s);
  void on_push(Bot* bot, const proto::ServerFrame& f);
  void on_game_event(Bot* bot, const proto::RoomEvent& ev);
  void on_room_joined(Bot* bot, const proto::RoomJoined& j);
  void leave_game(Bot* bot, bool ended);
  asio::awaitable<void> join_game(Bot* bot);
  void count_error(const boost::system::error_code& ec);
  std::chrono::milliseconds next_chat_gap();

  /// The game events of a room arrive identical at every bot of this process in that room:
  /// decode each once (by room and seq) so the load generator spends its CPU on playing.
  struct Decoded {
    std::uint64_t seq = 0;
    std::shared_ptr<const void> event;  // ctf::wire::CtfEvent or poker::wire::PokerEvent
  };
  std::unordered_map<std::uint64_t, Decoded> decoded_;

  asio::io_context& io_;
  FleetConfig config_;
  std::string text_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Bot>> bots_;
  BotStats stats_;
  bool stopping_ = false;
  bool launching_ = false;
  bool all_in_once_ = false;  // every bot of this process was logged in at some point
  std::uint64_t running_ = 0;
  asio::steady_timer launch_timer_;
};

/// CLOCK_MONOTONIC in nanoseconds: the chat tag and the receiver's clock.
std::uint64_t monotonic_ns() noexcept;

}  // namespace sb::bots
