#pragma once
// Project-wide error codes and Result<T>.
//
// Expected failures travel as values: `Result<T>` is `boost::system::result<T>` whose error is a
// `std::error_code`-like `boost::system::error_code` carrying an `sb::Errc` from the "switchboard"
// category. The numeric values of Errc equal the wire protocol's ErrorCode (proto/switchboard.proto)
// so a session can answer any failure with an error frame without a translation table.
// Nothing on the data plane throws; exceptions are for configuration and start-up only.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string_view>
#include <system_error>

namespace sb {

enum class Errc : int {
  ok = 0,
  malformed_frame = 1,
  frame_too_large = 2,
  unknown_message = 3,
  bad_state = 4,
  busy = 5,
  unsupported_version = 6,
  invalid_argument = 7,
  not_found = 8,
  already_exists = 9,
  bad_credentials = 10,
  account_disabled = 11,
  banned = 12,
  rate_limited = 13,
  token_invalid = 14,
  token_expired = 15,
  session_expired = 16,
  room_full = 17,
  registration_closed = 18,
  shutting_down = 19,
  timeout = 20,
  internal = 21,
  unavailable = 22,
  conflict = 23,  // revision mismatch / lost a race; retry after re-reading
  room_locked = 24,
  refused = 25,   // a room's game logic refused the request (the message says why)
};

const boost::system::error_category& switchboard_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), switchboard_category()};
}

/// Name of an error code as used in metrics labels and logs ("bad_state").
std::string_view errc_name(Errc e) noexcept;

/// Extracts the Errc from an error code of the switchboard category (internal otherwise).
Errc to_errc(const boost::system::error_code& ec) noexcept;

template <class T>
using Result = boost::system::result<T, boost::system::error_code>;

using Status = Result<void>;

/// Convenience for `return sb::fail(Errc::x);` in functions returning Result<T>.
inline boost::system::error_code fail(Errc e) noexcept { return make_error_code(e); }

}  // namespace sb

namespace boost::system {
template <>
struct is_error_code_enum<sb::Errc> : std::true_type {};
}  // namespace boost::system
