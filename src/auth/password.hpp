#pragma once
// Password hashing with argon2id (libsodium crypto_pwhash_str, ALG_ARGON2ID13).
// Defaults are OWASP's first recommendation: m = 19 MiB, t = 2, p = 1 (libsodium's p is 1).
// Both functions are CPU- and memory-heavy by design: call them only on the auth worker pool.
// Thread-safe (no shared state); sodium_init() is called once internally.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace sb::auth {

struct HashParams {
  unsigned long long ops_limit = 2;          // argon2 t (iterations)
  std::size_t mem_limit = 19u * 1024 * 1024; // argon2 m in bytes
};

/// Encoded argon2id hash string ("$argon2id$v=19$m=...") of `password`; Errc::internal if
/// libsodium fails (out of memory).
Result<std::string> hash_password(std::string_view password, const HashParams& params);

/// True if `password` matches `encoded`. False for a malformed `encoded`.
bool verify_password(std::string_view encoded, std::string_view password);

/// Calls sodium_init(); safe to call many times. Throws std::runtime_error if it fails.
void init_sodium();

}  // namespace sb::auth
