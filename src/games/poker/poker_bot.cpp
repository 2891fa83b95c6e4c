#include "games/poker/poker_bot.hpp"

#include <algorithm>

#include "games/poker/hand_evaluator.hpp"

namespace sb::poker {

namespace {

struct Profile {
  double raise_at;     // strength from which the bot bets or raises
  double call_floor;   // never calls below this strength
  double odds_margin;  // ...nor below pot odds plus this
  double bluff;        // chance to bet or raise anyway
  double size_min;     // bet size as a fraction of the pot: [size_min, size_max)
  double size_max;
};

Profile profile_of(Style s) noexcept {
  switch (s) {
    case Style::tight: return {0.72, 0.50, 0.15, 0.02, 0.5, 0.8};
    case Style::loose: return {0.68, 0.25, 0.00, 0.05, 0.4, 0.9};
    case Style::aggressive: return {0.52, 0.30, -0.05, 0.15, 0.7, 1.3};
    case Style::calling_station: return {0.92, 0.08, -0.30, 0.00, 0.3, 0.6};
    case Style::random: break;
  }
  return {0.5, 0.3, 0.0, 0.1, 0.5, 1.0};
}

Card card_of(std::uint32_t index) noexcept {
  return Card::from_index(static_cast<int>(std::min<std::uint32_t>(index, Card::kCount - 1)));
}

}  // namespace

std::string_view style_name(Style s) noexcept {
  switch (s) {
    case Style::tight: return "tight";
    case Style::loose: return "loose";
    case Style::aggressive: return "aggressive";
    case Style::calling_station: return "calling-station";
    case Style::random: return "random";
  }
  return "random";
}

std::optional<Style> parse_style(std::string_view text) noexcept {
  if (text == "tight") return Style::tight;
  if (text == "loose") return Style::loose;
  if (text == "aggressive") return Style::aggressive;
  if (text == "calling-station" || text == "calling_station") return Style::calling_station;
  if (text == "random") return Style::random;
  return std::nullopt;
}

PokerBot::PokerBot(PlayerId me, Style style, std::uint64_t seed) : me_(me), style_(style), rng_(seed) {}

void PokerBot::on_view(const wire::TableView& view) {
  if (view.hand_id() != hand_id_) {
    hand_id_ = view.hand_id();
    last_.reset();
  }
  hole_.clear();
  for (const auto c : view.my_cards()) hole_.push_back(card_of(c));
  board_.clear();
  for (const auto c : view.board()) board_.push_back(card_of(c));
  pending_.reset();
  if (view.hand_in_progress() && view.has_to_act() && view.to_act().player_id() == me_.value) {
    pending_ = view.to_act();
  }
}

void PokerBot::on_event(const wire::PokerEvent& event) {
  switch (event.body_case()) {
    case wire::PokerEvent::kHandStarted:
      hand_id_ = event.hand_started().hand_id();
      hole_.clear();
      board_.clear();
      pending_.reset();
      last_.reset();
      safe_mode_ = false;
      ++hands_seen_;
      break;
    case wire::PokerEvent::kHoleCards:
      if (event.hole_cards().hand_id() == hand_id_) {
        hole_.clear();
        for (const auto c : event.hole_cards().cards()) hole_.push_back(card_of(c));
      }
      break;
    case wire::PokerEvent::kStreet:
      board_.clear();
      for (const auto c : event.street().board()) board_.push_back(card_of(c));
      break;
    case wire::PokerEvent::kToAct:
      pending_.reset();
      safe_mode_ = false;
      hand_id_ = event.to_act().hand_id();  // also when the bot came in mid-hand without a view
      if (event.to_act().player_id() == me_.value) pending_ = event.to_act();
      break;
    case wire::PokerEvent::kActionTaken:
      if (event.action_taken().player_id() == me_.value) pending_.reset();
      break;
    case wire::PokerEvent::kHandEnded:
      pending_.reset();
      last_.reset();
      break;
    case wire::PokerEvent::kActionRejected:
      ++rejections_;
      // Retry the same turn once, passively (check/call are always legal when it is our turn).
      if (!safe_mode_ && last_ && last_->hand_id() == hand_id_) {
        pending_ = last_;
        safe_mode_ = true;
      }
      break;
    default:
      break;
  }
}

double PokerBot::uniform() noexcept { return static_cast<double>(rng_.next() >> 11) * 0x1.0p-53; }

double PokerBot::strength() const {
  if (hole_.size() != 2) return 0.0;
  const int hi = std::max(hole_[0].rank(), hole_[1].rank());
  const int lo = std::min(hole_[0].rank(), hole_[1].rank());
  if (board_.size() < 3) {
    // Preflop, chart-like: pairs by height; others by total rank, suitedness, gap, an ace.
    if (hi == lo) return 0.55 + 0.45 * (hi - 2) / 12.0;
    double s = 0.6 * (hi + lo - 4) / 24.0;
    if (hole_[0].suit() == hole_[1].suit()) s += 0.06;
    const int gap = hi - lo;
    if (gap == 1) s += 0.05;
    else if (gap == 2) s += 0.03;
    else if (gap > 3) s -= 0.02 * std::min(gap - 3, 5);
    if (hi == Card::kMaxRank) s += 0.08;
    return std::clamp(s, 0.0, 1.0);
  }
  std::vector<Card> cards = hole_;
  cards.insert(cards.end(), board_.begin(), board_.end());
  const auto rank = evaluate(cards);
  if (!rank) return 0.0;
  const int top = static_cast<int>((rank->value() >> 16) & 0xF);  // first tiebreak rank
  int board_high = 0;
  for (const Card c : board_) board_high = std::max(board_high, c.rank());
  switch (rank->category()) {
    case HandCategory::high_card: return 0.05 + 0.1 * (hi - 2) / 12.0;
    case HandCategory::pair: {
      if (top != hi && top != lo) return 0.15;  // the pair is on the board
      double s = 0.35 + 0.3 * (top - 2) / 12.0;
      if (top >= board_high) s += 0.1;  // top pair or an overpair
      return s;
    }
    case HandCategory::two_pair: return 0.65;
    case HandCategory::trips: return 0.75;
    case HandCategory::straight: return 0.82;
    case HandCategory::flush: return 0.86;
    case HandCategory::full_house: return 0.93;
    case HandCategory::quads: return 0.97;
    case HandCategory::straight_flush: return 1.0;
  }
  return 0.0;
}

wire::Action PokerBot::raise_or_call(const wire::ToAct& t, double pot_fraction) {
  wire::Action a;
  a.set_hand_id(t.hand_id());
  const auto target = t.current_bet() + static_cast<std::uint64_t>(static_cast<double>(t.pot()) * pot_fraction);
  const auto amount = std::clamp<std::uint64_t>(target, t.min_raise_to(), t.max_raise_to());
  a.set_kind(t.current_bet() == 0 ? wire::Action::BET : wire::Action::RAISE);
  a.set_amount(amount);
  return a;
}

wire::Action PokerBot::random_action(const wire::ToAct& t) {
  std::vector<wire::Action::Kind> options;
  const bool can_raise = t.max_raise_to() > 0;
  if (t.to_call() > 0) {
    options.push_back(wire::Action::FOLD);
    options.push_back(wire::Action::CALL);
  } else {
    options.push_back(wire::Action::CHECK);
  }
  if (can_raise) {
    options.push_back(t.current_bet() == 0 ? wire::Action::BET : wire::Action::RAISE);
  }
  // All-in is legal as a raise, or as a call when the stack does not cover more than the call.
  if (can_raise || (t.to_call() > 0 && t.stack() <= t.to_call())) {
    if (rng_.below(4) == 0) options.push_back(wire::Action::ALL_IN);
  }
  wire::Action a;
  a.set_hand_id(t.hand_id());
  a.set_kind(options[static_cast<std::size_t>(rng_.below(options.size()))]);
  if (a.kind() == wire::Action::BET || a.kind() == wire::Action::RAISE) {
    a.set_amount(t.min_raise_to() + rng_.below(t.max_raise_to() - t.min_raise_to() + 1));
  }
  return a;
}

std::optional<wire::Action> PokerBot::decide() {
  if (!pending_) return std::nullopt;
  const wire::ToAct t = *pending_;
  pending_.reset();
  last_ = t;
  ++actions_;
  wire::Action a;
  a.set_hand_id(t.hand_id());
  if (safe_mode_) {
    a.set_kind(t.to_call() > 0 ? wire::Action::CALL : wire::Action::CHECK);
    return a;
  }
  if (style_ == Style::random) return random_action(t);

  const Profile p = profile_of(style_);
  const double s = strength() + (uniform() - 0.5) * 0.16;
  const double to_call = static_cast<double>(t.to_call());
  const double odds = to_call > 0 ? to_call / (static_cast<double>(t.pot()) + to_call) : 0.0;
  const bool can_raise = t.max_raise_to() > 0;
  if (can_raise && (s >= p.raise_at || uniform() < p.bluff)) {
    // Strong aggressive hands sometimes shove.
    if (style_ == Style::aggressive && s > 0.9 && uniform() < 0.3) {
      a.set_kind(wire::Action::ALL_IN);
      return a;
    }
    return raise_or_call(t, p.size_min + (p.size_max - p.size_min) * uniform());
  }
  if (t.to_call() == 0) {
    a.set_kind(wire::Action::CHECK);
  } else if (s >= std::max(p.call_floor, odds + p.odds_margin)) {
    a.set_kind(wire::Action::CALL);
  } else {
    a.set_kind(wire::Action::FOLD);
  }
  return a;
}

}  // namespace sb::poker
