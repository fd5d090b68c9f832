// Asio/Beast aliases for warden's .cc files only (never include from a
// public header: these templates are heavy).
#pragma once

#include <exception>
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace brig::warden {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

// Every I/O object names io_context's executor type, not the type-erased
// any_io_executor: each operation would otherwise copy, compare and destroy
// a polymorphic executor several times (about 7% of warden's CPU under load).
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor>;
using TcpStream = beast::basic_stream<tcp, Executor>;
// The host relay's unix socket (host_relay.h).
using UnixSocket = asio::basic_stream_socket<asio::local::stream_protocol, Executor>;
using UnixStream = beast::basic_stream<asio::local::stream_protocol, Executor>;

#if defined(BOOST_ASIO_HAS_CO_AWAIT)  // g++ 12; the clang fuzz build only needs the HTTP types
template <class T = void>
using awaitable = boost::asio::awaitable<T, Executor>;

// co_await op(..., use_ec(ec)): errors land in ec instead of throwing.
inline auto use_ec(error_code& ec) { return asio::redirect_error(asio::use_awaitable_t<Executor>{}, ec); }
#endif

// co_spawn's completion for a connection's coroutine: an exception that
// escaped it is logged, never rethrown (server.cc).
void log_escaped(std::exception_ptr e);

}  // namespace brig::warden
