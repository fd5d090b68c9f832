#include "host_relay_client.h"

#include <boost/asio/write.hpp>

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC PR 109224 (see connect.cc)

namespace brig::warden {

awaitable<Relayed> open_relayed(const std::string& socket_path, const RelayRequest& req,
                                std::chrono::milliseconds timeout) {
  Relayed out;
  const std::string what = req.service + " (port " + std::to_string(req.port) + ")";
  UnixStream s(co_await asio::this_coro::executor);
  s.expires_after(timeout);
  error_code ec;
  const asio::local::stream_protocol::endpoint ep(socket_path);
  co_await s.async_connect(ep, use_ec(ec));
  if (ec) {
    out.status = ec == beast::error::timeout ? 504 : 502;
    out.reason = "cannot reach the host relay at " + socket_path + ": " + ec.message();
    co_return out;
  }
  const std::string line = format_relay_request(req);
  co_await asio::async_write(s, asio::buffer(line), use_ec(ec));
  // The reply a byte at a time: what follows it is the service's, and is
  // left in the socket for whoever relays it.
  std::string reply;
  while (!ec && reply.size() < 32) {
    char c = 0;
    co_await s.async_read_some(asio::buffer(&c, 1), use_ec(ec));
    if (ec || c == '\n') break;
    reply += c;
  }
  if (ec) {
    out.status = ec == beast::error::timeout ? 504 : 502;
    out.reason = "the host relay did not answer for host service " + what + ": " + ec.message();
    co_return out;
  }
  switch (parse_relay_reply(reply).value_or(RelayReply::bad_request)) {
    case RelayReply::ok:
      s.expires_never();
      out.socket.emplace(s.release_socket());
      co_return out;
    case RelayReply::undeclared:
      out.status = 403;
      out.undeclared = true;
      out.reason = "the host relay refused host service " + what + ": no running cell " + req.cell + " declares it";
      co_return out;
    case RelayReply::refused:
      out.reason = "nothing listens on the host's port " + std::to_string(req.port) + " (host service " + req.service +
                   "): connection refused";
      co_return out;
    case RelayReply::timeout:
      out.status = 504;
      out.reason = "connecting to host service " + what + " timed out";
      co_return out;
    case RelayReply::unreachable:
      out.reason = "host service " + what + " is unreachable from the host relay";
      co_return out;
    case RelayReply::busy:
      out.status = 503;
      out.reason = "the host relay is at its connection limit";
      co_return out;
    case RelayReply::bad_request:
      break;
  }
  out.reason = "the host relay answered " + std::string(reply.substr(0, 32)) + " for host service " + what;
  co_return out;
}

}  // namespace brig::warden
