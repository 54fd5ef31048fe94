#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "fake_transport.hpp"
#include "labgate/gateway/mqtt/outbox_drainer.hpp"

using namespace labgate::gateway::mqtt;
using labgate::testing::FakeOutbox;
using labgate::testing::FakeTransport;

namespace {

std::int64_t seq_of(const FakeTransport::Publish& p) {
  return nlohmann::json::parse(p.payload)["seq"].get<std::int64_t>();
}

// Runs ready handlers (posted mark flushes) without waiting for timers.
void settle(boost::asio::io_context& io) {
  io.restart();
  io.poll();
}

}  // namespace

TEST_CASE("drainer publishes in seq order within the window and marks after acks",
          "[unit][drainer]") {
  boost::asio::io_context io;
  FakeTransport link;
  FakeOutbox outbox;
  OutboxDrainer drainer(
      io, link, outbox,
      DrainerConfig{8, 4, std::chrono::seconds(10), std::chrono::milliseconds(10)});
  outbox.add(20);
  drainer.start();
  CHECK(link.log().empty());  // not connected: nothing goes out
  link.connect();
  REQUIRE(link.log().size() == 8);
  for (std::size_t i = 0; i < 8; ++i) {
    CHECK(seq_of(link.log()[i]) == static_cast<std::int64_t>(i + 1));
    CHECK(link.log()[i].qos == 1);
  }
  // An ack out of order does not mark anything: row 1 is still open.
  link.ack(1);
  settle(io);
  CHECK(outbox.sent_count() == 0);
  link.ack(0);
  settle(io);
  CHECK(outbox.sent_count() == 2);
  // Acks free the window; refills happen in half-window steps.
  link.ack_all();
  settle(io);
  while (link.ack_all() > 0) settle(io);
  CHECK(outbox.all_sent());
  CHECK(outbox.double_marks() == 0);
  CHECK(outbox.out_of_order_marks() == 0);
  std::int64_t last = 0;
  for (auto& p : link.log()) {
    CHECK(seq_of(p) == last + 1);
    last = seq_of(p);
  }
  CHECK(last == 20);
  CHECK(outbox.mark_calls() < 20);  // batched
}

TEST_CASE("drainer re-sends from the first unacknowledged row after a reconnect",
          "[unit][drainer]") {
  boost::asio::io_context io;
  FakeTransport link;
  FakeOutbox outbox;
  OutboxDrainer drainer(
      io, link, outbox,
      DrainerConfig{10, 100, std::chrono::seconds(10), std::chrono::milliseconds(10)});
  outbox.add(10);
  link.connect();
  drainer.start();
  REQUIRE(link.log().size() == 10);
  link.ack(0);
  link.ack(1);
  link.ack(2);
  link.ack(4);  // acked, but behind the open row 4 (seq 4)
  link.disconnect();
  settle(io);
  CHECK(outbox.sent_count() == 3);  // only the contiguous prefix
  outbox.add(2);                    // rows committed during the outage
  drainer.notify();
  CHECK(link.log().size() == 10);  // nothing while down
  link.connect();
  std::vector<std::int64_t> resent;
  for (std::size_t i = 10; i < link.log().size(); ++i) resent.push_back(seq_of(link.log()[i]));
  // seq 5 was acked before the drop and is not repeated; 4, 6.. are.
  CHECK(resent == std::vector<std::int64_t>{4, 6, 7, 8, 9, 10});
  CHECK(drainer.stats().resent == 6);
  while (link.ack_all() > 0) settle(io);
  settle(io);
  // Then the rows committed during the outage, in order.
  CHECK(seq_of(link.log()[link.log().size() - 2]) == 11);
  CHECK(seq_of(link.log().back()) == 12);
  CHECK(outbox.all_sent());
  CHECK(outbox.out_of_order_marks() == 0);
  CHECK(outbox.double_marks() == 0);
}

TEST_CASE("a refused publish or failing store is retried, without holes", "[unit][drainer]") {
  boost::asio::io_context io;
  FakeTransport link;
  FakeOutbox outbox;
  OutboxDrainer drainer(
      io, link, outbox,
      DrainerConfig{4, 1, std::chrono::seconds(10), std::chrono::milliseconds(5)});
  outbox.add(6);
  link.connect();
  link.set_refuse(true);
  drainer.start();
  CHECK(link.log().empty());
  link.set_refuse(false);
  outbox.fail_next_fetches(1);
  outbox.fail_next_marks(1);
  // The retry timer fires; bounded polling of the loop until all rows are through.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!outbox.all_sent() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
    link.ack_all();
  }
  CHECK(outbox.all_sent());
  CHECK(drainer.stats().source_errors >= 1);
  CHECK(outbox.out_of_order_marks() == 0);
  std::int64_t max_seen = 0;
  for (auto& p : link.log()) {
    CHECK(seq_of(p) <= max_seen + 1);  // never skips ahead of an unsent row
    max_seen = std::max(max_seen, seq_of(p));
  }
}

TEST_CASE("a failed delivery rewinds; stale acks of an old attempt are ignored",
          "[unit][drainer]") {
  boost::asio::io_context io;
  FakeTransport link;
  FakeOutbox outbox;
  OutboxDrainer drainer(
      io, link, outbox,
      DrainerConfig{4, 1, std::chrono::seconds(10), std::chrono::milliseconds(5)});
  outbox.add(3);
  link.connect();
  drainer.start();
  REQUIRE(link.log().size() == 3);
  link.ack(1, false);  // seq 2 lost
  link.ack(0);         // late ack of the old attempt: ignored, seq 1 is re-sent
  link.ack(2);
  settle(io);
  CHECK(outbox.sent_count() == 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (link.log().size() < 6 && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  REQUIRE(link.log().size() == 6);
  CHECK(seq_of(link.log()[3]) == 1);
  CHECK(seq_of(link.log()[5]) == 3);
  link.ack_all();
  settle(io);
  CHECK(outbox.all_sent());
}

TEST_CASE("a destroyed drainer ignores late completions", "[unit][drainer]") {
  boost::asio::io_context io;
  FakeTransport link;
  FakeOutbox outbox;
  outbox.add(3);
  link.connect();
  {
    OutboxDrainer drainer(io, link, outbox);
    drainer.start();
    REQUIRE(link.log().size() == 3);
  }
  link.ack_all();  // must not touch the dead drainer
  settle(io);
  CHECK(outbox.sent_count() == 0);
}
