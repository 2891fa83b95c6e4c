#pragma once
// http_get: one blocking HTTP/1.1 GET on loopback, for tests that read a real server's admin or
// monitoring port (a node's /v1/nodes, nats-server's /routez). 1 s socket timeouts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

namespace sb::test {

/// GET `path` on 127.0.0.1:`port`; the body of a 200 answer, nullopt otherwise (refused, timeout,
/// another status). Blocking, 1 s socket timeouts.
inline std::optional<std::string> http_get(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  if (got.rfind("HTTP/1.1 200", 0) != 0 && got.rfind("HTTP/1.0 200", 0) != 0) return std::nullopt;
  const auto body = got.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : got.substr(body + 4);
}

}  // namespace sb::test
