// eddy: the daemon and its subcommands.
//   eddy [--config FILE] [--port N] [--host H] [--data-dir D] [--set section.key=value]...
//   eddy check-config FILE
//   eddy --version | --help

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "config/loader.h"
#include "eddy/engine.h"
#include "http/server.h"

namespace {

using eddy::ConfigSources;
using eddy::Options;

int CheckConfig(const std::string& file) {
  ConfigSources src;
  src.file = file;
  src.use_env = false;
  eddy::Result<Options> o = eddy::LoadOptions(src);
  if (!o.ok()) {
    std::cerr << "eddy: " << o.status().message() << "\n";
    return 2;
  }
  std::cout << file << ": OK\n";
  return 0;
}

// Blocks SIGINT/SIGTERM in every thread (threads inherit the mask) so that sigwait()
// in main receives them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int Serve(const ConfigSources& src, const std::string& port_file) {
  eddy::Result<Options> loaded = eddy::LoadOptions(src);
  if (!loaded.ok()) {
    std::cerr << "eddy: " << loaded.status().message() << "\n";
    return 2;
  }
  const Options& options = *loaded;
  spdlog::set_level(spdlog::level::from_str(options.logging.level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  sigset_t signals = BlockStopSignals();
  eddy::Result<std::unique_ptr<eddy::Engine>> engine = eddy::Engine::Open(options);
  if (!engine.ok()) {
    spdlog::critical("cannot start: {}", engine.status().message());
    return 1;
  }
  eddy::HttpServer server(**engine, options.server);
  if (eddy::Status st = server.Start(); !st.ok()) {
    spdlog::critical("cannot start: {}", st.message());
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << server.port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  spdlog::info("eddy {} ready on http://{}:{}", EDDY_VERSION, options.server.host, server.port());

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: logs go to stderr; nothing to reopen");
      continue;
    }
    spdlog::info("{}: stopping: refusing new requests, draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
  server.BeginShutdown();
  (*engine)->Stop();
  server.Join();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"eddy: an embedded real-time event streaming and recommendation engine"};
  app.set_version_flag("--version", std::string("eddy ") + EDDY_VERSION);

  ConfigSources src;
  std::string port_file;
  std::string host, data_dir, log_level;
  int port = -1;
  std::vector<std::string> sets;
  app.add_option("-c,--config", src.file, "TOML config file (default: none, built-in defaults)");
  app.add_option("--host", host, "Override server.host");
  app.add_option("-p,--port", port, "Override server.port (0 = any free port)");
  app.add_option("--data-dir", data_dir, "Override durability.data_dir");
  app.add_option("--log-level", log_level, "Override logging.level");
  app.add_option("--set", sets, "Override any key: --set section.key=value (repeatable)");
  app.add_option("--port-file", port_file,
                 "Write the bound port to this file once listening (for scripts and tests)");
  app.footer(
      "Precedence: config file < EDDY_<SECTION>_<KEY> environment variables < flags.\n"
      "Subcommands: check-config FILE validates a config file and exits.");

  std::string check_file;
  CLI::App* check = app.add_subcommand("check-config", "Validate a config file and exit");
  check->add_option("file", check_file, "The TOML file")->required();

  CLI11_PARSE(app, argc, argv);
  if (*check) return CheckConfig(check_file);

  for (const std::string& s : sets) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) {
      std::cerr << "eddy: --set " << s << ": expected section.key=value\n";
      return 2;
    }
    src.overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  if (!host.empty()) src.overrides.emplace_back("server.host", host);
  if (port >= 0) src.overrides.emplace_back("server.port", std::to_string(port));
  if (!data_dir.empty()) src.overrides.emplace_back("durability.data_dir", data_dir);
  if (!log_level.empty()) src.overrides.emplace_back("logging.level", log_level);
  return Serve(src, port_file);
}
