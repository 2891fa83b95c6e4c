// sb-pokersim: the poker engine at OpenPoker's scale, in one process, without sockets.
//
// OpenPoker simulated 27,000 tables and 136,000 players on a 2005 laptop; this measures how many
// hands per second and how many bytes per player the same load costs here (issue 3 §7, §9).
// It runs the production code a connection goes through, minus the network: one room::Room per
// table with a PokerHandler from make_poker_type() (spec and params as the shard builds them),
// players seated with Room::join, and per player a session::SessionFsm in State::in_room whose
// admit(Request::game) passes every action before Room::message takes it. Each player is a
// PokerBot (five styles, mixed round-robin) fed what a client would see: its RoomJoined view, then
// every frame the room publishes to it. A frame is decoded once per table (ServerFrame →
// RoomEvent.game → PokerEvent, the same checks as wire::decode_server but into reused messages so
// the bots' side allocates little) and handed to every seated bot or to Broadcast.to only.
//
// Threads: --threads workers, each owning a contiguous slice of the tables outright, as a shard
// owns its rooms: no locks, no sharing (the SystemClock and the RoomType are read-only). A worker
// keeps a min-heap of (wake time, table), wake = min(room.next_deadline(), a bot's think time), and
// steps the earliest due table: advance(now) if a room timer is due, then drain take_broadcasts(),
// deliver, let bots whose turn it is answer (at once with --think-ms 0), until the table is
// quiet. With --next-hand-delay-ms 0 the next hand's 0 ms timer is due on the table's next step,
// so every table plays one hand per turn of the heap.
//
// Measures: hands (sum of hands_completed()), actions and events per second, overall and in the
// steady window after --warmup; the share of worker time spent inside Room::advance/message (the
// engine, as opposed to the bots and this harness); RSS (VmRSS) at start, with the bots built,
// with every player seated, and after the run, so bytes per player = (rss_end - rss_baseline) /
// players, of which the bots (a client-side cost) are (rss_bots - rss_baseline). At the end every
// table's chips_conserved() is checked (failures must be 0) and ActionRejected events counted.
// What it does not measure: encoding to sockets, the session shell, cross-shard routing.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <barrier>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "games/poker/cards.hpp"
#include "poker.pb.h"
#include "games/poker/poker_bot.hpp"
#include "games/poker/poker_room.hpp"
#include "room/room.hpp"
#include "room/room_types.hpp"
#include "session/session_fsm.hpp"
#include "switchboard.pb.h"
#include "wire/frame.hpp"

namespace {

namespace json = boost::json;
namespace poker = sb::poker;
namespace room = sb::room;
using sb::PlayerId;
using sb::TimePoint;
using Clock = std::chrono::steady_clock;

struct Config {
  std::uint64_t players = 136000;
  std::uint32_t seats = 5;
  double duration_s = 30;
  double warmup_s = 5;
  std::uint32_t threads = 2;
  std::uint64_t think_ms = 0;
  std::uint64_t next_hand_delay_ms = 0;
  std::uint64_t action_timeout_ms = 15000;
  std::uint32_t log_size = 0;  // 0 = the poker type's
  std::uint64_t seed = 1;
  std::string json_path;
  bool quiet = false;
};

/// Published by one worker (relaxed stores of its own totals), read by main for the live line.
struct alignas(64) Counters {
  std::atomic<std::uint64_t> hands{0};
  std::atomic<std::uint64_t> actions{0};
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> engine_ns{0};
};

/// A worker's plain totals (only its thread writes them).
struct Totals {
  std::uint64_t hands = 0;        // HandEnded events seen
  std::uint64_t actions = 0;      // Actions sent
  std::uint64_t events = 0;       // frames published by the rooms
  std::uint64_t deliveries = 0;   // events handed to bots
  std::uint64_t rejections = 0;   // ActionRejected events
  std::uint64_t auto_actions = 0; // ActionTaken.auto (timeouts)
  std::uint64_t errors = 0;       // Room::message errors, undecodable frames
  std::uint64_t admit_refused = 0;
  std::uint64_t engine_ns = 0;    // wall time inside Room::advance / Room::message
  std::uint64_t run_ns = 0;       // wall time in run()
  std::uint64_t steps = 0;
};

struct SimPlayer {
  PlayerId id;
  sb::session::SessionFsm fsm;
  poker::PokerBot bot;
};

/// A bot with a turn to answer, and when (now + --think-ms).
struct Turn {
  TimePoint due;
  std::uint32_t seat;
};

struct SimTable {
  std::unique_ptr<room::Room> room;
  std::vector<SimPlayer> players;
  std::vector<Turn> turns;
};

constexpr poker::Style kStyles[] = {poker::Style::tight, poker::Style::loose, poker::Style::aggressive,
                                    poker::Style::calling_station, poker::Style::random};

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  poker::SplitMix64 m(a * 0x9e3779b97f4a7c15ULL ^ b);
  return m.next();
}

/// One shard-like worker: owns tables [first_table, first_table + count) outright.
/// create_players() and seat() and run() are called on the worker's thread; after the thread has
/// been joined, main reads the tables (check()).
class Worker {
 public:
  Worker(const Config& cfg, const room::RoomType& type, const sb::Clock& clock, std::uint32_t index,
         std::uint64_t first_table, std::uint64_t count, Counters& counters)
      : cfg_(cfg), type_(type), clock_(clock), minter_(index), first_table_(first_table), count_(count),
        counters_(counters) {}

  /// Builds the bots and their sessions (phase 1: memory of the client side).
  void create_players() {
    tables_.resize(count_);
    for (std::uint64_t k = 0; k < count_; ++k) {
      const std::uint64_t table = first_table_ + k;
      const std::uint64_t first = table * cfg_.seats;
      const std::uint64_t n = std::min<std::uint64_t>(cfg_.seats, cfg_.players - first);
      auto& t = tables_[k];
      t.players.reserve(n);
      for (std::uint64_t i = 0; i < n; ++i) {
        const PlayerId id{first + i + 1};
        t.players.push_back(SimPlayer{id, {}, poker::PokerBot(id, kStyles[id.value % 5], mix(cfg_.seed, id.value))});
        auto& fsm = t.players.back().fsm;
        // hello → login → join: the path a connection takes into a game room.
        for (auto s : {sb::session::State::visitor, sb::session::State::authenticated, sb::session::State::in_room}) {
          if (!fsm.transition(s)) throw std::runtime_error("session transition refused");
        }
      }
    }
  }

  /// Opens the rooms and seats the players (phase 2), as Shard::open_room and a join would.
  void seat() {
    std::string error;
    for (std::uint64_t k = 0; k < count_; ++k) {
      auto& t = tables_[k];
      room::RoomSpec spec;
      spec.id = sb::RoomId{minter_.next()};
      spec.type = poker::kPokerType;
      spec.zone = "sim";
      spec.capacity = std::max<std::uint32_t>(2, static_cast<std::uint32_t>(t.players.size()));
      spec.max_spectators = type_.max_spectators;
      spec.log_size = cfg_.log_size > 0 ? cfg_.log_size : type_.log_size;
      spec.presence_events = type_.presence_events;
      spec.params = {{"action_timeout_ms", std::to_string(cfg_.action_timeout_ms)},
                     {"next_hand_delay_ms", std::to_string(cfg_.next_hand_delay_ms)},
                     {"seed", std::to_string(mix(cfg_.seed ^ 0x7461626c65ULL, first_table_ + k))}};
      auto handler = type_.make(spec, error);
      if (!handler) throw std::runtime_error("poker room refused: " + error);
      t.room = std::make_unique<room::Room>(std::move(spec), std::move(*handler), clock_);
      for (auto& p : t.players) {
        if (!t.room->join(p.id, "bot" + std::to_string(p.id.value))) throw std::runtime_error("join refused");
        give_view(*t.room, p);
      }
      heap_.push({clock_.now(), static_cast<std::uint32_t>(k)});
    }
  }

  /// Plays until `stop` (phase 3).
  void run(const std::atomic<bool>& stop) {
    const auto started = Clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      if (heap_.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      const TimePoint now = clock_.now();
      const Due top = heap_.top();
      if (top.due > now) {
        std::this_thread::sleep_until(std::min(top.due, now + std::chrono::milliseconds(20)));
        continue;
      }
      heap_.pop();
      auto& t = tables_[top.table];
      step(t, now);
      if (const auto wake = wake_of(t)) heap_.push({*wake, top.table});
      ++totals_.steps;
      publish();
    }
    publish();
    totals_.run_ns = static_cast<std::uint64_t>((Clock::now() - started).count());
  }

  const Totals& totals() const noexcept { return totals_; }
  const std::vector<SimTable>& tables() const noexcept { return tables_; }

 private:
  struct Due {
    TimePoint due;
    std::uint32_t table;
    bool operator>(const Due& o) const noexcept { return due > o.due; }
  };

  void give_view(const room::Room& r, SimPlayer& p) {
    const auto frame = r.snapshot(p.id);
    const auto f = sb::wire::decode_server(frame->payload());
    if (!f || !f->has_room_joined() || !view_.ParseFromString(f->room_joined().game_state())) {
      throw std::runtime_error("bad RoomJoined view");
    }
    p.bot.on_view(view_);
  }

  /// Advances a due table and runs it until it is quiet at `now`.
  void step(SimTable& t, TimePoint now) {
    auto& r = *t.room;
    if (const auto due = r.next_deadline(); due && *due <= now) {
      const auto t0 = Clock::now();
      r.advance(now);
      totals_.engine_ns += static_cast<std::uint64_t>((Clock::now() - t0).count());
    }
    for (;;) {
      const auto out = r.take_broadcasts();
      for (const auto& b : out) deliver(t, b, now);
      bool acted = false;
      for (std::size_t i = 0; i < t.turns.size();) {
        if (t.turns[i].due > now) {
          ++i;
          continue;
        }
        const std::uint32_t seat = t.turns[i].seat;
        t.turns[i] = t.turns.back();
        t.turns.pop_back();
        acted = act(t, seat) || acted;
      }
      if (out.empty() && !acted) break;
    }
  }

  /// Decodes one published frame once and hands it to the bots it is addressed to.
  void deliver(SimTable& t, const room::Broadcast& b, TimePoint now) {
    ++totals_.events;
    const auto payload = b.frame->payload();
    if (!frame_.ParseFromArray(payload.data(), static_cast<int>(payload.size())) ||
        frame_.body_case() == sb::proto::ServerFrame::BODY_NOT_SET) {
      ++totals_.errors;
      return;
    }
    if (!frame_.has_room_event() || frame_.room_event().body_case() != sb::proto::RoomEvent::kGame) return;
    const std::string& game = frame_.room_event().game();
    if (!event_.ParseFromArray(game.data(), static_cast<int>(game.size()))) {
      ++totals_.errors;
      return;
    }
    const auto think = std::chrono::milliseconds(cfg_.think_ms);
    for (std::uint32_t i = 0; i < t.players.size(); ++i) {
      auto& p = t.players[i];
      if (b.to.valid() && b.to != p.id) continue;
      p.bot.on_event(event_);
      ++totals_.deliveries;
    }
    switch (event_.body_case()) {
      case poker::wire::PokerEvent::kHandEnded: ++totals_.hands; break;
      case poker::wire::PokerEvent::kActionTaken:
        if (event_.action_taken().auto_()) ++totals_.auto_actions;
        break;
      case poker::wire::PokerEvent::kToAct:
      case poker::wire::PokerEvent::kActionRejected: {
        if (event_.has_action_rejected()) ++totals_.rejections;
        const PlayerId who = event_.has_to_act() ? PlayerId{event_.to_act().player_id()} : b.to;
        for (std::uint32_t i = 0; i < t.players.size(); ++i) {
          if (t.players[i].id == who) t.turns.push_back({now + think, i});
        }
        break;
      }
      default: break;
    }
  }

  /// The bot at `seat` answers its turn, through its session's admission check. True if it sent.
  bool act(SimTable& t, std::uint32_t seat) {
    auto& p = t.players[seat];
    const auto a = p.bot.decide();
    if (!a) return false;
    if (!p.fsm.admit(sb::session::Request::game)) {
      ++totals_.admit_refused;
      return false;
    }
    a->SerializeToString(&bytes_);
    const auto t0 = Clock::now();
    const auto st = t.room->message(p.id, bytes_);
    totals_.engine_ns += static_cast<std::uint64_t>((Clock::now() - t0).count());
    if (!st) ++totals_.errors;
    ++totals_.actions;
    return true;
  }

  static std::optional<TimePoint> wake_of(const SimTable& t) {
    std::optional<TimePoint> wake = t.room->next_deadline();
    for (const auto& turn : t.turns) {
      if (!wake || turn.due < *wake) wake = turn.due;
    }
    return wake;
  }

  void publish() {
    counters_.hands.store(totals_.hands, std::memory_order_relaxed);
    counters_.actions.store(totals_.actions, std::memory_order_relaxed);
    counters_.events.store(totals_.events, std::memory_order_relaxed);
    counters_.engine_ns.store(totals_.engine_ns, std::memory_order_relaxed);
  }

  const Config& cfg_;
  const room::RoomType& type_;
  const sb::Clock& clock_;
  sb::IdMinter minter_;
  std::uint64_t first_table_;
  std::uint64_t count_;
  Counters& counters_;
  std::vector<SimTable> tables_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> heap_;
  Totals totals_;
  // Reused decode and encode buffers (one per worker).
  sb::proto::ServerFrame frame_;
  poker::wire::PokerEvent event_;
  poker::wire::TableView view_;
  std::string bytes_;
};

/// A field of /proc/self/status in KiB (VmRSS, VmHWM), 0 if unreadable.
std::uint64_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::strtoull(line.c_str() + key.size(), nullptr, 10);
  }
  return 0;
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Sample {
  double t = 0;
  std::uint64_t hands = 0, actions = 0, events = 0, engine_ns = 0;
};

Sample sample(const std::vector<std::unique_ptr<Counters>>& counters, double t) {
  Sample s;
  s.t = t;
  for (const auto& c : counters) {
    s.hands += c->hands.load(std::memory_order_relaxed);
    s.actions += c->actions.load(std::memory_order_relaxed);
    s.events += c->events.load(std::memory_order_relaxed);
    s.engine_ns += c->engine_ns.load(std::memory_order_relaxed);
  }
  return s;
}

double rate(std::uint64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; }

int run(const Config& cfg) {
  const sb::SystemClock clock;
  const room::RoomType type = poker::make_poker_type();
  const std::uint64_t tables = (cfg.players + cfg.seats - 1) / cfg.seats;
  const std::uint64_t rss_baseline = status_kib("VmRSS");

  std::vector<std::unique_ptr<Counters>> counters;
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::uint32_t w = 0; w < cfg.threads; ++w) {
    const std::uint64_t lo = tables * w / cfg.threads;
    const std::uint64_t hi = tables * (w + 1) / cfg.threads;
    counters.push_back(std::make_unique<Counters>());
    workers.push_back(std::make_unique<Worker>(cfg, type, clock, w, lo, hi - lo, *counters.back()));
  }

  // Phases: build bots | seat players | play. Main measures RSS between them.
  std::barrier sync(static_cast<std::ptrdiff_t>(cfg.threads) + 1);
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&sync, &stop, &failed, worker = w.get()] {
      try {
        worker->create_players();
      } catch (const std::exception& e) {
        fmt::print(stderr, "sb-pokersim: {}\n", e.what());
        failed = true;
      }
      sync.arrive_and_wait();
      try {
        if (!failed) worker->seat();
      } catch (const std::exception& e) {
        fmt::print(stderr, "sb-pokersim: {}\n", e.what());
        failed = true;
      }
      sync.arrive_and_wait();
      sync.arrive_and_wait();  // main has read the RSS; go
      if (!failed) worker->run(stop);
    });
  }
  const auto setup0 = Clock::now();
  sync.arrive_and_wait();
  const std::uint64_t rss_bots = status_kib("VmRSS");
  sync.arrive_and_wait();
  const std::uint64_t rss_seated = status_kib("VmRSS");
  const double setup_s = std::chrono::duration<double>(Clock::now() - setup0).count();
  if (!cfg.quiet) {
    fmt::print(stderr, "sb-pokersim: {} players at {} tables on {} threads seated in {:.1f} s; RSS {} MiB\n",
               cfg.players, tables, cfg.threads, setup_s, rss_seated / 1024);
  }
  const double cpu0 = cpu_seconds();
  const auto start = Clock::now();
  sync.arrive_and_wait();

  Sample prev{}, warm{};
  bool warmed = cfg.warmup_s <= 0;
  for (int sec = 1; !failed; ++sec) {
    const auto wake = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                  std::min<double>(sec, cfg.duration_s)));
    std::this_thread::sleep_until(wake);
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    const Sample s = sample(counters, t);
    if (!warmed && t >= cfg.warmup_s) {
      warm = s;
      warmed = true;
    }
    if (!cfg.quiet) {
      const double dt = s.t - prev.t;
      fmt::print(stderr, "t={:5.1f}s hands/s={:9.0f} actions/s={:10.0f} events/s={:10.0f} rss={} MiB\n", t,
                 rate(s.hands - prev.hands, dt), rate(s.actions - prev.actions, dt), rate(s.events - prev.events, dt),
                 status_kib("VmRSS") / 1024);
    }
    prev = s;
    if (t >= cfg.duration_s) break;
  }
  stop = true;
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu_s = cpu_seconds() - cpu0;
  if (failed) return 1;
  const std::uint64_t rss_end = status_kib("VmRSS");
  const std::uint64_t rss_peak = status_kib("VmHWM");
  const Sample end = sample(counters, elapsed);

  Totals all;
  std::uint64_t hands = 0, conserve_failures = 0, bot_rejections = 0;
  for (const auto& w : workers) {
    const Totals& t = w->totals();
    all.actions += t.actions;
    all.events += t.events;
    all.deliveries += t.deliveries;
    all.rejections += t.rejections;
    all.auto_actions += t.auto_actions;
    all.errors += t.errors;
    all.admit_refused += t.admit_refused;
    all.engine_ns += t.engine_ns;
    all.run_ns += t.run_ns;
    all.steps += t.steps;
    for (const auto& table : w->tables()) {
      const auto& h = static_cast<const poker::PokerHandler&>(table.room->handler());
      hands += h.hands_completed();
      if (!h.chips_conserved()) ++conserve_failures;
      for (const auto& p : table.players) bot_rejections += p.bot.rejections();
    }
  }
  const double steady_s = warmed && cfg.warmup_s > 0 ? end.t - warm.t : elapsed;
  const Sample& from = warmed && cfg.warmup_s > 0 ? warm : Sample{};
  // Wall-clock stopwatches count the time a worker is descheduled (the machine may be shared), so
  // the engine's CPU is estimated as its share of the workers' wall time times the process CPU.
  const double engine_share =
      all.run_ns > 0 ? static_cast<double>(all.engine_ns) / static_cast<double>(all.run_ns) : 0.0;
  const double engine_cpu_s = engine_share * cpu_s;
  const auto per_player = [&](std::uint64_t kib) {
    return kib > rss_baseline ? static_cast<double>(kib - rss_baseline) * 1024.0 / static_cast<double>(cfg.players)
                              : 0.0;
  };

  json::object summary{
      {"benchmark", "poker_sim"},
      {"config",
       json::object{{"players", cfg.players},
                    {"seats", cfg.seats},
                    {"duration_s", cfg.duration_s},
                    {"warmup_s", cfg.warmup_s},
                    {"threads", cfg.threads},
                    {"think_ms", cfg.think_ms},
                    {"next_hand_delay_ms", cfg.next_hand_delay_ms},
                    {"action_timeout_ms", cfg.action_timeout_ms},
                    {"log_size", cfg.log_size > 0 ? cfg.log_size : type.log_size},
                    {"seed", cfg.seed}}},
      {"players", cfg.players},
      {"tables", tables},
      {"threads", cfg.threads},
      {"setup_s", setup_s},
      {"elapsed_s", elapsed},
      {"cpu_s", cpu_s},
      {"hands", hands},
      {"hands_per_s", rate(hands, elapsed)},
      {"steady_hands_per_s", rate(end.hands - from.hands, steady_s)},
      {"actions", all.actions},
      {"actions_per_s", rate(all.actions, elapsed)},
      {"steady_actions_per_s", rate(end.actions - from.actions, steady_s)},
      {"events", all.events},
      {"events_per_s", rate(all.events, elapsed)},
      {"deliveries_per_s", rate(all.deliveries, elapsed)},
      {"engine_share", engine_share},
      {"engine_cpu_s", engine_cpu_s},
      {"engine_hands_per_cpu_s", rate(hands, engine_cpu_s)},
      {"hands_per_cpu_s", rate(hands, cpu_s)},
      {"rss_baseline_kib", rss_baseline},
      {"rss_bots_kib", rss_bots},
      {"rss_seated_kib", rss_seated},
      {"rss_end_kib", rss_end},
      {"rss_peak_kib", rss_peak},
      {"bytes_per_player", per_player(rss_end)},
      {"bytes_per_player_seated", per_player(rss_seated)},
      {"bot_bytes_per_player", per_player(rss_bots)},
      {"chips_conserved_failures", conserve_failures},
      {"rejections", all.rejections},
      {"bot_rejections", bot_rejections},
      {"auto_actions", all.auto_actions},
      {"errors", all.errors},
      {"admit_refused", all.admit_refused},
  };
  const std::string text = json::serialize(summary) + "\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  if (!cfg.json_path.empty() && cfg.json_path != "-") {
    std::ofstream out(cfg.json_path);
    out << text;
    if (!out) {
      fmt::print(stderr, "sb-pokersim: cannot write {}\n", cfg.json_path);
      return 1;
    }
  }
  return conserve_failures == 0 && all.errors == 0 && all.admit_refused == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"sb-pokersim: in-process poker simulation (rooms, sessions and bots; no sockets)"};
  app.add_option("--players", cfg.players, "players (bots)")->capture_default_str();
  app.add_option("--seats", cfg.seats, "seats per table (2..10)")->capture_default_str();
  app.add_option("--duration", cfg.duration_s, "play time in seconds")->capture_default_str();
  app.add_option("--warmup", cfg.warmup_s, "seconds left out of the steady figures")->capture_default_str();
  app.add_option("--threads", cfg.threads, "worker threads, each owning a slice of the tables")
      ->capture_default_str();
  app.add_option("--think-ms", cfg.think_ms, "bot answer delay (0 = at once)")->capture_default_str();
  app.add_option("--next-hand-delay-ms", cfg.next_hand_delay_ms, "poker next_hand_delay_ms")->capture_default_str();
  app.add_option("--action-timeout-ms", cfg.action_timeout_ms, "poker action_timeout_ms")->capture_default_str();
  app.add_option("--log-size", cfg.log_size, "room event log per table (0 = the poker type's, 512)")
      ->capture_default_str();
  app.add_option("--seed", cfg.seed, "seed of the decks and bots")->capture_default_str();
  app.add_option("--json", cfg.json_path, "also write the final JSON summary here");
  app.add_flag("--quiet", cfg.quiet, "no live line");
  CLI11_PARSE(app, argc, argv);

  if (cfg.players < 2 || cfg.seats < static_cast<std::uint32_t>(sb::poker::kMinSeats) ||
      cfg.seats > static_cast<std::uint32_t>(sb::poker::kMaxSeats) || cfg.threads < 1 || cfg.duration_s <= 0 ||
      cfg.warmup_s < 0) {
    fmt::print(stderr, "sb-pokersim: --players >= 2, --seats 2..10, --threads >= 1, --duration > 0, --warmup >= 0\n");
    return 2;
  }
  if (cfg.warmup_s >= cfg.duration_s) cfg.warmup_s = 0;
  try {
    return run(cfg);
  } catch (const std::exception& e) {
    fmt::print(stderr, "sb-pokersim: {}\n", e.what());
    return 1;
  }
}
