// The store contract suite: every test runs against each backend of the binary it is linked
// into (see store_contract.hpp).
#include "contract/store_contract.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sb::store::contract {

// --- accounts ---------------------------------------------------------------------------------

TEST_P(StoreContractTest, CreatedAccountIsFoundByNameInAnyCaseAndById) {
  const PlayerId alice = create_account("Alice");
  const PlayerId bob = create_account("bob");
  ASSERT_TRUE(alice.valid());
  ASSERT_TRUE(bob.valid());
  EXPECT_NE(alice, bob);

  auto by_name = accounts().find_by_name("aLICE");
  ASSERT_TRUE(by_name.has_value());
  EXPECT_EQ(by_name->id, alice);
  EXPECT_EQ(by_name->username, "Alice");  // display form as registered
  EXPECT_EQ(by_name->password_hash, "hash-of-Alice");
  EXPECT_EQ(by_name->zone, "lobby");
  EXPECT_EQ(by_name->failed_logins, 0u);
  EXPECT_FALSE(by_name->disabled);
  EXPECT_EQ(by_name->disabled_reason, "");
  EXPECT_EQ(by_name->created_ms, kNow);
  EXPECT_EQ(by_name->last_login_ms, 0);

  auto by_id = accounts().find_by_id(alice);
  ASSERT_TRUE(by_id.has_value());
  EXPECT_EQ(by_id->username, "Alice");
  EXPECT_EQ(by_id->password_hash, "hash-of-Alice");

  auto other = accounts().find_by_name("BOB");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->id, bob);
  EXPECT_EQ(other->username, "bob");
}

TEST_P(StoreContractTest, DuplicateUsernameInAnyCaseIsAlreadyExists) {
  const PlayerId carol = create_account("Carol");
  EXPECT_EQ(error_of(accounts().create("cAROL", "other-hash", "lobby", kNow + 1)),
            Errc::already_exists);
  EXPECT_EQ(error_of(accounts().create("Carol", "other-hash", "lobby", kNow + 1)),
            Errc::already_exists);

  auto found = accounts().find_by_name("carol");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, carol);
  EXPECT_EQ(found->password_hash, "hash-of-Carol");
  EXPECT_TRUE(create_account("Carol2").valid());  // the store is still usable after the failure
}

TEST_P(StoreContractTest, MissingAccountIsNotFound) {
  create_account("dave");
  EXPECT_EQ(error_of(accounts().find_by_name("nobody")), Errc::not_found);
  EXPECT_EQ(error_of(accounts().find_by_name("dav")), Errc::not_found);
  EXPECT_EQ(error_of(accounts().find_by_id(kUnknownPlayer)), Errc::not_found);
  EXPECT_EQ(error_of(accounts().record_failed_login(kUnknownPlayer, 3)), Errc::not_found);
  EXPECT_EQ(error_of(accounts().record_good_login(kUnknownPlayer, kNow)), Errc::not_found);
  EXPECT_EQ(error_of(accounts().set_disabled(kUnknownPlayer, true, "x")), Errc::not_found);
  EXPECT_EQ(error_of(accounts().set_disabled(kUnknownPlayer, false, "")), Errc::not_found);
}

TEST_P(StoreContractTest, FailedLoginsDisableOnlyOncePastTheMaximum) {
  const PlayerId erin = create_account("erin");
  for (std::uint32_t n = 1; n <= 3; ++n) {
    auto after = accounts().record_failed_login(erin, 3);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->id, erin);
    EXPECT_EQ(after->failed_logins, n);
    EXPECT_FALSE(after->disabled) << "after failure " << n;
  }
  auto fourth = accounts().record_failed_login(erin, 3);
  ASSERT_TRUE(fourth.has_value());
  EXPECT_EQ(fourth->failed_logins, 4u);
  EXPECT_TRUE(fourth->disabled);
  EXPECT_EQ(fourth->disabled_reason, "too many failed logins");

  auto stored = accounts().find_by_id(erin);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->failed_logins, 4u);
  EXPECT_TRUE(stored->disabled);
  EXPECT_EQ(stored->disabled_reason, "too many failed logins");
}

TEST_P(StoreContractTest, FailedLoginsOnAnOperatorDisabledAccountKeepItsReason) {
  const PlayerId frank = create_account("frank");
  ASSERT_TRUE(accounts().set_disabled(frank, true, "cheating").has_value());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(accounts().record_failed_login(frank, 1).has_value());
  auto stored = accounts().find_by_id(frank);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->disabled);
  EXPECT_EQ(stored->disabled_reason, "cheating");
  EXPECT_EQ(stored->failed_logins, 3u);
}

TEST_P(StoreContractTest, GoodLoginResetsTheCounterAndStampsTheTime) {
  const PlayerId grace = create_account("grace");
  ASSERT_TRUE(accounts().record_failed_login(grace, 3).has_value());
  ASSERT_TRUE(accounts().record_failed_login(grace, 3).has_value());
  ASSERT_TRUE(accounts().record_good_login(grace, kNow + 500).has_value());

  auto stored = accounts().find_by_name("grace");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->failed_logins, 0u);
  EXPECT_EQ(stored->last_login_ms, kNow + 500);

  // Counting starts again from zero: three more failures still leave the account enabled.
  for (std::uint32_t n = 1; n <= 3; ++n) {
    auto after = accounts().record_failed_login(grace, 3);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->failed_logins, n);
    EXPECT_FALSE(after->disabled);
  }
}

TEST_P(StoreContractTest, SetDisabledDisablesWithReasonAndEnablingResetsTheCounter) {
  const PlayerId heidi = create_account("heidi");
  ASSERT_TRUE(accounts().record_failed_login(heidi, 10).has_value());
  ASSERT_TRUE(accounts().set_disabled(heidi, true, "chargeback").has_value());
  auto disabled = accounts().find_by_id(heidi);
  ASSERT_TRUE(disabled.has_value());
  EXPECT_TRUE(disabled->disabled);
  EXPECT_EQ(disabled->disabled_reason, "chargeback");
  EXPECT_EQ(disabled->failed_logins, 1u);

  ASSERT_TRUE(accounts().set_disabled(heidi, false, "").has_value());
  auto enabled = accounts().find_by_id(heidi);
  ASSERT_TRUE(enabled.has_value());
  EXPECT_FALSE(enabled->disabled);
  EXPECT_EQ(enabled->disabled_reason, "");
  EXPECT_EQ(enabled->failed_logins, 0u);
}

TEST_P(StoreContractTest, EnablingAnAutoDisabledAccountRestartsTheCount) {
  const PlayerId ivan = create_account("ivan");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(accounts().record_failed_login(ivan, 2).has_value());
  ASSERT_TRUE(accounts().find_by_id(ivan)->disabled);

  ASSERT_TRUE(accounts().set_disabled(ivan, false, "appeal accepted").has_value());
  auto after = accounts().record_failed_login(ivan, 2);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->failed_logins, 1u);
  EXPECT_FALSE(after->disabled);
}

// --- bans -------------------------------------------------------------------------------------

TEST_P(StoreContractTest, ActiveBanIsTheOneInForceWithTheLatestExpiry) {
  const PlayerId judy = create_account("judy");
  const PlayerId other = create_account("other");
  EXPECT_EQ(bans().active(judy, kNow).value(), std::nullopt);

  add_ban(judy, kNow - 1, "expired");
  const std::uint64_t longer = add_ban(judy, kNow + 5000, "longer");
  const std::uint64_t shorter = add_ban(judy, kNow + 1000, "shorter");  // added last, ends first
  EXPECT_NE(longer, shorter);

  auto active = bans().active(judy, kNow);
  ASSERT_TRUE(active.has_value());
  ASSERT_TRUE(active->has_value());
  const Ban& ban = **active;
  EXPECT_EQ(ban.id, longer);
  EXPECT_EQ(ban.player, judy);
  EXPECT_EQ(ban.reason, "longer");
  EXPECT_EQ(ban.created_ms, kNow - 10);
  EXPECT_EQ(ban.expires_ms, kNow + 5000);
  EXPECT_EQ(ban.created_by, "admin");

  // Later on, only the longer ban is left; after it, nothing.
  EXPECT_EQ(bans().active(judy, kNow + 2000).value().value().id, longer);
  EXPECT_EQ(bans().active(judy, kNow + 5000).value(), std::nullopt);  // ends at expires_ms
  EXPECT_EQ(bans().active(other, kNow).value(), std::nullopt);
}

TEST_P(StoreContractTest, PermanentBanWinsOverTemporaryOnes) {
  const PlayerId ken = create_account("ken");
  const std::uint64_t permanent = add_ban(ken, 0, "permanent");
  add_ban(ken, kNow + 100'000'000, "long");  // added after the permanent one
  auto active = bans().active(ken, kNow);
  ASSERT_TRUE(active.has_value());
  ASSERT_TRUE(active->has_value());
  EXPECT_EQ((*active)->id, permanent);
  EXPECT_EQ((*active)->expires_ms, 0);
  EXPECT_EQ(bans().active(ken, kNow + 200'000'000).value().value().id, permanent);
}

TEST_P(StoreContractTest, LiftRemovesEveryBanOfThatPlayerOnly) {
  const PlayerId leo = create_account("leo");
  const PlayerId mia = create_account("mia");
  add_ban(leo, 0, "a");
  add_ban(leo, kNow + 1000, "b");
  add_ban(leo, kNow - 1000, "expired");
  const std::uint64_t kept = add_ban(mia, 0, "c");

  EXPECT_EQ(bans().lift(leo).value(), 3u);
  EXPECT_EQ(bans().active(leo, kNow).value(), std::nullopt);
  EXPECT_EQ(bans().active(mia, kNow).value().value().id, kept);
  EXPECT_EQ(bans().lift(leo).value(), 0u);
}

TEST_P(StoreContractTest, ListActiveReturnsExactlyTheBansInForce) {
  const PlayerId nick = create_account("nick");
  const PlayerId olga = create_account("olga");
  add_ban(nick, kNow - 1, "expired");
  add_ban(nick, kNow, "ends now");
  const std::uint64_t a = add_ban(nick, kNow + 1, "temporary");
  const std::uint64_t b = add_ban(olga, 0, "permanent");
  const std::uint64_t c = add_ban(olga, kNow + 60'000, "temporary");

  auto listed = bans().list_active(kNow);
  ASSERT_TRUE(listed.has_value());
  std::vector<std::uint64_t> ids;
  for (const Ban& ban : *listed) ids.push_back(ban.id);
  std::vector<std::uint64_t> expected{a, b, c};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);  // ordered by id
  // Later, only the permanent one is left.
  EXPECT_EQ(bans().list_active(kNow + 100'000).value().size(), 1u);
}

TEST_P(StoreContractTest, BanOfUnknownPlayerIsNotFound) {
  EXPECT_EQ(error_of(bans().add(make_ban(kUnknownPlayer, 0, "ghost"))), Errc::not_found);
  EXPECT_TRUE(bans().list_active(kNow).value().empty());
}

// --- config -----------------------------------------------------------------------------------

TEST_P(StoreContractTest, UnsetConfigIsNullopt) {
  auto value = config().get(kMaxLoginErrorsKey);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, std::nullopt);
  EXPECT_TRUE(config().all().value().empty());
}

TEST_P(StoreContractTest, ConfigSetOverwritesAndAllIsSortedByKey) {
  ASSERT_TRUE(config().set("zeta", "1").has_value());
  ASSERT_TRUE(config().set(kMaxLoginErrorsKey, "5").has_value());
  ASSERT_TRUE(config().set("alpha", "").has_value());
  ASSERT_TRUE(config().set(kMaxLoginErrorsKey, "7").has_value());

  EXPECT_EQ(config().get(kMaxLoginErrorsKey).value(), "7");
  EXPECT_EQ(config().get("alpha").value(), "");  // empty is a value, not unset
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(config().all().value(),
            (Pairs{{"alpha", ""}, {kMaxLoginErrorsKey, "7"}, {"zeta", "1"}}));
}

// --- connections ------------------------------------------------------------------------------

TEST_P(StoreContractTest, ConcurrentFailedLoginsFromTwoConnectionsAreNeverLost) {
  constexpr int kPerThread = 200;
  const PlayerId pat = create_account("pat");
  std::unique_ptr<Store> first = db_->connect();
  std::unique_ptr<Store> second = db_->connect();

  // Each thread records the counter value it got back; together they must be exactly 1..400.
  auto hammer = [pat](Store& store, std::vector<std::uint32_t>& seen, int& errors) {
    for (int i = 0; i < kPerThread; ++i) {
      auto after = store.accounts().record_failed_login(pat, 1'000'000);
      if (after.has_value()) {
        seen.push_back(after->failed_logins);
      } else {
        ++errors;
      }
    }
  };
  std::vector<std::uint32_t> seen_a, seen_b;
  int errors_a = 0, errors_b = 0;
  std::thread a(hammer, std::ref(*first), std::ref(seen_a), std::ref(errors_a));
  std::thread b(hammer, std::ref(*second), std::ref(seen_b), std::ref(errors_b));
  a.join();
  b.join();

  EXPECT_EQ(errors_a + errors_b, 0);
  EXPECT_TRUE(std::is_sorted(seen_a.begin(), seen_a.end()));
  EXPECT_TRUE(std::is_sorted(seen_b.begin(), seen_b.end()));
  std::vector<std::uint32_t> all = seen_a;
  all.insert(all.end(), seen_b.begin(), seen_b.end());
  std::sort(all.begin(), all.end());
  std::vector<std::uint32_t> expected(2 * kPerThread);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<std::uint32_t>(i + 1);
  EXPECT_EQ(all, expected);

  auto stored = accounts().find_by_id(pat);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->failed_logins, 2u * kPerThread);
  EXPECT_FALSE(stored->disabled);
}

TEST_P(StoreContractTest, WritesOfOneConnectionAreSeenByAnother) {
  std::unique_ptr<Store> second = db_->connect();
  const PlayerId quinn = create_account("quinn");
  ASSERT_TRUE(second->accounts().record_failed_login(quinn, 10).has_value());
  EXPECT_EQ(accounts().find_by_id(quinn).value().failed_logins, 1u);
  EXPECT_EQ(error_of(second->accounts().create("QUINN", "h", "lobby", kNow)), Errc::already_exists);
}

TEST_P(StoreContractTest, DataSurvivesClosingAndReconnecting) {
  const PlayerId rita = create_account("Rita");
  ASSERT_TRUE(accounts().record_failed_login(rita, 10).has_value());
  const std::uint64_t ban = add_ban(rita, 0, "spam");
  ASSERT_TRUE(config().set("motd", "hello").has_value());
  store_.reset();

  store_ = db_->connect();
  auto found = accounts().find_by_name("rita");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, rita);
  EXPECT_EQ(found->failed_logins, 1u);
  EXPECT_EQ(bans().active(rita, kNow).value().value().id, ban);
  EXPECT_EQ(config().get("motd").value(), "hello");
  EXPECT_EQ(error_of(accounts().create("RITA", "h", "lobby", kNow)), Errc::already_exists);
}

}  // namespace sb::store::contract
