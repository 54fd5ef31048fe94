#pragma once
// Console clients for bench_decision: a real labgate-console process on the benchmark's database
// and admin channel, and N logged-in browsers holding the live page's event stream open.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace labgate::bench::decision {

/// labgate-console and its stream clients. Construct (starts the process), open(), run taps
/// while pumping the admin channel, close(); the destructor stops the process.
class ConsoleClients {
 public:
  /// Starts `console_path` on `config` (a site file), `db` and `admin_socket`, on a free
  /// loopback port, at nice level `nice` (0: as this process). Throws std::runtime_error when it
  /// does not say it listens within 10 s.
  ConsoleClients(const std::string& console_path, const std::filesystem::path& config,
                 const std::filesystem::path& db, const std::string& admin_socket, int nice = 0);
  ~ConsoleClients();
  ConsoleClients(const ConsoleClients&) = delete;
  ConsoleClients& operator=(const ConsoleClients&) = delete;

  /// Logs `clients` browsers in as `login` and opens each one's GET /live/events; every
  /// stream is read on its own thread, or with `one_reader` all of them on one thread (poll):
  /// real browsers are not on the gateway, and 20 reading threads here take CPU time from the
  /// decision that a site would not see. Throws when a login or a stream is refused.
  void open(int clients, const std::string& login, const std::string& password,
            bool one_reader = false);
  /// Closes the streams; returns the fewest `data:` lines any client read.
  std::uint64_t close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace labgate::bench::decision
