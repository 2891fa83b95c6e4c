// sb-cli: an interactive Switchboard client.
//
// Reads commands from stdin (/register, /login, /who, /resume, /logout, /quit, /help; any other
// line is a chat message), runs each one as a request on the client library and prints the answer;
// pushes (room snapshot, chat, joins and leaves, Closing) are printed as they arrive. One thread
// and one io_context: stdin is read asynchronously through a posix stream_descriptor, or, when it
// is a regular file (which epoll cannot watch), line by line synchronously — a file never blocks.
// The client reconnects and resumes on its own after a lost connection unless --no-reconnect.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fmt/format.h>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "client.hpp"

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using sb::client::Client;
using sb::client::ClientOptions;
using sb::client::State;

template <class... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(format, std::forward<Args>(args)...);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

/// "CLOSE_LOGGED_IN_ELSEWHERE" -> "logged_in_elsewhere".
std::string close_name(sb::proto::CloseReason r) {
  std::string name = sb::proto::CloseReason_Name(r);
  if (name.rfind("CLOSE_", 0) == 0) name.erase(0, 6);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string describe(const Client& client, const boost::system::error_code& ec) {
  std::string text(sb::errc_name(sb::to_errc(ec)));
  if (ec.category() != sb::switchboard_category()) text = ec.message();
  if (!client.last_error_message().empty() && sb::to_errc(ec) == static_cast<sb::Errc>(client.last_error().code())) {
    text += ": " + client.last_error_message();
  }
  return text;
}

constexpr int kMaxNames = 20;  // longer member lists end with "and N more"

/// "alice, bob (away), ... and 180 more".
std::string member_list(const google::protobuf::RepeatedPtrField<sb::proto::Member>& members, bool ids) {
  std::string names;
  int shown = 0;
  for (const auto& m : members) {
    if (shown == kMaxNames) {
      names += fmt::format(", and {} more", members.size() - kMaxNames);
      break;
    }
    if (shown++ > 0) names += ", ";
    names += ids ? fmt::format("{}#{}", m.name(), m.player_id()) : m.name();
    if (!m.connected()) names += " (away)";
  }
  return names;
}

/// What the printer remembers about rooms, to label events ("[lobby 12]").
struct View {
  std::map<std::uint64_t, std::string> room_types;
  bool quitting = false;
  bool reconnecting = false;

  std::string label(std::uint64_t room) const {
    auto it = room_types.find(room);
    return fmt::format("[{} {}]", it == room_types.end() ? "room" : it->second, room);
  }
};

void print_push(View* view, const sb::proto::ServerFrame& f) {
  if (f.has_room_joined()) {
    const auto& j = f.room_joined();
    view->room_types[j.room_id()] = j.room_type().empty() ? "room" : j.room_type();
    const std::string names = member_list(j.members(), false);
    say("{} you are in {} zone '{}' ({}/{}): {}{}", view->label(j.room_id()), j.room_type(), j.zone(),
        j.members_size(), j.capacity(), names, j.replay_truncated() ? " [history truncated]" : "");
  } else if (f.has_room_event()) {
    const auto& ev = f.room_event();
    const std::string where = view->label(ev.room_id());
    if (ev.has_chat()) {
      say("{} {}: {}", where, ev.chat().from_name(), ev.chat().text());
    } else if (ev.has_member_joined()) {
      say("{} * {} joined", where, ev.member_joined().name());
    } else if (ev.has_member_left()) {
      say("{} * {} left", where, ev.member_left().name());
    } else if (ev.has_member_disconnected()) {
      say("{} * {} lost connection (seat held)", where, ev.member_disconnected().name());
    } else if (ev.has_member_reconnected()) {
      say("{} * {} is back", where, ev.member_reconnected().name());
    } else if (ev.has_game()) {
      say("{} game event ({} bytes)", where, ev.game().size());
    } else if (ev.has_relay()) {
      say("{} relay from {}: {}", where, ev.relay().from_player_id(), ev.relay().data());
    } else if (ev.has_locked()) {
      say("{} * room {}", where, ev.locked().locked() ? "locked" : "unlocked");
    } else if (ev.has_ended()) {
      say("{} * room ended ({} bytes of results)", where, ev.ended().results().size());
    }
  } else if (f.has_room_left()) {
    say("{} you left the room ({}): {}", view->label(f.room_left().room_id()),
        f.room_left().reason() == 2 ? "kicked" : "room ended", f.room_left().message());
  } else if (f.has_closing()) {
    say("[closing] {}{}{}", close_name(f.closing().reason()), f.closing().message().empty() ? "" : ": ",
        f.closing().message());
  } else if (f.has_error()) {
    say("[error] {}: {}", sb::proto::ErrorCode_Name(f.error().code()), f.error().message());
  }
}

void print_state(View* view, const Client* client, State s) {
  switch (s) {
    case State::reconnecting:
      view->reconnecting = true;
      say("[connection lost: reconnecting]");
      break;
    case State::closed:
      if (view->reconnecting && client->last_failure()) {
        say("[reconnect gave up: {}]", describe(*client, client->last_failure()));
      }
      view->reconnecting = false;
      if (!view->quitting) say("[disconnected] /login or /resume to come back");
      break;
    case State::logged_in:
      // Commands print their own results; only the reconnect loop logs in silently.
      if (view->reconnecting) say("[reconnected and resumed as {}]", client->username());
      view->reconnecting = false;
      break;
    default:
      break;
  }
}

/// Lines from stdin without blocking the io_context (see the file comment).
class LineReader {
 public:
  explicit LineReader(asio::any_io_executor ex) : stream_(ex) {
    const int fd = ::dup(STDIN_FILENO);
    saved_flags_ = ::fcntl(STDIN_FILENO, F_GETFL);
    boost::system::error_code ec;
    stream_.assign(fd, ec);
    if (ec) {
      ::close(fd);
      async_ = false;
    }
  }
  ~LineReader() {
    boost::system::error_code ignored;
    stream_.close(ignored);
    if (saved_flags_ >= 0) ::fcntl(STDIN_FILENO, F_SETFL, saved_flags_);  // leave the tty as found
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  /// The next line without its newline; nullopt at end of input.
  awaitable<std::optional<std::string>> next() {
    if (!async_) {
      std::string line;
      if (!std::getline(std::cin, line)) co_return std::nullopt;
      co_return line;
    }
    auto [ec, n] = co_await asio::async_read_until(stream_, asio::dynamic_buffer(buffer_), '\n',
                                                   asio::as_tuple(asio::use_awaitable));
    if (ec && buffer_.empty()) co_return std::nullopt;
    if (ec) {  // last line without a newline
      std::string line = std::move(buffer_);
      buffer_.clear();
      co_return line;
    }
    std::string line = buffer_.substr(0, n - 1);
    buffer_.erase(0, n);
    co_return line;
  }

 private:
  asio::posix::stream_descriptor stream_;
  std::string buffer_;
  bool async_ = true;
  int saved_flags_ = -1;
};

std::vector<std::string> split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

constexpr const char* kHelp =
    "commands:\n"
    "  /register USER PASS [ZONE]   create an account and enter the lobby\n"
    "  /login USER PASS [ZONE]      log in (takes over another connection of the account)\n"
    "  /resume                      reattach with the resume token of the last login\n"
    "  /who                         list the members of the current room\n"
    "  /rooms [TYPE] [ZONE]         list the rooms of a zone (default: yours)\n"
    "  /create TYPE [CAP] [K=V...]  create a room (relay, poker, ctf) and sit in it\n"
    "  /join ID [watch]             join a room by id (watch = as a spectator)\n"
    "  /auto TYPE [K=V...]          join the fullest room of TYPE with space, or a new one\n"
    "  /leave                       leave the game room (back to the lobby)\n"
    "  /lock, /unlock               lock or unlock the room you created\n"
    "  /send TEXT                   send TEXT as a game message (relayed in relay rooms)\n"
    "  /ping                        round trip to the server\n"
    "  /logout                      end the session\n"
    "  /quit                        leave\n"
    "  anything else                say it in the current room";

awaitable<bool> ensure_connected(Client* client) {
  if (client->connected()) co_return true;
  auto st = co_await client->connect();
  if (!st) {
    say("connect failed: {}", describe(*client, st.error()));
    co_return false;
  }
  say("connected to {} ({})", client->hello()->server(), client->options().host);
  co_return true;
}

void print_login(const sb::Result<sb::proto::LoginOk>& r, const Client* client, const char* done,
                 const char* failed);

awaitable<void> repl(Client* client, View* view, asio::io_context* io) {
  LineReader input(co_await asio::this_coro::executor);
  say("sb-cli: /help for commands");
  (void)co_await ensure_connected(client);
  for (;;) {
    auto line = co_await input.next();
    if (!line) break;
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (line->empty()) continue;
    if ((*line)[0] != '/') {
      if (!client->connected()) {
        say("not connected: /login first");
        continue;
      }
      auto st = co_await client->chat(*line, 0);
      if (!st) say("chat failed: {}", describe(*client, st.error()));
      continue;
    }
    const auto words = split(*line);
    const std::string& cmd = words[0];
    if (cmd == "/quit" || cmd == "/exit") break;
    if (cmd == "/help") {
      say("{}", kHelp);
    } else if ((cmd == "/register" || cmd == "/login") && (words.size() == 3 || words.size() == 4)) {
      if (!co_await ensure_connected(client)) continue;
      const std::string zone = words.size() == 4 ? words[3] : "";
      if (cmd == "/register") {
        auto r = co_await client->register_account(words[1], words[2], zone);
        print_login(r, client, "registered", "register");
      } else {
        auto r = co_await client->login(words[1], words[2], zone);
        print_login(r, client, "logged in", "login");
      }
    } else if (cmd == "/resume") {
      if (!co_await ensure_connected(client)) continue;
      auto r = co_await client->resume();
      print_login(r, client, "resumed", "resume");
    } else if (cmd == "/who") {
      auto r = co_await client->members();
      if (!r) {
        say("who failed: {}", describe(*client, r.error()));
        continue;
      }
      const std::string names = member_list(r->members(), true);
      say("{} {} members: {}", view->label(r->room_id()), r->members_size(), names);
    } else if (cmd == "/rooms") {
      std::string type = words.size() > 1 ? words[1] : std::string();
      std::string zone = words.size() > 2 ? words[2] : std::string();
      auto r = co_await client->list_rooms(std::move(zone), std::move(type));
      if (!r) {
        say("rooms failed: {}", describe(*client, r.error()));
        continue;
      }
      say("zone '{}': {} rooms", r->zone(), r->rooms_size());
      for (const auto& info : r->rooms()) {
        say("  {} {} {}/{}{}{}", info.room_id(), info.room_type(), info.players(), info.capacity(),
            info.spectators() ? fmt::format(" +{} watching", info.spectators()) : "", info.locked() ? " locked" : "");
      }
    } else if ((cmd == "/create" || cmd == "/auto") && words.size() >= 2) {
      std::map<std::string, std::string> params;
      std::uint32_t capacity = 0;
      bool ok = true;
      for (std::size_t i = 2; i < words.size(); ++i) {
        const auto eq = words[i].find('=');
        if (eq != std::string::npos && eq > 0) {
          params[words[i].substr(0, eq)] = words[i].substr(eq + 1);
        } else if (cmd == "/create" && i == 2 && std::all_of(words[i].begin(), words[i].end(), ::isdigit)) {
          capacity = static_cast<std::uint32_t>(std::stoul(words[i]));
        } else {
          ok = false;
        }
      }
      if (!ok) {
        say("usage: {} TYPE {}[KEY=VALUE ...]", cmd, cmd == "/create" ? "[CAPACITY] " : "");
        continue;
      }
      // Two statements, not `?:` around two co_awaits: GCC 12 destroys such a temporary twice.
      sb::Result<sb::proto::RoomJoined> r = sb::fail(sb::Errc::internal);
      if (cmd == "/create") {
        r = co_await client->create_room(words[1], "", capacity, params);
      } else {
        r = co_await client->auto_join(words[1], "", params);
      }
      if (!r) say("{} failed: {}", cmd.substr(1), describe(*client, r.error()));
    } else if (cmd == "/join" && (words.size() == 2 || words.size() == 3)) {
      char* end = nullptr;
      const auto id = std::strtoull(words[1].c_str(), &end, 10);
      if (id == 0 || *end != '\0') {
        say("usage: /join ROOM_ID [watch]");
        continue;
      }
      auto r = co_await client->join_room(id, words.size() == 3 && words[2] == "watch");
      if (!r) say("join failed: {}", describe(*client, r.error()));
    } else if (cmd == "/leave") {
      auto st = co_await client->leave_room();
      if (!st) say("leave failed: {}", describe(*client, st.error()));
    } else if (cmd == "/lock" || cmd == "/unlock") {
      auto st = co_await client->lock_room(cmd == "/lock");
      if (!st) say("{} failed: {}", cmd.substr(1), describe(*client, st.error()));
    } else if (cmd == "/send" && words.size() >= 2) {
      auto st = client->send_game(line->substr(line->find(' ') + 1));
      if (!st) say("send failed: {}", describe(*client, st.error()));
    } else if (cmd == "/ping") {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = co_await client->ping();
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - t0);
      if (r) {
        say("pong in {:.3f} ms", static_cast<double>(us.count()) / 1000.0);
      } else {
        say("ping failed: {}", describe(*client, r.error()));
      }
    } else if (cmd == "/logout") {
      auto st = co_await client->logout();
      if (st) {
        say("logged out");
      } else {
        say("logout failed: {}", describe(*client, st.error()));
      }
    } else {
      say("unknown command or wrong arguments: {} (/help)", *line);
    }
  }
  view->quitting = true;
  client->close();
  io->stop();
}

void print_login(const sb::Result<sb::proto::LoginOk>& r, const Client* client, const char* done,
                 const char* failed) {
  if (!r) {
    std::string extra;
    if (client->last_error().retry_after_ms() > 0) {
      extra = fmt::format(" (retry in {} ms)", client->last_error().retry_after_ms());
    }
    say("{} failed: {}{}", failed, describe(*client, r.error()), extra);
    return;
  }
  say("{} as {} (player {}, {})", done, r->username(), r->player_id(),
      sb::proto::LoginKind_Name(r->kind()));
}

void report_exception(const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    fmt::print(stderr, "sb-cli: {}\n", ex.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sb-cli: interactive Switchboard client"};
  ClientOptions options;
  options.client_name = "sb-cli/0.1";
  options.auto_reconnect = true;
  bool ws = false;
  bool no_reconnect = false;
  app.add_option("--host", options.host, "server address")->capture_default_str();
  app.add_option("--port", options.port, "server port")->required();
  app.add_flag("--ws", ws, "use WebSocket instead of TCP");
  app.add_flag("--no-reconnect", no_reconnect, "do not reconnect and resume after a lost connection");
  CLI11_PARSE(app, argc, argv);
  if (ws) options.transport = ClientOptions::Transport::websocket;
  if (no_reconnect) options.auto_reconnect = false;

  try {
    asio::io_context io(1);
    Client client(io.get_executor(), options);
    View view;
    client.set_push_handler([&view](const sb::proto::ServerFrame& f) { print_push(&view, f); });
    client.set_state_handler([&view, &client](State s) { print_state(&view, &client, s); });
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&io](const boost::system::error_code& ec, int) {
      if (!ec) io.stop();
    });
    asio::co_spawn(io, repl(&client, &view, &io), report_exception);
    io.run();
  } catch (const std::exception& e) {
    fmt::print(stderr, "sb-cli: {}\n", e.what());
    return 1;
  }
  return 0;
}
