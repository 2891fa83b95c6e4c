#include "auth/token.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cctype>

#include <set>
#include <string>

namespace sb::auth {
namespace {

constexpr UnixMillis kNow = 1'700'000'000'000;

TokenSigner::Secret secret_of(unsigned char fill) {
  TokenSigner::Secret s;
  s.fill(fill);
  return s;
}

TokenClaims claims() {
  TokenClaims c;
  c.player = PlayerId{0x0102030405060708ULL};
  c.token_id = 0xdeadbeefcafef00dULL;
  c.expires_ms = kNow + 60'000;
  return c;
}

Errc verify_code(const TokenSigner& signer, std::string_view token, UnixMillis now) {
  auto r = signer.verify(token, now);
  return r ? Errc::ok : to_errc(r.error());
}

TEST(TokenTest, IssueThenVerifyReturnsTheClaims) {
  const TokenSigner signer(secret_of(7));
  const std::string token = signer.issue(claims());
  auto verified = signer.verify(token, kNow);
  ASSERT_TRUE(verified) << verified.error().message();
  EXPECT_EQ(verified->player, claims().player);
  EXPECT_EQ(verified->token_id, claims().token_id);
  EXPECT_EQ(verified->expires_ms, claims().expires_ms);
}

TEST(TokenTest, FormatIsUnpaddedBase64UrlOf57Bytes) {
  const TokenSigner signer(secret_of(7));
  const std::string token = signer.issue(claims());
  EXPECT_EQ(token.size(), 76u);  // 57 bytes, no padding
  for (char c : token) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << c;
  }
  // Version byte 1 and big-endian player id 01..08 lead the token: base64url of 01 01 02 03...
  EXPECT_TRUE(token.starts_with("AQECAwQFBgcI")) << token;
}

TEST(TokenTest, TamperingWithAnyCharacterInvalidates) {
  const TokenSigner signer(secret_of(7));
  const std::string token = signer.issue(claims());
  for (std::size_t i = 0; i < token.size(); ++i) {
    for (char replacement : {'A', 'z', '-'}) {
      if (token[i] == replacement) continue;
      std::string bad = token;
      bad[i] = replacement;
      EXPECT_EQ(verify_code(signer, bad, kNow), Errc::token_invalid) << "position " << i;
    }
  }
}

TEST(TokenTest, WrongSecretInvalidates) {
  const TokenSigner issuer(secret_of(7));
  const TokenSigner other(secret_of(8));
  EXPECT_EQ(verify_code(other, issuer.issue(claims()), kNow), Errc::token_invalid);
}

TEST(TokenTest, ExpiresAtItsInstant) {
  const TokenSigner signer(secret_of(7));
  const std::string token = signer.issue(claims());
  EXPECT_EQ(verify_code(signer, token, claims().expires_ms - 1), Errc::ok);
  EXPECT_EQ(verify_code(signer, token, claims().expires_ms), Errc::token_expired);
  EXPECT_EQ(verify_code(signer, token, claims().expires_ms + 3'600'000), Errc::token_expired);
}

TEST(TokenTest, ForgedExpiryIsInvalidNotExpired) {
  // An expired token re-signed with the wrong key must say invalid, never leak "expired".
  const TokenSigner signer(secret_of(7));
  const TokenSigner forger(secret_of(9));
  TokenClaims old = claims();
  old.expires_ms = kNow - 1;
  EXPECT_EQ(verify_code(signer, forger.issue(old), kNow), Errc::token_invalid);
}

TEST(TokenTest, GarbageIsInvalid) {
  const TokenSigner signer(secret_of(7));
  const std::string good = signer.issue(claims());
  for (const std::string& garbage :
       {std::string(), std::string("x"), std::string(76, '!'), std::string(76, '='),
        good + "A", good.substr(0, 75), good.substr(0, 72) + "====", good + good,
        std::string(76, '\0'), good.substr(0, 40) + " " + good.substr(41)}) {
    EXPECT_EQ(verify_code(signer, garbage, kNow), Errc::token_invalid) << garbage;
  }
}

// Builds a token by hand from the documented layout, signed with `secret`.
std::string hand_made(unsigned char version, const TokenClaims& c, const TokenSigner::Secret& secret) {
  unsigned char raw[57] = {};
  raw[0] = version;
  auto put = [&raw](std::size_t at, std::uint64_t v) {
    for (int i = 7; i >= 0; --i, v >>= 8) raw[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(v);
  };
  put(1, c.player.value);
  put(9, c.token_id);
  put(17, static_cast<std::uint64_t>(c.expires_ms));
  crypto_auth_hmacsha256(raw + 25, raw, 25, secret.data());
  char out[sodium_base64_ENCODED_LEN(57, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(out, sizeof out, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

TEST(TokenTest, MatchesTheDocumentedLayout) {
  const TokenSigner signer(secret_of(7));
  EXPECT_EQ(signer.issue(claims()), hand_made(1, claims(), secret_of(7)));
  EXPECT_EQ(verify_code(signer, hand_made(1, claims(), secret_of(7)), kNow), Errc::ok);
}

TEST(TokenTest, OtherVersionByteIsInvalidEvenWithAGoodMac) {
  const TokenSigner signer(secret_of(7));
  for (int version : {0, 2, 255}) {
    EXPECT_EQ(verify_code(signer, hand_made(static_cast<unsigned char>(version), claims(), secret_of(7)), kNow),
              Errc::token_invalid)
        << version;
  }
}

TEST(TokenTest, SecretHexRoundTrip) {
  const auto secret = TokenSigner::random_secret();
  const std::string hex = TokenSigner::secret_to_hex(secret);
  EXPECT_EQ(hex.size(), 64u);
  auto parsed = TokenSigner::secret_from_hex(hex);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, secret);
}

TEST(TokenTest, SecretHexKnownValue) {
  TokenSigner::Secret secret{};
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<unsigned char>(i * 8);
  const std::string hex = TokenSigner::secret_to_hex(secret);
  EXPECT_EQ(hex, "0008101820283038404850586068707880889098a0a8b0b8c0c8d0d8e0e8f0f8");
  auto upper = TokenSigner::secret_from_hex("0008101820283038404850586068707880889098A0A8B0B8C0C8D0D8E0E8F0F8");
  ASSERT_TRUE(upper);
  EXPECT_EQ(*upper, secret);
}

TEST(TokenTest, BadSecretHexIsInvalidArgument) {
  const std::string good(64, 'a');
  for (const std::string& bad : {std::string(), std::string(62, 'a'), std::string(66, 'a'),
                                 good.substr(0, 63) + "g", " " + good.substr(1),
                                 good.substr(0, 32) + ":" + good.substr(33)}) {
    auto r = TokenSigner::secret_from_hex(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(to_errc(r.error()), Errc::invalid_argument);
  }
}

TEST(TokenTest, RandomSecretsDiffer) {
  EXPECT_NE(TokenSigner::random_secret(), TokenSigner::random_secret());
}

TEST(TokenTest, RandomTokenIdsAreNonZeroAndDistinct) {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = TokenSigner::random_token_id();
    EXPECT_NE(id, 0u);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(TokenTest, EachIssueWithNewTokenIdDiffers) {
  const TokenSigner signer(secret_of(7));
  TokenClaims a = claims();
  TokenClaims b = claims();
  b.token_id = a.token_id + 1;
  EXPECT_NE(signer.issue(a), signer.issue(b));
  EXPECT_EQ(signer.issue(a), signer.issue(a));  // deterministic for equal claims
}

}  // namespace
}  // namespace sb::auth
