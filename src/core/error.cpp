#include "core/error.hpp"

#include <string>

namespace sb {
namespace {

// boost's error_category has a protected non-virtual destructor by design; the category object is
// a function-local static never deleted through a base pointer.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "switchboard"; }
  std::string message(int ev) const override { return std::string(errc_name(static_cast<Errc>(ev))); }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& switchboard_category() noexcept {
  static const Category category;
  return category;
}

std::string_view errc_name(Errc e) noexcept {
  switch (e) {
    case Errc::ok: return "ok";
    case Errc::malformed_frame: return "malformed_frame";
    case Errc::frame_too_large: return "frame_too_large";
    case Errc::unknown_message: return "unknown_message";
    case Errc::bad_state: return "bad_state";
    case Errc::busy: return "busy";
    case Errc::unsupported_version: return "unsupported_version";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::already_exists: return "already_exists";
    case Errc::bad_credentials: return "bad_credentials";
    case Errc::account_disabled: return "account_disabled";
    case Errc::banned: return "banned";
    case Errc::rate_limited: return "rate_limited";
    case Errc::token_invalid: return "token_invalid";
    case Errc::token_expired: return "token_expired";
    case Errc::session_expired: return "session_expired";
    case Errc::room_full: return "room_full";
    case Errc::registration_closed: return "registration_closed";
    case Errc::shutting_down: return "shutting_down";
    case Errc::timeout: return "timeout";
    case Errc::internal: return "internal";
    case Errc::unavailable: return "unavailable";
    case Errc::conflict: return "conflict";
    case Errc::room_locked: return "room_locked";
    case Errc::refused: return "refused";
  }
  return "unknown";
}

Errc to_errc(const boost::system::error_code& ec) noexcept {
  if (!ec) return Errc::ok;
  if (ec.category() == switchboard_category()) return static_cast<Errc>(ec.value());
  return Errc::internal;
}

}  // namespace sb
