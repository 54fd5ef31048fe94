#pragma once
// Test harness helpers: temp directories, child processes started with posix_spawn (never fork:
// Paho threads may exist in the test process), and a line client for Unix control sockets.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace labgate::testing {

/// A fresh directory under the system temp dir, removed (recursively) on destruction.
class TempDir {
 public:
  /// Creates "<tmp>/<prefix>-XXXXXX".
  explicit TempDir(const std::string& prefix = "labgate-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// The directory.
  const std::filesystem::path& path() const { return path_; }
  /// path() / name.
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Output and exit status of a finished command.
struct RunResult {
  int exit_code{-1};  ///< exit status, or 128+signal
  std::string out;    ///< standard output
  std::string err;    ///< standard error
};

/// Runs argv[0] (a path) with the given arguments and waits; stdout/stderr captured.
RunResult run_command(const std::vector<std::string>& argv,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30),
                      const std::map<std::string, std::string>& extra_env = {});

/// A background child process. Its stdout+stderr go to a log file. Killed (SIGKILL) on destruction
/// if still running.
class Child {
 public:
  /// Starts argv with output appended to `log_path`.
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log_path,
        const std::map<std::string, std::string>& extra_env = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  /// Process id.
  pid_t pid() const { return pid_; }
  /// Sends a signal.
  void signal(int sig) const;
  /// Waits up to `timeout` for exit; returns the exit status (128+signal when killed) or nullopt.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  /// True while the process has not been reaped.
  bool running();

 private:
  pid_t pid_{-1};
  std::optional<int> status_;
};

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

/// A blocking line client for a Unix-domain stream socket (the daemon's control socket).
class LineClient {
 public:
  /// Connects, retrying until `timeout`; throws std::runtime_error when it cannot.
  explicit LineClient(const std::filesystem::path& socket_path,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;
  /// Sends one line and returns the reply line (without newline); throws on EOF or timeout.
  std::string request(const std::string& line,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  int fd_{-1};
  std::string buffer_;
};

/// Reads a whole file; empty string when missing.
std::string read_file(const std::filesystem::path& p);

}  // namespace labgate::testing
