#include "auth/password.hpp"

#include <sodium.h>

#include <mutex>
#include <stdexcept>

namespace sb::auth {

void init_sodium() {
  // sodium_init() only fails when the system RNG cannot be opened: a start-up failure. If the
  // callable throws, call_once leaves the flag unset, so the next caller retries and throws too.
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium initialisation failed");
  });
}

Result<std::string> hash_password(std::string_view password, const HashParams& params) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.ops_limit,
                            params.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    // Out of memory, or params outside libsodium's limits.
    return fail(Errc::internal);
  }
  return std::string(out);
}

bool verify_password(std::string_view encoded, std::string_view password) {
  init_sodium();
  // libsodium wants a NUL-terminated string that fits its fixed-size buffer.
  if (encoded.empty() || encoded.size() >= crypto_pwhash_STRBYTES) return false;
  char str[crypto_pwhash_STRBYTES] = {};
  encoded.copy(str, encoded.size());
  return crypto_pwhash_str_verify(str, password.data(), password.size()) == 0;
}

}  // namespace sb::auth
