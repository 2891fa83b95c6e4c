#include "games/poker/table.hpp"

#include <algorithm>
#include <utility>

#include "core/log.hpp"

namespace sb::poker {

namespace {

std::uint32_t u32(int v) noexcept { return static_cast<std::uint32_t>(v); }

std::string chips_text(Chips c) { return std::to_string(c); }

}  // namespace

std::string_view action_name(ActionKind kind) noexcept {
  switch (kind) {
    case wire::Action::FOLD: return "fold";
    case wire::Action::CHECK: return "check";
    case wire::Action::CALL: return "call";
    case wire::Action::BET: return "bet";
    case wire::Action::RAISE: return "raise";
    case wire::Action::ALL_IN: return "all-in";
    default: return "none";
  }
}

Table::Table(TableConfig config, std::uint64_t seed)
    : config_(config), seats_(static_cast<std::size_t>(config.max_seats)), rng_(seed) {
  SB_CHECK(config_.max_seats >= kMinSeats && config_.max_seats <= kMaxSeats);
  SB_CHECK(config_.small_blind >= 1 && config_.big_blind >= config_.small_blind);
}

// ---------------------------------------------------------------- seating

Result<Seat> Table::sit(PlayerId player, Chips stack) {
  if (!player.valid() || stack == 0) return fail(Errc::invalid_argument);
  if (seat_of(player)) return fail(Errc::already_exists);
  for (Seat s = 0; s < config_.max_seats; ++s) {
    SeatState& st = at(s);
    if (st.player.valid()) continue;
    st = SeatState{};
    st.player = player;
    st.stack = stack;
    chips_in_ += stack;
    wire::PokerEvent ev;
    auto* e = ev.mutable_seated();
    e->set_player_id(player.value);
    e->set_seat(u32(s));
    e->set_stack(stack);
    emit(std::move(ev));
    return s;
  }
  return fail(Errc::room_full);
}

Chips Table::leave(PlayerId player) {
  const auto seat = seat_of(player);
  if (!seat) return 0;
  const Seat s = *seat;
  SeatState& st = at(s);
  const bool was_live = in_progress_ && live(s);
  const bool was_turn = in_progress_ && to_act_ == s;
  if (was_live) {
    st.folded = true;
    st.needs_action = false;
    emit_action(s, wire::Action::FOLD, 0, true);
  }
  if (in_progress_ && st.committed > 0) dead_money_.push_back(st.committed);
  const Chips gone = st.stack;
  chips_out_ += gone;
  st = SeatState{};
  wire::PokerEvent ev;
  auto* e = ev.mutable_unseated();
  e->set_player_id(player.value);
  e->set_seat(u32(s));
  e->set_stack(gone);
  emit(std::move(ev));
  if (was_turn) {
    to_act_ = -1;
    proceed(s);
  } else if (was_live) {
    // Someone else is to act; the fold may end the hand or leave that player nobody to bet against.
    if (live_count() <= 1) {
      finish_hand();
    } else {
      close_if_alone();
      if (to_act_ >= 0 && !needs(to_act_)) {
        const Seat from = to_act_;
        to_act_ = -1;
        proceed(from);
      }
    }
  }
  return gone;
}

std::optional<Seat> Table::seat_of(PlayerId player) const noexcept {
  if (!player.valid()) return std::nullopt;
  for (Seat s = 0; s < config_.max_seats; ++s) {
    if (at(s).player == player) return s;
  }
  return std::nullopt;
}

PlayerId Table::player_at(Seat seat) const noexcept {
  if (seat < 0 || seat >= config_.max_seats) return {};
  return at(seat).player;
}

int Table::seated_count() const noexcept {
  return static_cast<int>(std::count_if(seats_.begin(), seats_.end(),
                                        [](const SeatState& s) { return s.player.valid(); }));
}

bool Table::can_start() const noexcept {
  if (in_progress_) return false;
  return std::count_if(seats_.begin(), seats_.end(),
                       [](const SeatState& s) { return s.player.valid() && s.stack > 0; }) >= 2;
}

Chips Table::stack_of(PlayerId player) const noexcept {
  const auto s = seat_of(player);
  return s ? at(*s).stack : 0;
}

// ---------------------------------------------------------------- predicates

bool Table::live(Seat s) const noexcept {
  const SeatState& st = at(s);
  return st.player.valid() && st.in_hand && !st.folded;
}

bool Table::able(Seat s) const noexcept { return live(s) && !at(s).all_in; }

int Table::live_count() const noexcept {
  int n = 0;
  for (Seat s = 0; s < config_.max_seats; ++s) n += live(s) ? 1 : 0;
  return n;
}

int Table::able_count() const noexcept {
  int n = 0;
  for (Seat s = 0; s < config_.max_seats; ++s) n += able(s) ? 1 : 0;
  return n;
}

Seat Table::next_seat(Seat from, bool (Table::*pred)(Seat) const noexcept) const noexcept {
  for (int k = 1; k <= config_.max_seats; ++k) {
    const Seat s = (from + k) % config_.max_seats;
    if ((this->*pred)(s)) return s;
  }
  return -1;
}

bool Table::may_raise(Seat s) const noexcept {
  const SeatState& st = at(s);
  if (st.acted || st.bet + st.stack <= current_bet_) return false;
  for (Seat o = 0; o < config_.max_seats; ++o) {
    if (o != s && able(o)) return true;
  }
  return false;
}

Chips Table::pot_total() const noexcept {
  Chips t = 0;
  for (const SeatState& s : seats_) t += s.committed;
  for (const Chips d : dead_money_) t += d;
  return t;
}

Chips Table::total_chips() const noexcept {
  Chips t = pot_total();
  for (const SeatState& s : seats_) t += s.stack;
  return t;
}

std::optional<PlayerId> Table::to_act() const noexcept {
  if (!in_progress_ || to_act_ < 0) return std::nullopt;
  return at(to_act_).player;
}

// ---------------------------------------------------------------- a hand

void Table::emit(wire::PokerEvent ev, PlayerId to) { events_.push_back({to, std::move(ev)}); }

std::vector<TableOut> Table::take_events() {
  std::vector<TableOut> out;
  out.swap(events_);
  return out;
}

void Table::put(Seat s, Chips chips) {
  SeatState& st = at(s);
  SB_CHECK(chips <= st.stack);
  st.stack -= chips;
  st.bet += chips;
  st.committed += chips;
  if (st.stack == 0) st.all_in = true;
}

void Table::post_blind(Seat s, Chips blind, bool big) {
  SeatState& st = at(s);
  const Chips amount = std::min(blind, st.stack);
  put(s, amount);
  wire::PokerEvent ev;
  auto* e = ev.mutable_blind_posted();
  e->set_hand_id(hand_id_);
  e->set_player_id(st.player.value);
  e->set_seat(u32(s));
  e->set_amount(amount);
  e->set_big(big);
  e->set_stack(st.stack);
  e->set_all_in(st.all_in);
  emit(std::move(ev));
}

Status Table::start_hand() {
  if (!can_start()) return fail(Errc::bad_state);
  ++hand_id_;
  in_progress_ = true;
  dead_money_.clear();
  board_.clear();
  for (SeatState& st : seats_) {
    const bool in = st.player.valid() && st.stack > 0;
    const PlayerId p = st.player;
    const Chips stack = st.stack;
    st = SeatState{};
    st.player = p;
    st.stack = stack;
    st.in_hand = in;
  }
  button_ = next_seat(button_ < 0 ? config_.max_seats - 1 : button_, &Table::dealt_in);
  int players = 0;
  for (Seat s = 0; s < config_.max_seats; ++s) players += dealt_in(s) ? 1 : 0;
  if (players == 2) {
    sb_seat_ = button_;
  } else {
    sb_seat_ = next_seat(button_, &Table::dealt_in);
  }
  bb_seat_ = next_seat(sb_seat_, &Table::dealt_in);
  deck_.shuffle(rng_.next());

  wire::PokerEvent started;
  auto* hs = started.mutable_hand_started();
  hs->set_hand_id(hand_id_);
  hs->set_button(u32(button_));
  hs->set_small_blind_seat(u32(sb_seat_));
  hs->set_big_blind_seat(u32(bb_seat_));
  hs->set_small_blind(config_.small_blind);
  hs->set_big_blind(config_.big_blind);
  for (Seat s = 0; s < config_.max_seats; ++s) {
    if (!dealt_in(s)) continue;
    auto* si = hs->add_seats();
    si->set_seat(u32(s));
    si->set_player_id(at(s).player.value);
    si->set_stack(at(s).stack);
  }
  emit(std::move(started));

  // Deal one card at a time round the table, starting left of the button.
  for (std::size_t round = 0; round < 2; ++round) {
    Seat s = button_;
    for (int k = 0; k < players; ++k) {
      s = next_seat(s, &Table::dealt_in);
      at(s).hole[round] = *deck_.deal();
    }
  }
  for (Seat s = 0; s < config_.max_seats; ++s) {
    if (!dealt_in(s)) continue;
    wire::PokerEvent ev;
    auto* hc = ev.mutable_hole_cards();
    hc->set_hand_id(hand_id_);
    hc->set_seat(u32(s));
    for (const Card c : at(s).hole) hc->add_cards(u32(c.index()));
    emit(std::move(ev), at(s).player);
  }

  post_blind(sb_seat_, config_.small_blind, false);
  post_blind(bb_seat_, config_.big_blind, true);
  street_ = wire::PREFLOP;
  // The big blind sets the bet to call even when the big blind itself is short.
  current_bet_ = config_.big_blind;
  min_raise_ = config_.big_blind;
  for (Seat s = 0; s < config_.max_seats; ++s) at(s).needs_action = able(s);
  to_act_ = -1;
  proceed(bb_seat_);
  return {};
}

void Table::close_if_alone() {
  if (able_count() > 1) return;
  for (Seat s = 0; s < config_.max_seats; ++s) {
    if (able(s) && at(s).bet >= current_bet_) at(s).needs_action = false;
  }
}

void Table::proceed(Seat from) {
  if (live_count() <= 1) {
    finish_hand();
    return;
  }
  close_if_alone();
  const Seat next = next_seat(from, &Table::needs);
  if (next < 0) {
    end_street();
    return;
  }
  to_act_ = next;
  wire::PokerEvent ev;
  *ev.mutable_to_act() = to_act_info();
  emit(std::move(ev));
}

wire::ToAct Table::to_act_info() const {
  SB_CHECK(to_act_ >= 0);
  const SeatState& st = at(to_act_);
  wire::ToAct t;
  t.set_hand_id(hand_id_);
  t.set_player_id(st.player.value);
  t.set_seat(u32(to_act_));
  t.set_to_call(current_bet_ > st.bet ? std::min(current_bet_ - st.bet, st.stack) : 0);
  if (may_raise(to_act_)) {
    const Chips max_to = st.bet + st.stack;
    t.set_min_raise_to(std::min(current_bet_ + min_raise_, max_to));
    t.set_max_raise_to(max_to);
  }
  t.set_current_bet(current_bet_);
  t.set_bet(st.bet);
  t.set_stack(st.stack);
  t.set_pot(pot_total());
  return t;
}

void Table::emit_action(Seat s, ActionKind kind, Chips amount, bool automatic) {
  const SeatState& st = at(s);
  wire::PokerEvent ev;
  auto* a = ev.mutable_action_taken();
  a->set_hand_id(hand_id_);
  a->set_player_id(st.player.value);
  a->set_seat(u32(s));
  a->set_kind(kind);
  a->set_amount(amount);
  a->set_bet(st.bet);
  a->set_stack(st.stack);
  a->set_pot(pot_total());
  a->set_auto_(automatic);
  a->set_all_in(st.all_in && kind != wire::Action::FOLD);
  emit(std::move(ev));
}

void Table::raise_to(Seat s, Chips to) {
  SeatState& st = at(s);
  const Chips increment = to - current_bet_;
  const bool full = increment >= min_raise_;
  put(s, to - st.bet);
  current_bet_ = to;
  for (Seat o = 0; o < config_.max_seats; ++o) {
    if (o == s || !able(o)) continue;
    at(o).needs_action = true;
    if (full) at(o).acted = false;  // a full raise reopens the betting for everyone
  }
  if (full) min_raise_ = increment;
}

std::optional<std::string> Table::act(PlayerId player, ActionKind kind, Chips amount, bool automatic) {
  if (!in_progress_) return "no hand in progress";
  if (to_act_ < 0 || at(to_act_).player != player) return "not your turn";
  const Seat s = to_act_;
  SeatState& st = at(s);
  const Chips to_call = current_bet_ > st.bet ? current_bet_ - st.bet : 0;
  const Chips max_to = st.bet + st.stack;
  const bool raise_ok = may_raise(s);
  const Chips min_to = std::min(current_bet_ + min_raise_, max_to);
  auto check_raise_amount = [&]() -> std::optional<std::string> {
    if (!raise_ok) return "raising is not allowed: call or fold";
    if (amount < min_to || amount > max_to) {
      return "amount must be between " + chips_text(min_to) + " and " + chips_text(max_to);
    }
    return std::nullopt;
  };

  ActionKind done = kind;
  Chips paid = 0;
  switch (kind) {
    case wire::Action::FOLD:
      st.folded = true;
      break;
    case wire::Action::CHECK:
      if (to_call > 0) return "cannot check: " + chips_text(to_call) + " to call";
      break;
    case wire::Action::CALL:
      if (to_call == 0) return "nothing to call: check";
      paid = std::min(to_call, st.stack);
      put(s, paid);
      break;
    case wire::Action::BET:
      if (current_bet_ > 0) return "there is a bet already: raise";
      if (auto why = check_raise_amount()) return why;
      paid = amount - st.bet;
      raise_to(s, amount);
      break;
    case wire::Action::RAISE:
      if (current_bet_ == 0) return "no bet to raise: bet";
      if (auto why = check_raise_amount()) return why;
      paid = amount - st.bet;
      raise_to(s, amount);
      break;
    case wire::Action::ALL_IN:
      if (max_to <= current_bet_) {
        done = wire::Action::CALL;
        paid = st.stack;
        put(s, paid);
      } else {
        if (!raise_ok) return "raising is not allowed: call or fold";
        done = current_bet_ == 0 ? wire::Action::BET : wire::Action::RAISE;
        paid = st.stack;
        raise_to(s, max_to);
      }
      break;
    default:
      return "unknown action";
  }
  st.acted = true;
  st.needs_action = false;
  to_act_ = -1;
  emit_action(s, done, paid, automatic);
  proceed(s);
  return std::nullopt;
}

void Table::act_default() {
  if (!in_progress_ || to_act_ < 0) return;
  const SeatState& st = at(to_act_);
  const ActionKind kind = st.bet >= current_bet_ ? wire::Action::CHECK : wire::Action::FOLD;
  const auto refused = act(st.player, kind, 0, true);
  SB_CHECK(!refused);
}

void Table::end_street() {
  to_act_ = -1;
  for (SeatState& st : seats_) {
    st.bet = 0;
    st.acted = false;
    st.needs_action = false;
  }
  current_bet_ = 0;
  min_raise_ = config_.big_blind;
  if (street_ == wire::RIVER) {
    finish_hand();
    return;
  }
  const int count = street_ == wire::PREFLOP ? 3 : 1;
  street_ = static_cast<wire::Street>(static_cast<int>(street_) + 1);
  wire::PokerEvent ev;
  auto* sd = ev.mutable_street();
  sd->set_hand_id(hand_id_);
  sd->set_street(street_);
  for (int i = 0; i < count; ++i) {
    const Card c = *deck_.deal();
    board_.push_back(c);
    sd->add_cards(u32(c.index()));
  }
  for (const Card c : board_) sd->add_board(u32(c.index()));
  sd->set_pot(pot_total());
  emit(std::move(ev));
  for (Seat s = 0; s < config_.max_seats; ++s) at(s).needs_action = able(s);
  // Postflop the first player left of the button acts first (heads-up: the big blind).
  proceed(button_);
}

void Table::finish_hand() {
  to_act_ = -1;
  const int n = config_.max_seats;
  std::vector<Contribution> contributions;
  contributions.reserve(static_cast<std::size_t>(n) + dead_money_.size());
  for (Seat s = 0; s < n; ++s) contributions.push_back({at(s).committed, !live(s)});
  for (const Chips d : dead_money_) contributions.push_back({d, true});
  auto pots = build_pots(contributions);
  SB_CHECK(pots.has_value());

  std::vector<SeatHand> hands;
  if (live_count() >= 2) {
    SB_CHECK(board_.size() == 5);
    wire::PokerEvent ev;
    auto* sd = ev.mutable_showdown();
    sd->set_hand_id(hand_id_);
    // Shown in order from the left of the button.
    for (int k = 1; k <= n; ++k) {
      const Seat s = (button_ + k) % n;
      if (!live(s)) continue;
      const std::array<Card, 7> seven{at(s).hole[0], at(s).hole[1], board_[0], board_[1],
                                      board_[2], board_[3], board_[4]};
      const HandRank rank = evaluate_7(seven);
      hands.push_back({s, rank});
      auto* h = sd->add_hands();
      h->set_player_id(at(s).player.value);
      h->set_seat(u32(s));
      for (const Card c : at(s).hole) h->add_cards(u32(c.index()));
      h->set_rank(rank.value());
      h->set_category(std::string(category_name(rank.category())));
      h->set_description(rank.name());
    }
    emit(std::move(ev));
  }

  std::vector<Seat> order;
  for (int k = 1; k <= n; ++k) order.push_back((button_ + k) % n);
  for (std::size_t i = 0; i < pots->size(); ++i) {
    const Pot& pot = (*pots)[i];
    std::vector<Award> awards;
    if (pot.eligible.size() == 1) {
      awards.push_back({pot.eligible.front(), pot.amount});
    } else {
      auto split = split_pot(pot, hands, order);
      SB_CHECK(split.has_value());
      awards = std::move(*split);
    }
    wire::PokerEvent ev;
    auto* pa = ev.mutable_pot_awarded();
    pa->set_hand_id(hand_id_);
    pa->set_pot_index(static_cast<std::uint32_t>(i));
    pa->set_amount(pot.amount);
    pa->set_uncontested(pot.eligible.size() == 1);
    for (const Award& a : awards) {
      at(a.seat).stack += a.amount;
      auto* w = pa->add_winners();
      w->set_player_id(at(a.seat).player.value);
      w->set_seat(u32(a.seat));
      w->set_amount(a.amount);
    }
    emit(std::move(ev));
  }
  for (SeatState& st : seats_) {
    st.bet = 0;
    st.committed = 0;
    st.in_hand = false;
    st.folded = false;
    st.all_in = false;
    st.acted = false;
    st.needs_action = false;
  }
  dead_money_.clear();
  in_progress_ = false;
  street_ = wire::STREET_NONE;
  current_bet_ = 0;
  ++hands_completed_;

  wire::PokerEvent ended;
  auto* he = ended.mutable_hand_ended();
  he->set_hand_id(hand_id_);
  for (Seat s = 0; s < n; ++s) {
    if (!at(s).player.valid()) continue;
    auto* si = he->add_stacks();
    si->set_seat(u32(s));
    si->set_player_id(at(s).player.value);
    si->set_stack(at(s).stack);
  }
  emit(std::move(ended));

  if (config_.rebuy_to > 0) {
    for (Seat s = 0; s < n; ++s) {
      SeatState& st = at(s);
      if (!st.player.valid() || st.stack > 0) continue;
      st.stack = config_.rebuy_to;
      rebuys_ += config_.rebuy_to;
      chips_in_ += config_.rebuy_to;
      wire::PokerEvent ev;
      auto* r = ev.mutable_rebought();
      r->set_player_id(st.player.value);
      r->set_seat(u32(s));
      r->set_amount(config_.rebuy_to);
      r->set_stack(st.stack);
      emit(std::move(ev));
    }
  }
  SB_CHECK(chips_conserved());
}

// ---------------------------------------------------------------- views and state

wire::TableView Table::view(PlayerId viewer) const {
  wire::TableView v;
  v.set_hand_id(hand_id_);
  v.set_hand_in_progress(in_progress_);
  v.set_street(street_);
  v.set_max_seats(u32(config_.max_seats));
  v.set_button(button_);
  v.set_small_blind(config_.small_blind);
  v.set_big_blind(config_.big_blind);
  for (Seat s = 0; s < config_.max_seats; ++s) {
    const SeatState& st = at(s);
    if (!st.player.valid()) continue;
    auto* sv = v.add_seats();
    sv->set_seat(u32(s));
    sv->set_player_id(st.player.value);
    sv->set_stack(st.stack);
    sv->set_bet(st.bet);
    sv->set_committed(st.committed);
    sv->set_in_hand(in_progress_ && st.in_hand);
    sv->set_folded(st.folded);
    sv->set_all_in(st.all_in);
    if (in_progress_ && st.in_hand && viewer.valid() && st.player == viewer) {
      for (const Card c : st.hole) v.add_my_cards(u32(c.index()));
    }
  }
  for (const Card c : board_) v.add_board(u32(c.index()));
  if (in_progress_) {
    std::vector<Contribution> contributions;
    for (Seat s = 0; s < config_.max_seats; ++s) contributions.push_back({at(s).committed, !live(s)});
    for (const Chips d : dead_money_) contributions.push_back({d, true});
    if (auto pots = build_pots(contributions)) {
      for (const Pot& p : *pots) {
        auto* pv = v.add_pots();
        pv->set_amount(p.amount);
        for (const Seat e : p.eligible) pv->add_eligible_seats(u32(e));
      }
    }
  }
  v.set_pot_total(pot_total());
  if (to_act_ >= 0 && in_progress_) *v.mutable_to_act() = to_act_info();
  v.set_hands_completed(hands_completed_);
  return v;
}

wire::TableSnapshot Table::snapshot() const {
  wire::TableSnapshot s;
  s.set_max_seats(u32(config_.max_seats));
  s.set_small_blind(config_.small_blind);
  s.set_big_blind(config_.big_blind);
  s.set_rebuy_to(config_.rebuy_to);
  for (const SeatState& st : seats_) {
    auto* ss = s.add_seats();
    ss->set_player_id(st.player.value);
    ss->set_stack(st.stack);
    ss->set_bet(st.bet);
    ss->set_committed(st.committed);
    ss->set_in_hand(st.in_hand);
    ss->set_folded(st.folded);
    ss->set_all_in(st.all_in);
    ss->set_acted(st.acted);
    ss->set_needs_action(st.needs_action);
    if (st.in_hand) {
      for (const Card c : st.hole) ss->add_hole(u32(c.index()));
    }
  }
  for (const Chips d : dead_money_) s.add_dead_money(d);
  s.set_rng_state(rng_.state());
  for (const Card c : deck_.cards()) s.add_deck(u32(c.index()));
  s.set_deck_pos(static_cast<std::uint32_t>(deck_.dealt()));
  s.set_hand_id(hand_id_);
  s.set_hand_in_progress(in_progress_);
  s.set_street(street_);
  s.set_button(button_);
  s.set_small_blind_seat(sb_seat_);
  s.set_big_blind_seat(bb_seat_);
  for (const Card c : board_) s.add_board(u32(c.index()));
  s.set_current_bet(current_bet_);
  s.set_min_raise(min_raise_);
  s.set_to_act(to_act_);
  s.set_chips_in(chips_in_);
  s.set_chips_out(chips_out_);
  s.set_rebuys(rebuys_);
  s.set_hands_completed(hands_completed_);
  return s;
}

Result<Table> Table::restore(const wire::TableSnapshot& s) {
  const int n = static_cast<int>(s.max_seats());
  if (n < kMinSeats || n > kMaxSeats || s.small_blind() < 1 || s.big_blind() < s.small_blind() ||
      s.seats_size() != n || s.board_size() > 5) {
    return fail(Errc::invalid_argument);
  }
  auto seat_ok = [n](int v) { return v >= -1 && v < n; };
  if (!seat_ok(s.button()) || !seat_ok(s.small_blind_seat()) || !seat_ok(s.big_blind_seat()) ||
      !seat_ok(s.to_act()) || !wire::Street_IsValid(s.street())) {
    return fail(Errc::invalid_argument);
  }
  TableConfig config{n, s.small_blind(), s.big_blind(), s.rebuy_to()};
  Table t(config, s.rng_state());
  for (int i = 0; i < n; ++i) {
    const auto& ss = s.seats(i);
    SeatState& st = t.at(i);
    st.player = PlayerId{ss.player_id()};
    st.stack = ss.stack();
    st.bet = ss.bet();
    st.committed = ss.committed();
    st.in_hand = ss.in_hand();
    st.folded = ss.folded();
    st.all_in = ss.all_in();
    st.acted = ss.acted();
    st.needs_action = ss.needs_action();
    if (st.in_hand) {
      if (ss.hole_size() != 2) return fail(Errc::invalid_argument);
      for (int k = 0; k < 2; ++k) {
        if (ss.hole(k) >= static_cast<std::uint32_t>(Card::kCount)) return fail(Errc::invalid_argument);
        st.hole[static_cast<std::size_t>(k)] = Card::from_index(static_cast<int>(ss.hole(k)));
      }
    }
  }
  for (const auto d : s.dead_money()) t.dead_money_.push_back(d);
  if (!t.deck_.restore(std::span<const std::uint32_t>(s.deck().data(), static_cast<std::size_t>(s.deck_size())),
                       s.deck_pos())) {
    return fail(Errc::invalid_argument);
  }
  for (const auto c : s.board()) {
    if (c >= static_cast<std::uint32_t>(Card::kCount)) return fail(Errc::invalid_argument);
    t.board_.push_back(Card::from_index(static_cast<int>(c)));
  }
  t.hand_id_ = s.hand_id();
  t.in_progress_ = s.hand_in_progress();
  t.street_ = s.street();
  t.button_ = s.button();
  t.sb_seat_ = s.small_blind_seat();
  t.bb_seat_ = s.big_blind_seat();
  t.current_bet_ = s.current_bet();
  t.min_raise_ = s.min_raise();
  t.to_act_ = s.to_act();
  t.chips_in_ = s.chips_in();
  t.chips_out_ = s.chips_out();
  t.rebuys_ = s.rebuys();
  t.hands_completed_ = s.hands_completed();
  if (!t.chips_conserved()) return fail(Errc::invalid_argument);
  if (t.to_act_ >= 0 && (!t.in_progress_ || !t.able(t.to_act_))) return fail(Errc::invalid_argument);
  return t;
}

}  // namespace sb::poker
