#include "node/placement.hpp"

#include <algorithm>

#include "node/room_host.hpp"

namespace sb::node {

Placement::Placement(ShardEnv& env) : env_(env) {}

pi::RoomReply Placement::join_lobby(const pi::RoomRequest& req) {
  RoomHost& host = *env_.parts.host;
  const std::string& zone = req.join_lobby().zone();
  room::Room* best = nullptr;
  for (room::Room* r : host.rooms_of(room::kLobbyType, zone)) {
    if (r->full()) continue;
    if (!best || r->size() > best->size() || (r->size() == best->size() && r->id() < best->id())) best = r;
  }
  if (!best) best = &host.open_lobby(zone);
  pi::RoomReply reply;
  auto st = best->join(PlayerId{req.player_id()}, req.name());
  if (!st) set_room_error(reply, to_errc(st.error()));
  reply.set_room_id(best->id().value);
  reply.set_room_type(room::kLobbyType);
  reply.set_seq(best->seq());
  host.flush(*best);
  return reply;
}

pi::RoomReply Placement::create_room(const pi::RoomRequest& req) {
  RoomHost& host = *env_.parts.host;
  const auto& c = req.create();
  pi::RoomReply reply;
  std::string error;
  auto r = host.open_room(c.type(), c.zone(), c.capacity(), PlayerId{req.player_id()}, to_params(c.params()), error);
  if (!r) {
    set_room_error(reply, to_errc(r.error()), error);
    return reply;
  }
  room::Room& room = **r;
  host.join_into(room, req, false, reply);
  if (reply.errc() == 0 && c.locked()) {
    // The creator's snapshot must show the lock (it is not subscribed yet to see the event).
    room.set_locked(true);
    reply.clear_frames();
    for (auto& f : room.catch_up(PlayerId{req.player_id()}, 0)) reply.add_frames(std::string(f->payload()));
    reply.set_seq(room.seq());
  }
  host.flush(room);
  return reply;
}

pi::RoomReply Placement::auto_join(const pi::RoomRequest& req) {
  RoomHost& host = *env_.parts.host;
  const auto& a = req.auto_join();
  const PlayerId player{req.player_id()};
  const room::Params wanted = to_params(a.params());
  pi::RoomReply reply;
  // Fullest room of the pair with space, never a full, locked or ended one; ties to the oldest.
  // Rooms the game refuses this player are skipped; a new room is opened when none is left.
  std::vector<room::Room*> candidates = host.rooms_of(a.type(), a.zone());
  std::erase_if(candidates, [&](const room::Room* r) {
    return r->full() || r->locked() || r->ended() ||
           r->spec().owner.valid() ||   // rooms a client created are joined by id
           r->spec().params != wanted;  // e.g. other stakes
  });
  std::sort(candidates.begin(), candidates.end(), [](const room::Room* x, const room::Room* y) {
    return x->size() != y->size() ? x->size() > y->size() : x->id() < y->id();
  });
  for (room::Room* r : candidates) {
    if (r->find(player)) {  // already seated there (a retried request)
      reply.set_room_id(r->id().value);
      reply.set_room_type(r->spec().type);
      reply.set_seq(r->seq());
      return reply;
    }
    pi::RoomReply attempt;
    host.join_into(*r, req, false, attempt);
    host.flush(*r);  // may close `r`: the other candidates are still hosted
    if (attempt.errc() == 0) return attempt;
  }
  std::string error;
  auto r = host.open_room(a.type(), a.zone(), 0, PlayerId{}, wanted, error);
  if (!r) {
    set_room_error(reply, to_errc(r.error()), error);
    return reply;
  }
  host.join_into(**r, req, false, reply);
  host.flush(**r);
  return reply;
}

}  // namespace sb::node
