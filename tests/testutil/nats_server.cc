#include "testutil/nats_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "testutil/daemon.h"

namespace eddy::test {
namespace {

bool Accepts(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool HaveNatsServer() { return std::filesystem::exists(kNatsServer); }

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

NatsCluster::NatsCluster(int n) {
  std::vector<uint16_t> route_ports;
  for (int i = 0; i < n; ++i) {
    client_ports_.push_back(FreePort());
    route_ports.push_back(FreePort());
  }
  std::string routes;
  for (uint16_t p : route_ports) routes += (routes.empty() ? "" : ",") + ("nats://127.0.0.1:" + std::to_string(p));
  for (int i = 0; i < n; ++i) {
    const std::string name = "n" + std::to_string(i);
    const std::string store = (dir_.path() / name).string();
    std::vector<std::string> argv = {kNatsServer, "-js", "-sd", store, "-n", name, "-a", "127.0.0.1",
                                     "-p", std::to_string(client_ports_[i])};
    if (n > 1) {
      argv.insert(argv.end(), {"--cluster_name", "eddy", "--cluster",
                               "nats://127.0.0.1:" + std::to_string(route_ports[i]), "--routes", routes});
    }
    pids_.push_back(Spawn(argv, (dir_.path() / (name + ".log")).string()));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (uint16_t p : client_ports_) {
    while (!Accepts(p) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the port
    }
    if (!Accepts(p)) return;
  }
  started_ = true;
}

NatsCluster::~NatsCluster() {
  for (size_t i = 0; i < pids_.size(); ++i) Kill(i, SIGKILL);
}

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (uint16_t p : client_ports_) out.push_back("nats://127.0.0.1:" + std::to_string(p));
  return out;
}

void NatsCluster::Kill(size_t i, int sig) {
  if (pids_[i] <= 0) return;
  kill(pids_[i], sig);
  int status = 0;
  waitpid(pids_[i], &status, 0);
  pids_[i] = -1;
}

std::string NatsCluster::Log(size_t i) const {
  std::ifstream in((dir_.path() / ("n" + std::to_string(i) + ".log")).string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace eddy::test
