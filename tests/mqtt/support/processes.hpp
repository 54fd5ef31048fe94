#pragma once
// Test support: child processes (posix_spawn only: Paho threads may exist, so never fork) and a
// real mosquitto broker on a free local port.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace labgate::testing {

/// A temporary directory removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Options of a child process.
struct SpawnOptions {
  std::string stdout_path;  ///< empty: inherit
  std::string stderr_path;  ///< empty: inherit
  bool own_group{false};    ///< put it in its own process group and signal the whole group
};

/// A child started with posix_spawnp. Stopped (SIGTERM, then SIGKILL) on destruction.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, SpawnOptions options = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  /// True while the child has not exited.
  bool running();
  /// Sends `sig`, waits up to `grace`, then SIGKILLs. Returns the wait status, -1 if gone.
  int stop(int sig, std::chrono::milliseconds grace = std::chrono::seconds(5));
  /// Waits for exit up to `timeout`; returns the exit code, or -1 on timeout/signal.
  int wait_exit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_{-1};
  bool own_group_{false};
  bool reaped_{false};
  int status_{0};
};

/// Runs a program to completion (bounded) and returns its exit code (-1 on timeout).
int run_program(const std::vector<std::string>& argv,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                const std::string& output_path = "");

/// Polls `pred` every `step` until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(20));

/// Paths of the mosquitto programs, fixed at build time.
struct MosquittoTools {
  static std::string broker();
  static std::string sub();
  static std::string pub();
  static std::string passwd();
};

/// A mosquitto broker on 127.0.0.1 and a free port, with a generated config in a temp dir.
/// start() and stop() may be repeated (an outage); the port stays the same and, with
/// persistence on, so do persistent sessions and their queued messages.
class MosquittoBroker {
 public:
  /// `extra_config` is appended to the generated config (auth, ACL, ...).
  explicit MosquittoBroker(std::string extra_config = "", bool allow_anonymous = true);
  ~MosquittoBroker();

  /// Starts the broker and waits until it accepts connections; throws on failure.
  void start();
  /// SIGTERM (the broker saves its persistence file), waits for exit.
  void stop();
  bool running() const { return process_ != nullptr; }

  int port() const { return port_; }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  /// The broker's log so far (for failure messages).
  std::string log() const;

 private:
  TempDir dir_;
  int port_{0};
  std::unique_ptr<ChildProcess> process_;
};

/// A `mosquitto_sub -v` child whose output is read back as (topic, payload) pairs.
class Subscriber {
 public:
  struct Options {
    std::string client_id;
    bool persistent{false};  ///< -c: session (and queued QoS 1 messages) survive disconnects
    std::string username;
    std::string password;
    /// Topic used by wait_ready(); must be readable and writable for these credentials.
    std::string probe_topic;
  };
  Subscriber(const MosquittoBroker& broker, std::vector<std::string> topics, Options options);
  ~Subscriber();

  /// Publishes probes until one comes back, proving the subscription is in place.
  void wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Messages received so far, probes excluded.
  std::vector<std::pair<std::string, std::string>> messages() const;
  /// Number of messages received so far, probes excluded.
  std::size_t count() const { return messages().size(); }

 private:
  const MosquittoBroker& broker_;
  Options options_;
  TempDir dir_;
  std::string out_path_;
  std::unique_ptr<ChildProcess> process_;
};

/// Publishes one message with mosquitto_pub (QoS 1); returns true on success.
bool publish_with_tool(const MosquittoBroker& broker, const std::string& topic,
                       const std::string& payload, const std::string& username = "",
                       const std::string& password = "");

}  // namespace labgate::testing
