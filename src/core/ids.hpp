#pragma once
// Strong ids. Entities refer to each other by id, never by pointer; a lookup by id may miss.
//
// PlayerId is the account id from the store. SessionId and RoomId are minted by a shard and carry
// the minting shard in their top 8 bits so that a router can find the owner without a directory
// lookup in the single-node case (the cluster adds a directory later, see docs/architecture.md).
#include <cstdint>
#include <functional>

namespace sb {

template <class Tag>
struct Id {
  std::uint64_t value = 0;
  constexpr bool valid() const noexcept { return value != 0; }
  friend constexpr bool operator==(Id, Id) = default;
  friend constexpr auto operator<=>(Id, Id) = default;
};

using PlayerId = Id<struct PlayerTag>;
using SessionId = Id<struct SessionTag>;
using RoomId = Id<struct RoomTag>;
using ShardIndex = std::uint32_t;

/// Mints ids whose top 8 bits are the shard index. Not thread-safe: one per shard.
class IdMinter {
 public:
  explicit IdMinter(ShardIndex shard) noexcept : shard_(shard) {}
  std::uint64_t next() noexcept { return (static_cast<std::uint64_t>(shard_) << 56) | ++counter_; }

 private:
  ShardIndex shard_;
  std::uint64_t counter_ = 0;
};

/// The shard that minted an id (SessionId or RoomId).
constexpr ShardIndex shard_of(std::uint64_t id) noexcept { return static_cast<ShardIndex>(id >> 56); }

}  // namespace sb

template <class Tag>
struct std::hash<sb::Id<Tag>> {
  std::size_t operator()(sb::Id<Tag> id) const noexcept { return std::hash<std::uint64_t>{}(id.value); }
};
