#pragma once
// Client connections: TCP and WebSocket transports with one framing contract.
//
// serve_tcp()/serve_ws() run one connection on the shard's io_context. A reader coroutine decodes
// frames (TCP: u32 big-endian length, checked against max_frame before any body is read or
// allocated; WebSocket: one binary message per frame, with Beast's read_message_max set to
// max_frame) and hands each payload to ConnectionEvents. On TCP the writer is not a coroutine but
// a chain of async_write completions started by send() (through the shard's WriteBatcher): each
// writes every queued frame, up to 64, in one gathered write (writev). That keeps an idle TCP
// connection to one coroutine frame (about 3.6 KB per logged-in session in all, see
// docs/benchmarks.md). WebSocket uses a writer coroutine (Beast writes one message per call).
// A frame passed to send() is shared, never copied (broadcasts are encoded once). When queued
// bytes pass the bound the connection is aborted as a slow consumer; memory stays bounded.
// The Connection object lives in the serving coroutine's frame, which does not end while a write
// is in flight; the shard refers to it by ConnId through the pointer handed to on_open() until
// on_close(). All of it runs on one shard thread.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <vector>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "wire/frame.hpp"

namespace sb::net {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
using ConnId = Id<struct ConnTag>;

enum class TransportKind : std::uint8_t { tcp, websocket };

/// Why a connection ended, as seen by the transport.
enum class EndReason : std::uint8_t {
  peer_closed,      // EOF or reset
  closed_by_server, // close_after_flush() or abort()
  frame_too_large,
  slow_consumer,
  io_error,
};

struct ConnectionLimits {
  std::size_t max_frame = wire::kDefaultMaxFrame;
  std::size_t send_queue_bytes = 1024 * 1024;
};

/// The send queue: a vector with a read index. Unlike std::deque it allocates nothing while
/// empty, which matters with 18,000 mostly idle connections per process.
class FrameQueue {
 public:
  bool empty() const noexcept { return head_ == frames_.size(); }
  std::size_t size() const noexcept { return frames_.size() - head_; }
  const wire::FramePtr& operator[](std::size_t i) const noexcept { return frames_[head_ + i]; }
  const wire::FramePtr& front() const noexcept { return frames_[head_]; }
  void push_back(wire::FramePtr f) { frames_.push_back(std::move(f)); }
  void pop_front(std::size_t n) noexcept;
  void clear() noexcept;

 private:
  std::vector<wire::FramePtr> frames_;
  std::size_t head_ = 0;
};

class Connection;

/// WriteBatcher: wakes connection writers once per turn of the event loop instead of once per
/// frame. send() on an idle connection registers it here; the first registration of a turn posts
/// one flush() to the back of the io_context's queue, so every frame queued by the handlers that
/// were already waiting (e.g. a burst of room broadcasts) goes out in the same writev. Under light
/// load a flush follows almost at once; under heavy load batches grow by themselves.
/// One per shard; used only on its thread.
class WriteBatcher {
 public:
  explicit WriteBatcher(asio::any_io_executor ex) : ex_(std::move(ex)) {}
  void schedule(Connection* c);
  /// A connection going away before the flush.
  void forget(Connection* c) noexcept;

 private:
  void flush();
  asio::any_io_executor ex_;
  std::vector<Connection*> pending_;
  bool posted_ = false;
};

/// Implemented by the shard. Called on the shard thread.
class ConnectionEvents {
 public:
  virtual ~ConnectionEvents() = default;
  /// A connection is up; `c` stays valid until on_close(c).
  virtual void on_open(Connection& c) = 0;
  /// One complete payload (not yet parsed).
  virtual void on_payload(Connection& c, std::string_view payload) = 0;
  /// The payloads handed over since the last call were received together (one TCP read, or one
  /// WebSocket message) and are all delivered. Not called after the connection aborted.
  virtual void on_batch_end(Connection&) {}
  /// A TCP frame header declared more than max_frame bytes; the body is not read. The handler
  /// should explain and close_after_flush(); reading stops either way.
  virtual void on_frame_too_large(Connection& c) = 0;
  /// The connection has ended; `c` is destroyed right after this returns.
  virtual void on_close(Connection& c, EndReason why) = 0;
};

struct ConnectionStats {
  std::uint64_t frames_out = 0;
  std::uint64_t bytes_out = 0;
};

class Connection {
 public:
  Connection(ConnId id, TransportKind kind, std::string remote, ConnectionLimits limits,
             asio::any_io_executor ex, WriteBatcher* batcher = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  ConnId id() const noexcept { return id_; }
  TransportKind kind() const noexcept { return kind_; }
  const std::string& remote() const noexcept { return remote_; }
  bool closing() const noexcept { return closing_; }

  /// Queues a frame. Returns false (and aborts the connection as a slow consumer) when the queue
  /// would pass its byte bound; false also once closing.
  bool send(wire::FramePtr frame);
  /// Sends what is queued (plus nothing new), then closes. Idempotent.
  void close_after_flush();
  /// Closes now, dropping the queue.
  void abort(EndReason why = EndReason::closed_by_server);

  std::size_t queued_bytes() const noexcept { return queued_bytes_; }

  // --- used by the serving coroutines
  EndReason end_reason() const noexcept { return end_reason_; }
  bool aborted() const noexcept { return aborted_; }
  FrameQueue& queue() noexcept { return queue_; }
  void on_written(std::size_t frames, std::size_t bytes) noexcept;
  asio::steady_timer& wakeup() noexcept { return wakeup_; }
  /// Set by the transport so abort() can cancel pending I/O.
  void set_canceller(std::function<void()> fn) { canceller_ = std::move(fn); }
  /// Called by the WriteBatcher: start writing what is queued.
  void wake_writer() noexcept {
    flush_scheduled_ = false;
    kick_writer();
  }
  /// TCP: the writer is a chain of async_write completions on this socket instead of a
  /// coroutine (no frame, no wake-up round trip per burst). Set once by serve_tcp.
  void attach_tcp(Tcp::socket* socket) noexcept { tcp_ = socket; }
  bool writing() const noexcept { return writing_; }

 private:
  ConnId id_;
  TransportKind kind_;
  std::string remote_;
  ConnectionLimits limits_;
  FrameQueue queue_;
  std::size_t queued_bytes_ = 0;
  bool closing_ = false;
  bool aborted_ = false;
  EndReason end_reason_ = EndReason::peer_closed;
  asio::steady_timer wakeup_;
  std::function<void()> canceller_;
  WriteBatcher* batcher_;
  bool flush_scheduled_ = false;
  Tcp::socket* tcp_ = nullptr;
  bool writing_ = false;
  bool lingering_ = false;

  void kick_writer();
  void start_write();
  void write_done(boost::system::error_code ec, std::size_t frames, std::size_t bytes);
  void begin_linger();
};

/// Runs a TCP connection until it ends; then calls events.on_close(). Never throws.
asio::awaitable<void> serve_tcp(Tcp::socket socket, ConnId id, ConnectionLimits limits,
                                ConnectionEvents& events, WriteBatcher* batcher = nullptr);

/// Runs a WebSocket connection (performs the HTTP upgrade first). Never throws.
asio::awaitable<void> serve_ws(Tcp::socket socket, ConnId id, ConnectionLimits limits,
                               ConnectionEvents& events);

/// Opens a listening socket with SO_REUSEADDR and SO_REUSEPORT so every shard can accept on the
/// same port. Throws boost::system::system_error (start-up).
Tcp::acceptor make_reuseport_acceptor(asio::any_io_executor ex, const Tcp::endpoint& ep, int backlog);

}  // namespace sb::net
