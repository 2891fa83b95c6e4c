#include "client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <exception>
#include <random>
#include <string_view>
#include <utility>
#include <variant>

#include "backoff.hpp"
#include "core/log.hpp"

namespace sb::client {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;
using Steady = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 1024;   // TCP read size: many small frames per syscall
constexpr std::size_t kMaxBatch = 32;      // frames per gathered TCP write
constexpr std::size_t kKeepBuffer = 16 * 1024;  // larger read buffers are released after use

/// Completion handler of the client's detached coroutines: they report through values, so an
/// exception here is a bug (or bad_alloc); log it rather than terminate a process of many bots.
struct LogIfThrown {
  const char* what;
  void operator()(const std::exception_ptr& e) const {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("sb-client {}: {}", what, ex.what());
    }
  }
};

error_code errc(Errc e) { return make_error_code(e); }

std::uint64_t unix_ms_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_final_close(proto::CloseReason r) {
  return r == proto::CLOSE_LOGGED_IN_ELSEWHERE || r == proto::CLOSE_BANNED ||
         r == proto::CLOSE_LOGOUT;
}

/// Resume failures after which retrying cannot help: log in with the password instead.
bool is_permanent_resume_error(Errc e) {
  return e == Errc::session_expired || e == Errc::token_invalid || e == Errc::token_expired ||
         e == Errc::banned || e == Errc::account_disabled;
}

}  // namespace

const char* state_name(State s) noexcept {
  switch (s) {
    case State::connecting: return "connecting";
    case State::connected: return "connected";
    case State::logged_in: return "logged_in";
    case State::reconnecting: return "reconnecting";
    case State::closed: return "closed";
  }
  return "unknown";
}

// ------------------------------------------------------------------ internal types

struct Client::Outgoing {
  wire::FramePtr frame;
  bool raw = false;  // send_raw(): bytes as they are (TCP) / whole bytes as one message (WS)
};

/// One transport connection. Owned by run_connection()'s frame, which outlives the writer (it waits
/// for it) and reads on its own; the Client only points at it (conn_) while it is current.
struct Client::Connection {
  Connection(const asio::any_io_executor& ex, std::uint64_t g) : gen(g), wake(ex), writer_exited(ex) {}

  tcp::socket& socket() { return ws ? beast::get_lowest_layer(*ws) : *tcp_socket; }

  /// Marks the connection ended (the first reason wins), closes the socket so pending reads and
  /// writes complete, and wakes the writer so that both sides return.
  void shutdown(error_code why) {
    if (!open) return;
    open = false;
    error = why;
    error_code ignored;
    socket().close(ignored);
    wake.cancel();
  }

  bool queue_empty() const noexcept { return head == queue.size(); }

  std::uint64_t gen;
  std::optional<tcp::socket> tcp_socket;
  std::optional<websocket::stream<tcp::socket>> ws;
  // Send queue: queue[head..] waits to be written. A vector, not a deque (whose empty state
  // already allocates 576 bytes): with one request in flight it rarely holds more than two.
  std::vector<Outgoing> queue;
  std::size_t head = 0;
  std::size_t queued_bytes = 0;
  asio::steady_timer wake;           // the writer's sleep: until a frame is queued or a Ping is due
  asio::steady_timer writer_exited;  // run_connection() waits on it for the writer to return
  bool writer_running = false;
  bool open = true;
  error_code error;
  std::optional<proto::CloseReason> closing;  // a Closing received on this connection
  std::chrono::milliseconds heartbeat_interval{0};
  std::chrono::milliseconds heartbeat_timeout{0};
  Steady::time_point next_ping = Steady::time_point::max();
  Steady::time_point last_rx = Steady::now();
};

/// Completion of a connection's writer: lets run_connection() go on (and, should the writer have
/// thrown, ends the connection). Not called if the io_context is destroyed first.
struct Client::WriterDone {
  Connection* conn;
  void operator()(const std::exception_ptr& e) const;
};

/// One request between request() and its answer. Owned by calls_ so that a coroutine frame
/// destroyed while suspended (io_context teardown) leaves nothing dangling in the Client.
struct Client::Call {
  explicit Call(asio::any_io_executor ex) : timer(std::move(ex)) {}

  std::uint32_t id = 0;
  std::uint64_t gen = 0;  // the connection it belongs to
  bool fifo = true;       // false for pings, which skip the one-in-flight queue
  bool done = false;
  wire::FramePtr frame;
  asio::steady_timer timer;  // expires at the deadline; cancelled to wake the caller when done
  std::optional<proto::ServerFrame> response;
  error_code error;
};

// ------------------------------------------------------------------ construction

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      rng_(options_.random_seed ? options_.random_seed
                                : (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}()),
      push_wake_(executor_),
      reconnect_timer_(executor_) {}

Client::~Client() = default;

bool Client::connected() const noexcept { return conn_ != nullptr && conn_->open && hello_done_; }

void Client::set_state(State s) {
  if (s == state_) return;
  state_ = s;
  if (state_handler_) state_handler_(s);
}

void Client::set_resume_state(std::string token, std::uint64_t last_seq) {
  resume_token_ = std::move(token);
  last_seq_ = last_seq;
}

// ------------------------------------------------------------------ connection lifecycle

asio::awaitable<Status> Client::connect() {
  // An explicit connect ends any reconnect loop: the caller takes over.
  ++reconnect_epoch_;
  reconnecting_ = false;
  reconnect_timer_.cancel();
  co_return co_await connect_once();
}

asio::awaitable<Status> Client::connect_once() {
  co_await asio::this_coro::throw_if_cancelled(false);
  close_current(asio::error::operation_aborted);
  const std::uint64_t gen = ++gen_;
  logging_out_ = false;
  hello_.reset();
  if (!reconnecting_) set_state(State::connecting);

  asio::steady_timer deadline(executor_);
  deadline.expires_after(options_.connect_timeout);
  auto give_up = [this, gen](error_code why) -> Status {
    last_failure_ = why;
    if (gen == gen_) {
      close_current(why);
      if (!reconnecting_) set_state(State::closed);
    }
    return fail(Errc::unavailable);
  };

  // Endpoint: a literal address needs no resolver (thousands of bots connect at once).
  tcp::endpoint endpoint;
  error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options_.port);
  } else {
    tcp::resolver resolver(executor_);
    auto r = co_await (resolver.async_resolve(options_.host, std::to_string(options_.port), kTuple) ||
                       deadline.async_wait(kTuple));
    if (gen != gen_) co_return fail(Errc::unavailable);
    if (r.index() == 1) co_return give_up(errc(Errc::timeout));
    auto [rec, results] = std::get<0>(std::move(r));
    if (rec || results.empty()) co_return give_up(rec ? rec : errc(Errc::not_found));
    endpoint = results.begin()->endpoint();
  }

  auto conn = std::make_unique<Connection>(executor_, gen);
  conn->tcp_socket.emplace(executor_);
  tcp::socket& sock = *conn->tcp_socket;
  sock.open(endpoint.protocol(), ec);
  if (ec) co_return give_up(ec);
  if (!options_.local_address.empty()) {
    const auto local = asio::ip::make_address(options_.local_address, ec);
    if (ec) co_return give_up(ec);
#ifdef IP_BIND_ADDRESS_NO_PORT
    // Let connect() pick the port per destination, so one source address is not limited to one
    // ephemeral range shared by every destination.
    const int one = 1;
    ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    sock.bind(tcp::endpoint(local, 0), ec);
    if (ec) co_return give_up(ec);
  }
  {
    auto r = co_await (sock.async_connect(endpoint, kTuple) || deadline.async_wait(kTuple));
    if (gen != gen_) co_return fail(Errc::unavailable);
    if (r.index() == 1) co_return give_up(errc(Errc::timeout));
    if (auto [cec] = std::get<0>(r); cec) co_return give_up(cec);
  }
  sock.set_option(tcp::no_delay(true), ec);

  if (options_.transport == ClientOptions::Transport::websocket) {
    conn->ws.emplace(std::move(*conn->tcp_socket));
    conn->tcp_socket.reset();
    auto& ws = *conn->ws;
    ws.binary(true);
    ws.auto_fragment(false);
    ws.read_message_max(options_.max_frame);
    const std::string host = options_.host + ":" + std::to_string(options_.port);
    auto r = co_await (ws.async_handshake(host, options_.ws_path, kTuple) || deadline.async_wait(kTuple));
    if (gen != gen_) co_return fail(Errc::unavailable);
    if (r.index() == 1) co_return give_up(errc(Errc::timeout));
    if (auto [hec] = std::get<0>(r); hec) co_return give_up(hec);
  }

  conn_ = conn.get();
  asio::co_spawn(executor_, run_connection(std::move(conn)), LogIfThrown{"connection"});

  proto::ClientFrame hello;
  auto* h = hello.mutable_hello();
  h->set_min_version(wire::kProtocolVersion);
  h->set_max_version(wire::kProtocolVersion);
  h->set_client_name(options_.client_name);
  auto r = co_await (request(std::move(hello)) || deadline.async_wait(kTuple));
  if (gen != gen_) co_return fail(Errc::unavailable);
  if (r.index() == 1) co_return give_up(errc(Errc::timeout));
  auto answer = std::get<0>(std::move(r));
  if (!answer) co_return give_up(answer.error());
  if (answer->has_error()) {
    const auto code = static_cast<Errc>(answer->error().code());
    give_up(errc(code));
    co_return fail(code);
  }
  if (!answer->has_hello_ok() || answer->hello_ok().version() != wire::kProtocolVersion) {
    const Errc code = answer->has_hello_ok() ? Errc::unsupported_version : Errc::unknown_message;
    give_up(errc(code));
    co_return fail(code);
  }
  const proto::HelloOk& ok = answer->hello_ok();
  hello_ = ok;
  server_max_frame_ = ok.max_frame_bytes() ? ok.max_frame_bytes() : wire::kDefaultMaxFrame;
  if (options_.send_heartbeats && conn_ != nullptr && ok.heartbeat_interval_ms() > 0) {
    conn_->heartbeat_interval = std::chrono::milliseconds(ok.heartbeat_interval_ms());
    conn_->heartbeat_timeout = std::chrono::milliseconds(ok.heartbeat_timeout_ms());
    conn_->next_ping = Steady::now() + conn_->heartbeat_interval;
    conn_->wake.cancel();  // the writer re-arms its sleep for the first Ping
  }
  hello_done_ = true;
  if (!reconnecting_) set_state(State::connected);
  co_return Status{};
}

asio::awaitable<void> Client::run_connection(std::unique_ptr<Connection> conn) {
  co_await asio::this_coro::throw_if_cancelled(false);
  Connection* c = conn.get();
  c->writer_running = true;
  asio::co_spawn(executor_, writer(c), WriterDone{c});
  if (c->ws) {
    co_await read_ws(c);
  } else {
    co_await read_tcp(c);
  }
  c->shutdown(errc(Errc::unavailable));  // no-op when the reader already said why
  while (c->writer_running) {
    c->writer_exited.expires_at(Steady::time_point::max());
    co_await c->writer_exited.async_wait(kTuple);
  }
  end_connection(*c);
}

void Client::WriterDone::operator()(const std::exception_ptr& e) const {
  if (e) {
    LogIfThrown{"writer"}(e);
    conn->shutdown(make_error_code(Errc::internal));
  }
  conn->writer_running = false;
  conn->writer_exited.cancel();
}

void Client::end_connection(Connection& conn) {
  if (conn.error == error_code{}) conn.error = errc(Errc::unavailable);
  if (conn_ == &conn) conn_ = nullptr;
  fail_calls(conn.gen, conn.error);
  if (conn.gen != gen_) return;  // superseded by connect() or close(): they own the state now
  hello_done_ = false;
  last_failure_ = conn.error;
  if (reconnecting_) return;  // the reconnect loop learns from its own requests failing
  const bool final_close = conn.closing && is_final_close(*conn.closing);
  if (logging_out_ || final_close || !options_.auto_reconnect || resume_token_.empty() ||
      options_.max_reconnect_attempts <= 0) {
    set_state(State::closed);
    return;
  }
  reconnecting_ = true;
  set_state(State::reconnecting);
  asio::co_spawn(executor_, reconnect_loop(++reconnect_epoch_), LogIfThrown{"reconnect"});
}

void Client::close_current(error_code why) {
  if (conn_ != nullptr) {
    conn_->shutdown(why);
    conn_ = nullptr;
  }
  ++gen_;
  hello_done_ = false;
}

void Client::close() {
  ++reconnect_epoch_;
  reconnecting_ = false;
  reconnect_timer_.cancel();
  close_current(asio::error::operation_aborted);
  set_state(State::closed);
}

void Client::drop() {
  if (conn_ == nullptr) return;
  conn_->shutdown(errc(Errc::unavailable));
  conn_ = nullptr;
  hello_done_ = false;
}

asio::awaitable<void> Client::reconnect_loop(std::uint64_t epoch) {
  co_await asio::this_coro::throw_if_cancelled(false);
  std::chrono::milliseconds at_least{0};
  for (int attempt = 0; attempt < options_.max_reconnect_attempts; ++attempt) {
    const auto delay =
        std::max(at_least, backoff_delay(attempt, options_.backoff_base, options_.backoff_cap, rng_));
    at_least = std::chrono::milliseconds{0};
    reconnect_timer_.expires_after(delay);
    co_await reconnect_timer_.async_wait(kTuple);
    if (epoch != reconnect_epoch_) co_return;  // close() or connect() took over

    const Status connected_now = co_await connect_once();
    if (epoch != reconnect_epoch_) co_return;
    if (!connected_now) continue;

    auto resumed = co_await resume();
    if (epoch != reconnect_epoch_) co_return;
    if (resumed) {
      reconnecting_ = false;
      ++reconnects_;
      set_state(State::logged_in);
      co_return;
    }
    last_failure_ = resumed.error();
    const Errc e = to_errc(resumed.error());
    if (e == Errc::rate_limited) at_least = std::chrono::milliseconds(last_error_.retry_after_ms());
    if (is_permanent_resume_error(e)) {
      if (e != Errc::banned && e != Errc::account_disabled) resume_token_.clear();
      break;
    }
    close_current(resumed.error());
  }
  if (epoch != reconnect_epoch_) co_return;
  reconnecting_ = false;
  close_current(last_failure_);
  set_state(State::closed);
}

// ------------------------------------------------------------------ readers, writer and heartbeat

asio::awaitable<void> Client::read_ws(Connection* conn) {
  co_await asio::this_coro::throw_if_cancelled(false);
  beast::flat_buffer buffer;
  while (conn->open) {
    auto [ec, n] = co_await conn->ws->async_read(buffer, kTuple);
    if (ec) {
      conn->shutdown(errc(ec == websocket::error::message_too_big ? Errc::frame_too_large
                                                                 : Errc::unavailable));
      break;
    }
    conn->last_rx = Steady::now();
    const auto data = buffer.data();
    auto frame = wire::decode_server(
        std::string_view(static_cast<const char*>(data.data()), data.size()));
    buffer.consume(buffer.size());
    if (buffer.capacity() > kKeepBuffer) buffer.shrink_to_fit();
    if (!frame) {
      conn->shutdown(frame.error());
      break;
    }
    on_frame(*conn, std::move(*frame));
  }
}

asio::awaitable<void> Client::read_tcp(Connection* conn) {
  co_await asio::this_coro::throw_if_cancelled(false);
  // Read what is there into a small chunk and let the decoder cut frames: many pushes per
  // syscall under load, and the decoder refuses a declared length above max_frame before
  // buffering any of that body.
  wire::FrameDecoder decoder(options_.max_frame);
  std::array<unsigned char, kReadChunk> chunk;
  std::string payload;
  while (conn->open) {
    auto [ec, n] = co_await conn->tcp_socket->async_read_some(asio::buffer(chunk), kTuple);
    if (ec) {
      conn->shutdown(errc(Errc::unavailable));
      break;
    }
    conn->last_rx = Steady::now();
    if (!decoder.feed(std::span<const unsigned char>(chunk.data(), n))) {
      conn->shutdown(errc(Errc::frame_too_large));
      break;
    }
    while (conn->open && decoder.next(payload)) {
      auto frame = wire::decode_server(payload);
      if (!frame) {
        conn->shutdown(frame.error());
        break;
      }
      on_frame(*conn, std::move(*frame));
    }
    if (decoder.failed()) conn->shutdown(errc(Errc::frame_too_large));
    if (payload.capacity() > kKeepBuffer) payload = std::string();
  }
}

asio::awaitable<void> Client::writer(Connection* conn) {
  co_await asio::this_coro::throw_if_cancelled(false);
  std::vector<asio::const_buffer> batch;
  while (conn->open) {
    if (conn->queue_empty()) {
      conn->queue.clear();  // keeps its (small) capacity
      conn->head = 0;
      conn->wake.expires_at(conn->next_ping);
      auto [ec] = co_await conn->wake.async_wait(kTuple);
      if (!ec) heartbeat_due(*conn);  // expired rather than woken: a Ping is due
      continue;
    }
    std::size_t frames = 0;
    error_code ec;
    if (conn->tcp_socket) {
      batch.clear();
      for (std::size_t i = conn->head; i < conn->queue.size() && frames < kMaxBatch; ++i, ++frames) {
        const auto& bytes = conn->queue[i].frame->bytes;
        batch.emplace_back(bytes.data(), bytes.size());
      }
      auto [wec, n] = co_await asio::async_write(*conn->tcp_socket, batch, kTuple);
      ec = wec;
    } else {
      const Outgoing& out = conn->queue[conn->head];
      const std::string_view data = out.raw ? std::string_view(out.frame->bytes) : out.frame->payload();
      auto [wec, n] = co_await conn->ws->async_write(asio::buffer(data.data(), data.size()), kTuple);
      ec = wec;
      frames = 1;
    }
    if (ec) {
      conn->shutdown(errc(Errc::unavailable));
      break;
    }
    for (std::size_t i = 0; i < frames; ++i) {
      conn->queued_bytes -= conn->queue[conn->head].frame->size();
      conn->queue[conn->head++].frame.reset();
    }
    // A busy connection never sleeps in the idle branch: keep the Pings going here too.
    if (Steady::now() >= conn->next_ping) heartbeat_due(*conn);
  }
}

void Client::heartbeat_due(Connection& conn) {
  if (!conn.open || conn.heartbeat_interval.count() <= 0) return;
  const auto now = Steady::now();
  if (conn.heartbeat_timeout.count() > 0 && now - conn.last_rx > conn.heartbeat_timeout) {
    conn.shutdown(errc(Errc::timeout));  // the server went silent: treat as lost
    return;
  }
  conn.next_ping = now + conn.heartbeat_interval;
  if (&conn != conn_) return;
  // Fire and forget: the Pong carries an id no Call waits for and is dropped by on_frame().
  proto::ClientFrame ping;
  ping.set_request_id(next_request_id());
  ping.mutable_ping()->set_client_time_ms(unix_ms_now());
  (void)enqueue(wire::encode(ping), false);
}

// ------------------------------------------------------------------ requests

std::uint32_t Client::next_request_id() noexcept {
  if (++last_request_id_ == 0) ++last_request_id_;  // 0 means "push"
  return last_request_id_;
}

Status Client::enqueue(wire::FramePtr frame, bool raw) {
  if (conn_ == nullptr || !conn_->open) return fail(Errc::unavailable);
  if (conn_->queued_bytes + frame->size() > options_.max_send_queue_bytes) {
    return fail(Errc::unavailable);
  }
  conn_->queued_bytes += frame->size();
  conn_->queue.push_back(Outgoing{std::move(frame), raw});
  if (conn_->queue.size() - conn_->head == 1) conn_->wake.cancel();  // the writer may be asleep
  return {};
}

Status Client::send_raw(std::string bytes) {
  auto frame = std::make_shared<wire::Frame>();
  frame->bytes = std::move(bytes);
  return enqueue(std::move(frame), true);
}

void Client::send_call(Call& call) {
  if (conn_ == nullptr || conn_->gen != call.gen) {
    finish_call(call, std::nullopt, errc(Errc::unavailable));
    return;
  }
  if (auto st = enqueue(call.frame, false); !st) finish_call(call, std::nullopt, st.error());
}

void Client::pump() {
  while (active_id_ == 0 && !waiting_.empty()) {
    const std::uint32_t id = waiting_.front();
    waiting_.erase(waiting_.begin());
    auto it = std::find_if(calls_.begin(), calls_.end(), [id](const auto& c) { return c->id == id; });
    if (it == calls_.end() || (*it)->done) continue;
    active_id_ = id;
    send_call(**it);
  }
}

void Client::finish_call(Call& call, std::optional<proto::ServerFrame> response, error_code error) {
  if (call.done) return;
  call.done = true;
  call.response = std::move(response);
  call.error = error;
  call.timer.cancel();
  if (call.id == active_id_) {
    // A request that timed out may still be executing on the server, so the next one can meet
    // BUSY; waiting longer for an answer that may never come would stall the client instead.
    active_id_ = 0;
    pump();
  }
}

void Client::erase_call(Call* call) {
  if (active_id_ == call->id) active_id_ = 0;
  std::erase(waiting_, call->id);
  std::erase_if(calls_, [call](const auto& c) { return c.get() == call; });
  pump();
}

void Client::fail_calls(std::uint64_t gen, error_code error) {
  // finish_call() never adds or removes elements of calls_ (only erase_call does).
  for (std::size_t i = 0; i < calls_.size(); ++i) {
    Call& call = *calls_[i];
    if (call.gen == gen && !call.done) finish_call(call, std::nullopt, error);
  }
}

asio::awaitable<Result<proto::ServerFrame>> Client::request(proto::ClientFrame frame) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (conn_ == nullptr || !conn_->open) co_return fail(Errc::unavailable);
  frame.set_request_id(next_request_id());
  auto encoded = wire::encode(frame);
  if (encoded->payload().size() > server_max_frame_) co_return fail(Errc::frame_too_large);

  auto owned = std::make_unique<Call>(executor_);
  Call* call = owned.get();
  call->id = frame.request_id();
  call->gen = conn_->gen;
  call->fifo = !frame.has_ping();
  call->frame = std::move(encoded);
  call->timer.expires_after(options_.request_timeout);
  calls_.push_back(std::move(owned));
  if (call->fifo) {
    waiting_.push_back(call->id);
    pump();
  } else {
    send_call(*call);
  }

  while (!call->done) {
    auto [ec] = co_await call->timer.async_wait(kTuple);
    if (call->done) break;
    // Not answered: the deadline passed, or the caller cancelled us (e.g. `request() || timer`).
    finish_call(*call, std::nullopt, ec ? error_code(asio::error::operation_aborted) : errc(Errc::timeout));
  }
  Result<proto::ServerFrame> result = call->error ? Result<proto::ServerFrame>(call->error)
                                                  : Result<proto::ServerFrame>(std::move(*call->response));
  erase_call(call);
  co_return result;
}

asio::awaitable<Result<proto::LoginOk>> Client::login_request(proto::ClientFrame frame) {
  auto answer = co_await request(std::move(frame));
  if (!answer) co_return answer.error();
  if (answer->has_error()) co_return fail(static_cast<Errc>(answer->error().code()));
  if (!answer->has_login_ok()) co_return fail(Errc::unknown_message);
  on_login_ok(answer->login_ok());
  co_return answer->login_ok();
}

void Client::on_login_ok(const proto::LoginOk& ok) {
  login_ok_ = ok;
  resume_token_ = ok.resume_token();
  player_id_ = ok.player_id();
  username_ = ok.username();
  if (!reconnecting_) set_state(State::logged_in);
}

asio::awaitable<Result<proto::LoginOk>> Client::register_account(std::string username,
                                                                 std::string password,
                                                                 std::string zone) {
  // A new account has seen no room events.
  last_seq_ = 0;
  room_id_ = 0;
  proto::ClientFrame frame;
  auto* r = frame.mutable_register_account();
  r->set_username(std::move(username));
  r->set_password(std::move(password));
  r->set_zone(std::move(zone));
  co_return co_await login_request(std::move(frame));
}

asio::awaitable<Result<proto::LoginOk>> Client::login(std::string username, std::string password,
                                                      std::string zone) {
  // The seq belongs to the account's room: only a re-login of the same account may replay.
  if (lower(username) != lower(username_)) {
    last_seq_ = 0;
    room_id_ = 0;
  }
  proto::ClientFrame frame;
  auto* r = frame.mutable_login();
  r->set_username(std::move(username));
  r->set_password(std::move(password));
  r->set_zone(std::move(zone));
  r->set_last_seq(last_seq_);
  co_return co_await login_request(std::move(frame));
}

asio::awaitable<Result<proto::LoginOk>> Client::resume() {
  if (resume_token_.empty()) co_return fail(Errc::bad_state);
  proto::ClientFrame frame;
  auto* r = frame.mutable_resume();
  r->set_token(resume_token_);
  r->set_last_seq(last_seq_);
  co_return co_await login_request(std::move(frame));
}

asio::awaitable<Status> Client::chat(std::string text, std::uint64_t tag) {
  proto::ClientFrame frame;
  auto* c = frame.mutable_chat();
  c->set_text(std::move(text));
  c->set_tag(tag);
  auto answer = co_await request(std::move(frame));
  if (!answer) co_return answer.error();
  if (answer->has_error()) co_return fail(static_cast<Errc>(answer->error().code()));
  if (!answer->has_ok()) co_return fail(Errc::unknown_message);
  co_return Status{};
}

asio::awaitable<Result<proto::RoomJoined>> Client::room_request(proto::ClientFrame frame) {
  auto answer = co_await request(std::move(frame));
  if (!answer) co_return answer.error();
  if (answer->has_error()) co_return fail(static_cast<Errc>(answer->error().code()));
  if (!answer->has_room_joined()) co_return fail(Errc::unknown_message);
  co_return std::move(*answer->mutable_room_joined());
}

asio::awaitable<Status> Client::ok_request(proto::ClientFrame frame) {
  auto answer = co_await request(std::move(frame));
  if (!answer) co_return answer.error();
  if (answer->has_error()) co_return fail(static_cast<Errc>(answer->error().code()));
  if (!answer->has_ok()) co_return fail(Errc::unknown_message);
  co_return Status{};
}

asio::awaitable<Result<proto::RoomJoined>> Client::create_room(std::string type, std::string zone,
                                                               std::uint32_t capacity,
                                                               std::map<std::string, std::string> params,
                                                               bool locked) {
  proto::ClientFrame frame;
  auto* c = frame.mutable_create_room();
  c->set_type(std::move(type));
  c->set_zone(std::move(zone));
  c->set_capacity(capacity);
  for (auto& [k, v] : params) (*c->mutable_params())[k] = v;
  c->set_locked(locked);
  co_return co_await room_request(std::move(frame));
}

asio::awaitable<Result<proto::RoomJoined>> Client::join_room(std::uint64_t room_id, bool spectator) {
  proto::ClientFrame frame;
  frame.mutable_join_room()->set_room_id(room_id);
  frame.mutable_join_room()->set_spectator(spectator);
  co_return co_await room_request(std::move(frame));
}

asio::awaitable<Result<proto::RoomJoined>> Client::auto_join(std::string type, std::string zone,
                                                             std::map<std::string, std::string> params) {
  proto::ClientFrame frame;
  auto* a = frame.mutable_auto_join();
  a->set_type(std::move(type));
  a->set_zone(std::move(zone));
  for (auto& [k, v] : params) (*a->mutable_params())[k] = v;
  co_return co_await room_request(std::move(frame));
}

asio::awaitable<Status> Client::leave_room() {
  proto::ClientFrame frame;
  frame.mutable_leave_room();
  co_return co_await ok_request(std::move(frame));
}

asio::awaitable<Status> Client::lock_room(bool locked) {
  proto::ClientFrame frame;
  frame.mutable_lock_room()->set_locked(locked);
  co_return co_await ok_request(std::move(frame));
}

asio::awaitable<Result<proto::RoomList>> Client::list_rooms(std::string zone, std::string type) {
  proto::ClientFrame frame;
  frame.mutable_list_rooms()->set_zone(std::move(zone));
  frame.mutable_list_rooms()->set_type(std::move(type));
  auto answer = co_await request(std::move(frame));
  if (!answer) co_return answer.error();
  if (answer->has_error()) co_return fail(static_cast<Errc>(answer->error().code()));
  if (!answer->has_room_list()) co_return fail(Errc::unknown_message);
  co_return std::move(*answer->mutable_room_list());
}

Status Client::send_game(std::string data) {
  proto::ClientFrame frame;
  frame.set_request_id(next_request_id());
  frame.mutable_game()->set_data(std::move(data));
  auto encoded = wire::encode(frame);
  if (encoded->payload().size() > server_max_frame_) return fail(Errc::frame_too_large);
  return enqueue(std::move(encoded), false);
}

asio::awaitable<Result<proto::Members>> Client::members() {
  proto::ClientFrame frame;
  frame.mutable_members();
  auto answer = co_await request(std::move(frame));
  if (!answer) co_return answer.error();
  if (answer->has_error()) co_return fail(static_cast<Errc>(answer->error().code()));
  if (!answer->has_members()) co_return fail(Errc::unknown_message);
  co_return std::move(*answer->mutable_members());
}

asio::awaitable<Status> Client::logout() {
  logging_out_ = true;  // the coming loss is expected: no reconnect even if Closing is lost
  proto::ClientFrame frame;
  frame.mutable_logout();
  auto answer = co_await request(std::move(frame));
  Status st;
  if (!answer) {
    st = answer.error();
  } else if (answer->has_error()) {
    st = fail(static_cast<Errc>(answer->error().code()));
  } else if (!answer->has_ok()) {
    st = fail(Errc::unknown_message);
  }
  if (st) {
    resume_token_.clear();
    last_seq_ = 0;
    room_id_ = 0;
  } else if (connected()) {
    logging_out_ = false;  // refused: the session goes on
  }
  co_return st;
}

asio::awaitable<Result<proto::Pong>> Client::ping() {
  proto::ClientFrame frame;
  frame.mutable_ping()->set_client_time_ms(unix_ms_now());
  auto answer = co_await request(std::move(frame));
  if (!answer) co_return answer.error();
  if (answer->has_error()) co_return fail(static_cast<Errc>(answer->error().code()));
  if (!answer->has_pong()) co_return fail(Errc::unknown_message);
  co_return answer->pong();
}

// ------------------------------------------------------------------ incoming frames

void Client::on_frame(Connection& conn, proto::ServerFrame frame) {
  if (frame.request_id() == 0) {
    on_push(conn, std::move(frame));
    return;
  }
  if (frame.has_error()) last_error_ = frame.error();
  if (frame.has_room_joined()) {
    room_id_ = frame.room_joined().room_id();
    last_seq_ = frame.room_joined().seq();
    if (push_handler_) push_handler_(frame);
  }
  const std::uint32_t id = frame.request_id();
  auto it = std::find_if(calls_.begin(), calls_.end(), [id](const auto& c) { return c->id == id; });
  if (it == calls_.end()) return;  // a heartbeat's Pong, or an answer after its deadline
  finish_call(**it, std::move(frame), {});
}

void Client::on_push(Connection& conn, proto::ServerFrame frame) {
  switch (frame.body_case()) {
    case proto::ServerFrame::kRoomJoined:
      room_id_ = frame.room_joined().room_id();
      last_seq_ = frame.room_joined().seq();
      break;
    case proto::ServerFrame::kRoomEvent: {
      const auto& ev = frame.room_event();
      if (ev.room_id() != room_id_) {
        room_id_ = ev.room_id();
        last_seq_ = ev.seq();
      } else {
        last_seq_ = std::max(last_seq_, ev.seq());
      }
      break;
    }
    case proto::ServerFrame::kClosing:
      last_close_ = frame.closing();
      conn.closing = frame.closing().reason();
      break;
    case proto::ServerFrame::kError:
      last_error_ = frame.error();
      break;
    default:
      break;
  }
  if (push_handler_) push_handler_(frame);
  if (!options_.queue_pushes) return;
  if (options_.push_queue_limit == 0) {
    ++pushes_dropped_;
    return;
  }
  if (!pushes_) pushes_.emplace();
  if (pushes_->size() >= options_.push_queue_limit) {
    pushes_->pop_front();
    ++pushes_dropped_;
  }
  pushes_->push_back(std::move(frame));
  if (push_waiter_) push_wake_.cancel();
}

asio::awaitable<Result<proto::ServerFrame>> Client::next_push(std::chrono::milliseconds timeout) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (!options_.queue_pushes) co_return fail(Errc::bad_state);
  if (!pushes_) pushes_.emplace();
  if (pushes_->empty()) {
    push_waiter_ = true;
    push_wake_.expires_after(timeout);
    auto [ec] = co_await push_wake_.async_wait(kTuple);
    push_waiter_ = false;
    if (pushes_->empty()) {
      co_return ec ? error_code(asio::error::operation_aborted) : errc(Errc::timeout);
    }
  }
  proto::ServerFrame frame = std::move(pushes_->front());
  pushes_->pop_front();
  co_return frame;
}

}  // namespace sb::client
