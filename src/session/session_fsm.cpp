#include "session/session_fsm.hpp"

namespace sb::session {

std::string_view state_name(State s) noexcept {
  switch (s) {
    case State::awaiting_hello: return "awaiting_hello";
    case State::visitor: return "visitor";
    case State::authenticated: return "authenticated";
    case State::in_lobby: return "in_lobby";
    case State::in_room: return "in_room";
    case State::closed: return "closed";
  }
  return "unknown";
}

std::string_view request_name(Request r) noexcept {
  switch (r) {
    case Request::hello: return "hello";
    case Request::register_account: return "register";
    case Request::login: return "login";
    case Request::resume: return "resume";
    case Request::logout: return "logout";
    case Request::ping: return "ping";
    case Request::chat: return "chat";
    case Request::members: return "members";
    case Request::create_room: return "create_room";
    case Request::join_room: return "join_room";
    case Request::auto_join: return "auto_join";
    case Request::leave_room: return "leave_room";
    case Request::lock_room: return "lock_room";
    case Request::list_rooms: return "list_rooms";
    case Request::game: return "game";
  }
  return "unknown";
}

bool allowed(State s, Request r) noexcept {
  switch (s) {
    case State::awaiting_hello:
      return r == Request::hello;
    case State::visitor:
      return r == Request::register_account || r == Request::login || r == Request::resume ||
             r == Request::ping;
    case State::authenticated:
      // Logged in, the lobby placement still in flight: a client may already go to a game room.
      return r == Request::logout || r == Request::ping || r == Request::create_room ||
             r == Request::join_room || r == Request::auto_join || r == Request::list_rooms;
    case State::in_lobby:
      return r == Request::logout || r == Request::ping || r == Request::chat ||
             r == Request::members || r == Request::create_room || r == Request::join_room ||
             r == Request::auto_join || r == Request::list_rooms;
    case State::in_room:
      return r == Request::logout || r == Request::ping || r == Request::chat ||
             r == Request::members || r == Request::create_room || r == Request::join_room ||
             r == Request::auto_join || r == Request::list_rooms || r == Request::leave_room ||
             r == Request::lock_room || r == Request::game;
    case State::closed:
      return false;
  }
  return false;
}

Status SessionFsm::admit(Request r) noexcept {
  if (!allowed(state_, r)) return fail(Errc::bad_state);
  if (r == Request::ping || r == Request::game) return {};
  if (in_flight_) return fail(Errc::busy);
  in_flight_ = true;
  return {};
}

Status SessionFsm::transition(State next) noexcept {
  bool ok = false;
  switch (state_) {
    case State::awaiting_hello: ok = next == State::visitor || next == State::closed; break;
    case State::visitor: ok = next == State::authenticated || next == State::closed; break;
    case State::authenticated:
      ok = next == State::in_lobby || next == State::in_room || next == State::closed;
      break;
    case State::in_lobby:
    case State::in_room:
      ok = next == State::in_lobby || next == State::in_room || next == State::authenticated ||
           next == State::closed;
      break;
    case State::closed: ok = false; break;
  }
  if (!ok) return fail(Errc::bad_state);
  state_ = next;
  return {};
}

}  // namespace sb::session
