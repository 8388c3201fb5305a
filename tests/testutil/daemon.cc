#include "testutil/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace eddy::test {

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

namespace {

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Daemon::Daemon(const std::string& config_toml, std::vector<std::string> extra_args,
               std::string data_dir) {
  if (data_dir.empty()) data_dir = (dir_.path() / "data").string();
  const std::string config = (dir_.path() / "eddy.toml").string();
  std::ofstream(config) << config_toml;
  const std::string port_file = (dir_.path() / "port").string();
  std::vector<std::string> argv = {EDDY_BINARY,  "--config",   config,
                                   "--port",     "0",          "--port-file",
                                   port_file,    "--data-dir", data_dir};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  pid_ = Spawn(argv, (dir_.path() / "eddy.log").string());
  // Poll for the port file (written atomically once listening) or an early exit.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      port_ = static_cast<uint16_t>(port);
      return;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Daemon::~Daemon() {
  if (pid_ > 0) Stop(SIGKILL);
}

void Daemon::Signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

int Daemon::Stop(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return ExitCode(status);
}

std::string Daemon::Log() const { return ReadFile((dir_.path() / "eddy.log").string()); }

std::pair<int, std::string> RunCommand(const std::vector<std::string>& argv) {
  TempDir dir;
  const std::string out = (dir.path() / "out").string();
  pid_t pid = Spawn(argv, out);
  int status = 0;
  waitpid(pid, &status, 0);
  return {ExitCode(status), ReadFile(out)};
}

}  // namespace eddy::test
