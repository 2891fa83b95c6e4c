#pragma once
// SessionFsm: what a connection may ask for, and when.
//
// States (seeds 001, 002, 003): awaiting_hello → visitor → authenticated → in_lobby ⇄ in_room →
// closed (in_lobby: the session's room is its zone's lobby; in_room: a game room). Each state admits a fixed set of requests; a visitor cannot chat or list
// members, an authenticated session cannot log in again. At most one request is in flight per
// connection: admit() of a second one answers Errc::busy, except Ping, which is always answered
// so heartbeats keep flowing during a slow login. Pure and synchronous: the connection shell asks
// admit() before dispatching and calls finish() when the response has been queued.
// Not thread-safe: owned by one connection on one shard.
#include <cstdint>
#include <string_view>

#include "core/error.hpp"

namespace sb::session {

enum class State : std::uint8_t { awaiting_hello, visitor, authenticated, in_lobby, in_room, closed };

enum class Request : std::uint8_t {
  hello,
  register_account,
  login,
  resume,
  logout,
  ping,
  chat,
  members,
  create_room,
  join_room,
  auto_join,
  leave_room,
  lock_room,
  list_rooms,
  game,
};

std::string_view state_name(State s) noexcept;
std::string_view request_name(Request r) noexcept;

class SessionFsm {
 public:
  State state() const noexcept { return state_; }
  bool in_flight() const noexcept { return in_flight_; }

  /// Admits `r` in the current state: Errc::bad_state if not allowed here, Errc::busy if another
  /// request is in flight. On success (for anything but ping) marks a request in flight.
  Status admit(Request r) noexcept;

  /// The in-flight request has been answered.
  void finish() noexcept { in_flight_ = false; }

  /// Moves to `next`. Transitions are checked: an illegal one returns Errc::bad_state and leaves
  /// the state unchanged (a bug in the caller, which should treat it as internal).
  Status transition(State next) noexcept;

 private:
  State state_ = State::awaiting_hello;
  bool in_flight_ = false;
};

/// True if `r` is allowed in `s` (ignoring in-flight).
bool allowed(State s, Request r) noexcept;

}  // namespace sb::session
