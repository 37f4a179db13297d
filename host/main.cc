// community-host: the town's Sparkplug B Primary Host Application, into PostgreSQL.
//
// Loads the config (errors name file, line and key, exit 2), then runs the HostLoop on
// the main thread until SIGINT/SIGTERM. The signal handler only sets a flag.
// `community-host report ...` instead writes the town report (town_report.h) and exits:
// 0, or 2 with one line on stderr. `community-host hash-password NAME` reads a password
// on stdin (not echoed on a terminal) and prints the users-file line for NAME
// (board_auth.h); it needs no config.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>

#include <termios.h>
#include <unistd.h>

#include "board_auth.h"
#include "host_config.h"
#include "host_loop.h"
#include "host_metrics.h"
#include "town_board.h"
#include "town_report.h"
#include "town_report_writers.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

struct ReportArgs {
  std::string from, to, type, format = "html", out, generated_at;
  std::vector<std::string> groups;
};

int RunHashPassword(const std::string& name) {
  if (!host::ValidOperatorName(name)) {
    std::fprintf(stderr, "hash-password: a name is 1 to 64 of A-Z a-z 0-9 . _ @ -\n");
    return 2;
  }
  const bool tty = ::isatty(0) == 1;
  termios old{};
  if (tty) {
    std::fprintf(stderr, "password for %s: ", name.c_str());
    ::tcgetattr(0, &old);
    termios quiet = old;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    ::tcsetattr(0, TCSANOW, &quiet);
  }
  std::string password;
  std::getline(std::cin, password);
  if (tty) {
    ::tcsetattr(0, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty() || password.size() > 1024) {
    std::fprintf(stderr, "hash-password: the password must be 1 to 1024 bytes on one line\n");
    return 2;
  }
  std::printf("%s:%s\n", name.c_str(), host::HashPassword(password).c_str());
  std::fill(password.begin(), password.end(), '\0');
  return 0;
}

int RunReport(const host::HostConfig& config, const ReportArgs& a) {
  host::TownReportQuery q{a.from, a.to, a.groups.empty() ? config.groups : a.groups, a.type, config.timezone};
  auto report = host::LoadTownReport(config.pg_conninfo, config.pg_password, q);
  if (!report.ok()) {
    std::fprintf(stderr, "report: %s\n", report.status().message().c_str());
    return 2;
  }
  std::string generated = a.generated_at;
  if (generated.empty()) {
    char buf[32];
    std::time_t now = std::time(nullptr);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    generated = buf;
  }
  std::string text = a.format == "csv"    ? host::WriteTownCsv(*report)
                     : a.format == "json" ? host::WriteTownJson(*report, generated)
                                          : host::WriteTownHtml(*report, generated);
  if (a.out == "-") {
    std::cout << text;
    return 0;
  }
  std::ofstream f(a.out, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    std::fprintf(stderr, "report: cannot write %s\n", a.out.c_str());
    return 2;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"community-host: Sparkplug B primary host for the gateways of a town, into PostgreSQL"};
  std::string config_path;
  app.add_option("-c,--config", config_path, "YAML config file (all but hash-password)");
  app.fallthrough();
  ReportArgs ra;
  auto* rep = app.add_subcommand("report", "write the town report (docs/town-host.md) and exit");
  rep->add_option("--from", ra.from, "first local date YYYY-MM-DD")->required();
  rep->add_option("--to", ra.to, "last local date YYYY-MM-DD (inclusive)")->required();
  rep->add_option("--group", ra.groups, "a group (town); repeat; default: the config's host.groups");
  rep->add_option("--type", ra.type, "only facilities of this type")
      ->check(CLI::IsMember({"canteen", "elderly_station", "charging_station", "fitness_point"}));
  rep->add_option("--format", ra.format, "csv, json or html")->check(CLI::IsMember({"csv", "json", "html"}));
  rep->add_option("--out", ra.out, "file to write; - for stdout")->required();
  rep->add_option("--generated-at", ra.generated_at, "stamp printed in the report; default: now (UTC)");
  std::string operator_name;
  auto* hp = app.add_subcommand("hash-password", "read a password on stdin, print the board.users_file line of NAME");
  hp->add_option("name", operator_name, "the operator's name")->required();
  CLI11_PARSE(app, argc, argv);
  if (hp->parsed()) return RunHashPassword(operator_name);
  if (config_path.empty()) {
    std::fprintf(stderr, "--config is required\n");
    return 2;
  }

  auto config = host::LoadHostConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 2;
  }
  if (rep->parsed()) return RunReport(config.value(), ra);
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
  std::unique_ptr<host::TownBoard> board;
  if (config->board_enabled) {
    board = std::make_unique<host::TownBoard>(config.value());
    if (auto s = board->Start(); !s.ok()) {
      spdlog::error("board: {}", s.message());
      return 1;
    }
    spdlog::info("board: http://{}:{}/", config->board_address, board->port());
  }
  host::HostLoop loop(config.value(), metrics.get());
  loop.Run(g_stop);
  if (board) board->Stop();
  if (metrics) metrics->Stop();
  return 0;
}
