// MQTT integration: the real labgated publishing its outbox to a real mosquitto, through broker
// outages and daemon crashes, and answering signed commands. Observed with mosquitto_sub (a
// separate process, persistent session) and driven with mosquitto_pub.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "broker.hpp"
#include "daemon.hpp"
#include "labgate/gateway/mqtt/command.hpp"
#include "must.hpp"

using namespace labgate::testing;
namespace mqtt = labgate::gateway::mqtt;

namespace {

// Random per test run: a command key printed in the repository is refused by labgated.
const std::string& kCommandKey = test_command_key();
constexpr const char* kRoot = "labgate/v1/test/gw-test/";

// A persistent QoS 1 mosquitto_sub on `filter`: it reconnects by itself after a broker restart
// and receives what was queued for it.
std::unique_ptr<Subscriber> observer(const MosquittoBroker& broker, const std::string& filter) {
  Subscriber::Options o;
  o.client_id = "mqttint-observer";
  o.persistent = true;
  return std::make_unique<Subscriber>(broker, std::vector<std::string>{filter}, o);
}

bool publish(const MosquittoBroker& b, const std::string& topic, const std::string& payload) {
  return publish_with_tool(b, topic, payload);
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

// The control socket's status answer joins its lines with " | ".
bool contains_line(const std::string& status, const std::string& prefix) {
  std::size_t at = 0;
  while (at <= status.size()) {
    auto end = status.find(" | ", at);
    auto line = status.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (starts_with(line, prefix)) return true;
    if (end == std::string::npos) break;
    at = end + 3;
  }
  return false;
}

std::int64_t last_seq(const Daemon& d) {
  auto s = d.open_store();
  auto r = s->events().last_seq();
  REQUIRE(r.ok());
  return r.value();
}

std::int64_t unsent(const Daemon& d) {
  auto s = d.open_store();
  auto r = s->events().unsent_count();
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

// Every seq 1..n delivered, first occurrences in ascending order, n being the daemon's last seq
// once everything is sent: the daemon may still enqueue (its audit checkpoint) while we wait.
void require_complete_in_order(const Subscriber& sub, const Daemon& daemon) {
  std::int64_t n = 0;
  std::vector<std::int64_t> seqs;
  // A snapshot of what arrived, taken between two equal reads of the last seq: nothing newer
  // can be in it, since a message is committed before it is published.
  bool done = wait_until(
      [&] {
        n = last_seq(daemon);
        if (unsent(daemon) != 0) return false;
        seqs = first_seqs(sub);
        return static_cast<std::int64_t>(seqs.size()) >= n && last_seq(daemon) == n;
      },
      std::chrono::seconds(60));
  INFO("expected " << n << " events, got " << seqs.size());
  REQUIRE(done);
  REQUIRE(static_cast<std::int64_t>(seqs.size()) == n);
  for (std::int64_t i = 0; i < n; ++i) REQUIRE(seqs[static_cast<std::size_t>(i)] == i + 1);
}

struct Rig {
  TempDir dir{"labgate-mqttint"};
  MosquittoBroker broker;
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
  auto observed = observer(rig.broker, std::string(kRoot) + "#");
  Subscriber& sub = *observed;
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
  require_complete_in_order(sub, *rig.daemon);
}

TEST_CASE("mqttint: kill -9 of the daemon mid-drain loses nothing", "[crash]") {
  Rig rig;
  rig.broker.start();
  auto observed = observer(rig.broker, std::string(kRoot) + "#");
  Subscriber& sub = *observed;
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
  require_complete_in_order(sub, *rig.daemon);
}

namespace {

// A daemon with the command key, started after the broker and a subscriber on its replies.
struct CommandRig {
  Rig rig{true};
  std::unique_ptr<Subscriber> sub;
  std::string topic = std::string(kRoot) + "cmd/door_unlock";
  mqtt::CommandKey key = *mqtt::parse_command_key(kCommandKey);

  CommandRig() {
    rig.broker.start();
    sub = observer(rig.broker, std::string(kRoot) + "reply/#");
    rig.daemon->start();
  }
};

}  // namespace

TEST_CASE("mqttint: forged, replayed, stale and malformed commands move no relay", "[commands]") {
  CommandRig c;
  auto& rig = c.rig;
  auto& sub = *c.sub;
  auto& d = *rig.daemon;
  const std::string& topic = c.topic;
  const mqtt::CommandKey* key = &c.key;
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
    auto audit = s->audit().list_audit();
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

TEST_CASE("mqttint: a command accepted before a restart is refused as replayed after it",
          "[replay_restart]") {
  CommandRig c;
  auto& d = *c.rig.daemon;
  // Every reply on reply/<id>, in arrival order (the subscriber's session outlives the daemon).
  auto replies = [&](const std::string& id) {
    std::vector<nlohmann::json> out;
    for (const auto& [t, p] : c.sub->messages()) {
      if (t == std::string(kRoot) + "reply/" + id) out.push_back(nlohmann::json::parse(p));
    }
    return out;
  };
  // Publishes until the n-th reply for `id` arrives: the router subscribes only once the
  // daemon is connected, and a message sent before that is not delivered to it.
  auto send_until_answered = [&](const std::string& payload, const std::string& id, std::size_t n) {
    return wait_until(
        [&] {
          return publish(c.rig.broker, c.topic, payload) &&
                 wait_until([&] { return replies(id).size() >= n; }, std::chrono::seconds(2));
        },
        std::chrono::seconds(30));
  };

  // Dated 20 s ahead (inside the 30 s skew): the captured message is still fresh for up to 50 s,
  // so a slow restart cannot turn the replay into a merely stale message.
  const auto captured = mqtt::sign_command(c.key, c.topic, "before-1", mqtt::unix_ms_now() + 20'000,
                                           R"({"door":"front"})");
  REQUIRE(send_until_answered(captured, "before-1", 1));
  REQUIRE(replies("before-1")[0]["ok"] == true);
  CHECK(d.cmd("output front.strike") == "ok front.strike on");

  // A real restart of labgated on the same database.
  REQUIRE(d.stop() == 0);
  d.start();
  REQUIRE(d.cmd("output front.strike") == "ok front.strike off");

  // The captured message, sent again: refused as a replay, and the strike stays off. (Before
  // the restart it may already have been answered "replayed" if it was sent twice.)
  const std::size_t before_restart = replies("before-1").size();
  REQUIRE(send_until_answered(captured, "before-1", before_restart + 1));
  const auto all = replies("before-1");
  std::string seen;
  for (const auto& r : all) seen += r.dump() + "\n";
  INFO(seen);
  for (std::size_t i = before_restart; i < all.size(); ++i) {
    CHECK(all[i]["ok"] == false);
    CHECK(all[i]["error"] == "replayed");
  }
  CHECK(d.cmd("output front.strike") == "ok front.strike off");

  // A fresh command from the same issuer is accepted.
  const auto fresh =
      mqtt::sign_command(c.key, c.topic, "after-1", mqtt::unix_ms_now(), R"({"door":"front"})");
  REQUIRE(send_until_answered(fresh, "after-1", 1));
  CHECK(replies("after-1")[0]["ok"] == true);
  CHECK(d.cmd("output front.strike") == "ok front.strike on");

  // Only the two accepted commands acted (and were audited).
  auto s = d.open_store();
  auto audit = s->audit().list_audit();
  REQUIRE(audit.ok());
  int unlocks = 0;
  for (const auto& a : audit.value()) {
    if (a.action == "mqtt_door_unlock") ++unlocks;
  }
  CHECK(unlocks == 2);
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
            {MosquittoTools::sub(), "-h", "127.0.0.1", "-p", std::to_string(rig.broker.port()),
             "-v", "-t", "homeassistant/#", "-W", "2"},
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

namespace {

// The printer's relay is a Tasmota plug; the rest of the test site is unchanged.
std::string plug_config(const TempDir& dir, int port) {
  auto c = test_config(dir.path().string(),
                       mqtt_section(port, false) + "plug_confirm_timeout_ms = 1500\n");
  const std::string from = "relay = \"sim\"\ncertification = \"printer\"";
  auto at = c.find(from);
  REQUIRE(at != std::string::npos);
  c.replace(at, from.size(), "relay = \"tasmota:printer-plug\"\ncertification = \"printer\"");
  return c;
}

struct PlugRig {
  TempDir dir{"labgate-mqttint-plug"};
  MosquittoBroker broker;
  std::unique_ptr<Daemon> daemon;

  PlugRig() {
    daemon = std::make_unique<Daemon>(dir, plug_config(dir, broker.port()));
    auto s = daemon->open_store();
    seed_cast(*s);
  }

  // Starts broker and daemon and waits until the daemon is online.
  void start(Subscriber& sub) {
    daemon->start();
    REQUIRE(wait_until(
        [&] {
          for (const auto& [t, p] : sub.messages()) {
            if (t == std::string(kRoot) + "status" && p == "online") return true;
          }
          return false;
        },
        std::chrono::seconds(20)));
    REQUIRE(daemon->cmd("confirm printer") == "ok confirm printer");
  }

  std::vector<nlohmann::json> events(const Subscriber& sub, const std::string& kind) const {
    std::vector<nlohmann::json> out;
    for (const auto& [t, p] : sub.messages()) {
      auto j = nlohmann::json::parse(p, nullptr, false);
      if (j.is_object() && j.value("kind", "") == kind) out.push_back(j);
    }
    return out;
  }

  std::vector<labgate::gateway::store::Session> sessions() const {
    auto s = daemon->open_store();
    labgate::gateway::store::HistoryFilter f;
    f.machine_id = "printer";
    auto r = s->events().list_sessions(f);
    REQUIRE(r.ok());
    return r.value();
  }
};

}  // namespace

TEST_CASE("mqttint: a smart plug that confirms carries the session", "[plug_confirms]") {
  PlugRig rig;
  rig.broker.start();
  auto observed = observer(rig.broker, std::string(kRoot) + "#");
  Subscriber& sub = *observed;
  PlugPlayer plug(rig.broker, "cmnd/printer-plug/POWER", "stat/printer-plug/POWER", true);
  rig.start(sub);

  // The reply comes only after the plug confirmed ON and the session was committed.
  auto on = rig.daemon->cmd("tap printer iso14443a 04000001");
  INFO(on);
  REQUIRE(starts_with(on, "ok granted printer M1"));
  CHECK(plug.commands() == std::vector<std::string>{"ON"});
  auto open = rig.sessions();
  REQUIRE(open.size() == 1);
  CHECK_FALSE(open[0].ended_at_ms.has_value());

  REQUIRE(starts_with(rig.daemon->cmd("clock advance 2m"), "ok"));
  auto off = rig.daemon->cmd("tap printer iso14443a 04000001");
  INFO(off);
  REQUIRE(starts_with(off, "ok granted printer M1 session_ended"));
  REQUIRE(wait_until([&] { return plug.commands().size() == 2; }, std::chrono::seconds(10)));
  CHECK(plug.commands() == std::vector<std::string>{"ON", "OFF"});
  auto closed = rig.sessions();
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].end_reason == "tap_off");
  CHECK(closed[0].measured_seconds == 120);
  // Published: the session opened and closed; no alarm, even after the confirmation timeout.
  REQUIRE(wait_until([&] { return rig.events(sub, "session_ended").size() == 1; },
                     std::chrono::seconds(20)));
  CHECK(rig.events(sub, "session_started").size() == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // past the 1.5 s timeout
  CHECK(rig.events(sub, "relay_unconfirmed").empty());
  CHECK(contains_line(rig.daemon->cmd("status"), "machine printer idle relay=off"));
}

TEST_CASE("mqttint: a smart plug that never confirms refuses the session and raises an alarm",
          "[plug_never_confirms]") {
  PlugRig rig;
  rig.broker.start();
  auto observed = observer(rig.broker, std::string(kRoot) + "#");
  Subscriber& sub = *observed;
  PlugPlayer plug(rig.broker, "cmnd/printer-plug/POWER", "stat/printer-plug/POWER", false);
  rig.start(sub);

  const auto t0 = std::chrono::steady_clock::now();
  auto reply = rig.daemon->cmd("tap printer iso14443a 04000001");
  const auto waited = std::chrono::steady_clock::now() - t0;
  INFO(reply);
  REQUIRE(starts_with(reply, "ok denied printer M1 plug_no_confirm"));
  CHECK(waited >= std::chrono::milliseconds(1400));
  CHECK(rig.sessions().empty());
  // The machine was commanded back off, and is free again.
  REQUIRE(wait_until([&] { return plug.commands().size() >= 2; }, std::chrono::seconds(10)));
  CHECK(plug.commands()[0] == "ON");
  CHECK(plug.commands()[1] == "OFF");
  CHECK(contains_line(rig.daemon->cmd("status"), "machine printer idle relay=off user=-"));
  // Published: the alarm (ON, then OFF unconfirmed too) and the refused tap; never a session.
  REQUIRE(wait_until([&] { return !rig.events(sub, "relay_unconfirmed").empty(); },
                     std::chrono::seconds(20)));
  auto alarm = rig.events(sub, "relay_unconfirmed").front();
  CHECK(alarm["reason"] == "plug_no_confirm");
  CHECK(alarm["detail"] == "on");
  CHECK(alarm["machine"] == "printer");
  bool on_alarm_topic = false;
  for (const auto& [t, p] : sub.messages()) {
    if (t == std::string(kRoot) + "alarm" && p.find("plug_no_confirm") != std::string::npos) {
      on_alarm_topic = true;
    }
  }
  CHECK(on_alarm_topic);
  REQUIRE(wait_until([&] { return !rig.events(sub, "tap_machine").empty(); },
                     std::chrono::seconds(20)));
  CHECK(rig.events(sub, "tap_machine").front()["decision"] == "denied");
  CHECK(rig.events(sub, "session_started").empty());
}

namespace {

void must_run(const std::vector<std::string>& argv) {
  auto r = run_command(argv, std::chrono::seconds(60));
  INFO(argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r.err);
  REQUIRE(r.exit_code == 0);
}

// A throwaway CA and a server certificate for 127.0.0.1 signed by it, made with the openssl CLI.
void make_ca(const std::string& dir, const std::string& name) {
  must_run({OPENSSL_PATH, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            dir + "/" + name + ".key", "-out", dir + "/" + name + ".crt", "-days", "2", "-subj",
            "/CN=labgate test " + name});
}

void make_server_cert(const std::string& dir, const std::string& ca) {
  std::ofstream(dir + "/server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  must_run({OPENSSL_PATH, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/server.key",
            "-out", dir + "/server.csr", "-subj", "/CN=127.0.0.1"});
  must_run({OPENSSL_PATH, "x509", "-req", "-in", dir + "/server.csr", "-CA",
            dir + "/" + ca + ".crt", "-CAkey", dir + "/" + ca + ".key", "-CAcreateserial", "-out",
            dir + "/server.crt", "-days", "2", "-extfile", dir + "/server.ext"});
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

// The production broker config and ACL, with the paths, ports and site id of this test: the
// same listeners (TLS, plus the local plaintext one), password file and ACL scheme.
struct TlsBroker {
  std::string dir;
  int tls_port{free_port()};
  int local_port{free_port()};
  std::unique_ptr<Child> child;

  explicit TlsBroker(const TempDir& tmp) : dir(tmp.path().string() + "/tls") {
    std::filesystem::create_directories(dir);
    make_ca(dir, "ca");
    make_ca(dir, "other-ca");
    make_server_cert(dir, "ca");
    auto conf = read_file(PROJECT_MOSQUITTO_CONF);
    replace_all(conf, "/etc/mosquitto/passwd", dir + "/passwd");
    replace_all(conf, "/etc/mosquitto/acl", dir + "/acl");
    replace_all(conf, "/etc/mosquitto/ca_certificates/ca.crt", dir + "/ca.crt");
    replace_all(conf, "/etc/mosquitto/certs/server.crt", dir + "/server.crt");
    replace_all(conf, "/etc/mosquitto/certs/server.key", dir + "/server.key");
    replace_all(conf, "/var/lib/mosquitto/", dir + "/");
    replace_all(conf, "listener 8883\n", "listener " + std::to_string(tls_port) + " 127.0.0.1\n");
    replace_all(conf, "listener 1883 127.0.0.1",
                "listener " + std::to_string(local_port) + " 127.0.0.1");
    replace_all(conf, "log_dest syslog", "log_dest file " + dir + "/mosquitto.log");
    REQUIRE(conf.find("listener " + std::to_string(tls_port)) != std::string::npos);
    REQUIRE(conf.find(dir + "/server.key") != std::string::npos);
    if (::geteuid() == 0) conf += "\nuser root\n";
    std::ofstream(dir + "/mosquitto.conf") << conf;
    auto acl = read_file(PROJECT_MOSQUITTO_ACL);
    replace_all(acl, "fablab", "test");  // the example site id of the production ACL
    std::ofstream(dir + "/acl") << acl;
    std::ofstream(dir + "/passwd");
    must_run({MosquittoTools::passwd(), "-b", dir + "/passwd", "gw-test", "gw-secret"});
    must_run(
        {MosquittoTools::passwd(), "-b", dir + "/passwd", "labgate-console", "console-secret"});
    child = std::make_unique<Child>(
        std::vector<std::string>{MosquittoTools::broker(), "-c", dir + "/mosquitto.conf"},
        dir + "/mosquitto.out");
    REQUIRE(wait_until([&] { return port_accepts(tls_port) && port_accepts(local_port); },
                       std::chrono::seconds(10)));
  }
  ~TlsBroker() {
    if (child) {
      child->signal(SIGTERM);
      child->wait(std::chrono::seconds(10));
    }
  }

  // mosquitto_sub over TLS as the console, with `ca` as trust anchor; waits at most 3 s.
  RunResult sub_once(const std::string& ca, const std::string& topic) const {
    return run_command({MosquittoTools::sub(), "-h", "127.0.0.1", "-p", std::to_string(tls_port),
                        "--cafile", dir + "/" + ca + ".crt", "-u", "labgate-console", "-P",
                        "console-secret", "-v", "-t", topic, "-W", "3"},
                       std::chrono::seconds(20));
  }
};

}  // namespace

TEST_CASE("mqttint: labgated publishes over the production TLS listener; a wrong CA is refused",
          "[tls]") {
  TempDir dir{"labgate-mqttint-tls"};
  TlsBroker broker(dir);
  std::string mqtt =
      "\n[mqtt]\nenabled = true\nhost = \"127.0.0.1\"\nport = " + std::to_string(broker.tls_port) +
      "\nusername = \"gw-test\"\npassword = \"gw-secret\"\nca_file = \"" + broker.dir +
      "/ca.crt\"\n";
  Daemon daemon(dir, test_config(dir.path().string(), mqtt));
  {
    auto s = daemon.open_store();
    seed_cast(*s);
  }
  daemon.start();
  // "online" is retained: a TLS client that subscribes after the daemon connected still gets
  // it, which proves the daemon's TLS session and its publish.
  REQUIRE(wait_until(
      [&] {
        auto r = broker.sub_once("ca", std::string(kRoot) + "status");
        return r.out.find(std::string(kRoot) + "status online") != std::string::npos;
      },
      std::chrono::seconds(30)));
  // Events drained from the outbox arrive over TLS too (the retained door state of the tap).
  REQUIRE(starts_with(daemon.cmd("tap front-in iso14443a 04000001"), "ok granted"));
  REQUIRE(wait_until(
      [&] {
        auto r = broker.sub_once("ca", std::string(kRoot) + "door/front/state");
        return r.out.find("\"door\":\"front\"") != std::string::npos;
      },
      std::chrono::seconds(30)));
  {
    auto s = daemon.open_store();
    REQUIRE(wait_until(
        [&] {
          auto n = s->events().unsent_count();
          return n.ok() && n.value() == 0;
        },
        std::chrono::seconds(30)));
  }

  // A client that trusts another CA does not get a session (certificate verify failure).
  auto wrong = broker.sub_once("other-ca", std::string(kRoot) + "status");
  CHECK(wrong.exit_code != 0);
  CHECK(wrong.out.find("online") == std::string::npos);
  // Plain MQTT on the TLS port is refused as well.
  auto plain = run_command(
      {MosquittoTools::sub(), "-h", "127.0.0.1", "-p", std::to_string(broker.tls_port), "-u",
       "labgate-console", "-P", "console-secret", "-t", std::string(kRoot) + "status", "-W", "3"},
      std::chrono::seconds(20));
  CHECK(plain.exit_code != 0);
  CHECK(plain.out.find("online") == std::string::npos);
  // The right CA but a wrong password: refused by the password file, as in production.
  auto bad_pw =
      run_command({MosquittoTools::sub(), "-h", "127.0.0.1", "-p", std::to_string(broker.tls_port),
                   "--cafile", broker.dir + "/ca.crt", "-u", "labgate-console", "-P", "wrong", "-t",
                   std::string(kRoot) + "status", "-W", "3"},
                  std::chrono::seconds(20));
  CHECK(bad_pw.exit_code != 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("mqttint: the head of the sealed record is retained on the broker", "[checkpoint]") {
  Rig rig;
  rig.broker.start();
  rig.daemon->start();
  rig.taps(2);
  // Retained: a client that subscribes afterwards (or after a truncation) still gets it.
  std::string payload;
  REQUIRE(wait_until(
      [&] {
        auto r = run_command(
            {MosquittoTools::sub(), "-h", "127.0.0.1", "-p", std::to_string(rig.broker.port()),
             "-t", std::string(kRoot) + "audit/checkpoint", "-C", "1", "-W", "2"},
            std::chrono::seconds(10));
        payload = r.out;
        return payload.find("labgate-checkpoint v1 seq=") != std::string::npos;
      },
      std::chrono::seconds(30)));
  const auto json = nlohmann::json::parse(payload);
  const auto cps = must(
      labgate::gateway::store::seal::parse_checkpoints(json.at("checkpoint").get<std::string>()),
      "checkpoint");
  REQUIRE(cps.size() == 1);
  CHECK(cps[0].seq > 0);
  // The retained checkpoint verifies against the daemon's record with the verification key.
  labgate::gateway::store::StoreOptions ro;
  ro.database.read_only = true;
  auto store = must(labgate::gateway::store::Store::open(rig.daemon->db_path(), ro), "open");
  const auto v = must(
      labgate::gateway::store::seal::verify(store->database(), rig.daemon->verification_key(), cps),
      "verify");
  INFO(v.message);
  CHECK(v.ok);
}
