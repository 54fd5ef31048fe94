#pragma once
// Live-stream clients for bench_decision: the daemon's admin channel on a temporary socket, fed
// by the site's commits as labgated feeds it, and N subscribers reading on their own threads.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/store/store.hpp"
#include "latency.hpp"

namespace labgate::bench::decision {

/// What the subscribers saw.
struct StreamReport {
  std::size_t clients{0};
  std::uint64_t published{0};     ///< lines the channel sent to each subscriber
  std::uint64_t received_min{0};  ///< lines the slowest subscriber read
  std::uint64_t dropped{0};       ///< subscribers the channel closed as stalled
  LatencySet commit_to_receipt;   ///< microseconds, every line of every subscriber
};

/// The channel and its subscribers. Construct, then pump() between taps; report() at the end.
class StreamClients {
 public:
  /// Listens on `socket_path`, connects `clients` subscribers and installs the commit observer
  /// on `site`. Throws std::runtime_error when a subscriber cannot connect.
  StreamClients(gateway::app::Site& site, const std::string& socket_path, int clients);
  ~StreamClients();
  StreamClients(const StreamClients&) = delete;
  StreamClients& operator=(const StreamClients&) = delete;

  /// Runs the channel's ready handlers (writes to the subscribers), as labgated's loop would
  /// between events.
  void pump();
  /// Subscribers the channel has now (another process's included).
  std::size_t subscribers() const;
  /// Waits until every subscriber has read every published line (bounded), stops them and
  /// summarises.
  StreamReport finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace labgate::bench::decision
