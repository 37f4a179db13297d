// community-gateway: argv -> config -> App::Run.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "core/app.h"
#include "gateway/config.h"
#include "report/writers.h"

#ifndef GATEWAY_VERSION
#define GATEWAY_VERSION "0.0.0"
#endif

namespace {

// Prints every problem as file:line: message; returns whether the config is usable.
bool Report(const gateway::ConfigLoad& load) {
  for (const auto& w : load.warnings) std::cerr << w.ToString() << " (warning)\n";
  for (const auto& e : load.errors) std::cerr << e.ToString() << "\n";
  return load.ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"community-gateway: IoT edge gateway for community facilities (Sparkplug B over MQTT)"};
  cli.set_version_flag("--version", std::string("community-gateway ") + GATEWAY_VERSION);
  cli.require_subcommand(1);

  std::string config_path;
  std::vector<std::string> brokers;
  std::string data_dir;
  std::string log_level;
  bool live = false;

  auto* run = cli.add_subcommand("run", "run the gateway until SIGTERM or SIGINT");
  run->add_option("--config,-c", config_path, "configuration file (YAML)")->required();
  run->add_option("--broker", brokers, "broker URI, overrides uplink.brokers (repeatable)");
  run->add_option("--data-dir", data_dir, "overrides gateway.data_dir");
  run->add_option("--log-level", log_level, "overrides log.level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  run->add_flag("--live", live, "show live occupancy per facility and the uplink state on stdout");

  auto* check = cli.add_subcommand("check-config", "check a configuration file and exit");
  check->add_option("--config,-c", config_path, "configuration file (YAML)")->required();

  gateway::report::ReportRequest report_req;
  auto* report = cli.add_subcommand("report", "write a utilisation report from the gateway's history");
  report->add_option("--config,-c", config_path, "configuration file (YAML)")->required();
  report->add_option("--from", report_req.from, "first local date, YYYY-MM-DD")->required();
  report->add_option("--to", report_req.to, "last local date, YYYY-MM-DD (inclusive)")->required();
  report->add_option("--facility", report_req.facilities, "facility id (repeatable; default all)");
  report->add_option("--format", report_req.format, "csv, json or html")
      ->check(CLI::IsMember({"csv", "json", "html"}));
  report->add_option("--out,-o", report_req.out, "output file ('-' for stdout)")->required();
  report->add_option("--data-dir", data_dir, "overrides gateway.data_dir");
  report->add_option("--generated-at", report_req.generated_at,
                     "stamp printed as the generation time (default: now, UTC)");

  CLI11_PARSE(cli, argc, argv);

  // Under systemd (JOURNAL_STREAM names our stderr) log straight to the journal, with
  // priorities, so `journalctl -u community-gateway -p warning` finds the problems.
  if (std::getenv("JOURNAL_STREAM") != nullptr && run->parsed()) {
    auto logger = std::make_shared<spdlog::logger>(
        "gateway", std::make_shared<spdlog::sinks::systemd_sink_mt>("community-gateway"));
    spdlog::set_default_logger(logger);
  } else {
    auto logger = spdlog::stderr_color_mt("gateway");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  }

  gateway::ConfigLoad load = gateway::LoadConfig(config_path);
  if (check->parsed()) {
    if (!Report(load)) return 2;
    size_t sensors = 0;
    for (const auto& f : load.config.facilities) sensors += f.sensors.size();
    std::cout << config_path << ": OK (" << load.config.facilities.size() << " facilities, " << sensors
              << " sensors)\n";
    for (const auto& missing : gateway::MissingSetup(load.config)) {
      std::cout << config_path << ": not set up yet: " << missing << "\n";
    }
    return 0;
  }

  if (report->parsed()) {
    if (!Report(load)) return 2;
    if (!data_dir.empty()) load.config.data_dir = data_dir;
    spdlog::set_level(spdlog::level::warn);
    gateway::Status s = gateway::report::RunReport(load.config, report_req);
    if (!s.ok()) {
      std::cerr << "report: " << s.message() << "\n";
      return 2;
    }
    return 0;
  }

  if (!Report(load)) return 2;
  gateway::Config config = std::move(load.config);
  if (!brokers.empty()) config.uplink.brokers = brokers;
  if (!data_dir.empty()) config.data_dir = data_dir;
  if (!log_level.empty()) config.log.level = log_level;
  spdlog::set_level(spdlog::level::from_str(config.log.level));

  gateway::App app(std::move(config), gateway::AppOptions{GATEWAY_VERSION, live});
  return app.Run();
}
