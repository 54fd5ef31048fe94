// MQTT integration: the real labgated publishing its outbox to a real mosquitto, through broker
// outages and daemon crashes, and answering signed commands. Observed with mosquitto_sub (a
// separate process, persistent session) and driven with mosquitto_pub.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "daemon_fixture.hpp"
#include "labgate/gateway/mqtt/command.hpp"

using namespace labgate::testing;
namespace mqtt = labgate::gateway::mqtt;

namespace {

constexpr const char* kCommandKey =
    "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";
constexpr const char* kRoot = "labgate/v1/test/gw-test/";

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// mosquitto on 127.0.0.1 with persistence, so a persistent subscriber's queue survives a
// restart of the broker.
class Broker {
 public:
  explicit Broker(const TempDir& dir) : dir_(dir.path().string() + "/broker"), port_(free_port()) {
    std::filesystem::create_directories(dir_);
    std::ofstream conf(dir_ + "/mosquitto.conf");
    conf << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\npersistence true\n"
         << "persistence_location " << dir_ << "/\n";
    if (::geteuid() == 0) conf << "user root\n";
  }
  void start() {
    child_ = std::make_unique<Child>(
        std::vector<std::string>{MOSQUITTO_PATH, "-c", dir_ + "/mosquitto.conf"},
        dir_ + "/mosquitto.log");
    REQUIRE(wait_until([&] { return port_open(port_); }, std::chrono::seconds(10)));
  }
  void stop() {
    child_->signal(SIGTERM);
    REQUIRE(child_->wait(std::chrono::seconds(10)).has_value());
    child_.reset();
  }
  int port() const { return port_; }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<Child> child_;
};

// A persistent QoS 1 mosquitto_sub on everything of the test gateway; it reconnects by itself
// after a broker restart and receives what was queued for it.
class Subscriber {
 public:
  Subscriber(const TempDir& dir, const Broker& broker, const std::string& filter)
      : out_(dir.path().string() + "/sub.out") {
    child_ = std::make_unique<Child>(
        std::vector<std::string>{MOSQUITTO_SUB_PATH, "-h", "127.0.0.1", "-p",
                                 std::to_string(broker.port()), "-q", "1", "-c", "-i",
                                 "mqttint-observer", "-v", "-t", filter},
        out_);
  }
  // (topic, payload) in arrival order.
  std::vector<std::pair<std::string, std::string>> messages() const {
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(read_file(out_));
    std::string line;
    while (std::getline(in, line)) {
      auto sp = line.find(' ');
      if (sp == std::string::npos) continue;
      out.emplace_back(line.substr(0, sp), line.substr(sp + 1));
    }
    return out;
  }

 private:
  std::string out_;
  std::unique_ptr<Child> child_;
};

bool publish(const Broker& b, const std::string& topic, const std::string& payload) {
  auto r = run_command({MOSQUITTO_PUB_PATH, "-h", "127.0.0.1", "-p", std::to_string(b.port()), "-q",
                        "1", "-t", topic, "-m", payload},
                       std::chrono::seconds(10));
  return r.exit_code == 0;
}

std::string mqtt_section(int port, bool with_key) {
  std::string s =
      "\n[mqtt]\nenabled = true\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) + "\n";
  if (with_key) s += "command_key = \"" + std::string(kCommandKey) + "\"\n";
  return s;
}

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

std::int64_t last_seq(const Daemon& d) {
  auto s = d.open_store();
  auto r = s->last_seq();
  REQUIRE(r.ok());
  return r.value();
}

std::int64_t unsent(const Daemon& d) {
  auto s = d.open_store();
  auto r = s->unsent_count();
  REQUIRE(r.ok());
  return r.value();
}

// First occurrence of each outbox event seen by the subscriber, in arrival order (seq values).
std::vector<std::int64_t> first_seqs(const Subscriber& sub) {
  std::vector<std::int64_t> seqs;
  std::set<std::string> seen;
  for (const auto& [topic, payload] : sub.messages()) {
    if (!starts_with(topic, kRoot) || topic == std::string(kRoot) + "status") continue;
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (!j.is_object() || !j.contains("event_id") || !j.contains("seq")) continue;
    if (!seen.insert(j["event_id"].get<std::string>()).second) continue;
    seqs.push_back(j["seq"].get<std::int64_t>());
  }
  return seqs;
}

// Every seq 1..n delivered, first occurrences in ascending order.
void require_complete_in_order(const Subscriber& sub, std::int64_t n) {
  bool done = wait_until([&] { return static_cast<std::int64_t>(first_seqs(sub).size()) >= n; },
                         std::chrono::seconds(60));
  auto seqs = first_seqs(sub);
  INFO("expected " << n << " events, got " << seqs.size());
  REQUIRE(done);
  REQUIRE(static_cast<std::int64_t>(seqs.size()) == n);
  for (std::int64_t i = 0; i < n; ++i) REQUIRE(seqs[static_cast<std::size_t>(i)] == i + 1);
}

struct Rig {
  TempDir dir{"labgate-mqttint"};
  Broker broker{dir};
  std::unique_ptr<Daemon> daemon;

  explicit Rig(bool with_key = false) {
    daemon = std::make_unique<Daemon>(
        dir, test_config(dir.path().string(), mqtt_section(broker.port(), with_key)));
    auto s = daemon->open_store();
    seed_cast(*s);
  }

  void taps(int n) {
    for (int i = 0; i < n; ++i) {
      REQUIRE(starts_with(daemon->cmd("tap front-in iso14443a 04000001"), "ok granted"));
      REQUIRE(starts_with(daemon->cmd("tap front-in iso14443a 04999999"), "ok denied"));
    }
  }
};

}  // namespace

TEST_CASE("mqttint: broker stopped mid-load loses nothing and keeps order", "[outage]") {
  Rig rig;
  rig.broker.start();
  Subscriber sub(rig.dir, rig.broker, std::string(kRoot) + "#");
  rig.daemon->start();
  // "online" proves both the daemon's link and the subscription are in place.
  REQUIRE(wait_until(
      [&] {
        for (const auto& [t, p] : sub.messages()) {
          if (t == std::string(kRoot) + "status" && p == "online") return true;
        }
        return false;
      },
      std::chrono::seconds(20)));
  rig.taps(5);
  rig.broker.stop();
  rig.taps(20);
  REQUIRE(unsent(*rig.daemon) > 0);
  rig.broker.start();
  rig.taps(5);
  REQUIRE(wait_until([&] { return unsent(*rig.daemon) == 0; }, std::chrono::seconds(60)));
  require_complete_in_order(sub, last_seq(*rig.daemon));
}

TEST_CASE("mqttint: kill -9 of the daemon mid-drain loses nothing", "[crash]") {
  Rig rig;
  rig.broker.start();
  Subscriber sub(rig.dir, rig.broker, std::string(kRoot) + "#");
  // Let the subscriber's persistent session exist before the backlog is drained. The
  // subscriber may not have subscribed yet when a probe goes out, so probe until one arrives.
  REQUIRE(wait_until(
      [&] {
        if (!sub.messages().empty()) return true;
        publish(rig.broker, std::string(kRoot) + "probe", "x");
        return wait_until([&] { return !sub.messages().empty(); }, std::chrono::milliseconds(500));
      },
      std::chrono::seconds(30)));
  rig.broker.stop();
  rig.daemon->start();
  rig.taps(150);
  REQUIRE(unsent(*rig.daemon) > 0);
  rig.broker.start();
  // Crash as soon as the drain has visibly begun but not finished.
  wait_until([&] { return unsent(*rig.daemon) < last_seq(*rig.daemon); }, std::chrono::seconds(20));
  rig.daemon->kill9();
  rig.daemon->start();
  rig.taps(3);
  REQUIRE(wait_until([&] { return unsent(*rig.daemon) == 0; }, std::chrono::seconds(60)));
  require_complete_in_order(sub, last_seq(*rig.daemon));
}

TEST_CASE("mqttint: forged, replayed, stale and malformed commands move no relay", "[commands]") {
  Rig rig(true);
  rig.broker.start();
  Subscriber sub(rig.dir, rig.broker, std::string(kRoot) + "reply/#");
  rig.daemon->start();
  auto& d = *rig.daemon;
  const std::string topic = std::string(kRoot) + "cmd/door_unlock";
  auto key = mqtt::parse_command_key(kCommandKey);
  REQUIRE(key);
  mqtt::CommandKey wrong = *key;
  wrong[0] ^= 0x01;

  auto reply = [&](const std::string& id) -> nlohmann::json {
    nlohmann::json out;
    wait_until(
        [&] {
          for (const auto& [t, p] : sub.messages()) {
            if (t == std::string(kRoot) + "reply/" + id) {
              out = nlohmann::json::parse(p, nullptr, false);
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(20));
    return out;
  };
  // The router subscribes once connected; a first command may race it, so send until answered.
  const auto now = mqtt::unix_ms_now();
  auto good = mqtt::sign_command(*key, topic, "good-1", now, R"({"door":"front"})");
  REQUIRE(wait_until(
      [&] {
        return publish(rig.broker, topic, good) &&
               wait_until([&] { return !sub.messages().empty(); }, std::chrono::seconds(2));
      },
      std::chrono::seconds(30)));
  auto ok = reply("good-1");
  REQUIRE(ok["ok"] == true);
  CHECK(d.cmd("output front.strike") == "ok front.strike on");
  REQUIRE(starts_with(d.cmd("clock advance 6s"), "ok"));
  REQUIRE(d.cmd("output front.strike") == "ok front.strike off");

  SECTION("rejected commands") {
    // Replay of the accepted command.
    REQUIRE(publish(rig.broker, topic, good));
    // Forged: signed with another key.
    REQUIRE(publish(rig.broker, topic,
                    mqtt::sign_command(wrong, topic, "forged-1", now, R"({"door":"front"})")));
    // Stale: ten minutes old.
    REQUIRE(
        publish(rig.broker, topic,
                mqtt::sign_command(*key, topic, "stale-1", now - 600'000, R"({"door":"front"})")));
    // Malformed.
    REQUIRE(publish(rig.broker, topic, "{not json"));
    REQUIRE(publish(rig.broker, topic, R"({"body":"{\"id\":\"bad-1\"}","mac":"00"})"));
    // Valid signature over a command for another gateway's topic.
    REQUIRE(publish(rig.broker, topic,
                    mqtt::sign_command(*key, "labgate/v1/test/other/cmd/door_unlock", "moved-1",
                                       mqtt::unix_ms_now(), R"({"door":"front"})")));
    // A good command last: once it is answered, every earlier one was handled.
    auto fence = mqtt::sign_command(*key, std::string(kRoot) + "cmd/reload", "fence-1",
                                    mqtt::unix_ms_now(), "{}");
    REQUIRE(publish(rig.broker, std::string(kRoot) + "cmd/reload", fence));
    auto f = reply("fence-1");
    REQUIRE(f["ok"] == true);

    CHECK(d.cmd("output front.strike") == "ok front.strike off");
    CHECK(reply("forged-1")["error"] == "bad_mac");
    CHECK(reply("stale-1")["error"] == "stale");
    CHECK(reply("moved-1")["error"] == "bad_mac");
    int good_replies = 0;
    bool replayed = false;
    for (const auto& [t, p] : sub.messages()) {
      if (t != std::string(kRoot) + "reply/good-1") continue;
      auto j = nlohmann::json::parse(p, nullptr, false);
      if (j["ok"] == true) ++good_replies;
      if (j.value("error", "") == "replayed") replayed = true;
    }
    CHECK(good_replies == 1);
    CHECK(replayed);
    // Accepted commands are audited with their id; rejected ones changed nothing.
    auto s = d.open_store();
    auto audit = s->list_audit();
    REQUIRE(audit.ok());
    int unlocks = 0;
    for (const auto& a : audit.value()) {
      if (a.action == "mqtt_door_unlock") {
        ++unlocks;
        CHECK(a.detail.find("good-1") != std::string::npos);
      }
    }
    CHECK(unlocks == 1);
  }
}

TEST_CASE("mqttint: Home Assistant discovery is retained for doors, machines and the gateway",
          "[discovery]") {
  Rig rig;
  rig.broker.start();
  rig.daemon->start();
  // Retained: a client that subscribes afterwards still receives every config message.
  const std::vector<std::string> want = {
      "homeassistant/binary_sensor/labgate_test_gw-test/connectivity/config",
      "homeassistant/lock/labgate_test_gw-test/door_front/config",
      "homeassistant/lock/labgate_test_gw-test/door_lab/config",
      "homeassistant/switch/labgate_test_gw-test/machine_laser/config",
      "homeassistant/switch/labgate_test_gw-test/machine_printer/config",
      "homeassistant/sensor/labgate_test_gw-test/machine_laser_user/config",
      "homeassistant/sensor/labgate_test_gw-test/machine_printer_user/config"};
  std::set<std::string> got;
  REQUIRE(wait_until(
      [&] {
        auto r = run_command(
            {MOSQUITTO_SUB_PATH, "-h", "127.0.0.1", "-p", std::to_string(rig.broker.port()), "-v",
             "-t", "homeassistant/#", "-W", "2"},
            std::chrono::seconds(10));
        std::istringstream in(r.out);
        std::string line;
        got.clear();
        while (std::getline(in, line)) {
          auto sp = line.find(' ');
          if (sp == std::string::npos) continue;
          auto j = nlohmann::json::parse(line.substr(sp + 1), nullptr, false);
          if (j.is_object()) got.insert(line.substr(0, sp));
        }
        return got.size() >= want.size();
      },
      std::chrono::seconds(30)));
  for (const auto& t : want) CHECK(got.count(t) == 1);
}
