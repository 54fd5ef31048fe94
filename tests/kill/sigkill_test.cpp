// kill -9 of labgated at random moments under a scripted load of taps, many times in one run.
// Afterwards the database must be intact, hold every event the daemon acknowledged exactly
// once, keep its sequence gapless, and never have two open sessions on one machine.

#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "emulated_reader.hpp"
#include "kill_support.hpp"

using namespace labgate::testing;
using namespace labgate::testing::kill;
using namespace std::chrono_literals;

namespace {

constexpr int kLoadedKills = 60;      // kills while taps are flowing
constexpr int kStartupKillEvery = 5;  // and, every fifth restart, one kill during start-up
constexpr std::int64_t kMaxOffsetSeconds = 8 * 3600;  // keeps the run inside one day

std::uint32_t test_seed() {
  if (const char* s = std::getenv("LABGATE_KILL_SEED")) {
    return static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
  }
  return std::random_device{}();
}

// Tallies of the load thread, read by the test thread once the thread has joined.
struct LoadResult {
  std::vector<Ack> acks;                // acknowledged with a seq: must be in the database
  int unrecorded{0};                    // acknowledged without a seq (event could not be stored)
  int ack_timeouts{0};                  // "err timeout": the daemon never acknowledged
  int connection_errors{0};             // the daemon died under the request (expected)
  int commands{0};                      // commands that got any reply
  std::vector<std::string> unexpected;  // replies no command should ever get
};

// Sends a random mix of door taps, printer taps on/off, card placing and removal on the
// card-stays machines (all through the readers' emulated PN532s and real libnfc), staff
// confirmations and clock jumps, reconnecting whenever the daemon dies, until told to stop.
// A card read counts as acknowledged when the daemon's `read-result` reports its outcome, which
// it does only once the event is committed.
class Load {
 public:
  Load(std::filesystem::path socket, const Seed& seed, EmulatedReaders& readers,
       std::uint32_t rng_seed, std::atomic<std::int64_t>& sim_offset)
      : socket_(std::move(socket)),
        seed_(seed),
        readers_(readers),
        rng_(rng_seed),
        sim_offset_(sim_offset) {}

  void run() {
    std::unique_ptr<LineClient> client;
    while (!stop_.load()) {
      if (!client) {
        try {
          client = std::make_unique<LineClient>(socket_, 100ms);
        } catch (const std::exception&) {
          continue;  // daemon restarting; LineClient itself paced the retries
        }
      }
      const Command c = next_command();
      auto control = [&](const std::string& line) {
        return client->request(line, 8s * time_scale());
      };
      try {
        if (c.verb == "tap" || c.verb == "place") {
          auto& emu = readers_.at(c.reader);
          std::string reply;
          try {
            reply = place_and_await(control, emu, c.reader, "iso14443a", c.card, 5s * time_scale());
          } catch (...) {
            // The daemon died: a tapped card leaves the field all the same.
            if (c.verb == "tap") emu.cmd("remove");
            if (c.verb == "place") placed_.insert(c.reader);
            throw;
          }
          if (c.verb == "tap") {
            // A dead daemon sees no empty field: the card is gone anyway.
            remove_and_await(emu, 2s * time_scale());
          } else {
            placed_.insert(c.reader);
          }
          ++result_.commands;
          classify_read(c, reply);
        } else if (c.verb == "remove") {
          placed_.erase(c.reader);
          const auto reply = readers_.at(c.reader).cmd("remove");
          ++result_.commands;
          if (reply != "ok removed")
            result_.unexpected.push_back("remove " + c.reader + " -> " + reply);
        } else {
          const auto reply = control(c.line);
          ++result_.commands;
          if (reply.rfind("ok", 0) != 0 && reply != "err store unavailable") {
            result_.unexpected.push_back(c.line + " -> " + reply);
          }
        }
      } catch (const std::exception&) {
        // Killed before it answered: not an acknowledgement. A reply that might still be in
        // flight belongs to a dead connection, so it can never be read as another's reply.
        ++result_.connection_errors;
        client.reset();
      }
    }
  }

  void stop() { stop_.store(true); }
  const LoadResult& result() const { return result_; }

 private:
  struct Command {
    std::string verb;    // tap, place, remove (card readers) or control
    std::string reader;  // for card commands
    std::string card;    // UID hex for tap/place
    std::string line;    // for control commands
  };

  std::string card(int known_percent) {
    std::uniform_int_distribution<int> pct(0, 99);
    if (pct(rng_) < known_percent) {
      std::uniform_int_distribution<std::size_t> pick(0, seed_.members.size() - 1);
      return seed_.members[pick(rng_)].card_hex;
    }
    std::uniform_int_distribution<std::size_t> pick(0, seed_.unknown_cards.size() - 1);
    return seed_.unknown_cards[pick(rng_)];
  }

  template <typename T>
  const T& one_of(const std::vector<T>& items) {
    std::uniform_int_distribution<std::size_t> pick(0, items.size() - 1);
    return items[pick(rng_)];
  }

  Command next_command() {
    static const std::vector<std::string> kDoorReaders = {"main-in", "main-out", "lab-in"};
    static const std::vector<std::string> kPrinters = {"printer-1", "printer-2"};
    static const std::vector<std::string> kHeld = {"laser", "cnc"};
    std::uniform_int_distribution<int> pct(0, 99);
    const int r = pct(rng_);
    if (r < 45) {
      const auto& reader = one_of(kDoorReaders);
      return {"tap", reader, card(80), {}};
    }
    if (r < 65) {
      // Few members on the printers, so the same member often comes back to tap off.
      const auto& reader = one_of(kPrinters);
      std::uniform_int_distribution<std::size_t> pick(0, 5);
      return {"tap", reader, seed_.members[pick(rng_)].card_hex, {}};
    }
    if (r < 85) {
      const auto& reader = one_of(kHeld);
      if (placed_.count(reader) != 0) return {"remove", reader, {}, {}};
      return {"place", reader, card(90), {}};
    }
    if (r < 91 && sim_offset_.load() < kMaxOffsetSeconds) {
      // Counted before it is sent: if the daemon dies first, the next start is merely later.
      sim_offset_ += 40;
      return {"control", {}, {}, "clock advance 40s"};
    }
    if (r < 96) return {"control", {}, {}, "confirm " + one_of(kMachines)};
    return {"control", {}, {}, "status"};
  }

  void classify_read(const Command& c, const std::string& reply) {
    if (auto ack = parse_ack(c.reader, reply)) {
      if (ack->seq > 0) {
        result_.acks.push_back(*ack);
      } else {
        ++result_.unrecorded;
      }
    } else if (reply == "err timeout") {
      ++result_.ack_timeouts;
    } else {
      result_.unexpected.push_back(c.verb + " " + c.reader + " " + c.card + " -> " + reply);
    }
  }

  std::filesystem::path socket_;
  const Seed& seed_;
  EmulatedReaders& readers_;
  std::mt19937 rng_;
  std::atomic<std::int64_t>& sim_offset_;
  std::atomic<bool> stop_{false};
  std::set<std::string> placed_;  // cards lying on the emulators; they outlive daemon runs
  LoadResult result_;
};

std::string str(const std::optional<std::string>& v) {
  return v.value_or("NULL");
}

}  // namespace

TEST_CASE("labgated keeps every acknowledged event across repeated kill -9 under load",
          "[sigkill]") {
  const int scale = time_scale();
  const auto seed_value = test_seed();
  INFO("LABGATE_KILL_SEED=" << seed_value);
  TempDir dir("labgate-kill");
  const auto db = dir / "lab.db";
  const auto sock = dir / "ctl.sock";
  // The first run adds the machines; then their inspections (an uninspected machine is out of
  // service and every machine tap would be refused).
  const Seed seed = prepare_site(db, sock, dir / "daemon-000.log");
  // The emulated PN532s outlive the daemon runs, as the readers of a real site do.
  EmulatedReaders readers(PN532_EMU_PATH, dir.path(), kReaders);
  const auto reader_args = readers.daemon_args();

  std::atomic<std::int64_t> sim_offset{0};
  int run_no = 0;
  auto log_of = [&](int run) {
    char name[32];
    std::snprintf(name, sizeof name, "daemon-%03d.log", run);
    return dir / name;
  };
  auto start = [&] {
    sim_offset += 60;  // each start a minute after the last moment the previous run saw
    ++run_no;
    return start_daemon(db, sock, sim_time(std::chrono::seconds(sim_offset.load())), log_of(run_no),
                        reader_args);
  };
  auto kill_and_reap = [&](Daemon& d) {
    INFO("run " << run_no << ", its log ends:\n" << log_tail(log_of(run_no)));
    REQUIRE(d.child().running());  // it must not have died of anything else before
    d.child().signal(SIGKILL);
    REQUIRE(d.child().wait(10s * scale) == std::optional<int>(128 + SIGKILL));
  };
  auto ready = [&](Daemon& d) {
    INFO("run " << run_no << ", its log ends:\n" << log_tail(log_of(run_no)));
    REQUIRE(d.wait_ready(20s * scale));
    REQUIRE(confirm_machines(d));
  };

  auto daemon = start();
  ready(*daemon);

  Load load(sock, seed, readers, seed_value, sim_offset);
  std::thread load_thread([&] { load.run(); });
  struct Joiner {
    Load& load;
    std::thread& t;
    ~Joiner() {
      load.stop();
      if (t.joinable()) t.join();
    }
  } joiner{load, load_thread};

  std::mt19937 rng(seed_value ^ 0x5eedu);
  std::uniform_int_distribution<int> loaded_delay_ms(20, 400);
  std::uniform_int_distribution<int> startup_delay_ms(0, 40);
  int startup_kills = 0;
  for (int kill = 1; kill <= kLoadedKills; ++kill) {
    INFO("kill " << kill << " of " << kLoadedKills);
    // The pause is the point here: the kill must land at a random moment of the load.
    std::this_thread::sleep_for(std::chrono::milliseconds(loaded_delay_ms(rng) * scale));
    kill_and_reap(*daemon);
    if (kill % kStartupKillEvery == 0) {
      // Killed while starting: opening the store, recovering sessions, recording the start.
      daemon = start();
      std::this_thread::sleep_for(std::chrono::milliseconds(startup_delay_ms(rng) * scale));
      kill_and_reap(*daemon);
      ++startup_kills;
    }
    if (kill == kLoadedKills) {
      // The last run is for known taps only: nothing of the load may be lying on a reader.
      load.stop();
      load_thread.join();
      for (const auto& reader : kReaders) REQUIRE(readers.at(reader).cmd("remove") == "ok removed");
    }
    daemon = start();
    ready(*daemon);
  }
  const LoadResult& r = load.result();

  // A last, clean run: known taps, then SIGTERM.
  std::vector<Ack> final_acks;
  auto final_tap = [&](const std::string& verb, const std::string& reader,
                       const std::string& card_hex) {
    auto control = [&](const std::string& line) { return daemon->request(line, 10s * scale); };
    auto reply =
        place_and_await(control, readers.at(reader), reader, "iso14443a", card_hex, 10s * scale);
    if (verb == "tap") REQUIRE(remove_and_await(readers.at(reader), 10s * scale));
    auto ack = parse_ack(reader, reply);
    INFO(verb << " " << reader << " -> " << reply);
    REQUIRE(ack);
    REQUIRE(ack->seq > 0);
    final_acks.push_back(*ack);
    return *ack;
  };
  const auto& member = seed.members.front();
  CHECK(final_tap("tap", "main-in", member.card_hex).granted);
  CHECK_FALSE(final_tap("tap", "lab-in", seed.unknown_cards.front()).granted);
  auto laser = final_tap("place", "laser", member.card_hex);
  CHECK(laser.granted);
  CHECK(laser.reason == "granted");
  auto outputs = daemon->request("outputs");
  INFO("outputs: " << outputs);
  CHECK(outputs.find("laser.relay=on") != std::string::npos);
  daemon->child().signal(SIGTERM);
  REQUIRE(daemon->child().wait(20s * scale) == std::optional<int>(0));
  CHECK(read_file(log_of(run_no)).find("stopping: every machine relay off") != std::string::npos);

  std::cout << "kill.sigkill: seed " << seed_value << ", " << kLoadedKills << " kills under load + "
            << startup_kills << " during start-up, " << r.commands << " commands answered, "
            << r.acks.size() << " acknowledged events, " << r.unrecorded
            << " acknowledged without seq, " << r.ack_timeouts << " ack timeouts, "
            << r.connection_errors << " connection errors\n";

  CHECK(r.unexpected.empty());
  for (const auto& u : r.unexpected) UNSCOPED_INFO("unexpected reply: " << u);
  CHECK(r.unrecorded == 0);
  // The load really ran: taps acknowledged in most of the daemon runs.
  REQUIRE(r.acks.size() >= static_cast<std::size_t>(kLoadedKills));

  ReadOnlyDb check(db);
  CHECK(check.text("PRAGMA integrity_check") == "ok");
  CHECK(check.rows("PRAGMA foreign_key_check").empty());

  std::vector<Ack> all_acks = r.acks;
  all_acks.insert(all_acks.end(), final_acks.begin(), final_acks.end());

  {
    // No sequence number is ever handed out twice, even across crashes.
    std::set<std::int64_t> seqs;
    for (const auto& a : all_acks) {
      INFO("seq " << a.seq);
      CHECK(seqs.insert(a.seq).second);
    }
    // Each acknowledged event is there, once, as acknowledged.
    int missing = 0;
    int mismatched = 0;
    for (const auto& a : all_acks) {
      auto rows = check.rows(
          "SELECT e.reader_id, e.decision, coalesce(e.door_id, e.machine_id), "
          "coalesce(m.member_no, '-'), e.reason, e.kind "
          "FROM access_events e LEFT JOIN members m ON m.id = e.member_id WHERE e.seq = ?1",
          {a.seq});
      if (rows.size() != 1) {
        ++missing;
        UNSCOPED_INFO("acknowledged seq " << a.seq << " (" << a.reader << ") found " << rows.size()
                                          << " times");
        continue;
      }
      const auto& row = rows[0];
      const bool same = str(row[0]) == a.reader &&
                        str(row[1]) == (a.granted ? "granted" : "denied") &&
                        str(row[2]) == a.target && str(row[2]) == target_of_reader(a.reader) &&
                        str(row[3]) == a.member && str(row[4]) == a.reason;
      if (!same) {
        ++mismatched;
        UNSCOPED_INFO("seq " << a.seq << ": acknowledged " << a.reader << " "
                             << (a.granted ? "granted" : "denied") << " " << a.target << " "
                             << a.member << " " << a.reason << ", stored " << str(row[0]) << " "
                             << str(row[1]) << " " << str(row[2]) << " " << str(row[3]) << " "
                             << str(row[4]) << " " << str(row[5]));
      }
    }
    CHECK(missing == 0);
    CHECK(mismatched == 0);
  }

  {
    // The sequence is shared by events and retained state messages (outbox rows alone): every
    // number from 1 to the last one handed out is an outbox row, each event has its outbox row
    // under the same number, and the outbox rows without an event are the retained states.
    const auto last = check.integer("SELECT last_seq FROM gateway_seq WHERE id = 1");
    CHECK(last > 0);
    CHECK(check.integer("SELECT count(*) FROM outbox") == last);
    CHECK(check.integer("SELECT min(seq) FROM outbox") == 1);
    CHECK(check.integer("SELECT max(seq) FROM outbox") == last);
    CHECK(check.integer("SELECT coalesce(max(seq), 0) FROM access_events") <= last);
    CHECK(check.integer("SELECT count(*) FROM access_events WHERE seq < 1") == 0);
    CHECK(check.integer("SELECT count(*) FROM access_events e LEFT JOIN outbox o ON o.seq = e.seq "
                        "WHERE o.seq IS NULL") == 0);
    CHECK(check.integer("SELECT count(*) FROM access_events e JOIN outbox o ON o.seq = e.seq "
                        "WHERE o.retain != 0") == 0);
    CHECK(check.integer("SELECT count(*) FROM outbox o LEFT JOIN access_events e ON e.seq = o.seq "
                        "WHERE e.seq IS NULL AND (o.retain = 0 OR o.topic NOT LIKE '%/state')") ==
          0);
    // Every outbox payload of an event names its own sequence number. The first check is the
    // old, lenient one (session events once carried "seq":0); the journal now builds every
    // payload after the seq is assigned, so the strict check below holds too.
    CHECK(check.integer("SELECT count(*) FROM access_events e JOIN outbox o ON o.seq = e.seq "
                        "WHERE json_extract(o.payload, '$.seq') IS NOT e.seq AND NOT ("
                        "json_extract(o.payload, '$.seq') = 0 AND e.kind IN ('session_started', "
                        "'session_ended', 'presence_in', 'presence_out'))") == 0);
    std::cout << "kill.sigkill: "
              << check.integer(
                     "SELECT count(*) FROM access_events e JOIN outbox o "
                     "ON o.seq = e.seq WHERE json_extract(o.payload, '$.seq') = 0")
              << " session event payloads carry seq 0 instead of their sequence number\n";
    CHECK(check.integer("SELECT count(*) FROM outbox WHERE json_extract(payload, '$.seq') IS NOT "
                        "seq") == 0);
    // Events are stored in sequence order.
    CHECK(check.integer("SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY id) AS prev "
                        "FROM access_events) WHERE prev >= seq") == 0);
  }

  {
    // Sessions: never two open on one machine, never two open coworking sessions of a member.
    auto doubles = check.rows(
        "SELECT machine_id, count(*) FROM sessions WHERE ended_at_ms IS NULL "
        "AND machine_id IS NOT NULL GROUP BY machine_id HAVING count(*) > 1");
    CHECK(doubles.empty());
    CHECK(check
              .rows("SELECT member_id FROM sessions WHERE ended_at_ms IS NULL "
                    "AND kind = 'coworking' GROUP BY member_id HAVING count(*) > 1")
              .empty());
    // The clean stop ends every machine session (Site::stop).
    CHECK(check.integer("SELECT count(*) FROM sessions WHERE ended_at_ms IS NULL "
                        "AND kind = 'machine'") == 0);
    CHECK(check.integer("SELECT count(*) FROM sessions WHERE ended_at_ms < started_at_ms") == 0);
    // The crashes left sessions open, and the restarts closed them as power losses.
    const auto recovered =
        check.integer("SELECT count(*) FROM sessions WHERE end_reason = 'power_loss_recovered'");
    std::cout << "kill.sigkill: " << check.integer("SELECT count(*) FROM access_events")
              << " events, " << check.integer("SELECT count(*) FROM sessions") << " sessions, "
              << recovered << " closed by power-loss recovery\n";
    CHECK(recovered > 0);
    // Recovery closes the sessions in one transaction and records their events afterwards, so
    // a kill in between leaves a closed session without its event: counted, not failed.
    std::cout << "kill.sigkill: "
              << check.integer(
                     "SELECT count(*) FROM sessions s WHERE s.end_reason = "
                     "'power_loss_recovered' AND NOT EXISTS (SELECT 1 FROM access_events "
                     "e WHERE e.kind = 'session_ended' AND e.detail = s.uuid)")
              << " recovered sessions have no session_ended event\n";
    CHECK(check.integer(
              "SELECT count(*) FROM sessions WHERE end_reason = 'power_loss_recovered' AND "
              "(ended_at_ms IS NULL OR ended_at_ms < started_at_ms OR measured_seconds IS NULL "
              "OR measured_seconds * 1000 > ended_at_ms - started_at_ms)") == 0);
    // An event saying recovery closed a session names a session that recovery did close.
    CHECK(check.integer("SELECT count(*) FROM access_events e LEFT JOIN sessions s "
                        "ON s.uuid = e.detail WHERE e.kind = 'session_ended' "
                        "AND e.reason = 'power_loss_recovered' "
                        "AND (s.id IS NULL OR s.end_reason IS NOT 'power_loss_recovered')") == 0);
    // No session is closed (billed) twice.
    CHECK(check
              .rows("SELECT detail FROM access_events WHERE kind IN ('session_ended', "
                    "'presence_out') AND detail != '' GROUP BY detail HAVING count(*) > 1")
              .empty());
    // Each session start event belongs to a stored session.
    CHECK(check.integer("SELECT count(*) FROM access_events e LEFT JOIN sessions s "
                        "ON s.uuid = e.detail WHERE e.kind IN ('session_started', 'presence_in') "
                        "AND s.id IS NULL") == 0);
  }

  // The clean stop was recorded after everything acknowledged before it.
  std::int64_t max_ack = 0;
  for (const auto& a : all_acks) max_ack = std::max(max_ack, a.seq);
  CHECK(check.integer("SELECT count(*) FROM access_events WHERE kind = 'gateway_stopped' "
                      "AND seq > ?1",
                      {max_ack}) == 1);
}
