#include "bot_fleet.hpp"

#include <time.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <cmath>
#include <deque>
#include <exception>
#include <fmt/format.h>

#include "backoff.hpp"
#include "games/ctf/ctf_bot.hpp"
#include "games/poker/poker_bot.hpp"

namespace sb::bots {

using client::State;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr milliseconds kLaunchTick{10};

std::uint64_t us_since(Steady::time_point t0) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - t0).count());
}

std::string lower_name(std::string name) {
  if (name.rfind("CLOSE_", 0) == 0) name.erase(0, 6);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

/// Errors after which retrying the same request cannot succeed: the bot retires.
bool is_permanent(Errc e, LoginMode mode) {
  switch (e) {
    case Errc::account_disabled:
    case Errc::banned:
    case Errc::invalid_argument:
    case Errc::registration_closed:
    case Errc::unsupported_version:
      return true;
    case Errc::bad_credentials: return mode == LoginMode::login_only;
    case Errc::already_exists: return mode == LoginMode::register_only;
    default: return false;
  }
}

struct LogIfThrown {
  void operator()(const std::exception_ptr& e) const {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      fmt::print(stderr, "sb-bots: bot coroutine failed: {}\n", ex.what());
    }
  }
};

}  // namespace

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

struct BotFleet::Bot {
  Bot(asio::any_io_executor ex, client::ClientOptions options, std::uint64_t i, std::string name)
      : client(ex, std::move(options)), wake(ex), index(i), username(std::move(name)) {}

  client::Client client;
  asio::steady_timer wake;  // sleeps between chats/retries; cancelled on state changes and stop
  std::uint64_t index;
  std::string username;
  bool counted_connected = false;
  bool counted_logged_in = false;
  bool retired = false;
  bool drop_pending = false;
  Steady::time_point dropped_at;
  std::uint64_t dropped_at_ns = 0;
  std::uint64_t reconnects_seen = 0;
  // Game scenarios.
  bool in_game = false;
  std::uint64_t game_room = 0;
  std::unique_ptr<poker::PokerBot> poker;
  std::unique_ptr<ctf::CtfBot> ctf;
  std::uint64_t last_tick = 0;
  std::deque<std::pair<std::uint32_t, std::uint64_t>> inputs;  // (seq, sent at ns), not yet acked
  int join_failures = 0;
};

BotFleet::BotFleet(asio::io_context& io, FleetConfig config)
    : io_(io),
      config_(std::move(config)),
      text_(fmt::format("{} says ", config_.prefix)),
      rng_(config_.seed ? config_.seed : std::random_device{}()),
      launch_timer_(io) {
  bots_.reserve(config_.count);
  stats_.bots = config_.count;
  text_.resize(std::max<std::size_t>(1, config_.text_bytes), 'x');
}

BotFleet::~BotFleet() = default;

void BotFleet::start() {
  launching_ = true;
  asio::co_spawn(io_, launcher(), LogIfThrown{});
}

asio::awaitable<void> BotFleet::launcher() {
  co_await asio::this_coro::throw_if_cancelled(false);
  double budget = 1.0;  // the first bot starts at once
  auto last = Steady::now();
  std::uint64_t next = 0;
  while (!stopping_ && next < config_.count) {
    const auto now = Steady::now();
    budget += config_.ramp * std::chrono::duration<double>(now - last).count();
    last = now;
    while (budget >= 1.0 && next < config_.count && !stopping_) {
      budget -= 1.0;
      const std::uint64_t index = config_.first_index + next++;
      auto options = config_.client;
      options.random_seed = rng_() | 1;
      if (config_.source_ips > 1) {
        options.local_address = fmt::format("127.0.0.{}", 1 + index % static_cast<std::uint64_t>(config_.source_ips));
      }
      bots_.push_back(std::make_unique<Bot>(io_.get_executor(), std::move(options), index,
                                            fmt::format("{}{}", config_.prefix, index)));
      Bot* bot = bots_.back().get();
      bot->client.set_state_handler([this, bot](State s) { on_state(bot, s); });
      bot->client.set_push_handler([this, bot](const proto::ServerFrame& f) { on_push(bot, f); });
      ++running_;
      asio::co_spawn(io_, run_bot(bot), LogIfThrown{});
    }
    if (next >= config_.count) break;
    launch_timer_.expires_after(kLaunchTick);
    co_await launch_timer_.async_wait(kTuple);
  }
  launching_ = false;
}

asio::awaitable<void> BotFleet::run_bot(Bot* bot) {
  co_await asio::this_coro::throw_if_cancelled(false);
  while (!stopping_) {
    const State s = bot->client.state();
    if (s == State::closed) {
      if (bot->retired || !co_await log_in(bot)) break;
      continue;
    }
    if (s == State::logged_in && config_.scenario != "lobby") {
      const bool hold = config_.join_after_all_in && stats_.logged_in < config_.count && !all_in_once_;
      if (!bot->in_game && bot->client.room_id() != 0 && !hold) {
        co_await join_game(bot);
        continue;
      }
      bot->wake.expires_at(asio::steady_timer::time_point::max());
      co_await bot->wake.async_wait(kTuple);
      continue;
    }
    if (s == State::logged_in && config_.chat_rate > 0) {
      co_await sleep(bot, next_chat_gap());
      if (stopping_ || bot->client.state() != State::logged_in) continue;
      if (bot->client.room_id() == 0) continue;  // logged in, but the lobby push has not arrived
      auto st = co_await bot->client.chat(text_, monotonic_ns());
      if (st) {
        ++stats_.sent;
      } else if (!bot->drop_pending && !stopping_) {
        count_error(st.error());
      }
      continue;
    }
    // Connecting or reconnecting (the client library resumes), or logged in without chatting:
    // wait for the next state change.
    bot->wake.expires_at(asio::steady_timer::time_point::max());
    co_await bot->wake.async_wait(kTuple);
  }
  bot->client.close();
  --running_;
}

asio::awaitable<void> BotFleet::sleep(Bot* bot, milliseconds d) {
  bot->wake.expires_after(d);
  co_await bot->wake.async_wait(kTuple);
}

asio::awaitable<Result<proto::LoginOk>> BotFleet::login_once(Bot* bot) {
  auto& c = bot->client;
  switch (config_.mode) {
    case LoginMode::login_only:
      co_return co_await c.login(bot->username, config_.password, config_.zone);
    case LoginMode::register_only: {
      auto r = co_await c.register_account(bot->username, config_.password, config_.zone);
      if (r) ++stats_.registered;
      co_return r;
    }
    case LoginMode::register_or_login: {
      auto r = co_await c.login(bot->username, config_.password, config_.zone);
      if (r || to_errc(r.error()) != Errc::bad_credentials) co_return r;
      r = co_await c.register_account(bot->username, config_.password, config_.zone);
      if (r) {
        ++stats_.registered;
        co_return r;
      }
      // Registered meanwhile (an earlier attempt whose answer was lost): log in after all.
      if (to_errc(r.error()) == Errc::already_exists) {
        co_return co_await c.login(bot->username, config_.password, config_.zone);
      }
      co_return r;
    }
  }
  co_return fail(Errc::internal);
}

asio::awaitable<bool> BotFleet::log_in(Bot* bot) {
  int attempt = 0;
  const auto base = config_.client.backoff_base;
  const auto cap = config_.client.backoff_cap;
  while (!stopping_) {
    if (!bot->client.connected()) {
      const auto t0 = Steady::now();
      auto st = co_await bot->client.connect();
      if (stopping_) break;
      if (!st) {
        count_error(st.error());
        co_await sleep(bot, client::backoff_delay(attempt++, base, cap, rng_));
        continue;
      }
      stats_.connect_us.record(us_since(t0));
      ++stats_.connects;
    }
    const auto t0 = Steady::now();
    auto r = co_await login_once(bot);
    if (stopping_) break;
    if (r) {
      stats_.login_us.record(us_since(t0));
      ++stats_.logins;
      switch (r->kind()) {
        case proto::NEW_SESSION: ++stats_.new_session; break;
        case proto::TOOK_OVER: ++stats_.took_over; break;
        case proto::REATTACHED: ++stats_.reattached; break;
        default: break;
      }
      co_return true;
    }
    const Errc e = to_errc(r.error());
    count_error(r.error());
    if (is_permanent(e, config_.mode)) {
      bot->retired = true;
      ++stats_.dead;
      bot->client.close();
      co_return false;
    }
    auto delay = client::backoff_delay(attempt++, base, cap, rng_);
    if (e == Errc::rate_limited || e == Errc::banned) {
      delay = std::max(delay, milliseconds(bot->client.last_error().retry_after_ms()));
    }
    co_await sleep(bot, delay);
  }
  co_return false;
}

void BotFleet::on_state(Bot* bot, State s) {
  const bool connected = s == State::connected || s == State::logged_in;
  const bool logged_in = s == State::logged_in;
  if (connected != bot->counted_connected) {
    connected ? ++stats_.connected : --stats_.connected;
    bot->counted_connected = connected;
  }
  if (logged_in != bot->counted_logged_in) {
    if (!logged_in && !bot->drop_pending && !stopping_ &&
        (s == State::reconnecting || s == State::closed)) {
      ++stats_.lost;
    }
    logged_in ? ++stats_.logged_in : --stats_.logged_in;
    bot->counted_logged_in = logged_in;
    if (config_.join_after_all_in && !all_in_once_ && stats_.logged_in >= config_.count) {
      all_in_once_ = true;  // release every waiting game bot
      for (auto& b : bots_) b->wake.cancel();
    }
  }
  if (logged_in) {
    const std::uint64_t reconnects = bot->client.reconnects();
    const bool by_token = reconnects != bot->reconnects_seen;
    if (by_token) stats_.reconnects += reconnects - bot->reconnects_seen;
    bot->reconnects_seen = reconnects;
    if (bot->drop_pending) {
      bot->drop_pending = false;
      stats_.resume_us.record(us_since(bot->dropped_at));
      by_token ? ++stats_.resumed : ++stats_.relogged;
    }
  }
  bot->wake.cancel();
}

void BotFleet::on_push(Bot* bot, const proto::ServerFrame& f) {
  if (config_.scenario != "lobby") {
    if (f.has_room_joined()) return on_room_joined(bot, f.room_joined());
    if (f.has_room_left()) return leave_game(bot, f.room_left().reason() == 3);
    if (f.has_room_event() && f.room_event().has_game() && bot->in_game &&
        f.room_event().room_id() == bot->game_room) {
      return on_game_event(bot, f.room_event());
    }
  }
  if (f.has_room_event()) {
    if (!f.room_event().has_chat()) return;
    ++stats_.received;
    const std::uint64_t tag = f.room_event().chat().tag();
    if (tag == 0) return;
    // Events sent before this bot's drop come back as replay after the resume: their age is the
    // outage, not delivery latency.
    if (tag < bot->dropped_at_ns) {
      ++stats_.replayed;
      return;
    }
    const std::uint64_t now = monotonic_ns();
    if (now >= tag) stats_.chat_us.record((now - tag) / 1000);
  } else if (f.has_closing()) {
    ++stats_.closes[lower_name(proto::CloseReason_Name(f.closing().reason()))];
  }
}

asio::awaitable<void> BotFleet::join_game(Bot* bot) {
  auto r = co_await bot->client.auto_join(config_.scenario, config_.game_zone, config_.game_params);
  if (stopping_) co_return;
  if (!r) {
    if (!bot->drop_pending) count_error(r.error());
    co_await sleep(bot, client::backoff_delay(bot->join_failures++, milliseconds(200), milliseconds(5000), rng_));
    co_return;
  }
  bot->join_failures = 0;
  ++stats_.game_joins;
  // The RoomJoined answer also went through on_push (on_room_joined), which set up the game bot.
}

void BotFleet::on_room_joined(Bot* bot, const proto::RoomJoined& j) {
  if (j.room_type() != config_.scenario) {
    // In the lobby (after login, after the room ended, or a resume failed and the bot logged in
    // afresh): wake the bot so that it joins a game.
    if (bot->in_game) leave_game(bot, false);
    bot->wake.cancel();
    return;
  }
  const bool same_room = bot->in_game && bot->game_room == j.room_id();
  if (!bot->in_game) ++stats_.in_game;
  bot->in_game = true;
  bot->game_room = j.room_id();
  const PlayerId me{bot->client.player_id()};
  if (config_.scenario == "poker") {
    if (!same_room || !bot->poker) {
      static constexpr poker::Style kStyles[] = {poker::Style::tight, poker::Style::loose, poker::Style::aggressive,
                                                 poker::Style::calling_station, poker::Style::random};
      bot->poker = std::make_unique<poker::PokerBot>(me, kStyles[bot->index % 5], rng_() | 1);
    }
    poker::wire::TableView view;
    if (view.ParseFromString(j.game_state())) bot->poker->on_view(view);
    if (auto a = bot->poker->decide()) {
      if (bot->client.send_game(a->SerializeAsString())) ++stats_.actions;
    }
  } else if (config_.scenario == "ctf") {
    if (!same_room || !bot->ctf) bot->ctf = std::make_unique<ctf::CtfBot>(me, rng_() | 1);
    ctf::wire::GameView view;
    if (view.ParseFromString(j.game_state())) bot->ctf->on_view(view);
    bot->last_tick = view.tick();
    bot->inputs.clear();
  }
}

void BotFleet::leave_game(Bot* bot, bool ended) {
  if (!bot->in_game) return;
  decoded_.erase(bot->game_room);  // the room is over for this bot (others re-decode if needed)
  bot->in_game = false;
  --stats_.in_game;
  if (ended) ++stats_.matches;
  bot->poker.reset();
  bot->ctf.reset();
  bot->inputs.clear();
  bot->last_tick = 0;
  bot->wake.cancel();  // run_bot joins the next game
}

void BotFleet::on_game_event(Bot* bot, const proto::RoomEvent& ev) {
  ++stats_.game_events;
  const auto now_ms = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (ev.server_time_ms() > 0 && static_cast<std::uint64_t>(now_ms) >= ev.server_time_ms()) {
    stats_.event_us.record((static_cast<std::uint64_t>(now_ms) - ev.server_time_ms()) * 1000);
  }
  const std::uint64_t me = bot->client.player_id();
  // Decode once per (room, seq) for all bots of this process (events to one bot are decoded by it).
  auto decoded = [&]<class T>() -> std::shared_ptr<const T> {
    auto& slot = decoded_[ev.room_id()];
    if (slot.seq == ev.seq() && slot.event) return std::static_pointer_cast<const T>(slot.event);
    auto fresh = std::make_shared<T>();
    if (!fresh->ParseFromString(ev.game())) return nullptr;
    slot.seq = ev.seq();
    slot.event = fresh;
    return fresh;
  };
  if (bot->poker) {
    auto shared = decoded.template operator()<poker::wire::PokerEvent>();
    if (!shared) return;
    const poker::wire::PokerEvent& pe = *shared;
    if (pe.has_hand_ended() && pe.hand_ended().stacks_size() > 0 && pe.hand_ended().stacks(0).player_id() == me) {
      ++stats_.hands;
    } else if (pe.has_action_taken() && pe.action_taken().auto_() && pe.action_taken().player_id() == me) {
      ++stats_.auto_actions;
    } else if (pe.has_action_rejected()) {
      ++stats_.rejected;
    }
    bot->poker->on_event(pe);
    if (auto a = bot->poker->decide()) {
      if (bot->client.send_game(a->SerializeAsString())) ++stats_.actions;
    }
  } else if (bot->ctf) {
    auto shared = decoded.template operator()<ctf::wire::CtfEvent>();
    if (!shared) return;
    const ctf::wire::CtfEvent& ce = *shared;
    if (ce.has_state()) {
      const auto& st = ce.state();
      ++stats_.states;
      if (bot->last_tick != 0 && st.tick() > bot->last_tick + 1) stats_.lost_ticks += st.tick() - bot->last_tick - 1;
      bot->last_tick = std::max(bot->last_tick, st.tick());
      for (const auto& p : st.players()) {
        if (p.player_id() != me) continue;
        const std::uint64_t now_ns = monotonic_ns();
        while (!bot->inputs.empty() && bot->inputs.front().first <= p.ack_seq()) {
          stats_.input_us.record((now_ns - bot->inputs.front().second) / 1000);
          bot->inputs.pop_front();
        }
        break;
      }
    } else if (ce.has_started()) {
      bot->last_tick = 0;
    } else if (ce.has_correction()) {
      ++stats_.corrections;
    }
    bot->ctf->on_event(ce);
    if (!ce.has_state()) return;
    if (auto in = bot->ctf->next_input()) {
      const std::uint64_t now_ns = monotonic_ns();
      in->set_client_time_us(now_ns / 1000);
      if (bot->client.send_game(in->SerializeAsString())) {
        ++stats_.inputs;
        bot->inputs.emplace_back(in->seq(), now_ns);
        if (bot->inputs.size() > 64) bot->inputs.pop_front();
      }
    }
  }
}

void BotFleet::count_error(const boost::system::error_code& ec) {
  if (ec.category() == switchboard_category()) {
    ++stats_.errors[std::string(errc_name(to_errc(ec)))];
  } else {
    ++stats_.errors["io"];
  }
}

milliseconds BotFleet::next_chat_gap() {
  std::exponential_distribution<double> gap(config_.chat_rate);
  const double seconds = std::min(gap(rng_), 3600.0);
  return milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
}

void BotFleet::drop_all() {
  const auto now = Steady::now();
  const std::uint64_t now_ns = monotonic_ns();
  for (auto& bot : bots_) {
    if (bot->client.state() != State::logged_in) continue;
    bot->drop_pending = true;
    bot->dropped_at = now;
    bot->dropped_at_ns = now_ns;
    ++stats_.dropped;
    bot->client.drop();
  }
}

void BotFleet::stop() {
  if (stopping_) return;
  stopping_ = true;
  launch_timer_.cancel();
  for (auto& bot : bots_) {
    bot->client.close();
    bot->wake.cancel();
  }
}

}  // namespace sb::bots
