#include "run_modes.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace sb::bots {
namespace {

namespace json = boost::json;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr milliseconds kDrainLimit{3000};  // after stop(), how long bots may take to close

double seconds_since(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

void report_exception(const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    fmt::print(stderr, "sb-bots: {}\n", ex.what());
  }
}

const char* mode_flag(LoginMode m) {
  switch (m) {
    case LoginMode::register_only: return "register";
    case LoginMode::login_only: return "login";
    case LoginMode::register_or_login: break;
  }
  return "register-or-login";
}

json::object config_json(const RunConfig& c) {
  const auto& f = c.fleet;
  return json::object{
      {"host", f.client.host},
      {"port", f.client.port},
      {"transport", f.client.transport == client::ClientOptions::Transport::websocket ? "websocket" : "tcp"},
      {"bots", c.total_bots},
      {"procs", c.procs},
      {"duration_s", c.duration_s},
      {"chat_rate", f.chat_rate},
      {"ramp", f.ramp},
      {"prefix", f.prefix},
      {"zone", f.zone},
      {"mode", mode_flag(f.mode)},
      {"text_bytes", f.text_bytes},
      {"drop_at_s", c.drop_at_s >= 0 ? json::value(c.drop_at_s) : json::value(nullptr)},
      {"source_ips", f.source_ips},
      {"scenario", f.scenario},
      {"game_zone", f.game_zone},
      {"game_params", [&] {
         json::object o;
         for (const auto& [k, v] : f.game_params) o[k] = v;
         return o;
       }()}};
}

bool write_summary(const std::string& path, const json::object& summary) {
  if (path.empty()) return true;
  const std::string text = json::serialize(summary) + "\n";
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  }
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) {
    fmt::print(stderr, "sb-bots: cannot write {}\n", path);
    return false;
  }
  return true;
}

/// A JSON number for people: integers as they are, other numbers with at most 3 decimals.
std::string num(const json::value& v) {
  if (v.is_double()) {
    std::string t = fmt::format("{:.3f}", v.get_double());
    while (!t.empty() && t.back() == '0') t.pop_back();
    if (!t.empty() && t.back() == '.') t.pop_back();
    return t;
  }
  return json::serialize(v);
}

void print_final(const json::object& s) {
  const auto& chat = s.at("chat").as_object();
  const auto& bots = s.at("bots").as_object();
  const auto& lat = s.at("latency_ms").as_object();
  auto p = [&lat](const char* k) {
    const auto& h = lat.at(k).as_object();
    return fmt::format("p50 {} p99 {} max {}", num(h.at("p50")), num(h.at("p99")),
                       num(h.at("max")));
  };
  fmt::print(stderr,
             "sb-bots: done in {}s: peak logged in {}, errors {}, sent {} ({}/s), received {} ({}/s)\n"
             "  connect ms {}\n  login ms {}\n  chat ms {}\n",
             num(s.at("elapsed_s")), num(bots.at("peak_logged_in")),
             num(s.at("errors").as_object().at("total")), num(chat.at("sent")),
             num(chat.at("sent_per_s")), num(chat.at("received")),
             num(chat.at("received_per_s")), p("connect"), p("login"), p("chat"));
  if (s.contains("resume")) {
    const auto& r = s.at("resume").as_object();
    fmt::print(stderr, "  resume: dropped {} resumed {} relogged {} all back in {}s, ms {}\n",
               num(r.at("dropped")), num(r.at("resumed")),
               num(r.at("relogged")), num(r.at("time_to_all_back_s")), p("resume"));
  }
}

/// Shared by the modes: a ticker timer the signal handler can interrupt.
struct Control {
  explicit Control(asio::io_context& io) : tick(io), signals(io, SIGINT, SIGTERM) {}
  asio::steady_timer tick;
  asio::signal_set signals;
  bool interrupted = false;
  bool stop_requested = false;  // child: "stop" on stdin, or stdin closed
};

void watch_signals(Control* control) {
  control->signals.async_wait([control](const boost::system::error_code& ec, int) {
    if (ec) return;
    control->interrupted = true;
    control->tick.cancel();
  });
}

/// Sleeps until `at` unless interrupted.
asio::awaitable<void> tick_until(Control* control, Steady::time_point at) {
  control->tick.expires_at(at);
  co_await control->tick.async_wait(kTuple);
}

asio::awaitable<void> drain(Control* control, BotFleet* fleet) {
  const auto limit = Steady::now() + kDrainLimit;
  while (!fleet->finished() && Steady::now() < limit) {
    control->tick.expires_after(milliseconds(10));
    co_await control->tick.async_wait(kTuple);
  }
}

// ------------------------------------------------------------------ single process

struct Single {
  Single(asio::io_context& io, const RunConfig& c)
      : config(c), fleet(io, c.fleet), control(io), report(config_json(c), c.total_bots, c.quiet, c.drop_at_s >= 0) {}
  const RunConfig& config;
  BotFleet fleet;
  Control control;
  Report report;
  int exit_code = 0;
};

asio::awaitable<void> single_main(Single* s, asio::io_context* io) {
  const auto start = Steady::now();
  s->fleet.start();
  bool dropped = false;
  BotStats last;
  for (int k = 1; !s->control.interrupted; ++k) {
    co_await tick_until(&s->control, start + seconds(k));
    const double elapsed = seconds_since(start);
    last = s->fleet.stats();
    s->report.tick(last, elapsed);
    const auto all_in = s->report.all_logged_in_at();
    if (s->config.drop_at_s >= 0 && !dropped && all_in && elapsed >= *all_in + s->config.drop_at_s) {
      s->fleet.drop_all();
      s->report.drop_ordered(elapsed);
      dropped = true;
    }
    if (elapsed >= s->config.duration_s) break;
  }
  const double elapsed = seconds_since(start);
  BotStats total = s->fleet.stats();
  s->fleet.stop();
  co_await drain(&s->control, &s->fleet);
  auto summary = s->report.summary(total, elapsed);
  print_final(summary);
  if (!write_summary(s->config.json_path, summary)) s->exit_code = 1;
  io->stop();
}

// ------------------------------------------------------------------ child process

struct ChildRun {
  ChildRun(asio::io_context& io, const RunConfig& c) : config(c), fleet(io, c.fleet), control(io), input(io) {}
  const RunConfig& config;
  BotFleet fleet;
  Control control;
  asio::posix::stream_descriptor input;
  std::string buffer;
};

void print_line(double elapsed, bool final, const BotStats& stats) {
  const std::string line =
      json::serialize(json::object{{"t", elapsed}, {"final", final}, {"s", stats.to_json()}}) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

asio::awaitable<void> child_commands(ChildRun* c) {
  boost::system::error_code ec;
  c->input.assign(::dup(STDIN_FILENO), ec);
  if (ec) co_return;
  for (;;) {
    auto [rec, n] = co_await asio::async_read_until(c->input, asio::dynamic_buffer(c->buffer), '\n', kTuple);
    if (rec) break;  // EOF: the parent is gone
    const std::string line = c->buffer.substr(0, n - 1);
    c->buffer.erase(0, n);
    if (line == "drop") c->fleet.drop_all();
    if (line == "stop") break;
  }
  c->control.stop_requested = true;
  c->control.tick.cancel();
}

asio::awaitable<void> child_main(ChildRun* c, asio::io_context* io) {
  const auto start = Steady::now();
  c->fleet.start();
  for (int k = 1; !c->control.interrupted && !c->control.stop_requested; ++k) {
    co_await tick_until(&c->control, start + seconds(k));
    const double elapsed = seconds_since(start);
    print_line(elapsed, false, c->fleet.stats());
    if (elapsed >= c->config.duration_s) break;
  }
  BotStats total = c->fleet.stats();
  c->fleet.stop();
  co_await drain(&c->control, &c->fleet);
  // Gauges as they were before stopping; counters as they are now.
  const BotStats after = c->fleet.stats();
  const auto connected = total.connected;
  const auto logged_in = total.logged_in;
  total = after;
  total.connected = connected;
  total.logged_in = logged_in;
  print_line(seconds_since(start), true, total);
  boost::system::error_code ignored;
  c->input.close(ignored);
  io->stop();
}

// ------------------------------------------------------------------ parent process

struct ChildProc {
  explicit ChildProc(asio::io_context& io) : out(io) {}
  pid_t pid = -1;
  int stdin_fd = -1;
  asio::posix::stream_descriptor out;
  std::string buffer;
  BotStats latest;
  bool finished = false;
};

struct Parent {
  Parent(asio::io_context& io, const RunConfig& c)
      : config(c), control(io), report(config_json(c), c.total_bots, c.quiet, c.drop_at_s >= 0) {}
  const RunConfig& config;
  Control control;
  Report report;
  std::vector<std::unique_ptr<ChildProc>> children;
  int exit_code = 0;

  BotStats total() const {
    BotStats t;
    for (const auto& c : children) t.add(c->latest);
    return t;
  }
  bool all_finished() const {
    for (const auto& c : children) {
      if (!c->finished) return false;
    }
    return true;
  }
  void tell(const char* line) {
    for (auto& c : children) {
      if (c->stdin_fd >= 0 && ::write(c->stdin_fd, line, std::strlen(line)) < 0) {
        ::close(c->stdin_fd);
        c->stdin_fd = -1;
      }
    }
  }
};

std::vector<std::string> child_args(const RunConfig& c, const std::string& exe, std::uint64_t first,
                                    std::uint64_t count) {
  const auto& f = c.fleet;
  std::vector<std::string> a{exe,
                             "--host", f.client.host,
                             "--port", std::to_string(f.client.port),
                             "--bots", std::to_string(c.total_bots),
                             "--duration", fmt::format("{}", c.duration_s),
                             "--chat-rate", fmt::format("{}", f.chat_rate),
                             "--ramp", fmt::format("{}", f.ramp / c.procs),
                             "--prefix", f.prefix,
                             "--password", f.password,
                             "--zone", f.zone,
                             "--mode", mode_flag(f.mode),
                             "--text-bytes", std::to_string(f.text_bytes),
                             "--source-ips", std::to_string(f.source_ips),
                             "--connect-timeout-ms", std::to_string(f.client.connect_timeout.count()),
                             "--request-timeout-ms", std::to_string(f.client.request_timeout.count()),
                             "--backoff-base-ms", std::to_string(f.client.backoff_base.count()),
                             "--backoff-cap-ms", std::to_string(f.client.backoff_cap.count()),
                             "--procs", "1",
                             "--quiet",
                             "--child",
                             "--first-index", std::to_string(first),
                             "--count", std::to_string(count)};
  if (f.client.transport == client::ClientOptions::Transport::websocket) a.emplace_back("--ws");
  a.insert(a.end(), {"--scenario", f.scenario, "--game-zone", f.game_zone});
  if (f.join_after_all_in) a.emplace_back("--join-after-all-in");
  for (const auto& [k, v] : f.game_params) a.insert(a.end(), {"--game-param", k + "=" + v});
  return a;
}

/// Starts one child with its stdin and stdout on pipes. Throws on failure (start-up).
void spawn_child(Parent* p, asio::io_context& io, const std::string& exe, std::uint64_t first,
                 std::uint64_t count) {
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) {
    throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  const auto args = child_args(p->config, exe, first, count);
  std::vector<char*> argv;
  for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (rc != 0) throw std::runtime_error(fmt::format("posix_spawn {}: {}", exe, std::strerror(rc)));
  auto child = std::make_unique<ChildProc>(io);
  child->pid = pid;
  child->stdin_fd = to_child[1];
  child->out.assign(from_child[0]);
  p->children.push_back(std::move(child));
}

asio::awaitable<void> read_child(ChildProc* c) {
  for (;;) {
    auto [ec, n] = co_await asio::async_read_until(c->out, asio::dynamic_buffer(c->buffer), '\n', kTuple);
    if (ec) break;
    const std::string_view line(c->buffer.data(), n - 1);
    boost::system::error_code jec;
    const json::value v = json::parse(line, jec);
    if (!jec && v.is_object()) {
      const auto& o = v.get_object();
      if (const auto* s = o.if_contains("s"); s && s->is_object()) c->latest = BotStats::from_json(s->get_object());
      if (const auto* f = o.if_contains("final"); f && f->is_bool() && f->get_bool()) c->finished = true;
    }
    c->buffer.erase(0, n);
  }
  c->finished = true;
}

asio::awaitable<void> parent_main(Parent* p, asio::io_context* io) {
  const auto start = Steady::now();
  for (auto& c : p->children) asio::co_spawn(*io, read_child(c.get()), report_exception);
  bool dropped = false;
  BotStats last;
  for (int k = 1; !p->control.interrupted && !p->all_finished(); ++k) {
    co_await tick_until(&p->control, start + seconds(k));
    const double elapsed = seconds_since(start);
    last = p->total();
    p->report.tick(last, elapsed);
    const auto all_in = p->report.all_logged_in_at();
    if (p->config.drop_at_s >= 0 && !dropped && all_in && elapsed >= *all_in + p->config.drop_at_s) {
      p->tell("drop\n");
      p->report.drop_ordered(elapsed);
      dropped = true;
    }
    if (elapsed >= p->config.duration_s) break;
  }
  const double elapsed = seconds_since(start);
  // The children stop at their own --duration; ask them now in case they started late or we were
  // interrupted, then give them time to drain and report, then kill stragglers.
  p->tell("stop\n");
  const auto limit = Steady::now() + kDrainLimit + seconds(5);
  while (!p->all_finished() && Steady::now() < limit) {
    p->control.tick.expires_after(milliseconds(20));
    co_await p->control.tick.async_wait(kTuple);
  }
  for (auto& c : p->children) {
    if (!c->finished) {
      fmt::print(stderr, "sb-bots: child {} did not finish; killing it\n", c->pid);
      ::kill(c->pid, SIGKILL);
      p->exit_code = 1;
    }
  }
  BotStats total = p->total();
  total.connected = last.connected;  // gauges before the stop
  total.logged_in = last.logged_in;
  auto summary = p->report.summary(total, elapsed);
  print_final(summary);
  if (!write_summary(p->config.json_path, summary)) p->exit_code = 1;
  io->stop();
}

std::string self_exe() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw std::runtime_error("cannot resolve /proc/self/exe");
  return std::string(path, static_cast<std::size_t>(n));
}

}  // namespace

int run_single(const RunConfig& config) {
  asio::io_context io(1);
  Single s(io, config);
  watch_signals(&s.control);
  asio::co_spawn(io, single_main(&s, &io), report_exception);
  io.run();
  return s.exit_code;
}

int run_child(const RunConfig& config) {
  asio::io_context io(1);
  ChildRun c(io, config);
  watch_signals(&c.control);
  asio::co_spawn(io, child_commands(&c), report_exception);
  asio::co_spawn(io, child_main(&c, &io), report_exception);
  io.run();
  return 0;
}

int run_parent(const RunConfig& config) {
  asio::io_context io(1);
  Parent p(io, config);
  watch_signals(&p.control);
  const std::string exe = self_exe();
  const std::uint64_t k = static_cast<std::uint64_t>(config.procs);
  for (std::uint64_t i = 0, first = 0; i < k; ++i) {
    const std::uint64_t count = config.total_bots / k + (i < config.total_bots % k ? 1 : 0);
    spawn_child(&p, io, exe, first, count);
    first += count;
  }
  if (!config.quiet) {
    fmt::print(stderr, "sb-bots: {} bots over {} processes\n", config.total_bots, config.procs);
  }
  asio::co_spawn(io, parent_main(&p, &io), report_exception);
  io.run();
  for (auto& c : p.children) {
    if (c->stdin_fd >= 0) ::close(c->stdin_fd);
    int status = 0;
    ::waitpid(c->pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) p.exit_code = 1;
  }
  return p.exit_code;
}

}  // namespace sb::bots
