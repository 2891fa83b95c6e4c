#include "session/session_fsm.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <utility>

namespace sb::session {
namespace {

constexpr std::array kStates = {State::awaiting_hello, State::visitor, State::in_lobby,
                                State::authenticated,  State::in_room, State::closed};
constexpr std::array kRequests = {Request::hello, Request::register_account, Request::login,
                                  Request::resume, Request::logout, Request::ping,
                                  Request::chat, Request::members, Request::create_room,
                                  Request::join_room, Request::auto_join, Request::leave_room,
                                  Request::lock_room, Request::list_rooms, Request::game};

// The expected table, written out independently of the implementation.
const std::set<std::pair<State, Request>>& allowed_pairs() {
  static const std::set<std::pair<State, Request>> table = {
      {State::awaiting_hello, Request::hello},
      {State::visitor, Request::register_account},
      {State::visitor, Request::login},
      {State::visitor, Request::resume},
      {State::visitor, Request::ping},
      {State::authenticated, Request::logout},
      {State::authenticated, Request::ping},
      {State::authenticated, Request::create_room},
      {State::authenticated, Request::join_room},
      {State::authenticated, Request::auto_join},
      {State::authenticated, Request::list_rooms},
      {State::in_lobby, Request::logout},
      {State::in_lobby, Request::ping},
      {State::in_lobby, Request::chat},
      {State::in_lobby, Request::members},
      {State::in_room, Request::logout},
      {State::in_room, Request::ping},
      {State::in_room, Request::chat},
      {State::in_room, Request::members},
      // rooms: from the lobby a player can create, join, auto-join and list; only inside a game
      // room can it leave, lock or send game messages.
      {State::in_lobby, Request::create_room},
      {State::in_lobby, Request::join_room},
      {State::in_lobby, Request::auto_join},
      {State::in_lobby, Request::list_rooms},
      {State::in_room, Request::create_room},
      {State::in_room, Request::join_room},
      {State::in_room, Request::auto_join},
      {State::in_room, Request::list_rooms},
      {State::in_room, Request::leave_room},
      {State::in_room, Request::lock_room},
      {State::in_room, Request::game},
  };
  return table;
}

// Drives a fresh FSM to `target` along legal transitions.
SessionFsm fsm_in(State target) {
  SessionFsm fsm;
  auto step = [&](State s) { EXPECT_TRUE(fsm.transition(s)) << state_name(s); };
  switch (target) {
    case State::awaiting_hello: break;
    case State::visitor: step(State::visitor); break;
    case State::authenticated:
      step(State::visitor);
      step(State::authenticated);
      break;
    case State::in_lobby:
    case State::in_room:
      step(State::visitor);
      step(State::authenticated);
      step(target);
      break;
    case State::closed: step(State::closed); break;
  }
  EXPECT_EQ(fsm.state(), target);
  return fsm;
}

TEST(SessionFsmTest, AllowedTableCoversEveryStateAndRequest) {
  for (State s : kStates) {
    for (Request r : kRequests) {
      const bool expected = allowed_pairs().count({s, r}) > 0;
      EXPECT_EQ(allowed(s, r), expected) << state_name(s) << " x " << request_name(r);
    }
  }
}

TEST(SessionFsmTest, AdmitFollowsTheTableInEveryState) {
  for (State s : kStates) {
    for (Request r : kRequests) {
      SessionFsm fsm = fsm_in(s);
      const auto st = fsm.admit(r);
      if (allowed_pairs().count({s, r})) {
        EXPECT_TRUE(st) << state_name(s) << " x " << request_name(r);
        EXPECT_EQ(fsm.in_flight(), r != Request::ping && r != Request::game) << state_name(s) << " x " << request_name(r);
      } else {
        ASSERT_FALSE(st) << state_name(s) << " x " << request_name(r);
        EXPECT_EQ(to_errc(st.error()), Errc::bad_state);
        EXPECT_FALSE(fsm.in_flight());
      }
    }
  }
}

TEST(SessionFsmTest, StartsAwaitingHelloWithNothingInFlight) {
  SessionFsm fsm;
  EXPECT_EQ(fsm.state(), State::awaiting_hello);
  EXPECT_FALSE(fsm.in_flight());
}

TEST(SessionFsmTest, SecondRequestIsBusy) {
  SessionFsm fsm = fsm_in(State::visitor);
  ASSERT_TRUE(fsm.admit(Request::login));
  EXPECT_TRUE(fsm.in_flight());
  const auto st = fsm.admit(Request::register_account);
  ASSERT_FALSE(st);
  EXPECT_EQ(to_errc(st.error()), Errc::busy);
  EXPECT_TRUE(fsm.in_flight());
}

TEST(SessionFsmTest, BadStateWinsOverBusy) {
  SessionFsm fsm = fsm_in(State::visitor);
  ASSERT_TRUE(fsm.admit(Request::login));
  const auto st = fsm.admit(Request::chat);
  ASSERT_FALSE(st);
  EXPECT_EQ(to_errc(st.error()), Errc::bad_state);
}

TEST(SessionFsmTest, PingIsAdmittedWhileBusy) {
  for (State s : {State::visitor, State::authenticated, State::in_lobby, State::in_room}) {
    SessionFsm fsm = fsm_in(s);
    const Request first = s == State::visitor ? Request::login : Request::logout;
    ASSERT_TRUE(fsm.admit(first)) << state_name(s);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(fsm.admit(Request::ping)) << state_name(s);
    EXPECT_TRUE(fsm.in_flight());
  }
}

TEST(SessionFsmTest, PingDoesNotOccupyTheSlot) {
  SessionFsm fsm = fsm_in(State::in_lobby);
  ASSERT_TRUE(fsm.admit(Request::ping));
  EXPECT_FALSE(fsm.in_flight());
  EXPECT_TRUE(fsm.admit(Request::chat));
}

TEST(SessionFsmTest, FinishClearsInFlight) {
  SessionFsm fsm = fsm_in(State::in_lobby);
  ASSERT_TRUE(fsm.admit(Request::chat));
  ASSERT_FALSE(fsm.admit(Request::members));
  fsm.finish();
  EXPECT_FALSE(fsm.in_flight());
  EXPECT_TRUE(fsm.admit(Request::members));
}

TEST(SessionFsmTest, LegalTransitionsAreAccepted) {
  const std::set<std::pair<State, State>> legal = {
      {State::awaiting_hello, State::visitor}, {State::awaiting_hello, State::closed},
      {State::visitor, State::authenticated},  {State::visitor, State::closed},
      {State::authenticated, State::in_lobby}, {State::authenticated, State::in_room},
      {State::authenticated, State::closed},   {State::in_lobby, State::in_lobby},
      {State::in_lobby, State::in_room},       {State::in_lobby, State::authenticated},
      {State::in_lobby, State::closed},        {State::in_room, State::in_lobby},
      {State::in_room, State::in_room},        {State::in_room, State::authenticated},
      {State::in_room, State::closed},
  };
  for (State from : kStates) {
    for (State to : kStates) {
      SessionFsm fsm = fsm_in(from);
      const auto st = fsm.transition(to);
      if (legal.count({from, to})) {
        EXPECT_TRUE(st) << state_name(from) << " -> " << state_name(to);
        EXPECT_EQ(fsm.state(), to);
      } else {
        ASSERT_FALSE(st) << state_name(from) << " -> " << state_name(to);
        EXPECT_EQ(to_errc(st.error()), Errc::bad_state);
        EXPECT_EQ(fsm.state(), from) << "illegal transition changed the state";
      }
    }
  }
}

TEST(SessionFsmTest, ClosedIsFinal) {
  SessionFsm fsm = fsm_in(State::closed);
  for (State to : kStates) {
    EXPECT_FALSE(fsm.transition(to)) << state_name(to);
    EXPECT_EQ(fsm.state(), State::closed);
  }
  for (Request r : kRequests) EXPECT_FALSE(fsm.admit(r)) << request_name(r);
}

TEST(SessionFsmTest, VisitorCannotChatOrListMembers) {
  SessionFsm fsm = fsm_in(State::visitor);
  for (Request r : {Request::chat, Request::members, Request::logout, Request::hello}) {
    const auto st = fsm.admit(r);
    ASSERT_FALSE(st) << request_name(r);
    EXPECT_EQ(to_errc(st.error()), Errc::bad_state);
  }
  EXPECT_FALSE(fsm.in_flight());
}

TEST(SessionFsmTest, AuthenticatedCannotLogInAgain) {
  for (State s : {State::authenticated, State::in_lobby, State::in_room}) {
    SessionFsm fsm = fsm_in(s);
    for (Request r : {Request::login, Request::register_account, Request::resume, Request::hello}) {
      const auto st = fsm.admit(r);
      ASSERT_FALSE(st) << state_name(s) << " x " << request_name(r);
      EXPECT_EQ(to_errc(st.error()), Errc::bad_state);
    }
  }
}

TEST(SessionFsmTest, NamesAreDistinct) {
  std::set<std::string_view> states;
  for (State s : kStates) states.insert(state_name(s));
  EXPECT_EQ(states.size(), kStates.size());
  std::set<std::string_view> requests;
  for (Request r : kRequests) requests.insert(request_name(r));
  EXPECT_EQ(requests.size(), kRequests.size());
  EXPECT_EQ(state_name(State::in_lobby), "in_lobby");
  EXPECT_EQ(request_name(Request::register_account), "register");
}

TEST(SessionFsm, GameMessagesStreamWhileARequestIsInFlight) {
  SessionFsm fsm = fsm_in(State::in_room);
  ASSERT_TRUE(fsm.admit(Request::members));
  EXPECT_TRUE(fsm.admit(Request::game));
  EXPECT_TRUE(fsm.admit(Request::game));
  EXPECT_EQ(fsm.admit(Request::chat).error(), make_error_code(Errc::busy));
}

}  // namespace
}  // namespace sb::session
