#include "games/ctf/ctf_game.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "ctf_test_util.hpp"

namespace sb::ctf::test {
namespace {

constexpr std::int32_t kStep = 800 / 20;  // centi-units per tick at the default rules

/// A running two-player game: P(1) red at (15,5), P(2) blue at (85,55), far from everything;
/// claim grace over.
CtfGame running_game(Rules rules = {}) {
  CtfGame g(rules, 42);
  g.add_player(P(1));
  g.add_player(P(2));
  Effects fx;
  g.start(fx);
  place(g, P(1), {1500, 500});
  place(g, P(2), {8500, 5500});
  return g;
}

double distance(Vec a, Vec b) { return std::hypot(double(a.x) - b.x, double(a.y) - b.y); }

TEST(CtfMapTest, StandardMapBasesAndSpawnsAreOpen) {
  const Map m = Map::standard();
  for (const auto& b : m.bases) EXPECT_FALSE(m.blocked(b));
  EXPECT_TRUE(m.blocked({5000, 3000})) << "the centre block";
  EXPECT_TRUE(m.blocked({10, 3000})) << "outside the radius-inflated bounds";
  CtfGame g({}, 7);
  for (std::uint64_t i = 1; i <= 40; ++i) g.add_player(P(i));
  for (const auto& p : g.players()) EXPECT_FALSE(m.blocked(p.pos)) << p.id.value;
}

TEST(CtfGameTest, TeamsAreBalancedOnJoin) {
  CtfGame g({}, 1);
  for (std::uint64_t i = 1; i <= 5; ++i) g.add_player(P(i));
  EXPECT_EQ(g.team_size(0), 3u);
  EXPECT_EQ(g.team_size(1), 2u);
  Effects fx;
  g.remove_player(P(1), fx);  // red
  g.remove_player(P(3), fx);  // red
  EXPECT_EQ(g.team_size(0), 1u);
  EXPECT_EQ(g.add_player(P(6)), 0) << "joins the smaller team";
  EXPECT_EQ(g.add_player(P(7)), 0) << "tie goes red";
  EXPECT_EQ(g.add_player(P(8)), 1);
  EXPECT_EQ(g.add_player(P(6)), 0) << "a player already in keeps its team";
  EXPECT_EQ(g.players().size(), 6u);
}

TEST(CtfGameTest, HugeDirectionIsClampedToSpeedAndCounted) {
  CtfGame g = running_game();
  place(g, P(1), {2000, 3000});
  Effects fx;
  ASSERT_TRUE(g.submit(P(1), input(1, 2'000'000'000, -2'000'000'000), fx));
  EXPECT_EQ(g.violations(), 1u);
  EXPECT_EQ(g.find(P(1))->violations, 1u);
  const Vec before = g.find(P(1))->pos;
  g.step(fx);
  const Vec after = g.find(P(1))->pos;
  EXPECT_LE(distance(before, after), kStep);
  EXPECT_GT(distance(before, after), kStep - 2) << "still moves at full speed";
  EXPECT_GT(after.x, before.x);
  EXPECT_LT(after.y, before.y);
}

TEST(CtfGameTest, DistancePerTickNeverExceedsSpeedOverTickRate) {
  CtfGame g = running_game();
  std::uint64_t r = 12345;
  auto rnd = [&r]() {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::int32_t>(r >> 33) - (1 << 30);
  };
  Effects fx;
  for (std::uint32_t t = 1; t <= 2000; ++t) {
    // Mix unit-ish directions with absurd ones.
    const std::int32_t dx = t % 3 == 0 ? rnd() : rnd() % 1500;
    const std::int32_t dy = t % 3 == 0 ? rnd() : rnd() % 1500;
    ASSERT_TRUE(g.submit(P(1), input(t, dx, dy), fx));
    const Vec before = g.find(P(1))->pos;
    g.step(fx);
    if (g.phase() != wire::RUNNING) break;
    const Player& p = *g.find(P(1));
    ASSERT_LE(distance(before, p.pos), double(kStep)) << "tick " << t;
    ASSERT_FALSE(g.map().blocked(p.pos)) << "tick " << t;
  }
}

TEST(CtfGameTest, WallsAndBoundsBlock) {
  CtfGame g = running_game();
  const Map& m = g.map();
  Effects fx;
  // Into the left edge.
  place(g, P(1), {300, 600});
  ASSERT_TRUE(g.submit(P(1), input(1, -1000, 0), fx));
  for (int i = 0; i < 40; ++i) g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos.x, m.player_radius);
  // Into the top-left corner.
  ASSERT_TRUE(g.submit(P(1), input(2, -707, -707), fx));
  for (int i = 0; i < 40; ++i) g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos, (Vec{m.player_radius, m.player_radius}));
  // Into the centre block from the left: stops at its face, slides along it diagonally.
  const Rect& c = m.walls[0];
  place(g, P(1), {c.x0 - 1000, 3000});
  ASSERT_TRUE(g.submit(P(1), input(3, 1000, 0), fx));
  for (int i = 0; i < 60; ++i) g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos, (Vec{c.x0 - m.player_radius, 3000}));
  ASSERT_TRUE(g.submit(P(1), input(4, 707, 707), fx));
  for (int i = 0; i < 10; ++i) g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos.x, c.x0 - m.player_radius) << "x blocked by the wall";
  EXPECT_GT(g.find(P(1))->pos.y, 3000) << "y slides";
}

TEST(CtfGameTest, OneInputPerTickLatestWinsAndFloodIsCounted) {
  CtfGame g = running_game();
  Effects fx;
  for (std::uint32_t s = 1; s <= 5; ++s) ASSERT_TRUE(g.submit(P(1), input(s, 0, s == 5 ? 1000 : -1000), fx));
  EXPECT_EQ(g.violations(), 2u) << "inputs 4 and 5 exceed flood_per_tick = 3";
  const Vec before = g.find(P(1))->pos;
  g.step(fx);
  EXPECT_EQ(g.inputs_applied(), 1u);
  EXPECT_EQ(g.find(P(1))->ack_seq, 5u);
  EXPECT_GT(g.find(P(1))->pos.y, before.y) << "the latest input (down) was applied";
  // A stale seq is ignored; the counter resets each tick.
  ASSERT_TRUE(g.submit(P(1), input(4, 0, -1000), fx));
  for (std::uint32_t s = 6; s <= 8; ++s) ASSERT_TRUE(g.submit(P(1), input(s, 0, 1000), fx));
  g.step(fx);
  EXPECT_EQ(g.violations(), 2u);
  EXPECT_EQ(g.find(P(1))->ack_seq, 8u);
}

TEST(CtfGameTest, TeleportClaimGetsACorrectionToThatPlayerOnly) {
  CtfGame g = running_game();
  place(g, P(1), {2000, 1500});
  Effects fx;
  wire::Input honest = input(1, 1000, 0);
  honest.set_has_claim(true);
  honest.set_claimed_x(2000 + 150);
  honest.set_claimed_y(1500);
  ASSERT_TRUE(g.submit(P(1), honest, fx));
  g.step(fx);
  EXPECT_TRUE(of(fx, wire::CtfEvent::kCorrection).empty());
  EXPECT_EQ(g.violations(), 0u);

  fx = {};
  wire::Input cheat = input(2, 1000, 0);
  cheat.set_has_claim(true);
  cheat.set_claimed_x(9000);
  cheat.set_claimed_y(3000);
  const Vec server = g.find(P(1))->pos;
  ASSERT_TRUE(g.submit(P(1), cheat, fx));
  g.step(fx);
  const auto corr = of(fx, wire::CtfEvent::kCorrection);
  ASSERT_EQ(corr.size(), 1u);
  EXPECT_EQ(corr[0].to, P(1));
  EXPECT_EQ(corr[0].event.correction().x(), server.x);
  EXPECT_EQ(corr[0].event.correction().y(), server.y);
  EXPECT_EQ(corr[0].event.correction().seq(), 2u);
  EXPECT_EQ(g.violations(), 1u);
  EXPECT_EQ(g.find(P(1))->pos.x, server.x + kStep) << "the server's position stands, not the claim";

  fx = {};
  wire::Input extreme = input(3, 0, 0);
  extreme.set_has_claim(true);
  extreme.set_claimed_x(INT32_MIN);
  extreme.set_claimed_y(INT32_MIN);
  ASSERT_TRUE(g.submit(P(1), extreme, fx));
  g.step(fx);
  EXPECT_EQ(of(fx, wire::CtfEvent::kCorrection).size(), 1u);
  EXPECT_EQ(g.violations(), 2u);
}

TEST(CtfGameTest, TooManyViolationsReportsAKickOnce) {
  Rules rules;
  rules.max_violations = 3;
  CtfGame g = running_game(rules);
  Effects fx;
  for (std::uint32_t s = 1; s <= 3; ++s) ASSERT_TRUE(g.submit(P(1), input(s, 5000, 0), fx));
  EXPECT_TRUE(fx.kick.empty());
  ASSERT_TRUE(g.submit(P(1), input(4, 5000, 0), fx));  // 4th clamp + 1st flood
  ASSERT_EQ(fx.kick.size(), 1u);
  EXPECT_EQ(fx.kick[0], P(1));
  ASSERT_TRUE(g.submit(P(1), input(5, 5000, 0), fx));
  EXPECT_EQ(fx.kick.size(), 1u);
}

TEST(CtfGameTest, TouchingTheEnemyFlagTakesItAndCarryingItHomeScores) {
  CtfGame g = running_game();
  const Map& m = g.map();
  Effects fx;
  place(g, P(1), {m.bases[1].x - 100, m.bases[1].y});
  g.step(fx);
  const auto taken = of(fx, wire::CtfEvent::kTaken);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].event.taken().flag(), wire::BLUE);
  EXPECT_EQ(taken[0].event.taken().player(), 1u);
  EXPECT_EQ(g.flags()[1].carrier, P(1));
  // The flag follows its carrier.
  ASSERT_TRUE(g.submit(P(1), input(1, -1000, 0), fx));
  g.step(fx);
  EXPECT_EQ(g.flags()[1].pos, g.find(P(1))->pos);
  // Home (without walking there): a capture, and the flag goes back.
  fx = {};
  place(g, P(1), {m.bases[0].x + 300, m.bases[0].y});
  g.step(fx);
  const auto cap = of(fx, wire::CtfEvent::kCaptured);
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].event.captured().team(), wire::RED);
  EXPECT_EQ(cap[0].event.captured().score(0), 1u);
  EXPECT_EQ(g.score()[0], 1u);
  EXPECT_TRUE(g.flags()[1].at_base);
  EXPECT_FALSE(g.flags()[1].carrier.valid());
  EXPECT_EQ(g.find(P(1))->captures, 1u);
}

TEST(CtfGameTest, NoCaptureWhileYourOwnFlagIsAway) {
  CtfGame g = running_game();
  const Map& m = g.map();
  Effects fx;
  edit(g, [&](wire::CtfSnapshot& s) {
    s.mutable_flags(1)->set_carrier(1);
    s.mutable_flags(1)->set_at_base(false);
    s.mutable_flags(0)->set_carrier(2);
    s.mutable_flags(0)->set_at_base(false);
    snap_player(s, P(1)).set_x(m.bases[0].x);
    snap_player(s, P(1)).set_y(m.bases[0].y);
    snap_player(s, P(2)).set_x(m.bases[1].x);
    snap_player(s, P(2)).set_y(m.bases[1].y);
  });
  g.step(fx);
  EXPECT_TRUE(of(fx, wire::CtfEvent::kCaptured).empty());
  EXPECT_EQ(g.score()[0], 0u);
  EXPECT_EQ(g.score()[1], 0u);
}

TEST(CtfGameTest, DefenderInItsHalfTagsTheCarrierWhoDropsTheFlag) {
  CtfGame g = running_game();
  const Map& m = g.map();
  Effects fx;
  // Red P(1) carries the blue flag through the blue half; blue P(2) touches it there.
  edit(g, [&](wire::CtfSnapshot& s) {
    s.mutable_flags(1)->set_carrier(1);
    s.mutable_flags(1)->set_at_base(false);
    auto& a = snap_player(s, P(1));
    a.set_x(7000);
    a.set_y(1000);
    auto& d = snap_player(s, P(2));
    d.set_x(7100);
    d.set_y(1000);
  });
  g.step(fx);
  const auto tags = of(fx, wire::CtfEvent::kTagged);
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].event.tagged().tagger(), 2u);
  EXPECT_EQ(tags[0].event.tagged().victim(), 1u);
  const auto drops = of(fx, wire::CtfEvent::kDropped);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].event.dropped().flag(), wire::BLUE);
  EXPECT_EQ(drops[0].event.dropped().x(), 7000);
  EXPECT_FALSE(g.flags()[1].carrier.valid());
  // The tagger stands on the dropped flag, so it sends it home in the same tick.
  const auto ret = of(fx, wire::CtfEvent::kReturned);
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].event.returned().player(), 2u);
  EXPECT_TRUE(g.flags()[1].at_base);
  const Player& victim = *g.find(P(1));
  EXPECT_GT(victim.respawn_ticks, 0u);
  EXPECT_LT(distance(victim.pos, m.bases[0]), 1000.0) << "sent back to its base";
  EXPECT_EQ(g.find(P(2))->tags, 1u);
  // While respawning it does not move.
  ASSERT_TRUE(g.submit(P(1), input(1, 1000, 0), fx));
  const Vec at = victim.pos;
  g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos, at);
}

TEST(CtfGameTest, NoTagOutsideTheDefendersHalf) {
  CtfGame g = running_game();
  Effects fx;
  // The red carrier is back in the red half: the blue defender cannot tag it there.
  edit(g, [&](wire::CtfSnapshot& s) {
    s.mutable_flags(1)->set_carrier(1);
    s.mutable_flags(1)->set_at_base(false);
    auto& a = snap_player(s, P(1));
    a.set_x(3000);
    a.set_y(1000);
    auto& d = snap_player(s, P(2));
    d.set_x(3100);
    d.set_y(1000);
  });
  g.step(fx);
  EXPECT_TRUE(of(fx, wire::CtfEvent::kTagged).empty());
  EXPECT_EQ(g.flags()[1].carrier, P(1));
}

TEST(CtfGameTest, InAStandoffACarrierIsTaggedAnywhere) {
  CtfGame g = running_game();
  Effects fx;
  // Both flags carried: nobody can score, so the blue defender may tag the red carrier even in
  // the red half (the position of NoTagOutsideTheDefendersHalf).
  edit(g, [&](wire::CtfSnapshot& s) {
    s.mutable_flags(1)->set_carrier(1);
    s.mutable_flags(1)->set_at_base(false);
    s.mutable_flags(0)->set_carrier(2);
    s.mutable_flags(0)->set_at_base(false);
    auto& a = snap_player(s, P(1));
    a.set_x(3000);
    a.set_y(1000);
    auto& d = snap_player(s, P(2));
    d.set_x(3100);
    d.set_y(1000);
  });
  g.step(fx);
  const auto tags = of(fx, wire::CtfEvent::kTagged);
  ASSERT_FALSE(tags.empty());
  EXPECT_FALSE(g.flags()[1].carrier.valid());
}

TEST(CtfGameTest, DroppedFlagReturnsAfterItsTimerOrWhenATeamMateTouchesIt) {
  CtfGame g = running_game();
  const Map& m = g.map();
  Effects fx;
  auto drop_blue_at = [&](Vec at) {
    edit(g, [&](wire::CtfSnapshot& s) {
      s.mutable_flags(1)->set_at_base(false);
      s.mutable_flags(1)->set_x(at.x);
      s.mutable_flags(1)->set_y(at.y);
      s.mutable_flags(1)->set_return_ticks(10 * 20);
      snap_player(s, P(1)).set_x(m.bases[0].x);
      snap_player(s, P(2)).set_x(m.bases[1].x);
    });
  };
  drop_blue_at({6000, 1000});
  for (int i = 0; i < 199; ++i) g.step(fx);
  EXPECT_FALSE(g.flags()[1].at_base);
  EXPECT_TRUE(of(fx, wire::CtfEvent::kReturned).empty());
  g.step(fx);
  auto ret = of(fx, wire::CtfEvent::kReturned);
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].event.returned().flag(), wire::BLUE);
  EXPECT_EQ(ret[0].event.returned().player(), 0u) << "by its timer";
  EXPECT_TRUE(g.flags()[1].at_base);
  EXPECT_EQ(g.flags()[1].pos, m.bases[1]);

  fx = {};
  drop_blue_at({6000, 1000});
  place(g, P(2), {6050, 1000});
  g.step(fx);
  ret = of(fx, wire::CtfEvent::kReturned);
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].event.returned().player(), 2u);
  EXPECT_TRUE(g.flags()[1].at_base);
  EXPECT_EQ(g.find(P(2))->returns, 1u);
}

TEST(CtfGameTest, LeavingDropsACarriedFlag) {
  CtfGame g = running_game();
  Effects fx;
  edit(g, [&](wire::CtfSnapshot& s) {
    s.mutable_flags(1)->set_carrier(1);
    s.mutable_flags(1)->set_at_base(false);
    snap_player(s, P(1)).set_x(6000);
  });
  g.remove_player(P(1), fx);
  const auto drops = of(fx, wire::CtfEvent::kDropped);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].event.dropped().player(), 1u);
  EXPECT_FALSE(g.flags()[1].carrier.valid());
  EXPECT_GT(g.flags()[1].return_ticks, 0u);
}

TEST(CtfGameTest, DisconnectedPlayerIdlesAndResumesOnReturn) {
  CtfGame g = running_game();
  place(g, P(1), {2000, 1500});
  Effects fx;
  ASSERT_TRUE(g.submit(P(1), input(1, 1000, 0), fx));
  g.step(fx);
  const Vec moved = g.find(P(1))->pos;
  EXPECT_EQ(moved.x, 2000 + kStep);
  g.set_connected(P(1), false);
  for (int i = 0; i < 20; ++i) g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos, moved);
  wire::State st;
  g.fill_state(st);
  EXPECT_TRUE(st.players(0).idle());
  g.set_connected(P(1), true);
  for (int i = 0; i < 5; ++i) g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos, moved) << "its old input is not replayed";
  ASSERT_TRUE(g.submit(P(1), input(1, 0, 1000), fx)) << "a new client may restart seq";
  g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos, (Vec{moved.x, moved.y + kStep}));
}

TEST(CtfGameTest, ASwitchedConnectionRestartsItsSeqAndStopsTheOldInput) {
  CtfGame g = running_game();
  place(g, P(1), {2000, 1500});
  Effects fx;
  for (std::uint32_t s = 1; s <= 7; ++s) {
    ASSERT_TRUE(g.submit(P(1), input(s, 1000, 0), fx));
    g.step(fx);
  }
  const Vec moved = g.find(P(1))->pos;
  g.switch_connection(P(1));
  EXPECT_TRUE(g.find(P(1))->connected);
  g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos, moved) << "the old connection's input no longer steers";
  ASSERT_TRUE(g.submit(P(1), input(1, 0, 1000), fx)) << "the new client starts at seq 1";
  g.step(fx);
  EXPECT_EQ(g.find(P(1))->pos, (Vec{moved.x, moved.y + kStep}));
}

// The claim check at its boundary: a claim exactly `allowed` = speed/tick_hz per tick since the
// previous input (at most tick_hz ticks) + claim_tolerance from the server's position stands;
// one centi-unit farther gets a Correction and a violation.
TEST(CtfGameTest, AClaimAtTheAllowedDistanceStandsAndOneUnitPastIsCorrected) {
  const Rules rules;
  ASSERT_EQ(rules.speed / static_cast<std::int32_t>(rules.tick_hz), kStep);
  const Vec at{4000, 3000};
  struct Case {
    std::uint32_t idle_steps;  // steps between the previous input and the claim
    std::int32_t allowed;      // expected allowance
  };
  // 1 step; 5 steps; 30 steps, capped at one second (tick_hz steps).
  const Case cases[] = {{1, kStep + rules.claim_tolerance},
                        {5, 5 * kStep + rules.claim_tolerance},
                        {30, static_cast<std::int32_t>(rules.tick_hz) * kStep + rules.claim_tolerance}};
  for (const Case& c : cases) {
    // Along an axis and along a 3-4-5 diagonal (exact integer distance), at and one past.
    const std::int32_t a = c.allowed;
    ASSERT_EQ(a % 5, 0);
    const Vec offsets[][2] = {{{a, 0}, {a + 1, 0}},
                              {{0, -a}, {0, -a - 1}},
                              {{3 * a / 5, 4 * a / 5}, {3 * a / 5, 4 * a / 5 + 1}}};
    for (const auto& pair : offsets) {
      for (int past = 0; past <= 1; ++past) {
        const Vec off = pair[past];
        CtfGame g = running_game(rules);
        place(g, P(1), at);
        Effects fx;
        ASSERT_TRUE(g.submit(P(1), input(1, 0, 0), fx));  // the previous input: stand still
        for (std::uint32_t i = 0; i < c.idle_steps; ++i) g.step(fx);
        ASSERT_EQ(g.find(P(1))->pos, at);
        fx = {};
        wire::Input claim = input(2, 0, 0);
        claim.set_has_claim(true);
        claim.set_claimed_x(at.x + off.x);
        claim.set_claimed_y(at.y + off.y);
        ASSERT_TRUE(g.submit(P(1), claim, fx));
        g.step(fx);
        const auto corr = of(fx, wire::CtfEvent::kCorrection);
        SCOPED_TRACE("idle " + std::to_string(c.idle_steps) + " steps, offset (" + std::to_string(off.x) + ", " +
                     std::to_string(off.y) + "), allowed " + std::to_string(a));
        if (past == 0) {
          EXPECT_TRUE(corr.empty()) << "a claim at the allowed distance stands";
          EXPECT_EQ(g.violations(), 0u);
        } else {
          ASSERT_EQ(corr.size(), 1u) << "one unit past the allowed distance is corrected";
          EXPECT_EQ(corr[0].event.correction().x(), at.x);
          EXPECT_EQ(corr[0].event.correction().y(), at.y);
          EXPECT_EQ(g.violations(), 1u);
        }
      }
    }
  }
}

TEST(CtfGameTest, StateIsCompact) {
  CtfGame g({}, 3);
  for (std::uint64_t i = 1; i <= 16; ++i) g.add_player(P(1000 + i));
  Effects fx;
  g.start(fx);
  for (std::uint64_t i = 1; i <= 16; ++i) ASSERT_TRUE(g.submit(P(1000 + i), input(7, 600, 800), fx));
  for (int i = 0; i < 10; ++i) g.step(fx);
  wire::State st;
  g.fill_state(st);
  // ~20 bytes per player with an ack and positions in centi-units.
  EXPECT_LT(st.ByteSizeLong(), 16u * 22u + 40u) << st.ByteSizeLong();
}

}  // namespace
}  // namespace sb::ctf::test
