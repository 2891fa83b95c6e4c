#pragma once
// RoomTypes: the room types a node can host, registered by name by the composition root.
//
// A game registers a RoomType: its name, a factory that validates the creation parameters and
// builds a handler, and the defaults a room of that type gets (capacity bounds, spectators, log
// size, presence events). There is no static registration: the node's main() (or a test) builds
// a RoomTypes and passes it in, so what a node can host is explicit.
// Not thread-safe to modify; read-only (and so shareable across shards) once the node starts.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "room/room.hpp"

namespace sb::room {

struct RoomType {
  std::string name;
  /// Builds a handler for a room with `spec` (params included). Errc::invalid_argument (with
  /// `error` set to what is wrong) for parameters the game does not accept. Thread-safe.
  std::function<Result<std::unique_ptr<RoomHandler>>(const RoomSpec& spec, std::string& error)> make;
  std::uint32_t default_capacity = 8;
  std::uint32_t min_capacity = 1;
  std::uint32_t max_capacity = 400;
  std::uint32_t max_spectators = 16;
  std::uint32_t log_size = 256;
  bool presence_events = true;
  /// Clients may create rooms of this type (CreateRoom) and auto-join them (AutoJoin).
  bool client_creatable = true;
};

class RoomTypes {
 public:
  /// Adds or replaces a type.
  void add(RoomType type) { types_[type.name] = std::move(type); }
  /// The type named `name`, or nullptr.
  const RoomType* find(const std::string& name) const {
    auto it = types_.find(name);
    return it == types_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [n, t] : types_) out.push_back(n);
    return out;
  }

 private:
  std::map<std::string, RoomType> types_;
};

/// The built-in relay type: capacity 1..1000 (default 16), 64 spectators, no parameters.
inline RoomType make_relay_type(std::uint32_t max_chat_bytes) {
  RoomType t;
  t.name = kRelayType;
  t.make = [max_chat_bytes](const RoomSpec& spec, std::string& error) -> Result<std::unique_ptr<RoomHandler>> {
    if (!spec.params.empty()) {
      error = "relay rooms take no parameters";
      return fail(Errc::invalid_argument);
    }
    return std::unique_ptr<RoomHandler>(std::make_unique<RelayHandler>(max_chat_bytes));
  };
  t.default_capacity = 16;
  t.max_capacity = 1000;
  t.max_spectators = 64;
  t.log_size = 256;
  t.presence_events = true;
  return t;
}

}  // namespace sb::room
