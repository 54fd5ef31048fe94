#pragma once
// OutboxDrainer: moves rows of the durable outbox to the broker at QoS 1, in order, losing none.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "labgate/gateway/mqtt/transport.hpp"

namespace labgate::gateway::mqtt {

/// One outbox row as the drainer needs it. `seq` is strictly increasing in commit order.
struct OutboxRow {
  std::int64_t seq{0};
  std::string topic;
  std::string payload;
  bool retain{false};
};

/// The drainer's view of the outbox table; the store adapts to it. Called on the loop thread
/// only. Implementations may throw std::exception on storage errors; the drainer logs and retries.
class OutboxSource {
 public:
  virtual ~OutboxSource() = default;
  /// Up to `limit` unsent rows with seq > after_seq, in ascending seq order.
  virtual std::vector<OutboxRow> fetch_unsent(std::int64_t after_seq, std::size_t limit) = 0;
  /// Records that the broker acknowledged these rows (ascending seqs); they are never returned
  /// by fetch_unsent() again.
  virtual void mark_sent(const std::vector<std::int64_t>& seqs) = 0;
};

/// Tuning of the drainer.
struct DrainerConfig {
  /// Maximum rows published and not yet acknowledged.
  std::size_t window{256};
  /// Acknowledged rows accumulated before mark_sent() is called (sooner when the loop is idle).
  std::size_t mark_batch{128};
  /// Safety-net poll of the source, for a missed notify().
  std::chrono::milliseconds poll_interval{1000};
  /// Pause after the client refused a publish or the source threw, before trying again.
  std::chrono::milliseconds retry_delay{200};
};

/// Counters for health reporting and tests.
struct DrainerStats {
  std::uint64_t published{0};     ///< publishes started (including re-sends)
  std::uint64_t acknowledged{0};  ///< broker acknowledgements counted
  std::uint64_t resent{0};        ///< publishes that repeated an earlier attempt
  std::uint64_t marked{0};        ///< rows passed to mark_sent()
  std::uint64_t rewinds{0};       ///< times the window was re-sent from its first row
  std::uint64_t source_errors{0};
};

/// Drains an OutboxSource through an MqttTransport.
///
/// Guarantees: rows are published in seq order; at most `window` are unacknowledged; a row is
/// marked sent only after the broker acknowledged it and every row before it; when the
/// connection drops or a publish fails, everything unacknowledged is published again, in order,
/// from the first unacknowledged row (so consumers may see duplicates and de-duplicate by the
/// event id, but never a gap or a reordering of first occurrences). Runs on the loop thread.
class OutboxDrainer {
 public:
  /// `link`, `source` and `io` must outlive the drainer.
  OutboxDrainer(boost::asio::io_context& io, MqttTransport& link, OutboxSource& source,
                DrainerConfig config = {});
  ~OutboxDrainer();

  OutboxDrainer(const OutboxDrainer&) = delete;
  OutboxDrainer& operator=(const OutboxDrainer&) = delete;

  /// Starts draining (now if connected, else on the next connect).
  void start();
  /// Stops publishing and flushes pending mark_sent(); idempotent.
  void stop();
  /// Tells the drainer that new rows were committed. Cheap; call after each commit.
  void notify();

  /// Optional hook, called on the loop with each row's seq when the broker acknowledged it.
  void set_ack_observer(std::function<void(std::int64_t seq)> observer);

  const DrainerStats& stats() const { return stats_; }
  /// Rows fetched and not yet marked sent.
  std::size_t in_flight() const { return window_.size(); }

 private:
  struct Slot {
    OutboxRow row;
    bool sent{false};
    bool acked{false};
    bool ever_sent{false};
  };

  void pump();
  void fill();
  void send();
  void on_published(std::uint64_t epoch, std::int64_t seq, bool acked);
  void on_connection(bool up);
  void rewind();
  void flush_marks();
  void schedule_flush();
  void schedule_retry();
  void arm_poll();

  boost::asio::io_context& io_;
  MqttTransport& link_;
  OutboxSource& source_;
  DrainerConfig config_;
  DrainerStats stats_;
  std::function<void(std::int64_t)> ack_observer_;
  std::deque<Slot> window_;
  std::size_t next_to_send_{0};
  std::int64_t last_fetched_seq_;
  std::uint64_t epoch_{0};
  std::vector<std::int64_t> marks_;
  bool running_{false};
  bool source_drained_{false};
  bool flush_scheduled_{false};
  bool retry_pending_{false};
  HandlerId observer_id_{0};
  boost::asio::steady_timer poll_timer_;
  boost::asio::steady_timer retry_timer_;
  // Handlers handed to the transport may outlive the drainer; they check this token first.
  std::shared_ptr<char> alive_;
};

}  // namespace labgate::gateway::mqtt
