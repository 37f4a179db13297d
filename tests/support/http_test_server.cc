// http_test_server: the gateway's HttpServer alone, with routes that exercise each of its
// paths, for tests/integration/test_http_server.py. Prints "port N" on stdout once
// listening; stops on SIGTERM/SIGINT.
//
//   http_test_server [--max-connections N] [--request-timeout-ms N] [--max-body N]
//                    [--user U --password P] [--token T]
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "http/http_server.h"

using namespace gateway::http;

int main(int argc, char** argv) {
  ServerOptions opts;
  opts.name = "test-http";
  std::string user, password, token;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--max-connections") opts.max_connections = std::stoul(v);
    else if (k == "--request-timeout-ms") opts.request_timeout = std::chrono::milliseconds(std::stol(v));
    else if (k == "--max-body") opts.max_body_bytes = std::stoul(v);
    else if (k == "--max-header") opts.max_header_bytes = std::stoul(v);
    else if (k == "--user") user = v;
    else if (k == "--password") password = v;
    else if (k == "--token") token = v;
    else if (k == "--address") opts.address = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("test"));  // stdout carries the port
  spdlog::set_level(spdlog::level::debug);
  boost::asio::io_context io;
  HttpServer server(io, opts);

  server.Route(Verb::get, "/hello", [](const Request& req) {
    auto [path, query] = SplitTarget(req);
    std::string name = QueryParam(query, "name").value_or("world");
    return MakeResponse(req, HttpStatus::ok, "hello " + name + "\n");
  });
  server.Route(Verb::get, "/healthz", [](const Request& req) {
    return MakeResponse(req, HttpStatus::ok, "ok\n");
  }, RouteOptions{.is_public = true});
  server.Route(Verb::get, "/throw", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  // Answers after a delay, from a timer: the shape of a handler that waits for a commit.
  server.RouteAsync(Verb::post, "/echo", [&io](const Request& req, Responder respond) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(50));
    Response res = MakeResponse(req, HttpStatus::ok, req.body(), "application/octet-stream");
    timer->async_wait([timer, respond, res = std::move(res)](boost::system::error_code) mutable {
      respond(std::move(res));
    });
  });
  server.RouteAsync(Verb::get, "/drop", [](const Request&, Responder) {});
  server.Route(Verb::get, "/prefix/*", [](const Request& req) {
    return MakeResponse(req, HttpStatus::ok, "prefix " + std::string(View(req.target())) + "\n");
  });
  server.Route(Verb::get, "/prefix/exact", [](const Request& req) {
    return MakeResponse(req, HttpStatus::ok, "exact\n");
  });
  // Five events 30 ms apart, then the server closes the stream.
  server.RouteStream("/events", [&io](const Request&, std::shared_ptr<EventStream> stream) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io);
    auto n = std::make_shared<int>(0);
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [timer, n, stream, tick] {
      if (stream->closed()) {
        *tick = nullptr;
        return;
      }
      if (*n == 5) {
        stream->Close();
        *tick = nullptr;
        return;
      }
      stream->Send("tick", "n=" + std::to_string((*n)++) + "\nsecond line");
      timer->expires_after(std::chrono::milliseconds(30));
      timer->async_wait([tick](boost::system::error_code ec) {
        if (!ec && *tick) (*tick)();
      });
    };
    (*tick)();
  });
  // 64 KiB events every 5 ms until the stream ends: a client that does not read must be
  // dropped once the server's queue for it passes max_stream_queue_bytes.
  server.RouteStream("/flood", [&io](const Request&, std::shared_ptr<EventStream> stream) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io);
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [timer, stream, tick] {
      if (stream->closed()) {
        *tick = nullptr;
        return;
      }
      stream->Send("flood", std::string(64 * 1024, 'x'));
      timer->expires_after(std::chrono::milliseconds(5));
      timer->async_wait([tick](boost::system::error_code ec) {
        if (!ec && *tick) (*tick)();
      });
    };
    (*tick)();
  });
  // Never-ending stream, for the connection cap and client-gone tests.
  server.RouteStream("/forever", [](const Request&, std::shared_ptr<EventStream> stream) {
    stream->SendComment("open");
    stream->set_on_close([] { spdlog::info("forever stream closed"); });
  });
  server.Route(Verb::get, "/stats", [&server](const Request& req) {
    auto s = server.stats();
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "accepted=%llu refused=%llu requests=%llu too_large=%llu bad=%llu timeouts=%llu "
                  "unauthorized=%llu handler_errors=%llu open=%zu streams=%zu\n",
                  (unsigned long long)s.connections_accepted, (unsigned long long)s.connections_refused,
                  (unsigned long long)s.requests, (unsigned long long)s.too_large,
                  (unsigned long long)s.bad_requests, (unsigned long long)s.timeouts,
                  (unsigned long long)s.unauthorized, (unsigned long long)s.handler_errors,
                  s.open_connections, s.open_streams);
    return MakeResponse(req, HttpStatus::ok, buf);
  }, RouteOptions{.is_public = true});

  if (!user.empty()) {
    server.set_authenticator([user, password](const Request& r) { return CheckBasicAuth(r, user, password); },
                             "Basic realm=\"test\", charset=\"UTF-8\"");
  } else if (!token.empty()) {
    server.set_authenticator([token](const Request& r) { return CheckBearerToken(r, token); }, "Bearer");
  }

  auto st = server.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("port %u\n", server.port());
  std::fflush(stdout);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    server.Stop();
    io.stop();
  });
  io.run();
  return 0;
}
