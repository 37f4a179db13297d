// HttpIngestDriver: readings pushed by devices and terminals over HTTP (meal and
// check-in terminals, camera people-counters with an HTTP push).
//
// POST /api/v1/readings with a JSON batch (IngestBody). The answer waits for the core:
// 202 only once the batch is committed to the buffer; 400 naming the bad field; 429
// with Retry-After when the core pushes back (kBusy: nothing was stored, the client
// sends again); 503 while the gateway stops, and 503 with Retry-After (10 s disk
// full, 5 s I/O error) when the buffer cannot take the batch. Decided by gw_http from the header, before
// a byte of body is read: 401 without the configured bearer token (constant-time), 413
// over max_body_bytes, 415 unless the media type is application/json, 503 with
// Retry-After once 8 MiB (or 8 x max_body_bytes) of bodies are in memory across all
// connections; `Expect: 100-continue` is answered once the header passed. It serves on the
// shared gw_http server (Beast), bound to 127.0.0.1 unless configured otherwise, with
// keep-alive, a connection cap and a deadline against slow clients.
//
// Threads: everything runs on the core's io_context; Start()/Stop() on its thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/driver.h"

namespace http_ingest {

struct HttpIngestStats {
  uint64_t requests = 0;
  uint64_t accepted_batches = 0;
  uint64_t accepted_readings = 0;
  uint64_t bad_requests = 0;  // 400
  uint64_t busy = 0;          // 429
  uint64_t unavailable = 0;   // 503: the buffer could not commit (disk full, I/O error)
};

class HttpIngestDriver final : public gateway::Driver {
 public:
  HttpIngestDriver(boost::asio::io_context& io, const gateway::Config& config, const gateway::Clock& clock);
  ~HttpIngestDriver() override;

  std::string Name() const override { return "http"; }
  gateway::Status Start(gateway::ReadingSink& sink) override;
  void Stop() override;

  uint16_t port() const;  // the bound port (after Start)
  const HttpIngestStats& stats() const;
  // Readings committed; errors = 400s + 429s + the server's 413/431, 401 and timeouts.
  gateway::DriverStats Stats() const override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace http_ingest
