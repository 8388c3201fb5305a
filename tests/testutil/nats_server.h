#pragma once
// Runs Debian's `nats-server` (JetStream on, a store dir of its own) as child processes on
// loopback ports the OS handed out: one server, or a cluster of several with routes to
// each other. For cluster-mode tests (issue 20); they skip when nats-server is missing.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "testutil/testutil.h"

namespace eddy::test {

inline constexpr const char* kNatsServer = "/usr/sbin/nats-server";
bool HaveNatsServer();

class NatsCluster {
 public:
  // Starts `n` servers (n > 1: a cluster named "eddy" with routes between them); waits
  // (polling) until each accepts client connections.
  explicit NatsCluster(int n);
  ~NatsCluster();

  bool started() const { return started_; }
  // The client URLs, "nats://127.0.0.1:<port>".
  std::vector<std::string> urls() const;
  // Kills server i with `sig` and waits for it.
  void Kill(size_t i, int sig);
  std::string Log(size_t i) const;

 private:
  TempDir dir_;
  std::vector<pid_t> pids_;
  std::vector<uint16_t> client_ports_;
  bool started_ = false;
};

// A loopback TCP port the OS reports free (bound to port 0 and released).
uint16_t FreePort();

}  // namespace eddy::test
