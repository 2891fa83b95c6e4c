#include "bot_stats.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>

namespace sb::bots {
namespace json = boost::json;

namespace {

// Counters serialised by name; one table keeps to_json, from_json and add in step.
struct CounterField {
  const char* name;
  std::uint64_t BotStats::*field;
};
constexpr CounterField kCounters[] = {
    {"bots", &BotStats::bots},           {"connected", &BotStats::connected},
    {"logged_in", &BotStats::logged_in}, {"connects", &BotStats::connects},
    {"logins", &BotStats::logins},       {"registered", &BotStats::registered},
    {"new_session", &BotStats::new_session}, {"took_over", &BotStats::took_over},
    {"reattached", &BotStats::reattached},   {"sent", &BotStats::sent},
    {"received", &BotStats::received},   {"replayed", &BotStats::replayed},
    {"dropped", &BotStats::dropped},     {"resumed", &BotStats::resumed},
    {"relogged", &BotStats::relogged},   {"reconnects", &BotStats::reconnects},
    {"lost", &BotStats::lost},           {"dead", &BotStats::dead},
    {"in_game", &BotStats::in_game},     {"game_joins", &BotStats::game_joins},
    {"game_events", &BotStats::game_events}, {"hands", &BotStats::hands},
    {"actions", &BotStats::actions},     {"auto_actions", &BotStats::auto_actions},
    {"rejected", &BotStats::rejected},   {"states", &BotStats::states},
    {"inputs", &BotStats::inputs},       {"lost_ticks", &BotStats::lost_ticks},
    {"matches", &BotStats::matches},     {"corrections", &BotStats::corrections},
};

struct HistogramField {
  const char* name;
  Histogram BotStats::*field;
};
constexpr HistogramField kHistograms[] = {
    {"connect", &BotStats::connect_us},
    {"login", &BotStats::login_us},
    {"chat", &BotStats::chat_us},
    {"resume", &BotStats::resume_us},
    {"event", &BotStats::event_us},
    {"input", &BotStats::input_us},
};

std::uint64_t as_u64(const json::value* v) {
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v->get_int64()));
  if (v->is_double()) return static_cast<std::uint64_t>(std::max(0.0, v->get_double()));
  return 0;
}

json::object histogram_to_json(const Histogram& h) {
  json::array buckets;
  for (const auto& [index, n] : h.sparse()) buckets.push_back(json::array{index, n});
  return json::object{{"n", h.count()}, {"sum", h.sum()}, {"min", h.min()}, {"max", h.max()},
                      {"b", std::move(buckets)}};
}

Histogram histogram_from_json(const json::object& o) {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> buckets;
  if (const auto* b = o.if_contains("b"); b && b->is_array()) {
    for (const auto& pair : b->get_array()) {
      if (!pair.is_array() || pair.get_array().size() != 2) continue;
      buckets.emplace_back(static_cast<std::uint32_t>(as_u64(&pair.get_array()[0])),
                           as_u64(&pair.get_array()[1]));
    }
  }
  return Histogram::from_sparse(buckets, as_u64(o.if_contains("sum")), as_u64(o.if_contains("min")),
                                as_u64(o.if_contains("max")));
}

json::object map_to_json(const std::map<std::string, std::uint64_t>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

void map_from_json(const json::value* v, std::map<std::string, std::uint64_t>& out) {
  if (v == nullptr || !v->is_object()) return;
  for (const auto& [k, x] : v->get_object()) out[std::string(k)] += as_u64(&x);
}

double ms(std::uint64_t us) { return static_cast<double>(us) / 1000.0; }

/// Rounds for JSON: 3 decimals are plenty for milliseconds and rates.
double r3(double x) { return std::round(x * 1000.0) / 1000.0; }

std::string short_latency(const Histogram& h) {
  if (h.count() == 0) return "-";
  return fmt::format("{:.1f}/{:.1f}/{:.1f}", ms(h.percentile(50)), ms(h.percentile(99)), ms(h.max()));
}

}  // namespace

void BotStats::add(const BotStats& o) {
  for (const auto& c : kCounters) this->*c.field += o.*c.field;
  for (const auto& [k, v] : o.errors) errors[k] += v;
  for (const auto& [k, v] : o.closes) closes[k] += v;
  for (const auto& h : kHistograms) (this->*h.field).merge(o.*h.field);
}

std::uint64_t BotStats::errors_total() const {
  std::uint64_t n = 0;
  for (const auto& [k, v] : errors) n += v;
  return n;
}

json::object BotStats::to_json() const {
  json::object o;
  for (const auto& c : kCounters) o[c.name] = this->*c.field;
  o["errors"] = map_to_json(errors);
  o["closes"] = map_to_json(closes);
  json::object hs;
  for (const auto& h : kHistograms) hs[h.name] = histogram_to_json(this->*h.field);
  o["h"] = std::move(hs);
  return o;
}

BotStats BotStats::from_json(const json::object& o) {
  BotStats s;
  for (const auto& c : kCounters) s.*c.field = as_u64(o.if_contains(c.name));
  map_from_json(o.if_contains("errors"), s.errors);
  map_from_json(o.if_contains("closes"), s.closes);
  if (const auto* hs = o.if_contains("h"); hs && hs->is_object()) {
    for (const auto& h : kHistograms) {
      if (const auto* one = hs->get_object().if_contains(h.name); one && one->is_object()) {
        s.*h.field = histogram_from_json(one->get_object());
      }
    }
  }
  return s;
}

json::object latency_json(const Histogram& h) {
  return json::object{{"count", h.count()},
                      {"min", r3(ms(h.min()))},
                      {"mean", r3(h.mean() / 1000.0)},
                      {"p50", r3(ms(h.percentile(50)))},
                      {"p90", r3(ms(h.percentile(90)))},
                      {"p99", r3(ms(h.percentile(99)))},
                      {"p999", r3(ms(h.percentile(99.9)))},
                      {"max", r3(ms(h.max()))}};
}

void Report::tick(const BotStats& total, double elapsed_s) {
  const double dt = std::max(1e-3, elapsed_s - prev_elapsed_);
  const double sent_rate = static_cast<double>(total.sent - std::min(total.sent, prev_.sent)) / dt;
  const double recv_rate =
      static_cast<double>(total.received - std::min(total.received, prev_.received)) / dt;
  const std::uint64_t back = total.resumed + total.relogged;
  const std::uint64_t prev_back = prev_.resumed + prev_.relogged;
  const double back_rate = static_cast<double>(back - std::min(back, prev_back)) / dt;

  const double hands_rate = static_cast<double>(total.hands - std::min(total.hands, prev_.hands)) / dt;
  const double states_rate = static_cast<double>(total.states - std::min(total.states, prev_.states)) / dt;
  const double inputs_rate = static_cast<double>(total.inputs - std::min(total.inputs, prev_.inputs)) / dt;
  peak_hands_ = std::max(peak_hands_, hands_rate);
  peak_states_ = std::max(peak_states_, states_rate);
  peak_connected_ = std::max(peak_connected_, total.connected);
  peak_logged_in_ = std::max(peak_logged_in_, total.logged_in);
  peak_sent_ = std::max(peak_sent_, sent_rate);
  peak_received_ = std::max(peak_received_, recv_rate);
  if (!all_in_at_ && target_ > 0 && total.logged_in >= target_) {
    all_in_at_ = elapsed_s;
    sent_at_all_in_ = total.sent;
    received_at_all_in_ = total.received;
  }
  if (all_in_at_ && !steady_from_ && elapsed_s >= *all_in_at_ + 5.0) {
    steady_from_ = total;
    steady_from_elapsed_ = elapsed_s;
  }
  if (drop_at_elapsed_) {
    back_per_s_.push_back(back_rate);
    peak_resumes_ = std::max(peak_resumes_, back_rate);
    if (!all_back_at_ && total.dropped > 0 && back >= total.dropped) all_back_at_ = elapsed_s;
  }

  if (!quiet_) {
    std::string errors;
    for (const auto& [k, v] : total.errors) errors += fmt::format("{}{}={}", errors.empty() ? "" : ",", k, v);
    const Histogram chat_window = total.chat_us.since(prev_.chat_us);
    std::string line = fmt::format(
        "[{:6.1f}s] conn {}/{} in {} err {}{}{}{} | sent/s {:.0f} recv/s {:.0f} | ms p50/p99/max "
        "connect {} login {} chat(1s) {}",
        elapsed_s, total.connected, target_, total.logged_in, total.errors_total(),
        errors.empty() ? "" : " (", errors, errors.empty() ? "" : ")", sent_rate, recv_rate,
        short_latency(total.connect_us), short_latency(total.login_us), short_latency(chat_window));
    if (total.game_joins > 0) {
      const Histogram ev_window = total.event_us.since(prev_.event_us);
      const Histogram in_window = total.input_us.since(prev_.input_us);
      line += fmt::format(" | game in {} hands/s {:.0f} ticks/s {:.0f} inputs/s {:.0f} lost {} event(1s) {} input(1s) {}",
                          total.in_game, hands_rate, states_rate, inputs_rate, total.lost_ticks,
                          short_latency(ev_window), short_latency(in_window));
    }
    if (drop_enabled_ && total.dropped > 0) {
      line += fmt::format(" | dropped {} back {} ({:.0f}/s) resume {}", total.dropped, back, back_rate,
                          short_latency(total.resume_us));
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  prev_ = total;
  prev_elapsed_ = elapsed_s;
}

json::object Report::summary(const BotStats& total, double elapsed_s) const {
  const double run = std::max(1e-3, elapsed_s);
  // Steady-state rates: from the moment all bots were in to the end, when that lasted a second.
  std::optional<double> steady;
  if (all_in_at_ && elapsed_s - *all_in_at_ >= 1.0) steady = elapsed_s - *all_in_at_;
  auto steady_rate = [&steady](std::uint64_t n, std::uint64_t before) -> json::value {
    if (!steady) return nullptr;
    return r3(static_cast<double>(n - std::min(n, before)) / *steady);
  };

  json::object bots{{"target", target_},
                    {"peak_connected", peak_connected_},
                    {"peak_logged_in", peak_logged_in_},
                    {"final_connected", total.connected},
                    {"final_logged_in", total.logged_in},
                    {"time_to_all_logged_in_s", all_in_at_ ? json::value(r3(*all_in_at_)) : json::value(nullptr)},
                    {"dead", total.dead},
                    {"lost", total.lost},
                    {"auto_reconnects", total.reconnects}};
  json::object logins{{"ok", total.logins},
                      {"registered", total.registered},
                      {"new_session", total.new_session},
                      {"took_over", total.took_over},
                      {"reattached", total.reattached}};
  json::object errors{{"total", total.errors_total()}, {"by_code", map_to_json(total.errors)}};
  json::object chat{{"sent", total.sent},
                    {"received", total.received},
                    {"replayed", total.replayed},
                    {"sent_per_s", r3(static_cast<double>(total.sent) / run)},
                    {"received_per_s", r3(static_cast<double>(total.received) / run)},
                    {"steady_sent_per_s", steady_rate(total.sent, sent_at_all_in_)},
                    {"steady_received_per_s", steady_rate(total.received, received_at_all_in_)},
                    {"peak_sent_per_s", r3(peak_sent_)},
                    {"peak_received_per_s", r3(peak_received_)}};
  json::object latency{{"connect", latency_json(total.connect_us)},
                       {"login", latency_json(total.login_us)},
                       {"chat", latency_json(total.chat_us)},
                       {"resume", latency_json(total.resume_us)}};
  json::object out{{"version", 1},
                   {"config", config_},
                   {"elapsed_s", r3(elapsed_s)},
                   {"bots", std::move(bots)},
                   {"connects", total.connects},
                   {"logins", std::move(logins)},
                   {"errors", std::move(errors)},
                   {"closes", map_to_json(total.closes)},
                   {"chat", std::move(chat)},
                   {"latency_ms", std::move(latency)}};
  if (total.game_joins > 0) {
    out["game"] = json::object{
        {"joins", total.game_joins},
        {"final_in_game", total.in_game},
        {"events", total.game_events},
        {"events_per_s", r3(static_cast<double>(total.game_events) / run)},
        {"hands", total.hands},
        {"hands_per_s", r3(static_cast<double>(total.hands) / run)},
        {"peak_hands_per_s", r3(peak_hands_)},
        {"actions", total.actions},
        {"auto_actions", total.auto_actions},
        {"rejected", total.rejected},
        {"ticks_received", total.states},
        {"ticks_received_per_s", r3(static_cast<double>(total.states) / run)},
        {"peak_ticks_received_per_s", r3(peak_states_)},
        {"inputs", total.inputs},
        {"lost_ticks", total.lost_ticks},
        {"matches_ended", total.matches},
        {"corrections", total.corrections},
        {"latency_ms", json::object{{"event", latency_json(total.event_us)}, {"input", latency_json(total.input_us)}}}};
    if (steady_from_ && elapsed_s > steady_from_elapsed_ + 1.0) {
      // From 5 s after every bot was in to the end: no ramp, no room filling.
      const double w = elapsed_s - steady_from_elapsed_;
      auto rate = [w](std::uint64_t now, std::uint64_t then) { return r3(static_cast<double>(now - std::min(now, then)) / w); };
      out["game"].as_object()["steady"] = json::object{
          {"window_s", r3(w)},
          {"hands_per_s", rate(total.hands, steady_from_->hands)},
          {"ticks_received_per_s", rate(total.states, steady_from_->states)},
          {"events_per_s", rate(total.game_events, steady_from_->game_events)},
          {"inputs_per_s", rate(total.inputs, steady_from_->inputs)},
          {"lost_ticks", total.lost_ticks - std::min(total.lost_ticks, steady_from_->lost_ticks)},
          {"latency_ms", json::object{{"event", latency_json(total.event_us.since(steady_from_->event_us))},
                                      {"input", latency_json(total.input_us.since(steady_from_->input_us))}}}};
    }
  }
  if (drop_enabled_) {
    json::array series;
    for (double x : back_per_s_) series.push_back(r3(x));
    const std::uint64_t back = total.resumed + total.relogged;
    // Per bot, resume_us runs from its own drop to its own return: its max is the time until the
    // last bot was back, more precise than the 1-second ticks.
    json::value all_back = nullptr;
    if (total.dropped > 0 && back >= total.dropped) all_back = r3(ms(total.resume_us.max()) / 1000.0);
    out["resume"] = json::object{
        {"drop_at_elapsed_s", drop_at_elapsed_ ? json::value(r3(*drop_at_elapsed_)) : json::value(nullptr)},
        {"dropped", total.dropped},
        {"resumed", total.resumed},
        {"relogged", total.relogged},
        {"time_to_all_back_s", all_back},
        {"all_back_at_elapsed_s", all_back_at_ ? json::value(r3(*all_back_at_)) : json::value(nullptr)},
        {"peak_resumes_per_s", r3(peak_resumes_)},
        {"resumes_per_s", std::move(series)}};
  }
  return out;
}

}  // namespace sb::bots
