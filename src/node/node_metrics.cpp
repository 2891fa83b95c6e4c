#include "node/node_metrics.hpp"

namespace sb::node {

NodeMetrics::NodeMetrics(metrics::Registry& r)
    : registry(r),
      sessions_detached(r.gauge("sb_sessions_detached", "Sessions held after their connection dropped")),
      connections(r.gauge("sb_connections", "Open client connections")),
      rooms(r.gauge("sb_rooms", "Rooms hosted by this node")),
      frames_in(r.counter("sb_frames_in_total", "Frames received from clients")),
      frames_out(r.counter("sb_frames_out_total", "Frames queued to clients")),
      bytes_in(r.counter("sb_bytes_in_total", "Payload bytes received from clients")),
      bytes_out(r.counter("sb_bytes_out_total", "Bytes queued to clients")),
      slow_consumer_disconnects(r.counter("sb_send_queue_disconnects_total",
                                          "Connections closed because the send queue passed its bound")),
      closes_protocol(r.counter("sb_protocol_closes_total", "Connections closed for protocol errors")),
      connections_accepted(r.counter("sb_connections_accepted_total", "Connections accepted")),
      connections_refused(r.counter("sb_connections_refused_total", "Connections refused at the limit")),
      resumes(r.counter("sb_resumes_total", "Successful resumes with a token")),
      chat_messages(r.counter("sb_chat_messages_total", "Chat messages accepted")),
      broadcast_deliveries(r.counter("sb_broadcast_deliveries_total", "Room events queued to members")),
      game_messages(r.counter("sb_game_messages_total", "Game messages (inputs, actions) received from clients")),
      game_messages_limited(r.counter("sb_game_messages_limited_total", "Game messages refused by session.game_rate")),
      rooms_created(r.counter("sb_rooms_created_total", "Rooms opened (lobbies and games)")),
      rooms_ended(r.counter("sb_rooms_ended_total", "Game rooms that ended with results")),
      room_ticks(r.counter("sb_room_ticks_total", "Game ticks run by hosted rooms")),
      publish_failures(r.counter("sb_backbone_publish_failures_total",
                                 "Backbone publishes that failed (room events, replies, fire-and-forget requests)")),
      kv_failures(r.counter("sb_kv_failures_total",
                            "Backbone key-value calls that failed where the shard carried on without the result")) {
  using session::State;
  for (State s : {State::awaiting_hello, State::visitor, State::authenticated, State::in_lobby,
                  State::in_room, State::closed}) {
    sessions_by_state[static_cast<std::size_t>(s)] =
        &r.gauge("sb_sessions", "Connections by session state", {{"state", std::string(session::state_name(s))}});
  }
  for (std::size_t i = 0; i < kCodes; ++i) {
    const auto name = std::string(errc_name(static_cast<Errc>(static_cast<int>(i))));
    errors_by_code[i] =
        &r.counter("sb_errors_total", "Error responses and closes by code", {{"code", name}});
    logins_by_outcome[i] =
        &r.counter("sb_logins_total", "Login, register and resume attempts by outcome", {{"outcome", name}});
  }
}

}  // namespace sb::node
