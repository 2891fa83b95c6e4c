// raw_writev_baseline: the floor for lobby fan-out on this machine.
//
// Opens N TCP connections over loopback (server side accepted in-process), then one writer thread
// sends 64-byte frames to every connection in batches of B frames per writev() (the same batching
// the server's connection writer does) while one reader thread drains all connections with epoll.
// Reports frames delivered per second. No protocol, no sessions, no rooms: whatever Switchboard
// achieves in the fan-out benchmark is compared against this, measured in the same run.
// Usage: raw_writev_baseline [connections=18000] [seconds=10] [batch=8] [frame_bytes=68]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 18000;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 10;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 8;
  const int frame = argc > 4 ? std::atoi(argv[4]) : 68;  // 4-byte prefix + 64-byte chat payload
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  if (static_cast<rlim_t>(2 * n + 16) > lim.rlim_cur) {
    std::fprintf(stderr, "need %d fds, limit %llu\n", 2 * n + 16, static_cast<unsigned long long>(lim.rlim_cur));
    return 1;
  }
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  listen(lfd, 4096);
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> senders, receivers;
  for (int i = 0; i < n; ++i) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    // Spread source addresses so 18,000+ connections do not exhaust one address's ports.
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + static_cast<unsigned>(1 + i / 20000));
    bind(c, reinterpret_cast<sockaddr*>(&src), sizeof src);
    if (connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::perror("connect");
      return 1;
    }
    int s = accept(lfd, nullptr, nullptr);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    senders.push_back(s);
    receivers.push_back(c);
  }
  std::vector<char> payload(static_cast<std::size_t>(frame), 'x');
  std::atomic<bool> stop{false};
  std::atomic<unsigned long long> received_bytes{0};
  std::thread reader([&] {
    int ep = epoll_create1(0);
    for (int fd : receivers) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    std::vector<epoll_event> evs(1024);
    std::vector<char> buf(65536);
    while (!stop.load(std::memory_order_relaxed)) {
      int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int i = 0; i < k; ++i) {
        ssize_t r = read(evs[static_cast<std::size_t>(i)].data.fd, buf.data(), buf.size());
        if (r > 0) received_bytes.fetch_add(static_cast<unsigned long long>(r), std::memory_order_relaxed);
      }
    }
    close(ep);
  });
  std::vector<iovec> iov(static_cast<std::size_t>(batch), iovec{payload.data(), payload.size()});
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  unsigned long long sent_frames = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int fd : senders) {
      ssize_t w = writev(fd, iov.data(), batch);
      if (w > 0) sent_frames += static_cast<unsigned long long>(w) / static_cast<unsigned long long>(frame);
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  reader.join();
  const double delivered = static_cast<double>(received_bytes.load()) / frame;
  std::printf("{\"connections\": %d, \"batch\": %d, \"frame_bytes\": %d, \"seconds\": %.2f, "
              "\"frames_sent\": %llu, \"frames_delivered\": %.0f, \"deliveries_per_sec\": %.0f}\n",
              n, batch, frame, elapsed, sent_frames, delivered, delivered / elapsed);
  return 0;
}
