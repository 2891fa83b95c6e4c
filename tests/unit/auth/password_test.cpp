#include "auth/password.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

namespace sb::auth {
namespace {

// libsodium's minimum cost for argon2id: keeps the tests fast.
const HashParams kFast{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

TEST(PasswordTest, HashThenVerifyRoundTrip) {
  auto hash = hash_password("correct horse battery staple", kFast);
  ASSERT_TRUE(hash) << hash.error().message();
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$")) << *hash;
  EXPECT_TRUE(verify_password(*hash, "correct horse battery staple"));
}

TEST(PasswordTest, WrongPasswordIsRejected) {
  auto hash = hash_password("correct horse battery staple", kFast);
  ASSERT_TRUE(hash);
  EXPECT_FALSE(verify_password(*hash, "correct horse battery stapler"));
  EXPECT_FALSE(verify_password(*hash, "Correct horse battery staple"));
  EXPECT_FALSE(verify_password(*hash, ""));
}

TEST(PasswordTest, SamePasswordHashesDifferentlyEachTime) {
  auto a = hash_password("hunter22", kFast);
  auto b = hash_password("hunter22", kFast);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);  // random salt
  EXPECT_TRUE(verify_password(*a, "hunter22"));
  EXPECT_TRUE(verify_password(*b, "hunter22"));
}

TEST(PasswordTest, PasswordsAreBytesIncludingNul) {
  const std::string with_nul("abc\0def", 7);
  auto hash = hash_password(with_nul, kFast);
  ASSERT_TRUE(hash);
  EXPECT_TRUE(verify_password(*hash, with_nul));
  EXPECT_FALSE(verify_password(*hash, "abc"));
}

TEST(PasswordTest, EncodesTheRequestedParams) {
  auto hash = hash_password("pw", HashParams{3, 16 * 1024});
  ASSERT_TRUE(hash);
  EXPECT_NE(hash->find("$m=16,t=3,p=1$"), std::string::npos) << *hash;
}

TEST(PasswordTest, DefaultParamsAreOwaspArgon2id) {
  auto hash = hash_password("a default-cost password", HashParams{});
  ASSERT_TRUE(hash);
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *hash;
  EXPECT_TRUE(verify_password(*hash, "a default-cost password"));
}

TEST(PasswordTest, ParamsBelowLibsodiumMinimumFailAsInternal) {
  auto hash = hash_password("pw", HashParams{1, 1024});
  ASSERT_FALSE(hash);
  EXPECT_EQ(to_errc(hash.error()), Errc::internal);
}

TEST(PasswordTest, MalformedEncodedStringsNeverVerify) {
  auto hash = hash_password("pw", kFast);
  ASSERT_TRUE(hash);
  EXPECT_FALSE(verify_password("", "pw"));
  EXPECT_FALSE(verify_password("not a hash", "pw"));
  EXPECT_FALSE(verify_password(hash->substr(0, hash->size() - 4), "pw"));
  EXPECT_FALSE(verify_password(std::string(500, 'x'), "pw"));
  std::string flipped = *hash;  // a character well inside the digest (all 6 bits significant)
  char& c = flipped[flipped.size() - 10];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_password(flipped, "pw"));
}

TEST(PasswordTest, InitSodiumIsIdempotent) {
  EXPECT_NO_THROW(init_sodium());
  EXPECT_NO_THROW(init_sodium());
}

}  // namespace
}  // namespace sb::auth
