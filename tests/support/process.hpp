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
  /// path() / name, for call sites that read better with a verb.
  std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Output and exit status of a finished command.
struct RunResult {
  int exit_code{-1};  ///< exit status, or 128+signal
  std::string out;    ///< standard output
  std::string err;    ///< standard error
};

/// Runs argv[0] (searched on PATH when it has no '/') with the given arguments and waits;
/// stdout and stderr captured.
RunResult run_command(const std::vector<std::string>& argv,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30),
                      const std::map<std::string, std::string>& extra_env = {});

/// How a Child is started beyond its command line and log.
struct SpawnOptions {
  std::map<std::string, std::string> extra_env;  ///< added to (or replacing in) the environment
  std::filesystem::path err_path;  ///< standard error appended here; empty: into the log
  bool own_group{false};  ///< its own process group, signalled as a whole (for shell pipelines)
};

/// A background child process (argv[0] searched on PATH when it has no '/'). Its stdout (and
/// stderr unless told otherwise) go to a log file. Killed (SIGKILL) on destruction if still
/// running.
class Child {
 public:
  /// Starts argv with output appended to `log_path`.
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log_path,
        const std::map<std::string, std::string>& extra_env = {});
  /// Starts argv with output appended to `log_path`, as `options` say.
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log_path,
        const SpawnOptions& options);
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
  /// Sends `sig`, waits up to `grace`, then SIGKILLs; returns the exit status as wait() does.
  std::optional<int> stop(int sig, std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  void kill_now(int sig) const;

  pid_t pid_{-1};
  bool own_group_{false};
  std::optional<int> status_;
};

/// Polls `condition` every `step` until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(10));

/// A blocking line client for a Unix-domain stream socket (a control socket); every read has a
/// timeout.
class LineClient {
 public:
  /// Connects, retrying until `timeout` (0: one attempt); throws std::runtime_error when it
  /// cannot.
  explicit LineClient(const std::filesystem::path& socket_path,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;
  /// Sends one line and returns the reply line (without newline); throws on EOF or timeout.
  std::string request(const std::string& line,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Sends one line and returns the reply line, "<send failed>" or "<none>" (timeout or EOF).
  std::string ask(const std::string& line,
                  std::chrono::milliseconds timeout = std::chrono::seconds(3));
  /// Sends raw bytes; false when the peer is gone.
  bool send_raw(const std::string& data);
  /// Sends `line` and a newline; false when the peer is gone.
  bool send(const std::string& line) { return send_raw(line + "\n"); }
  /// The next line; nullopt on timeout or end of stream.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(3));
  /// True when the server closed the connection (end of stream within `timeout`); replies still
  /// in flight are read and dropped.
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(3));
  /// Closes our end.
  void close();

 private:
  int fd_{-1};
  std::string buffer_;
  bool eof_{false};
};

/// Reads a whole file; empty string when missing.
std::string read_file(const std::filesystem::path& p);

}  // namespace labgate::testing
