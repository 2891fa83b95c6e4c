// raw_writev_baseline: the floor for lobby fan-out on this machine.
//
// Opens N TCP connections over loopback from a child process (the receivers, like the bots), then
// the parent sends 64-byte frames to every connection in batches of B frames per writev() (the
// same batching the server's connection writer does) while the child drains them with epoll.
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
#include <sys/wait.h>
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
  if (static_cast<rlim_t>(n + 16) > lim.rlim_cur) {
    std::fprintf(stderr, "need %d fds, limit %llu\n", n + 16, static_cast<unsigned long long>(lim.rlim_cur));
    return 1;
  }
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  listen(lfd, 65535);
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  int result_pipe[2];
  if (pipe(result_pipe) != 0) return 1;
  // The receiving side is a separate process (like the bots): each side holds n sockets.
  const pid_t child = fork();
  if (child == 0) {
    close(lfd);
    std::vector<int> receivers;
    for (int i = 0; i < n; ++i) {
      int c = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("connect");
        _exit(1);
      }
      receivers.push_back(c);
    }
    int ep = epoll_create1(0);
    for (int fd : receivers) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    std::vector<epoll_event> evs(1024);
    std::vector<char> buf(65536);
    unsigned long long received = 0;
    int idle = 0;
    bool started = false;
    while (idle < 10) {  // until 1 s without data after the flow started
      int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      if (k <= 0 && started) ++idle;
      for (int i = 0; i < k; ++i) {
        const int fd = evs[static_cast<std::size_t>(i)].data.fd;
        ssize_t r = read(fd, buf.data(), buf.size());
        if (r > 0) {
          received += static_cast<unsigned long long>(r);
          started = true;
          idle = 0;
        } else {
          epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);  // EOF: the sender is done with it
          close(fd);
        }
      }
    }
    if (write(result_pipe[1], &received, sizeof received) != sizeof received) _exit(1);
    _exit(0);
  }
  std::vector<int> senders;
  for (int i = 0; i < n; ++i) {
    int s = accept(lfd, nullptr, nullptr);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    senders.push_back(s);
  }
  std::vector<char> payload(static_cast<std::size_t>(frame), 'x');
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
  for (int fd : senders) close(fd);
  unsigned long long received = 0;
  if (read(result_pipe[0], &received, sizeof received) != sizeof received) return 1;
  waitpid(child, nullptr, 0);
  const double delivered = static_cast<double>(received) / frame;
  std::printf("{\"connections\": %d, \"batch\": %d, \"frame_bytes\": %d, \"seconds\": %.2f, "
              "\"frames_sent\": %llu, \"frames_delivered\": %.0f, \"deliveries_per_sec\": %.0f}\n",
              n, batch, frame, elapsed, sent_frames, delivered, delivered / elapsed);
  return 0;
}
