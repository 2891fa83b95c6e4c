#pragma once
// PokerBot: a pure No-limit Hold'em player, for network bots and in-process simulations alike.
//
// The bot is fed what a client would see: the TableView of RoomJoined (on_view) and the
// PokerEvents of the room (on_event, including its own HoleCards and ActionRejected). decide()
// returns an Action when the latest ToAct is for this bot and it has not answered it yet, else
// nothing; the caller sends it. Decisions combine a hand-strength estimate (a preflop chart-like
// score from ranks, pairs, suitedness and connectedness; after the flop the evaluator's category
// of hole cards plus board, with the pair's height), pot odds, noise from a seeded SplitMix64
// and a Style:
//   tight            plays few hands, raises strong ones
//   loose            calls with many hands, raises good ones
//   aggressive       bets and raises often, bluffs sometimes, shoves strong hands
//   calling_station  calls almost everything, rarely raises
//   random           any legal action, uniformly
// Every action is legal against the ToAct it answers (to_call, min/max raise, BET vs RAISE); if
// the server still rejects one, the next decide() falls back to check/call. No I/O, no clock;
// deterministic for a given seed and input. Not thread-safe: one bot per player and thread.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "games/poker/cards.hpp"
#include "poker.pb.h"

namespace sb::poker {

enum class Style : std::uint8_t { tight, loose, aggressive, calling_station, random };

/// "tight", "loose", "aggressive", "calling-station", "random".
std::string_view style_name(Style s) noexcept;
/// The inverse of style_name (also accepts "calling_station"); nullopt for anything else.
std::optional<Style> parse_style(std::string_view text) noexcept;

class PokerBot {
 public:
  PokerBot(PlayerId me, Style style, std::uint64_t seed);

  /// Takes the state of a table the bot (re)joins: hand, board, own cards, who is to act.
  void on_view(const wire::TableView& view);
  /// Takes one event of the room, in order.
  void on_event(const wire::PokerEvent& event);
  /// The action for the pending ToAct addressed to this bot, once; nullopt otherwise.
  std::optional<wire::Action> decide();

  PlayerId me() const noexcept { return me_; }
  Style style() const noexcept { return style_; }
  /// Hands this bot has seen start (HandStarted events, whether dealt in or not).
  std::uint64_t hands_seen() const noexcept { return hands_seen_; }
  /// Actions returned by decide().
  std::uint64_t actions() const noexcept { return actions_; }
  /// ActionRejected events received.
  std::uint64_t rejections() const noexcept { return rejections_; }

 private:
  /// 0..1: how good the bot's hand is (preflop chart or made hand on the board).
  double strength() const;
  double uniform() noexcept;  // [0, 1)
  wire::Action random_action(const wire::ToAct& t);
  wire::Action raise_or_call(const wire::ToAct& t, double pot_fraction);

  PlayerId me_;
  Style style_;
  SplitMix64 rng_;
  std::uint64_t hand_id_ = 0;
  std::vector<Card> hole_;
  std::vector<Card> board_;
  std::optional<wire::ToAct> pending_;  // a ToAct for this bot not answered yet
  std::optional<wire::ToAct> last_;     // the last ToAct answered (retried once if rejected)
  bool safe_mode_ = false;  // the last answer was rejected: only check/call/fold
  std::uint64_t hands_seen_ = 0;
  std::uint64_t actions_ = 0;
  std::uint64_t rejections_ = 0;
};

}  // namespace sb::poker
