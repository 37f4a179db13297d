// community-host: the town's Sparkplug B Primary Host Application, into PostgreSQL.
//
// Loads the config (errors name file, line and key, exit 2), then runs the HostLoop on
// the main thread until SIGINT/SIGTERM. The signal handler only sets a flag.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "host_config.h"
#include "host_loop.h"
#include "host_metrics.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"community-host: Sparkplug B primary host for the gateways of a town, into PostgreSQL"};
  std::string config_path;
  app.add_option("-c,--config", config_path, "YAML config file")->required();
  CLI11_PARSE(app, argc, argv);

  auto config = host::LoadHostConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 2;
  }
  if (const char* lvl = std::getenv("HOST_LOG_LEVEL")) spdlog::set_level(spdlog::level::from_str(lvl));
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::info("community-host {}: groups {}", config->host_id, fmt::join(config->groups, ","));
  std::unique_ptr<host::HostMetrics> metrics;
  if (config->metrics_enabled) {
    metrics = std::make_unique<host::HostMetrics>(config->metrics_address, config->metrics_port);
    if (auto s = metrics->Start(); !s.ok()) {
      spdlog::error("metrics: {}", s.message());
      return 1;
    }
    spdlog::info("metrics: http://{}:{}/metrics", config->metrics_address, metrics->port());
  }
  host::HostLoop loop(config.value(), metrics.get());
  loop.Run(g_stop);
  if (metrics) metrics->Stop();
  return 0;
}
