#include "auth/token.hpp"

#include <sodium.h>

#include "auth/password.hpp"

namespace sb::auth {
namespace {

constexpr unsigned char kVersion = 1;
constexpr std::size_t kSignedBytes = 1 + 8 + 8 + 8;                            // 25
constexpr std::size_t kMacBytes = crypto_auth_hmacsha256_BYTES;                // 32
constexpr std::size_t kTokenBytes = kSignedBytes + kMacBytes;                  // 57
constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
// sodium_base64_ENCODED_LEN counts the terminating NUL.
constexpr std::size_t kEncodedChars = sodium_base64_ENCODED_LEN(kTokenBytes, kVariant) - 1;
static_assert(kEncodedChars == 76);
static_assert(TokenSigner::kSecretBytes == crypto_auth_hmacsha256_KEYBYTES);

using Raw = std::array<unsigned char, kTokenBytes>;

// Integers are big-endian (network order) so the format does not depend on the host.
void put_u64(unsigned char* out, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<unsigned char>(v & 0xffu);
    v >>= 8;
  }
}

std::uint64_t get_u64(const unsigned char* in) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}

void mac_of(const Raw& raw, const TokenSigner::Secret& secret, unsigned char* mac) noexcept {
  crypto_auth_hmacsha256(mac, raw.data(), kSignedBytes, secret.data());
}

}  // namespace

TokenSigner::Secret TokenSigner::random_secret() {
  init_sodium();
  Secret secret{};
  randombytes_buf(secret.data(), secret.size());
  return secret;
}

Result<TokenSigner::Secret> TokenSigner::secret_from_hex(std::string_view hex) {
  Secret secret{};
  std::size_t bin_len = 0;
  if (hex.size() != 2 * kSecretBytes) return fail(Errc::invalid_argument);
  // hex_end == nullptr makes libsodium reject input it did not consume entirely.
  if (sodium_hex2bin(secret.data(), secret.size(), hex.data(), hex.size(), nullptr, &bin_len,
                     nullptr) != 0 ||
      bin_len != kSecretBytes) {
    return fail(Errc::invalid_argument);
  }
  return secret;
}

std::string TokenSigner::secret_to_hex(const Secret& secret) {
  char hex[2 * kSecretBytes + 1];
  sodium_bin2hex(hex, sizeof hex, secret.data(), secret.size());
  return std::string(hex, 2 * kSecretBytes);
}

std::uint64_t TokenSigner::random_token_id() {
  // init_sodium() can throw only on its first call, which the composition root makes at start-up.
  init_sodium();
  std::uint64_t id = 0;
  while (id == 0) randombytes_buf(&id, sizeof id);
  return id;
}

std::string TokenSigner::issue(const TokenClaims& claims) const {
  Raw raw{};
  raw[0] = kVersion;
  put_u64(&raw[1], claims.player.value);
  put_u64(&raw[9], claims.token_id);
  put_u64(&raw[17], static_cast<std::uint64_t>(claims.expires_ms));
  mac_of(raw, secret_, &raw[kSignedBytes]);

  char out[kEncodedChars + 1];
  sodium_bin2base64(out, sizeof out, raw.data(), raw.size(), kVariant);
  return std::string(out, kEncodedChars);
}

Result<TokenClaims> TokenSigner::verify(std::string_view token, UnixMillis now_ms) const {
  // Every token has the same length; reject others before decoding anything.
  if (token.size() != kEncodedChars) return fail(Errc::token_invalid);
  Raw raw{};
  std::size_t bin_len = 0;
  // b64_end == nullptr: fail unless the whole input decodes (no stray characters).
  if (sodium_base642bin(raw.data(), raw.size(), token.data(), token.size(), nullptr, &bin_len,
                        nullptr, kVariant) != 0 ||
      bin_len != kTokenBytes) {
    return fail(Errc::token_invalid);
  }
  unsigned char expected[kMacBytes];
  mac_of(raw, secret_, expected);
  const bool mac_ok = sodium_memcmp(expected, &raw[kSignedBytes], kMacBytes) == 0;
  sodium_memzero(expected, sizeof expected);
  if (!mac_ok || raw[0] != kVersion) return fail(Errc::token_invalid);

  TokenClaims claims;
  claims.player = PlayerId{get_u64(&raw[1])};
  claims.token_id = get_u64(&raw[9]);
  claims.expires_ms = static_cast<UnixMillis>(get_u64(&raw[17]));
  // A token is good strictly before its expiry instant.
  if (now_ms >= claims.expires_ms) return fail(Errc::token_expired);
  return claims;
}

}  // namespace sb::auth
