// HttpServer: a small HTTP/1.1 server (Boost.Beast) on the core's io_context, shared by
// the status page, /metrics, the health probes and the HTTP ingest driver.
//
// Ownership: the component that serves (the App, a driver) owns the HttpServer and
// registers its routes before Start(). Route(), Start(), Stop() and the accessors are
// called on the loop thread. Each connection runs on its own strand of the same
// io_context; since the gateway runs that io_context on one thread, handlers run on the
// loop thread and may read the core's components directly. Responder::Send and the
// EventStream methods may be called from any thread: they only post to the connection.
// Handlers must not throw (a throwing handler gets a 500 and a log line, never an
// exception through Asio).
//
// Protection for a board on a shared LAN: every refusal that the header allows (404,
// 405, 401, 415, 417, 503 when the body memory across connections is spent) is decided
// before a byte of body is read; `Expect: 100-continue` is answered once the header
// passed. Bounded header (431) and body (413) sizes, a
// deadline for a whole request counted from the moment the connection is idle (a
// slow-loris client that trickles bytes is cut off), a write deadline, a cap on
// concurrent connections (503 past it), and a bounded queue per event stream (a client
// that stops reading is dropped rather than growing memory).
//
// Authentication is optional and per server: set_authenticator() installs a check that
// every route not marked public must pass (401 with the given challenge otherwise).
// CheckBasicAuth and CheckBearerToken compare secrets in constant time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/status.h"

namespace gateway::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Verb = boost::beast::http::verb;
using HttpStatus = boost::beast::http::status;

struct ServerOptions {
  std::string name = "http";         // for log lines
  std::string address = "127.0.0.1";  // loopback unless the operator asks for more
  uint16_t port = 0;                 // 0: an ephemeral port, logged and returned by port()
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 64 * 1024;
  // Request bodies in memory across all connections at once: past it a request is
  // answered 503 with Retry-After from its header, before its body is read.
  size_t max_total_body_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds request_timeout{10000};  // idle or partial request: closed after this
  std::chrono::milliseconds write_timeout{10000};
  size_t max_connections = 32;              // event streams included
  size_t max_stream_queue_bytes = 256 * 1024;  // per event stream
};

struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over max_connections: 503
  uint64_t requests = 0;
  uint64_t too_large = 0;            // 413 or 431
  uint64_t bad_requests = 0;         // unparsable: 400
  uint64_t timeouts = 0;             // request or write deadline passed
  uint64_t unauthorized = 0;         // 401
  uint64_t handler_errors = 0;       // a handler threw or dropped its Responder: 500
  uint64_t busy = 0;                 // max_total_body_bytes reached: 503
  size_t body_bytes_reserved = 0;    // request bodies held now
  size_t open_connections = 0;
  size_t open_streams = 0;
};

namespace detail {
struct ResponderState;
struct StreamState;
class Session;
struct ServerCore;
}  // namespace detail

// Hands an asynchronous handler's response back to its connection. Copyable; the first
// Send wins, later ones are ignored. Any thread. If every copy is dropped without a
// Send, the client gets a 500 rather than a hung connection.
class Responder {
 public:
  Responder() = default;
  void Send(Response res) const;
  void operator()(Response res) const { Send(std::move(res)); }
  // False once the client has gone away (the response would be discarded).
  bool connected() const;

 private:
  friend class detail::Session;
  explicit Responder(std::shared_ptr<detail::ResponderState> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::ResponderState> state_;
};

// A server-sent-events stream that a handler has taken over. The server has already
// written the response header (text/event-stream); the handler keeps the shared_ptr and
// pushes events until it or the client closes. Any thread.
class EventStream {
 public:
  // One event; data with newlines becomes several "data:" lines, as SSE requires.
  void Send(std::string_view event, std::string_view data);
  // A comment line, to keep proxies and NAT from closing an idle stream.
  void SendComment(std::string_view text);
  void Close();
  bool closed() const;
  // Runs once on the loop when the stream ends for any reason other than the server
  // being destroyed (client gone, Close(), Stop(), queue overflow).
  void set_on_close(std::function<void()> f);

  explicit EventStream(std::shared_ptr<detail::StreamState> s) : state_(std::move(s)) {}

 private:
  void Write(std::string chunk);
  std::shared_ptr<detail::StreamState> state_;
};

using Handler = std::function<Response(const Request& req)>;
using AsyncHandler = std::function<void(const Request& req, Responder respond)>;
using StreamHandler = std::function<void(const Request& req, std::shared_ptr<EventStream> stream)>;

struct RouteOptions {
  bool is_public = false;  // skips the authenticator (health probes)
  // When set, a body with another Content-Type is refused 415 from the header (an
  // absent Content-Type passes). Matched exactly (MediaTypeIs), not by substring.
  std::string media_type = {};
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // A path is matched exactly, or as a prefix when it ends in "/*" ("/ingest/*" matches
  // "/ingest/a/b"); exact routes win, then the longest prefix. A GET route also answers
  // HEAD. A path with routes for other methods answers 405 with Allow.
  void Route(Verb method, std::string path, Handler handler, RouteOptions opts = {});
  void RouteAsync(Verb method, std::string path, AsyncHandler handler, RouteOptions opts = {});
  void RouteStream(std::string path, StreamHandler handler, RouteOptions opts = {});  // GET

  // `check` returns true when the request may pass; `challenge` is the
  // WWW-Authenticate value of the 401 (e.g. `Basic realm="gateway", charset="UTF-8"`).
  void set_authenticator(std::function<bool(const Request&)> check, std::string challenge);

  // Binds and listens; logs the address and the actual port.
  Status Start();
  // Stops accepting and closes every connection, event streams included.
  void Stop();

  uint16_t port() const;
  const std::string& address() const;
  ServerStats stats() const;

 private:
  void DoAccept();
  std::shared_ptr<detail::ServerCore> core_;
};

// --- helpers for handlers ---

// A response with the request's version and keep-alive, a body and its content type.
Response MakeResponse(const Request& req, HttpStatus status, std::string body,
                      std::string_view content_type = "text/plain; charset=utf-8");

// Beast (Boost 1.74) has its own string_view; handlers mostly want the standard one.
inline std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

// The path and the query of a request target ("/a/b?x=1" -> "/a/b", "x=1").
std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target);
inline std::pair<std::string_view, std::string_view> SplitTarget(const Request& req) {
  return SplitTarget(View(req.target()));
}
// The decoded value of one query parameter, if present.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);

// True when a Content-Type value names `want` ("application/json"): type and subtype
// equal (case-insensitive), and no parameter but charset=utf-8. "text/plain;
// charset=json" is not JSON.
bool MediaTypeIs(std::string_view content_type, std::string_view want);

// Compares in time that depends only on the lengths, not on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// "Basic dXNlcjpwYXNz" -> {"user", "pass"}; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> ParseBasicAuth(std::string_view header_value);
bool CheckBasicAuth(const Request& req, std::string_view user, std::string_view password);
bool CheckBearerToken(const Request& req, std::string_view token);
std::string Base64Encode(std::string_view in);

}  // namespace gateway::http
