#pragma once
// Resume tokens: let a client reattach to its held session without its password.
//
// A token is base64url( version:1 | player_id:8 | token_id:8 | expires_unix_ms:8 | mac:32 ),
// where mac = HMAC-SHA-256(server secret, first 25 bytes). The token_id is random per issue; the
// server remembers only the current token_id of each session, so issuing a new token (at every
// login and resume) makes the previous one useless ("replaced at each use"). A cluster shares the
// secret through configuration. Thread-safe after construction (immutable).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"

namespace sb::auth {

struct TokenClaims {
  PlayerId player;
  std::uint64_t token_id = 0;
  UnixMillis expires_ms = 0;
};

class TokenSigner {
 public:
  static constexpr std::size_t kSecretBytes = 32;
  using Secret = std::array<unsigned char, kSecretBytes>;

  explicit TokenSigner(const Secret& secret) noexcept : secret_(secret) {}

  /// A new random secret (libsodium randombytes).
  static Secret random_secret();
  /// Parses 64 hex chars; Errc::invalid_argument otherwise.
  static Result<Secret> secret_from_hex(std::string_view hex);
  static std::string secret_to_hex(const Secret& secret);

  /// A random non-zero token id.
  static std::uint64_t random_token_id();

  /// Encodes and signs a token. Any thread.
  std::string issue(const TokenClaims& claims) const;

  /// Verifies signature and format (Errc::token_invalid) and expiry against `now_ms`
  /// (Errc::token_expired). Constant-time MAC comparison. Any thread.
  Result<TokenClaims> verify(std::string_view token, UnixMillis now_ms) const;

 private:
  Secret secret_;
};

}  // namespace sb::auth
