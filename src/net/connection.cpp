#include "net/connection.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <sys/socket.h>
#include <vector>

namespace sb::net {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::use_awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void FrameQueue::pop_front(std::size_t n) noexcept {
  for (std::size_t i = 0; i < n && head_ < frames_.size(); ++i) frames_[head_++].reset();
  if (head_ == frames_.size()) clear();
}

void FrameQueue::clear() noexcept {
  frames_.clear();
  head_ = 0;
  // Give back the memory of a burst so idle connections stay small.
  if (frames_.capacity() > 64) std::vector<wire::FramePtr>().swap(frames_);
}

void WriteBatcher::schedule(Connection* c) {
  pending_.push_back(c);
  if (posted_) return;
  posted_ = true;
  asio::post(ex_, [this] { flush(); });
}

void WriteBatcher::forget(Connection* c) noexcept {
  for (auto& p : pending_) {
    if (p == c) p = nullptr;
  }
}

void WriteBatcher::flush() {
  posted_ = false;
  std::vector<Connection*> batch;
  batch.swap(pending_);
  for (Connection* c : batch) {
    if (c) c->wake_writer();
  }
}

Connection::Connection(ConnId id, TransportKind kind, std::string remote, ConnectionLimits limits,
                       asio::any_io_executor ex, WriteBatcher* batcher)
    : id_(id), kind_(kind), remote_(std::move(remote)), limits_(limits), wakeup_(ex), batcher_(batcher) {
  wakeup_.expires_at(asio::steady_timer::time_point::max());
}

Connection::~Connection() {
  if (flush_scheduled_ && batcher_) batcher_->forget(this);
}

bool Connection::send(wire::FramePtr frame) {
  if (closing_ || aborted_) return false;
  if (queued_bytes_ + frame->size() > limits_.send_queue_bytes) {
    abort(EndReason::slow_consumer);
    return false;
  }
  queued_bytes_ += frame->size();
  const bool was_empty = queue_.empty();
  queue_.push_back(std::move(frame));
  if (was_empty && !flush_scheduled_) {
    if (batcher_) {
      flush_scheduled_ = true;
      batcher_->schedule(this);
    } else {
      kick_writer();
    }
  }
  return true;
}

void Connection::close_after_flush() {
  if (closing_ || aborted_) return;
  closing_ = true;
  end_reason_ = EndReason::closed_by_server;
  kick_writer();
}

void Connection::kick_writer() {
  if (tcp_ == nullptr) {
    wakeup_.cancel();  // WebSocket: wake the writer coroutine
    return;
  }
  if (!writing_) start_write();
}

// One gathered write of up to 64 queued frames; its completion starts the next one. When the
// queue is empty and the connection is closing, shut down the send side and linger.
void Connection::start_write() {
  if (aborted_ || writing_ || lingering_) return;
  if (queue_.empty()) {
    if (closing_) begin_linger();
    return;
  }
  writing_ = true;
  // `this` outlives the write: serve_tcp does not destroy the Connection while writing_.
  if (queue_.size() == 1) {
    // The common case at game tick rates (one frame per turn): no buffer vector to allocate.
    const std::size_t bytes = queue_.front()->bytes.size();
    asio::async_write(*tcp_, asio::buffer(queue_.front()->bytes),
                      [this, bytes](boost::system::error_code ec, std::size_t) { write_done(ec, 1, bytes); });
    return;
  }
  std::vector<asio::const_buffer> bufs;
  const std::size_t n = std::min<std::size_t>(queue_.size(), 64);
  bufs.reserve(n);
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& f = queue_[i];
    bufs.emplace_back(f->bytes.data(), f->bytes.size());
    bytes += f->bytes.size();
  }
  asio::async_write(*tcp_, bufs,
                    [this, n, bytes](boost::system::error_code ec, std::size_t) { write_done(ec, n, bytes); });
}

void Connection::write_done(boost::system::error_code ec, std::size_t frames, std::size_t bytes) {
  writing_ = false;
  if (ec) {
    abort(EndReason::io_error);
  } else if (!aborted_) {
    on_written(frames, bytes);
    start_write();
  }
  if (aborted_) wakeup_.cancel();  // serve_tcp may be waiting for this write to end
}

void Connection::begin_linger() {
  lingering_ = true;
  boost::system::error_code ignored;
  tcp_->shutdown(Tcp::socket::shutdown_send, ignored);
  // Give the peer a moment to read the goodbye and close its side; then stop reading.
  wakeup_.expires_after(std::chrono::seconds(2));
  wakeup_.async_wait([this](boost::system::error_code ec) {
    if (!ec) abort(EndReason::closed_by_server);  // cancelled: the connection already ended
  });
}

void Connection::abort(EndReason why) {
  if (aborted_) return;
  aborted_ = true;
  end_reason_ = why;
  queue_.clear();
  queued_bytes_ = 0;
  wakeup_.cancel();
  if (canceller_) canceller_();
}

void Connection::on_written(std::size_t frames, std::size_t bytes) noexcept {
  queue_.pop_front(frames);
  queued_bytes_ -= std::min(bytes, queued_bytes_);
}

namespace {

std::string remote_of(const Tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string();
}

/// Hands every complete frame at the front of `in` to the events (one batch), then drops them
/// from `in`. False when reading must stop (an oversized header, or the connection aborted).
bool deliver_frames(std::string& in, Connection& c, ConnectionLimits limits, ConnectionEvents& events) {
  std::size_t at = 0;
  bool ok = true;
  bool delivered = false;
  while (in.size() - at >= wire::kHeaderBytes) {
    const std::uint32_t len = wire::read_length(reinterpret_cast<const unsigned char*>(in.data() + at));
    if (len > limits.max_frame) {
      events.on_frame_too_large(c);
      if (!c.closing()) c.abort(EndReason::frame_too_large);
      ok = false;
      break;
    }
    if (in.size() - at - wire::kHeaderBytes < len) break;  // the rest of this frame is still on its way
    if (!c.closing()) {  // while closing, input is drained unread
      events.on_payload(c, std::string_view(in.data() + at + wire::kHeaderBytes, len));
      delivered = true;
    }
    at += wire::kHeaderBytes + len;
    if (c.aborted()) {
      ok = false;
      break;
    }
  }
  if (delivered && !c.aborted()) events.on_batch_end(c);
  in.erase(0, at);
  if (in.empty() && in.capacity() > 4096) std::string().swap(in);  // do not keep large buffers idle
  return ok;
}

// The reader waits for the socket to be readable (no buffer is held while idle), then takes
// everything the kernel has in one non-blocking read, and hands over every complete frame of it
// as one batch (ConnectionEvents::on_batch_end): frames a client sent together arrive together.
asio::awaitable<void> tcp_reader(Tcp::socket& socket, Connection& c, ConnectionLimits limits,
                                 ConnectionEvents& events) {
  constexpr std::size_t kMaxRead = 64 * 1024;  // per wake-up; the rest is read on the next turn
  std::string in;
  bool peer_gone = false;
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  for (;;) {
    auto [wec] = co_await socket.async_wait(Tcp::socket::wait_read, use_tuple);
    if (wec || c.aborted()) {
      peer_gone = static_cast<bool>(wec);
      break;
    }
    const std::size_t avail = socket.available(ec);
    const std::size_t old = in.size();
    in.resize(old + std::clamp<std::size_t>(ec ? 0 : avail, 1, kMaxRead));
    const std::size_t n = socket.read_some(asio::buffer(in.data() + old, in.size() - old), ec);
    in.resize(old + n);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;  // spurious wake-up
    if (ec || c.aborted()) {
      peer_gone = static_cast<bool>(ec);
      break;
    }
    if (!deliver_frames(in, c, limits, events)) break;
  }
  // While closing, the writer flushes the goodbye and then ends the connection itself, unless the
  // peer has already gone (EOF/reset): then there is nobody to flush to.
  if (!c.aborted() && (!c.closing() || peer_gone)) {
    c.abort(c.closing() ? EndReason::closed_by_server : EndReason::peer_closed);
  }
}

}  // namespace

asio::awaitable<void> serve_tcp(Tcp::socket socket, ConnId id, ConnectionLimits limits,
                                ConnectionEvents& events, WriteBatcher* batcher) {
  boost::system::error_code ec;
  socket.set_option(Tcp::no_delay(true), ec);
  Connection c(id, TransportKind::tcp, remote_of(socket), limits, socket.get_executor(), batcher);
  c.set_canceller([&socket] {
    boost::system::error_code ignored;
    socket.cancel(ignored);
    socket.shutdown(Tcp::socket::shutdown_both, ignored);
  });
  c.attach_tcp(&socket);
  events.on_open(c);
  co_await tcp_reader(socket, c, limits, events);
  // The reader has ended. If we are still closing (oversized frame), the writer flushes the
  // goodbye and lingers, then aborts; afterwards no write may still be running.
  while (!c.aborted() || c.writing()) co_await c.wakeup().async_wait(use_tuple);
  events.on_close(c, c.end_reason());
  socket.close(ec);
}

namespace {

using WsStream = websocket::stream<Tcp::socket>;

asio::awaitable<void> ws_writer(WsStream& ws, Connection& c) {
  for (;;) {
    if (c.aborted()) co_return;
    if (c.queue().empty()) {
      if (c.closing()) break;
      co_await c.wakeup().async_wait(use_tuple);
      continue;
    }
    // Beast writes one message per call; each queued frame is one WebSocket message.
    wire::FramePtr f = c.queue().front();
    auto payload = f->payload();
    auto [ec, n] = co_await ws.async_write(asio::buffer(payload.data(), payload.size()), use_tuple);
    if (ec) {
      c.abort(EndReason::io_error);
      co_return;
    }
    if (c.aborted()) co_return;
    c.on_written(1, f->size());
  }
  auto [ec] = co_await ws.async_close(websocket::close_code::normal, use_tuple);
  (void)ec;
  c.abort(EndReason::closed_by_server);
}

asio::awaitable<void> ws_reader(WsStream& ws, Connection& c, ConnectionEvents& events) {
  beast::flat_buffer buffer;
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
    if (ec || c.aborted()) {
      if (ec == websocket::error::message_too_big && !c.aborted()) c.abort(EndReason::frame_too_large);
      break;
    }
    if (!c.closing()) {
      auto data = buffer.cdata();
      events.on_payload(c, std::string_view(static_cast<const char*>(data.data()), data.size()));
      if (!c.aborted()) events.on_batch_end(c);  // WebSocket messages arrive one at a time
    }
    buffer.consume(buffer.size());
    if (buffer.capacity() > 4096) buffer.shrink_to_fit();
  }
  if (!c.aborted()) c.abort(c.closing() ? EndReason::closed_by_server : EndReason::peer_closed);
}

}  // namespace

asio::awaitable<void> serve_ws(Tcp::socket socket, ConnId id, ConnectionLimits limits,
                               ConnectionEvents& events) {
  boost::system::error_code ec;
  socket.set_option(Tcp::no_delay(true), ec);
  std::string remote = remote_of(socket);
  WsStream ws(std::move(socket));
  ws.binary(true);
  ws.read_message_max(limits.max_frame);
  ws.auto_fragment(false);
  ws.set_option(websocket::stream_base::timeout{std::chrono::seconds(10), websocket::stream_base::none(), false});
  auto [aec] = co_await ws.async_accept(use_tuple);
  if (aec) co_return;  // not a WebSocket handshake: nothing to tell
  Connection c(id, TransportKind::websocket, std::move(remote), limits, ws.get_executor());
  c.set_canceller([&ws] {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).cancel(ignored);
    beast::get_lowest_layer(ws).shutdown(Tcp::socket::shutdown_both, ignored);
  });
  events.on_open(c);
  using namespace asio::experimental::awaitable_operators;
  co_await (ws_reader(ws, c, events) && ws_writer(ws, c));
  events.on_close(c, c.end_reason());
  beast::get_lowest_layer(ws).close(ec);
}

Tcp::acceptor make_reuseport_acceptor(asio::any_io_executor ex, const Tcp::endpoint& ep, int backlog) {
  Tcp::acceptor acc(ex);
  acc.open(ep.protocol());
  acc.set_option(Tcp::acceptor::reuse_address(true));
  int one = 1;
  if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw boost::system::system_error(errno, boost::system::system_category(), "SO_REUSEPORT");
  }
  acc.bind(ep);
  acc.listen(backlog);
  return acc;
}

}  // namespace sb::net
