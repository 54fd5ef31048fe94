// A production site with the real binaries: keys of its own (labgatectl init; published keys and
// world-readable configs refused by labgated), and a control socket that drives simulated
// devices only.

#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "daemon.hpp"
#include "emulated_reader.hpp"
#include "text_match.hpp"

using namespace labgate::testing;

namespace {

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

gid_t group_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_gid;
}

// Every `key = "<64 hex>"` value in a TOML text, in file order (site.key, then command_key).
std::vector<std::string> keys_in(const std::string& text) {
  static const std::regex kKeyLine(R"re((?:^|\n)\s*(?:command_)?key\s*=\s*"([0-9a-fA-F]{64})")re");
  std::vector<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), kKeyLine), end; it != end; ++it)
    out.push_back((*it)[1].str());
  return out;
}

RunResult init(const std::filesystem::path& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{LABGATECTL_PATH, "init", "--site", "fablab",
                                "--gateway",     "gw1",  "--out",  out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_command(argv);
}

RunResult check_config(const std::filesystem::path& p) {
  return run_command({LABGATED_PATH, "--check-config", p.string()});
}

// --check-config on `p` once it has `mode`.
RunResult check_at_mode(const std::filesystem::path& p, mode_t mode) {
  REQUIRE(::chmod(p.c_str(), mode) == 0);
  return check_config(p);
}

// labgated on `config` (or the built-in demo when empty) with its database and control socket
// in `dir`; waits until the socket answers `status`.
struct RunningDaemon {
  std::filesystem::path dir;
  std::unique_ptr<Child> child;
  std::unique_ptr<LineClient> client;

  RunningDaemon(const TempDir& d, const std::string& config) : dir(d.path()) {
    // labgated never runs without the audit record's sealing key (docs/KEYS.md).
    if (!std::filesystem::exists(dir / "run.db.seal-key")) {
      const auto setup = run_command({LABGATECTL_PATH, "--db", (dir / "run.db").string(),
                                      "--create", "audit", "setup", "--no-qr"});
      if (setup.exit_code != 0) FAIL("audit setup: " << setup.err);
    }
    std::vector<std::string> argv{LABGATED_PATH,
                                  "--db",
                                  (dir / "run.db").string(),
                                  "--control-socket",
                                  (dir / "run.sock").string(),
                                  "--admin-socket",
                                  (dir / "admin.sock").string()};
    if (!config.empty()) {
      argv.push_back("--config");
      argv.push_back(config);
    }
    child = std::make_unique<Child>(argv, dir / "run.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!client) {
      try {
        auto c = std::make_unique<LineClient>(dir / "run.sock", std::chrono::milliseconds(200));
        if (c->request("status").rfind("ok", 0) == 0) client = std::move(c);
      } catch (const std::exception&) {
      }
      if (!client) {
        if (!child->running()) FAIL("labgated exited at start:\n" << log());
        if (std::chrono::steady_clock::now() > deadline)
          FAIL("labgated did not answer:\n" << log());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  std::string cmd(const std::string& line) { return client->request(line); }
  std::string log() const { return read_file(dir / "run.log"); }
  int stop() {
    client.reset();
    child->signal(SIGTERM);
    return child->wait(std::chrono::seconds(20)).value_or(-1);
  }
};

}  // namespace

TEST_CASE("--check-config and a start refuse the keys printed in the repository", "[keys]") {
  TempDir dir("labgate-keys");

  // The reference config as shipped: its site key is printed in it.
  auto r = check_config(LABGATE_CONFIG_DIR "/labgate.reference.toml");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "site.key is published"));
  CHECK(contains(r.err, "labgatectl init"));
  CHECK(contains(r.err, "head -c32 /dev/urandom"));
  CHECK(r.out.empty());

  // The demo site's file, copied private so that only its key is at fault.
  const auto demo = dir / "demo.toml";
  write_private_file(demo, read_file(LABGATE_CONFIG_DIR "/demo-site.toml"));
  r = check_config(demo);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "site.key is published"));

  // Starting on the demo config file is refused too; only the built-in demo runs on that key.
  r = run_command({LABGATED_PATH, "--config", LABGATE_CONFIG_DIR "/demo-site.toml", "--db",
                   (dir / "x.db").string(), "--control-socket", (dir / "x.sock").string()});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "site.key is published"));
  CHECK_FALSE(std::filesystem::exists(dir / "x.db"));
  CHECK_FALSE(std::filesystem::exists(dir / "x.sock"));

  // A site key of its own with a published MQTT command key (the reference's key, read here so
  // that this file prints none).
  const auto reference_keys = keys_in(read_file(LABGATE_CONFIG_DIR "/labgate.reference.toml"));
  REQUIRE_FALSE(reference_keys.empty());
  const auto mqtt = dir / "mqtt.toml";
  write_private_file(
      mqtt, test_config(dir.path().string(), "\n[mqtt]\nenabled = false\ncommand_key = \"" +
                                                 reference_keys.front() + "\"\n"));
  r = check_config(mqtt);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "mqtt.command_key is published"));
  CHECK_FALSE(contains(r.err, "site.key"));
  CHECK_FALSE(contains(r.err, reference_keys.front()));

  // The same config with keys of its own passes.
  write_private_file(mqtt, test_config(dir.path().string(),
                                       "\n[mqtt]\nenabled = false\n"
                                       "command_key = \"" +
                                           test_command_key() + "\"\n"));
  r = check_config(mqtt);
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("a config with keys that every user can read is refused with the chmod", "[keys]") {
  TempDir dir("labgate-keys");
  const auto path = dir / "site.toml";
  write_private_file(path, test_config(dir.path().string()));
  REQUIRE(check_config(path).exit_code == 0);

  auto r = check_at_mode(path, 0644);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "chmod 640 " + path.string()));
  CHECK(contains(r.err, "mode 0644"));

  r = run_command({LABGATED_PATH, "--config", path.string()});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "chmod 640 " + path.string()));
  CHECK_FALSE(std::filesystem::exists(dir / "ctl.sock"));

  // labgatectl still reaches the database but says what labgated will refuse.
  r = run_command({LABGATECTL_PATH, "--config", path.string(), "--create", "plans", "list"});
  CHECK(contains(r.err, "warning"));
  CHECK(contains(r.err, "chmod 640"));

  // Written by others is worse, and the same chmod fixes it.
  CHECK(contains(check_at_mode(path, 0602).err, "read and written by every user"));
  r = check_at_mode(path, 0640);
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("labgatectl init writes a private config with fresh keys it never prints", "[keys]") {
  TempDir dir("labgate-init");
  const auto a = dir / "a.toml";
  const auto b = dir / "b.toml";
  const auto ra = init(a);
  const auto rb = init(b);
  INFO(ra.err << rb.err);
  REQUIRE(ra.exit_code == 0);
  REQUIRE(rb.exit_code == 0);

  CHECK(mode_of(a) == 0640);
  const struct group* labgate = ::getgrnam("labgate");
  CHECK(group_of(a) == (labgate != nullptr ? labgate->gr_gid : ::getegid()));

  const auto ka = keys_in(read_file(a));
  const auto kb = keys_in(read_file(b));
  REQUIRE(ka.size() == 2);  // site.key, mqtt.command_key
  REQUIRE(kb.size() == 2);
  CHECK(ka[0] != ka[1]);
  CHECK(ka[0] != kb[0]);
  CHECK(ka[1] != kb[1]);
  for (const auto* run : {&ra, &rb}) {
    CHECK(contains(run->out, "site.key"));
    CHECK(contains(run->out, "sha256:"));
    for (const auto& k : {ka[0], ka[1], kb[0], kb[1]}) {
      CHECK_FALSE(contains(run->out, k));
      CHECK_FALSE(contains(run->err, k));
    }
  }
  CHECK(contains(ra.out, a.string()));
  // Nothing else is left in the folder (the temp file was renamed into place).
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()),
                      std::filesystem::directory_iterator()) == 2);

  const auto checked = check_config(a);
  INFO(checked.err);
  CHECK(checked.exit_code == 0);

  // An existing config is never replaced by accident.
  const auto before = read_file(a);
  auto again = init(a);
  CHECK(again.exit_code == 1);
  CHECK(contains(again.err, "--force"));
  CHECK(read_file(a) == before);
  again = init(a, {"--force"});
  CHECK(again.exit_code == 0);
  CHECK(keys_in(read_file(a)) != ka);
  CHECK(mode_of(a) == 0640);

  // Ids follow the config parser's rules; nothing is written for a bad one.
  const auto bad = run_command({LABGATECTL_PATH, "init", "--site", "Fab Lab", "--gateway", "gw1",
                                "--out", (dir / "bad.toml").string()});
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "--site"));
  CHECK_FALSE(std::filesystem::exists(dir / "bad.toml"));
}

TEST_CASE("labgated starts on an init-generated config and keeps its keys out of the log",
          "[keys][control]") {
  TempDir dir("labgate-init");
  const auto path = dir / "site.toml";
  REQUIRE(init(path).exit_code == 0);
  const auto keys = keys_in(read_file(path));
  REQUIRE(keys.size() == 2);

  RunningDaemon d(dir, path.string());
  CHECK(contains(d.cmd("status"), "ok"));
  // The example site's simulated devices work; the system clock is not the control socket's.
  CHECK(d.cmd("tap front-in iso14443a 04000001").rfind("ok", 0) == 0);
  CHECK(d.cmd("output front.strike").rfind("ok front.strike", 0) == 0);
  CHECK(d.cmd("clock advance 1h") ==
        "err the clock is the system clock: clock advance moves a simulated clock only "
        "(labgated --simulated-clock)");
  CHECK(d.cmd("clock").rfind("ok ", 0) == 0);
  CHECK(d.stop() == 0);
  const auto log = d.log();
  CHECK(contains(log, "labgated running: site fablab gateway gw1"));
  for (const auto& k : keys) CHECK_FALSE(contains(log, k));
}

TEST_CASE("the built-in demo says its key is public", "[keys]") {
  TempDir dir("labgate-demo");
  RunningDaemon d(dir, "");
  CHECK(d.stop() == 0);
  CHECK(contains(d.log(), "public demo key: never use it for a real site"));
}

TEST_CASE("the control socket drives simulated devices only", "[control]") {
  TempDir dir("labgate-prod");
  EmulatedReaders hardware{PN532_EMU_PATH, dir.path(), {"front-in"}};
  // The printer's relay is a gpio line (on a chip this machine does not have: the daemon logs
  // it and keeps the relay off).
  auto text = test_config(dir.path().string());
  const std::string sim_relay = "reader = \"printer\"\nrelay = \"sim\"";
  const auto at = text.find(sim_relay);
  REQUIRE(at != std::string::npos);
  text.replace(at, sim_relay.size(), "reader = \"printer\"\nrelay = \"gpio:gpiochip77:5\"");
  Daemon d(dir, text);
  {
    auto s = d.open_store();
    seed_cast(*s);
  }
  d.set_extra_args(hardware.daemon_args());
  d.start();

  const std::string hw =
      "err reader front-in is a hardware reader (" + hardware.at("front-in").connstring() + "): ";
  CHECK(d.cmd("tap front-in iso14443a 04000001") == hw + "tap drives simulated readers only");
  CHECK(d.cmd("place front-in iso14443a 04000001") == hw + "place drives simulated readers only");
  CHECK(d.cmd("remove front-in") == hw + "remove drives simulated readers only");
  CHECK(d.cmd("reader-down front-in") == hw + "reader-down drives simulated readers only");
  CHECK(d.cmd("reader-up front-in") == hw + "reader-up drives simulated readers only");
  CHECK(d.cmd("output printer.relay") ==
        "err output printer.relay is a gpio output (gpio:gpiochip77:5): output reads simulated "
        "outputs only");
  CHECK(d.cmd("output-fault printer.relay fatal") ==
        "err output printer.relay is a gpio output (gpio:gpiochip77:5): output-fault drives "
        "simulated outputs only");
  CHECK_FALSE(contains(d.cmd("outputs"), "printer.relay"));
  // Ids that exist nowhere are still just unknown.
  CHECK(d.cmd("tap nosuch iso14443a 04000001") == "err unknown reader nosuch");

  // The simulated reader next to it, the simulated outputs and the staff actions still work.
  CHECK(d.cmd("tap front-out iso14443a 04000001").rfind("ok ", 0) == 0);
  CHECK(d.cmd("output front.strike").rfind("ok front.strike", 0) == 0);
  CHECK(d.cmd("status").rfind("ok", 0) == 0);
  CHECK(d.cmd("unlock front") == "ok unlock front");
  CHECK(d.cmd("lockout laser maintenance") == "ok lockout laser");
  CHECK(d.cmd("release laser") == "ok release laser");
  CHECK(d.cmd("read-result front-in") == "ok reads=0 removals=0");
  // And a card on the hardware reader is read through libnfc as before.
  CHECK(place_and_await([&d](const std::string& line) { return d.cmd(line); },
                        hardware.at("front-in"), "front-in", "iso14443a", "04000001")
            .rfind("ok ", 0) == 0);
  CHECK(d.cmd("read-result front-in") == "ok reads=1 removals=0");
  CHECK(d.cmd("all-stop") == "ok all-stop");
  CHECK(d.stop() == 0);
}

TEST_CASE("labgated refuses to run without the sealing key and seals what it writes", "[seal]") {
  TempDir dir("labgate-seal");
  const auto db = (dir / "run.db").string();
  auto r = run_command({LABGATED_PATH, "--db", db, "--control-socket", (dir / "x.sock").string(),
                        "--admin-socket", (dir / "admin.sock").string()});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out + r.err, "sealing key file"));
  CHECK(contains(r.out + r.err, "missing"));
  CHECK(contains(r.out + r.err, "docs/KEYS.md"));
  CHECK_FALSE(std::filesystem::exists(dir / "x.sock"));

  // audit setup prints the verification key once; the box keeps a later key only.
  const auto setup =
      run_command({LABGATECTL_PATH, "--db", db, "--create", "--json", "audit", "setup"});
  REQUIRE(setup.exit_code == 0);
  const std::string vk = nlohmann::json::parse(setup.out).at("verification_key");
  REQUIRE(vk.size() == 64);
  CHECK_FALSE(contains(read_file(db + ".seal-key"), vk));
  {
    RunningDaemon d(dir, "");
    CHECK(d.cmd("tap main-in iso14443a 04000001").rfind("ok", 0) == 0);
    CHECK(d.cmd("tap main-in iso14443a 04000002").rfind("ok", 0) == 0);
    CHECK(d.stop() == 0);
    CHECK_FALSE(contains(d.log(), vk));
  }
  const auto cp = run_command({LABGATECTL_PATH, "--db", db, "audit", "checkpoint"});
  REQUIRE(cp.exit_code == 0);
  write_private_file(dir / "checkpoint.txt", cp.out);
  const std::vector<std::string> verify{LABGATECTL_PATH,
                                        "--db",
                                        db,
                                        "audit",
                                        "verify",
                                        "--key",
                                        vk,
                                        "--checkpoint",
                                        (dir / "checkpoint.txt").string()};
  r = run_command(verify);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "sealed record ok"));
  // Without the key, a sealed record gets no unkeyed "ok" (which a rehash would also get).
  r = run_command({LABGATECTL_PATH, "--db", db, "audit", "verify"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "this record is sealed"));
  CHECK_FALSE(contains(r.out, "ok"));

  // The last event deleted with its seal: only the checkpoint kept off the box shows it.
  r = run_command({"sqlite3", db,
                   "DELETE FROM access_events WHERE id = (SELECT max(id) FROM access_events); "
                   "DELETE FROM seals WHERE seq = (SELECT max(seq) FROM seals);"});
  REQUIRE(r.exit_code == 0);
  r = run_command(verify);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "truncated"));
}
