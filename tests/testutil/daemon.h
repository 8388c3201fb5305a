#pragma once
// Runs the real `eddy` binary as a child process on a free loopback port (port 0, told
// through --port-file) with its own temp data dir.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "testutil/testutil.h"

namespace eddy::test {

class Daemon {
 public:
  // Starts `eddy --config <config> --port 0 ... extra_args`; waits (polling) until it
  // listens. `config_toml` is written to a file in the temp dir.
  // `data_dir` (default: <temp dir>/data) lets several daemons in turn share one.
  explicit Daemon(const std::string& config_toml, std::vector<std::string> extra_args = {},
                  std::string data_dir = {});
  ~Daemon();

  bool started() const { return port_ != 0; }
  uint16_t port() const { return port_; }
  // Sends `sig` and waits for exit; returns the exit status (or 128+signal if killed).
  int Stop(int sig);
  // Sends `sig` (SIGHUP, say) without waiting.
  void Signal(int sig) const;
  // Everything the daemon wrote to stderr so far.
  std::string Log() const;
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Starts `argv` (argv[0] a path) as a child process with stdout and stderr to `out_path`.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path);

// Runs a command to completion; returns {exit status, stdout+stderr}.
std::pair<int, std::string> RunCommand(const std::vector<std::string>& argv);

}  // namespace eddy::test
