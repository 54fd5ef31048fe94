#include "labgate/gateway/mqtt/outbox_drainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <limits>
#include <stdexcept>

#include "labgate/gateway/mqtt/topics.hpp"

namespace labgate::gateway::mqtt {

OutboxDrainer::OutboxDrainer(boost::asio::io_context& io, MqttTransport& link, OutboxSource& source,
                             DrainerConfig config)
    : io_(io),
      link_(link),
      source_(source),
      config_(config),
      last_fetched_seq_(std::numeric_limits<std::int64_t>::min()),
      poll_timer_(io),
      retry_timer_(io),
      alive_(std::make_shared<char>(0)) {
  if (config_.window == 0) throw std::invalid_argument("outbox window must be >= 1");
  if (config_.mark_batch == 0) config_.mark_batch = 1;
}

OutboxDrainer::~OutboxDrainer() {
  stop();
}

void OutboxDrainer::start() {
  if (running_) return;
  running_ = true;
  std::weak_ptr<char> alive = alive_;
  observer_id_ = link_.observe_connection([this, alive](bool up) {
    if (alive.lock()) on_connection(up);
  });
  arm_poll();
  pump();
}

void OutboxDrainer::stop() {
  if (!running_) return;
  running_ = false;
  link_.unobserve_connection(observer_id_);
  poll_timer_.cancel();
  retry_timer_.cancel();
  ++epoch_;
  flush_marks();
}

void OutboxDrainer::notify() {
  source_drained_ = false;
  pump();
}

void OutboxDrainer::set_ack_observer(std::function<void(std::int64_t)> observer) {
  ack_observer_ = std::move(observer);
}

void OutboxDrainer::pump() {
  if (!running_ || retry_pending_ || !link_.connected()) return;
  fill();
  send();
}

void OutboxDrainer::fill() {
  // Refill in large steps: every fetch is a query on the store, so a fetch per acknowledgement
  // would cost more than the publish itself.
  while (!source_drained_ && window_.size() <= config_.window / 2) {
    const std::size_t room = config_.window - window_.size();
    std::vector<OutboxRow> rows;
    try {
      rows = source_.fetch_unsent(last_fetched_seq_, room);
    } catch (const std::exception& e) {
      ++stats_.source_errors;
      spdlog::error("outbox: fetch failed: {}", e.what());
      schedule_retry();
      return;
    }
    const std::size_t got = rows.size();
    for (auto& row : rows) {
      if (row.seq <= last_fetched_seq_) {
        // A source that breaks the ordering contract must not make us reorder or loop.
        spdlog::error("outbox: source returned seq {} after {}; skipped", row.seq,
                      last_fetched_seq_);
        continue;
      }
      last_fetched_seq_ = row.seq;
      window_.push_back(Slot{std::move(row), false, false, false});
    }
    if (got < room) source_drained_ = true;
  }
}

void OutboxDrainer::send() {
  while (next_to_send_ < window_.size()) {
    Slot& slot = window_[next_to_send_];
    if (slot.acked || slot.sent) {
      ++next_to_send_;
      continue;
    }
    std::weak_ptr<char> alive = alive_;
    const bool started =
        link_.publish(slot.row.topic, slot.row.payload, kQos1, slot.row.retain,
                      [this, alive, epoch = epoch_, seq = slot.row.seq](bool acked) {
                        if (alive.lock()) on_published(epoch, seq, acked);
                      });
    if (!started) {
      // The client refused (disconnected or its buffer is full): re-send from the first
      // unacknowledged row so a hole can never open between published rows.
      rewind();
      schedule_retry();
      return;
    }
    ++stats_.published;
    if (slot.ever_sent) ++stats_.resent;
    slot.sent = true;
    slot.ever_sent = true;
    ++next_to_send_;
  }
}

void OutboxDrainer::on_published(std::uint64_t epoch, std::int64_t seq, bool acked) {
  if (!running_ || epoch != epoch_) return;
  if (!acked) {
    rewind();
    schedule_retry();
    return;
  }
  auto it = std::lower_bound(window_.begin(), window_.end(), seq,
                             [](const Slot& s, std::int64_t v) { return s.row.seq < v; });
  if (it == window_.end() || it->row.seq != seq || it->acked) return;
  it->acked = true;
  ++stats_.acknowledged;
  if (ack_observer_) ack_observer_(seq);
  while (!window_.empty() && window_.front().acked) {
    marks_.push_back(window_.front().row.seq);
    window_.pop_front();
    if (next_to_send_ > 0) --next_to_send_;
  }
  if (marks_.size() >= config_.mark_batch) {
    flush_marks();
  } else if (!marks_.empty()) {
    schedule_flush();
  }
  pump();
}

void OutboxDrainer::on_connection(bool up) {
  if (!running_) return;
  rewind();
  if (up) {
    source_drained_ = false;
    retry_pending_ = false;
    retry_timer_.cancel();
    pump();
  } else {
    flush_marks();
  }
}

void OutboxDrainer::rewind() {
  ++epoch_;
  ++stats_.rewinds;
  next_to_send_ = 0;
  for (auto& slot : window_) slot.sent = false;
}

void OutboxDrainer::flush_marks() {
  if (marks_.empty()) return;
  try {
    source_.mark_sent(marks_);
    stats_.marked += marks_.size();
    marks_.clear();
  } catch (const std::exception& e) {
    // Keep them: the rows stay unsent in the store, so at worst they go out again after a
    // restart, which consumers de-duplicate.
    ++stats_.source_errors;
    spdlog::error("outbox: mark_sent failed for {} rows: {}", marks_.size(), e.what());
    schedule_retry();
  }
}

void OutboxDrainer::schedule_flush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  // Runs after the acknowledgements already queued on the loop, which batches them for free.
  std::weak_ptr<char> alive = alive_;
  boost::asio::post(io_, [this, alive] {
    if (!alive.lock()) return;
    flush_scheduled_ = false;
    flush_marks();
  });
}

void OutboxDrainer::schedule_retry() {
  if (retry_pending_ || !running_) return;
  retry_pending_ = true;
  retry_timer_.expires_after(config_.retry_delay);
  std::weak_ptr<char> alive = alive_;
  retry_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || !alive.lock()) return;
    retry_pending_ = false;
    flush_marks();
    source_drained_ = false;
    pump();
  });
}

void OutboxDrainer::arm_poll() {
  poll_timer_.expires_after(config_.poll_interval);
  std::weak_ptr<char> alive = alive_;
  poll_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || !alive.lock() || !running_) return;
    flush_marks();
    source_drained_ = false;
    pump();
    arm_poll();
  });
}

}  // namespace labgate::gateway::mqtt
