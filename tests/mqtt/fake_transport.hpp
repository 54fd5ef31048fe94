#pragma once
// In-memory MqttTransport and OutboxSource for unit tests: the test decides when the
// "broker" connects, acknowledges or drops.

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "labgate/gateway/mqtt/outbox_drainer.hpp"
#include "labgate/gateway/mqtt/topics.hpp"
#include "labgate/gateway/mqtt/transport.hpp"

namespace labgate::testing {

namespace mq = labgate::gateway::mqtt;

class FakeTransport : public mq::MqttTransport {
 public:
  struct Publish {
    std::string topic;
    std::string payload;
    int qos;
    bool retain;
    mq::PublishHandler done;
    bool resolved{false};
  };

  bool connected() const override { return up_; }
  std::uint64_t generation() const override { return generation_; }

  bool publish(const std::string& topic, const std::string& payload, int qos, bool retain,
               mq::PublishHandler done) override {
    if (!up_ || refuse_) return false;
    log_.push_back(Publish{topic, payload, qos, retain, std::move(done)});
    return true;
  }

  mq::HandlerId subscribe(const std::string& filter, int, mq::MessageHandler handler) override {
    subs_[next_id_] = {filter, std::move(handler)};
    return next_id_++;
  }
  void unsubscribe(mq::HandlerId id) override { subs_.erase(id); }
  mq::HandlerId observe_connection(mq::ConnectionHandler handler) override {
    observers_[next_id_] = std::move(handler);
    return next_id_++;
  }
  void unobserve_connection(mq::HandlerId id) override { observers_.erase(id); }

  // --- test controls ---
  void connect() {
    up_ = true;
    ++generation_;
    notify(true);
  }
  void disconnect() {
    up_ = false;
    for (auto& p : log_) resolve(p, false);
    notify(false);
  }
  void set_refuse(bool refuse) { refuse_ = refuse; }
  /// Acknowledges the publish at `index` of the log.
  void ack(std::size_t index, bool ok = true) { resolve(log_.at(index), ok); }
  /// Acknowledges every unresolved publish, in order; returns how many.
  std::size_t ack_all() {
    std::size_t n = 0;
    for (std::size_t i = 0; i < log_.size(); ++i) {
      if (!log_[i].resolved) {
        resolve(log_[i], true);
        ++n;
      }
    }
    return n;
  }
  std::size_t unresolved() const {
    return static_cast<std::size_t>(
        std::count_if(log_.begin(), log_.end(), [](const Publish& p) { return !p.resolved; }));
  }
  void deliver(const std::string& topic, const std::string& payload) {
    std::vector<mq::MessageHandler> hs;
    for (auto& [id, s] : subs_) {
      if (mq::topic_matches(s.first, topic)) hs.push_back(s.second);
    }
    for (auto& h : hs) h(topic, payload);
  }
  std::deque<Publish>& log() { return log_; }
  std::size_t subscription_count() const { return subs_.size(); }

 private:
  void resolve(Publish& p, bool ok) {
    if (p.resolved) return;
    p.resolved = true;
    // The handler may publish again, which appends to the log; call a local copy.
    auto done = std::move(p.done);
    if (done) done(ok);
  }
  void notify(bool up) {
    auto obs = observers_;
    for (auto& [id, h] : obs) h(up);
  }

  bool up_{false};
  bool refuse_{false};
  std::uint64_t generation_{0};
  mq::HandlerId next_id_{1};
  std::deque<Publish> log_;
  std::map<mq::HandlerId, std::pair<std::string, mq::MessageHandler>> subs_;
  std::map<mq::HandlerId, mq::ConnectionHandler> observers_;
};

/// An outbox in memory. Checks the drainer's side of the contract as it goes.
class FakeOutbox : public mq::OutboxSource {
 public:
  /// Appends `n` rows; payload {"id":"row-<seq>","seq":<seq>}. Returns the last seq.
  std::int64_t add(std::size_t n, const std::string& topic = "t/events") {
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t seq = next_seq_++;
      rows_[seq] = mq::OutboxRow{
          seq, topic,
          "{\"id\":\"row-" + std::to_string(seq) + "\",\"seq\":" + std::to_string(seq) + "}",
          false};
    }
    return next_seq_ - 1;
  }

  std::vector<mq::OutboxRow> fetch_unsent(std::int64_t after_seq, std::size_t limit) override {
    ++fetches_;
    if (fail_fetches_ > 0) {
      --fail_fetches_;
      throw std::runtime_error("injected fetch failure");
    }
    std::vector<mq::OutboxRow> out;
    for (auto it = rows_.upper_bound(after_seq); it != rows_.end() && out.size() < limit; ++it) {
      if (sent_.count(it->first) == 0) out.push_back(it->second);
    }
    return out;
  }

  void mark_sent(const std::vector<std::int64_t>& seqs) override {
    ++mark_calls_;
    if (fail_marks_ > 0) {
      --fail_marks_;
      throw std::runtime_error("injected mark failure");
    }
    for (auto s : seqs) {
      if (!rows_.count(s)) throw std::logic_error("marked unknown seq " + std::to_string(s));
      if (!sent_.insert(s).second) ++double_marks_;
      if (s <= last_marked_) ++out_of_order_marks_;
      last_marked_ = s;
    }
  }

  std::size_t sent_count() const { return sent_.size(); }
  std::size_t size() const { return rows_.size(); }
  bool all_sent() const { return sent_.size() == rows_.size(); }
  std::size_t mark_calls() const { return mark_calls_; }
  std::size_t fetches() const { return fetches_; }
  std::size_t double_marks() const { return double_marks_; }
  std::size_t out_of_order_marks() const { return out_of_order_marks_; }
  void fail_next_fetches(int n) { fail_fetches_ = n; }
  void fail_next_marks(int n) { fail_marks_ = n; }

 private:
  std::map<std::int64_t, mq::OutboxRow> rows_;
  std::set<std::int64_t> sent_;
  std::int64_t next_seq_{1};
  std::int64_t last_marked_{0};
  std::size_t mark_calls_{0};
  std::size_t fetches_{0};
  std::size_t double_marks_{0};
  std::size_t out_of_order_marks_{0};
  int fail_fetches_{0};
  int fail_marks_{0};
};

}  // namespace labgate::testing
