#pragma once
// Bot statistics: what one bot process counts, how processes report it, and the report built on it.
//
// BotStats is cumulative since the process started: counters, gauges (connected, logged in), errors
// by code, Closing reasons, and four latency histograms (µs): connect (TCP/WS + Hello), login
// (the successful login/register/resume request), chat delivery (receiver's CLOCK_MONOTONIC minus
// the sender's tag) and resume (drop to logged in again). A child process prints its BotStats as
// one JSON line per second; the parent parses the lines and adds the latest of every child, which
// is exact because the histograms have fixed buckets. Report turns successive totals into the live
// line (rates and 1-second windows are differences of totals) and into the final JSON summary.
// No I/O besides the optional live line written to stderr. One thread.
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "histogram.hpp"

namespace sb::bots {

using client::Histogram;

struct BotStats {
  std::uint64_t bots = 0;
  std::uint64_t connected = 0;  // gauge: bots with a connection past Hello
  std::uint64_t logged_in = 0;  // gauge
  std::uint64_t connects = 0;   // successful connect() calls
  std::uint64_t logins = 0;     // successful password logins and registrations
  std::uint64_t registered = 0;
  std::uint64_t new_session = 0, took_over = 0, reattached = 0;
  std::uint64_t sent = 0;       // chat messages accepted by the server (Ok)
  std::uint64_t received = 0;   // chat events received (all bots, own messages included)
  std::uint64_t replayed = 0;   // chat events sent before the receiver's drop (replays)
  std::uint64_t dropped = 0;    // --drop-at: connections dropped on purpose
  std::uint64_t resumed = 0;    //   ... back through the resume token
  std::uint64_t relogged = 0;   //   ... back through a password login (resume refused)
  std::uint64_t reconnects = 0; // automatic reconnect+resume by the client library, in total
  std::uint64_t lost = 0;       // unexpected connection losses of logged-in bots
  std::uint64_t dead = 0;       // bots that stopped on a permanent error
  // Games (scenarios poker and ctf).
  std::uint64_t in_game = 0;       // gauge: bots seated in a game room
  std::uint64_t game_joins = 0;    // successful auto-joins into a game room
  std::uint64_t game_events = 0;   // game events received (RoomEvent.game)
  std::uint64_t hands = 0;         // poker hands finished (counted once per table)
  std::uint64_t actions = 0;       // poker actions sent
  std::uint64_t auto_actions = 0;  // poker actions the server took for a timed-out/absent bot
  std::uint64_t rejected = 0;      // poker actions the table rejected
  std::uint64_t states = 0;        // ctf State ticks received
  std::uint64_t inputs = 0;        // ctf inputs sent
  std::uint64_t lost_ticks = 0;    // ctf ticks never received (gaps in State.tick)
  std::uint64_t matches = 0;       // game rooms that ended with results (per bot)
  std::uint64_t corrections = 0;   // ctf position corrections received
  std::map<std::string, std::uint64_t> errors;  // by error code name
  std::map<std::string, std::uint64_t> closes;  // Closing reasons received
  Histogram connect_us, login_us, chat_us, resume_us;
  // event: server time stamp (ms) to arrival of each game event; input: a ctf input's send to
  // the first State that acknowledges it (includes the wait for the next tick).
  Histogram event_us, input_us;

  void add(const BotStats& other);
  std::uint64_t errors_total() const;
  boost::json::object to_json() const;
  static BotStats from_json(const boost::json::object& o);
};

/// Builds the live line each second and the final summary from successive totals.
class Report {
 public:
  Report(boost::json::object config, std::uint64_t target_bots, bool quiet, bool drop_enabled)
      : config_(std::move(config)), target_(target_bots), quiet_(quiet), drop_enabled_(drop_enabled) {}

  /// Takes the total at `elapsed_s`; prints the live line to stderr unless quiet.
  void tick(const BotStats& total, double elapsed_s);
  /// Notes the moment the drop was ordered.
  void drop_ordered(double elapsed_s) { drop_at_elapsed_ = elapsed_s; }

  /// Elapsed time when every target bot was logged in at once, if that happened.
  std::optional<double> all_logged_in_at() const { return all_in_at_; }
  /// The final summary (schema in run_modes.hpp).
  boost::json::object summary(const BotStats& total, double elapsed_s) const;

 private:
  boost::json::object config_;
  std::uint64_t target_;
  bool quiet_;
  bool drop_enabled_;
  BotStats prev_;
  double prev_elapsed_ = 0;
  std::optional<double> all_in_at_;
  std::uint64_t sent_at_all_in_ = 0, received_at_all_in_ = 0;
  std::optional<double> drop_at_elapsed_;
  std::optional<double> all_back_at_;
  std::uint64_t peak_connected_ = 0, peak_logged_in_ = 0;
  double peak_sent_ = 0, peak_received_ = 0, peak_resumes_ = 0;
  std::vector<double> back_per_s_;  // resumes+relogins per second after the drop
  double peak_hands_ = 0, peak_states_ = 0;
  // Totals 5 s after every bot was logged in: the game figures' steady window starts there.
  std::optional<BotStats> steady_from_;
  double steady_from_elapsed_ = 0;
};

/// {"count","min","mean","p50","p90","p99","p999","max"} in milliseconds.
boost::json::object latency_json(const Histogram& h_us);

}  // namespace sb::bots
