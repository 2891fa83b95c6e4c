#pragma once
// Client: the C++ client library of the Switchboard protocol (proto/switchboard.proto), used by
// tests, the bots and the CLI.
//
// One Client holds at most one connection (TCP or WebSocket) at a time. A connection is one
// coroutine that owns the transport, spawns a writer and then reads until the connection ends
// (TCP: whatever the socket has, into a 1 KiB chunk, cut into frames by wire::FrameDecoder, which
// checks each declared length against max_frame before buffering that body; WebSocket: one binary
// message per frame, Beast's read_message_max = max_frame). The writer drains the send queue (TCP:
// up to 32 frames in one gathered write) and doubles as the heartbeat: when nothing is queued it
// sleeps until the next Ping is due (every heartbeat_interval_ms from HelloOk) and drops the
// connection if nothing arrived for heartbeat_timeout_ms. When the reader ends, the connection
// waits for its writer, then requests in flight fail. About 8 KiB per connected client.
//
// Requests are serialised, because the server allows one in flight per connection (a second gets
// BUSY): each takes a request id, waits in a FIFO until the previous one is answered, is sent, and
// waits for the ServerFrame with its id or its deadline. Pings bypass the FIFO. Pushes
// (request_id 0) update the room's last seq, then go to the push handler and, if enabled, to a
// bounded queue read by next_push(). After an unexpected loss (no Closing, or a Closing other than
// LOGGED_IN_ELSEWHERE / BANNED / LOGOUT) with auto_reconnect and a resume token, the client
// reconnects with capped, fully jittered exponential backoff (backoff.hpp) and resumes.
//
// Threading: every method, and the destructor, on the thread running the executor; handlers run
// there too. Lifetime: a Client must outlive its coroutines: destroy it only when the executor no
// longer runs (io_context stopped or out of work) — suspended coroutines only reference it and are
// destroyed with the io_context without touching it. It does not resolve names per request, keep
// history, or parse room payloads.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backoff.hpp"
#include "core/error.hpp"
#include "switchboard.pb.h"
#include "wire/frame.hpp"

namespace sb::client {

namespace asio = boost::asio;

struct ClientOptions {
  enum class Transport { tcp, websocket };

  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  Transport transport = Transport::tcp;
  std::string ws_path = "/";           // the server accepts any path
  std::string local_address;           // bind the socket to this source address (empty = any)
  std::string client_name = "sb-client-cpp";
  std::size_t max_frame = wire::kDefaultMaxFrame;  // larger frames from the server are refused
  std::size_t max_send_queue_bytes = 1024 * 1024;
  std::chrono::milliseconds connect_timeout{5000};  // TCP connect + WebSocket upgrade + Hello
  std::chrono::milliseconds request_timeout{10000};  // queueing + round trip of one request
  bool auto_reconnect = false;
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_cap{5000};
  int max_reconnect_attempts = 20;
  bool send_heartbeats = true;
  bool queue_pushes = false;            // keep pushes for next_push()
  std::size_t push_queue_limit = 4096;  // oldest pushes are dropped beyond this
  std::uint64_t random_seed = 0;        // backoff jitter; 0 = from std::random_device
};

enum class State { connecting, connected, logged_in, reconnecting, closed };

/// Name of a state for logs ("logged_in").
const char* state_name(State s) noexcept;

class Client {
 public:
  using PushHandler = std::function<void(const proto::ServerFrame&)>;
  using StateHandler = std::function<void(State)>;

  Client(asio::any_io_executor executor, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Opens the transport and exchanges Hello/HelloOk, replacing any current connection.
  /// Errc::unavailable when the endpoint cannot be reached in connect_timeout, the server's code
  /// (e.g. unsupported_version) when it refuses the Hello.
  asio::awaitable<Status> connect();

  /// Register / log in / resume; on success keeps the resume token and player id. login() and
  /// resume() send the last room seq seen so the server replays what was missed. resume() without a
  /// token gives Errc::bad_state. Server errors come back as the equal Errc.
  asio::awaitable<Result<proto::LoginOk>> register_account(std::string username, std::string password,
                                                           std::string zone = "");
  asio::awaitable<Result<proto::LoginOk>> login(std::string username, std::string password,
                                                std::string zone = "");
  asio::awaitable<Result<proto::LoginOk>> resume();

  /// Sends a chat line to the current room; Ok once the server accepted it.
  asio::awaitable<Status> chat(std::string text, std::uint64_t tag = 0);
  /// The current room's members.
  asio::awaitable<Result<proto::Members>> members();
  /// Creates a room of `type` and takes a seat in it (leaving the current room). Answered with
  /// the room's snapshot. Server errors (invalid_argument for a bad type/params) as the equal Errc.
  asio::awaitable<Result<proto::RoomJoined>> create_room(std::string type, std::string zone = "",
                                                         std::uint32_t capacity = 0,
                                                         std::map<std::string, std::string> params = {},
                                                         bool locked = false);
  /// Joins a room by id (as a player or a spectator). room_full, room_locked, refused, not_found.
  asio::awaitable<Result<proto::RoomJoined>> join_room(std::uint64_t room_id, bool spectator = false);
  /// Joins the fullest room of `type` in `zone` with space, or a new one.
  asio::awaitable<Result<proto::RoomJoined>> auto_join(std::string type, std::string zone = "",
                                                       std::map<std::string, std::string> params = {});
  /// Leaves the current game room; the server then pushes the lobby's RoomJoined.
  asio::awaitable<Status> leave_room();
  /// Locks or unlocks the current room (its creator only).
  asio::awaitable<Status> lock_room(bool locked);
  /// The rooms of a zone (empty = the session's), optionally of one type.
  asio::awaitable<Result<proto::RoomList>> list_rooms(std::string zone = "", std::string type = "");
  /// Sends a GameMessage to the current room without waiting (no answer unless it fails, which
  /// arrives as an Error push-like response with its request id: see last_error()).
  /// Errc::unavailable when not connected or the send queue is full.
  Status send_game(std::string data);
  /// Ends the session; the server then sends Closing(LOGOUT) and closes. Forgets the token.
  asio::awaitable<Status> logout();
  /// Round trip outside the request FIFO (allowed while another request is in flight).
  asio::awaitable<Result<proto::Pong>> ping();

  /// Sends any ClientFrame (its request_id is replaced by a fresh one) and returns the answering
  /// ServerFrame as is, including an `error` body (which is also kept as last_error()). Fails only
  /// for transport reasons: unavailable (not connected / lost), timeout, frame_too_large (over the
  /// server's max_frame_bytes, or the server sent an oversized frame), malformed_frame.
  asio::awaitable<Result<proto::ServerFrame>> request(proto::ClientFrame frame);

  /// Writes bytes as they are: on TCP straight into the stream, on WebSocket as one binary
  /// message. For bad-input tests. Errc::unavailable when not connected or the queue is full.
  Status send_raw(std::string bytes);

  /// The next push kept because queue_pushes is set; Errc::timeout if none arrives in time,
  /// Errc::bad_state when queue_pushes is off. One waiter at a time.
  asio::awaitable<Result<proto::ServerFrame>> next_push(std::chrono::milliseconds timeout);

  /// Called for every push (request_id 0), after last_seq() is updated, and for the RoomJoined
  /// that answers create/join/auto-join (so a handler sees every room change). Do not replace the
  /// handler or destroy the Client from inside it.
  void set_push_handler(PushHandler handler) { push_handler_ = std::move(handler); }
  /// Called on every state change.
  void set_state_handler(StateHandler handler) { state_handler_ = std::move(handler); }

  /// Closes the connection now and stops any reconnecting; no auto-reconnect follows.
  void close();
  /// Closes the socket abruptly as if the network failed (no logout, no Closing): auto-reconnect
  /// applies as for any unexpected loss.
  void drop();

  bool connected() const noexcept;
  State state() const noexcept { return state_; }
  /// The last Closing the server sent, if any.
  const std::optional<proto::Closing>& last_close() const noexcept { return last_close_; }
  /// The last Error body received (response or push).
  const proto::Error& last_error() const noexcept { return last_error_; }
  const std::string& last_error_message() const noexcept { return last_error_.message(); }
  /// Why the last connection ended or the last reconnect attempt failed.
  boost::system::error_code last_failure() const noexcept { return last_failure_; }

  std::uint64_t last_seq() const noexcept { return last_seq_; }
  std::uint64_t room_id() const noexcept { return room_id_; }
  std::uint64_t player_id() const noexcept { return player_id_; }
  const std::string& username() const noexcept { return username_; }
  const std::string& resume_token() const noexcept { return resume_token_; }
  /// Replaces the stored token and seq (tests: forged tokens; tools: resume a saved session).
  void set_resume_state(std::string token, std::uint64_t last_seq);
  const std::optional<proto::HelloOk>& hello() const noexcept { return hello_; }
  const std::optional<proto::LoginOk>& login_ok() const noexcept { return login_ok_; }
  std::uint64_t reconnects() const noexcept { return reconnects_; }
  std::uint64_t pushes_dropped() const noexcept { return pushes_dropped_; }
  const ClientOptions& options() const noexcept { return options_; }
  asio::any_io_executor get_executor() const noexcept { return executor_; }

 private:
  struct Connection;
  struct Call;
  struct Outgoing;
  struct WriterDone;

  // Connection lifecycle.
  asio::awaitable<Status> connect_once();
  asio::awaitable<void> run_connection(std::unique_ptr<Connection> conn);
  asio::awaitable<void> read_tcp(Connection* conn);
  asio::awaitable<void> read_ws(Connection* conn);
  asio::awaitable<void> writer(Connection* conn);
  void heartbeat_due(Connection& conn);
  asio::awaitable<void> reconnect_loop(std::uint64_t epoch);
  void end_connection(Connection& conn);
  void close_current(boost::system::error_code why);

  // Requests.
  std::uint32_t next_request_id() noexcept;
  void pump();
  void send_call(Call& call);
  void finish_call(Call& call, std::optional<proto::ServerFrame> response,
                   boost::system::error_code error);
  void erase_call(Call* call);
  void fail_calls(std::uint64_t gen, boost::system::error_code error);
  Status enqueue(wire::FramePtr frame, bool raw);
  asio::awaitable<Result<proto::LoginOk>> login_request(proto::ClientFrame frame);
  asio::awaitable<Result<proto::RoomJoined>> room_request(proto::ClientFrame frame);
  asio::awaitable<Status> ok_request(proto::ClientFrame frame);

  // Incoming frames.
  void on_frame(Connection& conn, proto::ServerFrame frame);
  void on_push(Connection& conn, proto::ServerFrame frame);
  void on_login_ok(const proto::LoginOk& ok);
  void set_state(State s);

  asio::any_io_executor executor_;
  ClientOptions options_;
  SplitMix64 rng_;

  Connection* conn_ = nullptr;  // owned by run_connection's frame; null when not connected
  std::uint64_t gen_ = 0;       // bumped by every connect() and close(); tags connections/calls
  std::uint64_t reconnect_epoch_ = 0;  // bumped by close() to stop a reconnect loop
  bool reconnecting_ = false;
  bool hello_done_ = false;
  bool logging_out_ = false;
  std::size_t server_max_frame_ = wire::kDefaultMaxFrame;
  State state_ = State::closed;

  std::uint32_t last_request_id_ = 0;
  std::vector<std::unique_ptr<Call>> calls_;  // sent or waiting; a handful at most
  std::vector<std::uint32_t> waiting_;        // ids of FIFO requests not yet sent, in order
  std::uint32_t active_id_ = 0;               // the FIFO request on the wire, 0 = none

  std::optional<std::deque<proto::ServerFrame>> pushes_;  // created on first use (queue_pushes)
  asio::steady_timer push_wake_;
  bool push_waiter_ = false;
  asio::steady_timer reconnect_timer_;

  PushHandler push_handler_;
  StateHandler state_handler_;

  std::optional<proto::HelloOk> hello_;
  std::optional<proto::LoginOk> login_ok_;
  std::optional<proto::Closing> last_close_;
  proto::Error last_error_;
  boost::system::error_code last_failure_;
  std::string resume_token_;
  std::string username_;
  std::uint64_t player_id_ = 0;
  std::uint64_t room_id_ = 0;
  std::uint64_t last_seq_ = 0;
  std::uint64_t reconnects_ = 0;
  std::uint64_t pushes_dropped_ = 0;
};

}  // namespace sb::client
