// NFC integration: labgated reads cards through real libnfc from emulated PN532s (pn532-emu on a
// pty), decides, drives its simulated outputs and records events; reader faults put the door in
// its fail mode and the reader comes back.

#include <nfc/nfc.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "labgate/drivers/desfire/authenticator.hpp"
#include "labgate/drivers/desfire/issuer.hpp"
#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/keys/key_file.hpp"
#include "nfc_rig.hpp"
#include "text_match.hpp"

using namespace labgate::testing;
namespace store = labgate::gateway::store;
using namespace std::chrono_literals;

namespace {

// A site whose named readers are emulated PN532s; every other reader stays simulated.
struct NfcSite {
  TempDir dir{"labgate-nfcint"};
  std::map<std::string, std::unique_ptr<EmulatedReader>> emu;
  std::unique_ptr<Daemon> daemon;

  explicit NfcSite(const std::vector<std::string>& hardware, const std::string& accept = {},
                   const std::function<void(store::Store&)>& seed_more = {},
                   const std::string& extra_config = {},
                   const std::function<void(NfcSite&)>& before_start = {},
                   const std::vector<std::string>& emu_args = {}) {
    std::map<std::string, std::string> devices;
    for (const auto& r : hardware) {
      emu[r] = std::make_unique<EmulatedReader>(PN532_EMU_PATH, dir.path(), r, emu_args);
      devices[r] = emu[r]->connstring();
    }
    daemon = std::make_unique<Daemon>(
        dir, nfc_config(dir.path().string(), devices, accept) + extra_config);
    {
      auto s = daemon->open_store();
      seed_cast(*s);
      if (seed_more) seed_more(*s);
    }
    if (before_start) before_start(*this);
    daemon->start();
    REQUIRE(daemon->cmd("confirm laser") == "ok confirm laser");
    REQUIRE(daemon->cmd("confirm printer") == "ok confirm printer");
    for (const auto& r : hardware) {
      INFO(daemon->log());
      REQUIRE(wait_until([&] { return count_events(*daemon, "reader_up", r) >= 1; }, 15s));
    }
  }

  Daemon& d() { return *daemon; }

  // Waits until `reader` has `n` events of `kind`; returns the newest of them.
  store::AccessEvent await_event(const std::string& kind, const std::string& reader, int n,
                                 std::chrono::milliseconds timeout = 10s) {
    bool ok = wait_until([&] { return count_events(d(), kind, reader) >= n; }, timeout);
    INFO(d().log());
    REQUIRE(ok);
    std::optional<store::AccessEvent> newest;
    for (auto& e : events_of(d())) {
      if (e.kind == kind && e.reader_id == std::optional<std::string>(reader) &&
          (!newest || e.seq > newest->seq)) {
        newest = e;
      }
    }
    REQUIRE(newest);
    return *newest;
  }

  // Frames the emulator has answered so far (from its status line).
  std::uint64_t frames(const std::string& reader) {
    auto st = emu.at(reader)->cmd("status");
    auto at = st.find(" frames=");
    REQUIRE(at != std::string::npos);
    return std::stoull(st.substr(at + 8));
  }

  // Removes the card and waits until the reader has polled the empty field a few times, so the
  // removal has been seen.
  void remove_card(const std::string& reader) {
    REQUIRE(emu.at(reader)->cmd("remove") == "ok removed");
    auto start = frames(reader);
    REQUIRE(wait_until([&] { return frames(reader) >= start + 8; }, 5s));
  }

  // Places `place` on front-in, waits for its tap_entry event (the `taps`-th) and removes the
  // card again; the event.
  int taps{0};
  store::AccessEvent tap_and_remove(const std::string& place) {
    REQUIRE(emu.at("front-in")->cmd(place).rfind("ok placed", 0) == 0);
    auto e = await_event("tap_entry", "front-in", ++taps);
    remove_card("front-in");
    return e;
  }

  int granted(const std::string& reader) {
    int n = 0;
    for (const auto& e : events_of(d())) {
      if (e.reader_id == std::optional<std::string>(reader) &&
          e.decision == store::Decision::kGranted) {
        ++n;
      }
    }
    return n;
  }
};

}  // namespace

TEST_CASE("door: a known card through libnfc opens the strike, an unknown one is refused",
          "[door]") {
  NfcSite site({"front-in"});
  auto& d = site.d();
  auto& emu = *site.emu.at("front-in");

  CHECK(d.cmd("output front.strike") == "ok front.strike off");
  REQUIRE(emu.cmd("place classic 04000001") == "ok placed");
  auto e = site.await_event("tap_entry", "front-in", 1);
  CHECK(e.decision == store::Decision::kGranted);
  CHECK(e.member_no == std::optional<std::string>("M1"));
  CHECK(e.door_id == std::optional<std::string>("front"));
  CHECK(d.cmd("output front.strike") == "ok front.strike on");
  site.remove_card("front-in");
  d.cmd("clock advance 5s");
  CHECK(d.cmd("output front.strike") == "ok front.strike off");

  REQUIRE(emu.cmd("place ultralight 04a1b2c3d4e5f6") == "ok placed");
  auto u = site.await_event("tap_entry", "front-in", 2);
  CHECK(u.decision == store::Decision::kDenied);
  CHECK(u.reason == "unknown_credential");
  CHECK_FALSE(u.member_no);
  CHECK(d.cmd("output front.strike") == "ok front.strike off");
  CHECK(contains(d.log(), "front-in"));
}

TEST_CASE("door: a card held on the reader is one tap; the next counts after removal", "[hold]") {
  NfcSite site({"front-in"});
  auto& emu = *site.emu.at("front-in");

  REQUIRE(emu.cmd("place classic 04000001") == "ok placed");
  site.await_event("tap_entry", "front-in", 1);
  // Held for many presence checks: still one event.
  auto start = site.frames("front-in");
  REQUIRE(wait_until([&] { return site.frames("front-in") >= start + 30; }, 10s));
  CHECK(count_events(site.d(), "tap_entry", "front-in") == 1);

  site.remove_card("front-in");
  CHECK(count_events(site.d(), "tap_entry", "front-in") == 1);
  REQUIRE(emu.cmd("place classic 04000001") == "ok placed");
  auto again = site.await_event("tap_entry", "front-in", 2);
  CHECK(again.decision == store::Decision::kGranted);
}

TEST_CASE("machine: card_stays through libnfc; removal starts grace and ends the session",
          "[machine]") {
  NfcSite site({"laser"});
  auto& d = site.d();
  auto& emu = *site.emu.at("laser");

  REQUIRE(emu.cmd("place classic 04000001") == "ok placed");
  auto e = site.await_event("tap_machine", "laser", 1);
  CHECK(e.decision == store::Decision::kGranted);
  CHECK(d.cmd("output laser.relay") == "ok laser.relay on");
  d.cmd("clock advance 2m");
  CHECK(d.cmd("output laser.relay") == "ok laser.relay on");

  REQUIRE(emu.cmd("remove") == "ok removed");
  REQUIRE(wait_until([&] { return contains(d.cmd("status"), "machine laser grace"); }, 5s));
  d.cmd("clock advance 9999ms");
  CHECK(d.cmd("output laser.relay") == "ok laser.relay on");
  d.cmd("clock advance 1ms");
  CHECK(d.cmd("output laser.relay") == "ok laser.relay off");
  auto ss = sessions_of(d);
  REQUIRE(ss.size() == 1);
  CHECK(ss[0].end_reason == std::optional<std::string>("card_removed"));
}

TEST_CASE("technologies: FeliCa and ISO14443A only where the site accepts them", "[tech]") {
  const std::vector<std::uint8_t> idm{0x01, 0x2e, 0x4c, 0x11, 0x22, 0x33, 0x44, 0x55};
  auto enroll_felica = [&](store::Store& s) {
    REQUIRE(s.staff().enroll_credential("M1", "felica", idm, "suica", "test").ok());
  };

  SECTION("accepted: a FeliCa IDm and a MIFARE UID both open the door") {
    NfcSite site({"front-in"}, {}, enroll_felica);
    auto& emu = *site.emu.at("front-in");
    REQUIRE(emu.cmd("place felica 012e4c1122334455") == "ok placed");
    auto f = site.await_event("tap_entry", "front-in", 1);
    CHECK(f.decision == store::Decision::kGranted);
    CHECK(f.member_no == std::optional<std::string>("M1"));
    site.remove_card("front-in");
    REQUIRE(emu.cmd("place classic 04000001") == "ok placed");
    auto a = site.await_event("tap_entry", "front-in", 2);
    CHECK(a.decision == store::Decision::kGranted);
  }

  SECTION("accept = []: both are refused with technology_not_allowed") {
    NfcSite site({"front-in"}, "[]", enroll_felica);
    auto& d = site.d();
    auto& emu = *site.emu.at("front-in");
    REQUIRE(emu.cmd("place felica 012e4c1122334455") == "ok placed");
    auto f = site.await_event("tap_entry", "front-in", 1);
    CHECK(f.decision == store::Decision::kDenied);
    CHECK(f.reason == "technology_not_allowed");
    site.remove_card("front-in");
    REQUIRE(emu.cmd("place classic 04000001") == "ok placed");
    auto a = site.await_event("tap_entry", "front-in", 2);
    CHECK(a.decision == store::Decision::kDenied);
    CHECK(a.reason == "technology_not_allowed");
    CHECK(d.cmd("output front.strike") == "ok front.strike off");
  }
}

TEST_CASE("faults: the reader goes down, its door fails, others work, it comes back", "[faults]") {
  struct Mode {
    const char* name;
    const char* inject;
    const char* clear;  // nullptr: clears itself
  };
  auto mode = GENERATE(
      Mode{"garbage", "fault garbage", "fault none"}, Mode{"drop", "fault drop", "fault none"},
      Mode{"badchecksum", "fault badchecksum", "fault none"},
      Mode{"stall", "fault stall 6000", nullptr}, Mode{"unplug", "fault unplug", "fault replug"});
  INFO("fault " << mode.name);
  NfcSite site({"front-in"});
  auto& d = site.d();
  auto& emu = *site.emu.at("front-in");
  CHECK(contains(d.cmd("status"), "door front locked"));

  REQUIRE(emu.cmd(mode.inject).rfind("ok", 0) == 0);
  // A card on the faulty reader must not be granted while the line is bad.
  REQUIRE(emu.cmd("place classic 04000001") == "ok placed");
  auto down = site.await_event("reader_down", "front-in", 1, 15s);
  CHECK(down.door_id == std::optional<std::string>("front"));
  CHECK(contains(d.log(), "reader front-in down"));
  CHECK(contains(d.cmd("status"), "door front fault"));
  CHECK(d.cmd("output front.strike") == "ok front.strike off");  // fail-secure

  // The other doors' readers keep working.
  CHECK(d.cmd("tap lab-in iso14443a 04000001").rfind("ok granted lab M1", 0) == 0);
  CHECK(site.granted("front-in") == 0);

  if (mode.clear) REQUIRE(emu.cmd(mode.clear).rfind("ok", 0) == 0);
  site.await_event("reader_up", "front-in", 2, 20s);
  // The card still on the reader is a fresh presentation once the reader is back.
  auto tap = site.await_event("tap_entry", "front-in", 1, 10s);
  CHECK(tap.decision == store::Decision::kGranted);
  CHECK(tap.member_no == std::optional<std::string>("M1"));
  CHECK(d.cmd("output front.strike") == "ok front.strike on");
  CHECK_FALSE(contains(d.cmd("status"), "door front fault"));
  for (const auto& e : events_of(d)) {
    if (e.reader_id == std::optional<std::string>("front-in") && e.kind == "tap_entry") {
      CHECK(e.at_ms >= down.at_ms);
    }
  }
  CHECK(d.stop() == 0);
}

TEST_CASE("enrollment: the next card on an armed reader is bound, not decided", "[enroll]") {
  NfcSite site({"front-in"});
  auto& d = site.d();
  auto& emu = *site.emu.at("front-in");

  CHECK(d.cmd("enroll nope M1") == "err unknown reader nope");
  CHECK(d.cmd("enroll front-in M2 0").rfind("err", 0) == 0);
  CHECK(d.cmd("enroll-status front-in") == "err not armed front-in");

  SECTION("bound by the daemon; the card then opens the door") {
    REQUIRE(d.cmd("enroll front-in M2 30") == "ok armed front-in");
    CHECK(d.cmd("enroll-status front-in") == "ok waiting");
    REQUIRE(emu.cmd("place ultralight 04c0ffee112233") == "ok placed");
    std::string status;
    REQUIRE(wait_until(
        [&] {
          status = d.cmd("enroll-status front-in");
          return status != "ok waiting";
        },
        10s));
    CHECK(status.rfind("ok enrolled M2 iso14443a credential=", 0) == 0);
    CHECK(count_events(d, "tap_entry", "front-in") == 0);
    CHECK(d.cmd("output front.strike") == "ok front.strike off");
    auto creds = d.open_store()->staff().list_credentials(std::string("M2"));
    REQUIRE(creds.ok());
    CHECK(creds.value().size() == 2);

    site.remove_card("front-in");
    REQUIRE(emu.cmd("place ultralight 04c0ffee112233") == "ok placed");
    auto tap = site.await_event("tap_entry", "front-in", 1);
    CHECK(tap.decision == store::Decision::kGranted);
    CHECK(tap.member_no == std::optional<std::string>("M2"));
  }

  SECTION("a card enrolled to someone else is refused; the slot reports the store error") {
    REQUIRE(d.cmd("enroll front-in M1 30") == "ok armed front-in");
    REQUIRE(emu.cmd("place classic 04000002") == "ok placed");
    std::string status;
    REQUIRE(wait_until(
        [&] {
          status = d.cmd("enroll-status front-in");
          return status != "ok waiting";
        },
        10s));
    CHECK(status.rfind("err ", 0) == 0);
    CHECK(count_events(d, "tap_entry", "front-in") == 0);
  }

  SECTION("timeout on the daemon's clock; afterwards cards are decided again") {
    REQUIRE(d.cmd("enroll front-in M2 5") == "ok armed front-in");
    d.cmd("clock advance 4999ms");
    CHECK(d.cmd("enroll-status front-in") == "ok waiting");
    d.cmd("clock advance 1ms");
    CHECK(d.cmd("enroll-status front-in") == "err timeout");
    REQUIRE(emu.cmd("place classic 04000001") == "ok placed");
    auto tap = site.await_event("tap_entry", "front-in", 1);
    CHECK(tap.decision == store::Decision::kGranted);
  }

  SECTION("labgatectl credentials enroll --reader waits for the tap and prints the result") {
    RunResult result;
    std::thread ctl([&] {
      result = labgatectl(d, {"credentials", "enroll", "--member", "M2", "--reader", "front-in",
                              "--timeout", "20"});
    });
    bool armed = wait_until(
        [&] {
          LineClient c(d.socket_path());
          return c.request("enroll-status front-in") == "ok waiting";
        },
        10s);
    if (armed) emu.cmd("place felica 0101020304050607");
    ctl.join();
    REQUIRE(armed);
    INFO(result.out << result.err);
    CHECK(result.exit_code == 0);
    CHECK(result.out.rfind("enrolled felica card as credential #", 0) == 0);
    CHECK(contains(result.out, "for M2 at front-in"));

    auto timeout = labgatectl(d, {"credentials", "enroll", "--member", "M2", "--reader", "front-in",
                                  "--timeout", "1", "--socket", d.socket_path()});
    CHECK(timeout.exit_code == 1);
    CHECK(contains(timeout.err, "no card presented on front-in within 1 s"));
  }
}

namespace {

const std::vector<std::uint8_t> kDesfireUid{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};

// A key file made by the real labgatectl, and the [desfire] section that names it.
std::string desfire_section(const TempDir& dir) {
  const std::string kf = (dir / "site.keys").string();
  auto r = run_command({LABGATECTL_PATH, "--db", (dir / "keys-audit.db").string(), "--create",
                        "keys", "--key-file", kf, "init"});
  REQUIRE(r.exit_code == 0);
  return "\n[desfire]\nkey_file = \"" + kf + "\"\n";
}

}  // namespace

// The finding of issue 11: a PN532 emulator answering only DESFire's ATQA/SAK/ATS with an
// enrolled UID opened the entrance. The same emulated card must now be refused.
TEST_CASE("desfire: a card that only presents an issued DESFire UID is refused", "[desfire]") {
  auto issued = [](store::Store& s) {
    REQUIRE(s.staff().enroll_credential("M1", "desfire", kDesfireUid, "member card", "test").ok());
    // As `credentials issue` records it: the card was issued with key version 1.
    REQUIRE(s.database()
                .execute_script("UPDATE credentials SET issued_key_version = 1 "
                                "WHERE technology = 'desfire'")
                .ok());
  };
  TempDir keys{"labgate-nfcint-keys"};
  NfcSite site({"front-in"}, {}, issued, desfire_section(keys));
  auto& d = site.d();
  REQUIRE(site.emu.at("front-in")->cmd("place desfire 04112233445566") == "ok placed");
  auto e = site.await_event("tap_entry", "front-in", 1);
  CHECK(e.decision == store::Decision::kDenied);
  CHECK(e.reason == "card_not_authenticated");
  CHECK(d.cmd("output front.strike") == "ok front.strike off");
  CHECK(contains(d.log(), "not authenticated"));
  // The keys never reach the log.
  auto file = run_command({"/bin/cat", (keys / "site.keys").string()});
  for (std::size_t at = file.out.find("read = \""); at != std::string::npos;
       at = file.out.find("read = \"", at + 1)) {
    CHECK_FALSE(contains(d.log(), file.out.substr(at + 8, 32)));
  }
}

TEST_CASE("desfire: UID-enrolled cards need issuing unless the site accepts desfire-uid",
          "[desfire]") {
  auto by_uid = [](store::Store& s) {
    REQUIRE(s.staff().enroll_credential("M1", "desfire", kDesfireUid, "old card", "test").ok());
  };
  SECTION("default: refused with credential_needs_issue") {
    NfcSite site({"front-in"}, {}, by_uid);
    REQUIRE(site.emu.at("front-in")->cmd("place desfire 04112233445566") == "ok placed");
    auto e = site.await_event("tap_entry", "front-in", 1);
    CHECK(e.decision == store::Decision::kDenied);
    CHECK(e.reason == "credential_needs_issue");
  }
  SECTION("accept desfire-uid: granted as a clonable UID, with a warning at start") {
    NfcSite site({"front-in"}, "[\"desfire-uid\"]", by_uid);
    REQUIRE(site.emu.at("front-in")->cmd("place desfire 04112233445566") == "ok placed");
    auto e = site.await_event("tap_entry", "front-in", 1);
    CHECK(e.decision == store::Decision::kGranted);
    CHECK(contains(site.d().log(), "desfire-uid"));
  }
}

TEST_CASE("desfire: a key file others can read stops the daemon at start", "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  const std::string section = desfire_section(keys);
  ::chmod((keys / "site.keys").c_str(), 0644);
  TempDir dir{"labgate-nfcint"};
  EmulatedReader emu(PN532_EMU_PATH, dir.path(), "front-in");
  const auto config = dir / "site.toml";
  {
    std::ofstream out(config);
    out << nfc_config(dir.path().string(), {{"front-in", emu.connstring()}}) << section;
  }
  // The config itself is private, so the refusal can only be about the key file.
  ::chmod(config.c_str(), 0600);
  auto r = run_command({LABGATED_PATH, "--config", config.string()}, 20s);
  CHECK(r.exit_code != 0);
  CHECK(contains(r.out + r.err, "chmod 600"));
}

namespace {

// Places `place` on the emulator and runs `steps` on the selected card through real libnfc.
void on_card(EmulatedReader& emu, const std::string& place,
             const std::function<void(nfc_device*, const nfc_target&)>& steps) {
  REQUIRE(emu.cmd(place).rfind("ok placed", 0) == 0);
  nfc_context* ctx = nullptr;
  nfc_init(&ctx);
  REQUIRE(ctx);
  nfc_device* dev = nfc_open(ctx, emu.connstring().c_str());
  REQUIRE(dev);
  REQUIRE(nfc_initiator_init(dev) >= 0);
  nfc_target t{};
  REQUIRE(nfc_initiator_select_passive_target(dev, {NMT_ISO14443A, NBR_106}, nullptr, 0, &t) > 0);
  steps(dev, t);
  nfc_close(dev);
  nfc_exit(ctx);
  REQUIRE(emu.cmd("remove") == "ok removed");
}

// The UID a card showed in anticollision.
std::vector<std::uint8_t> uid_of(const nfc_target& t) {
  return {t.nti.nai.abtUid, t.nti.nai.abtUid + t.nti.nai.szUidLen};
}

// The desk's work done through real libnfc on the door's emulated PN532 before the daemon opens
// it: a factory card becomes credential `credential` under the key file's current version.
void issue_on(EmulatedReader& emu, const std::string& key_file, std::uint64_t credential,
              const std::vector<std::uint8_t>& uid = kDesfireUid) {
  auto file = labgate::gateway::keys::load_key_file(key_file);
  REQUIRE(file);
  labgate::drivers::desfire::ApplicationSettings app;
  const std::string system_id = "test";  // the test config's site id, the default
  app.system_id.assign(system_id.begin(), system_id.end());
  const auto keys = file->site_keys(app);
  labgate::drivers::desfire::IssueResult r;
  labgate::drivers::Card card{labgate::drivers::CardTechnology::kDesfire, uid};
  on_card(emu, "place desfire " + labgate::drivers::to_hex(uid),
          [&](nfc_device* dev, const nfc_target& t) {
            r = labgate::drivers::desfire::issue_card(dev, uid, keys, *keys.current(), credential);
            // The door's code must accept what the desk wrote.
            if (r.ok)
              labgate::drivers::desfire::DesfireAuthenticator(keys).authenticate(dev, t, card);
          });
  INFO(r.failure);
  REQUIRE(r.ok);
  REQUIRE(card.proof);
  INFO(card.proof->failure);
  REQUIRE(card.proof->authenticated);
}

// The issued card's first tap at front-in opens the door for M1.
// labgatectl on the site's config and database.
labgate::testing::RunResult ctl_on(NfcSite& site, const std::vector<std::string>& extra) {
  std::vector<std::string> argv{LABGATECTL_PATH, "--config", site.d().config_path(), "--db",
                                site.d().db_path()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_command(argv, 60s);
}

// keys rotate on 2026-11-24; version 1 stays accepted through 2026-11-25.
void rotate_keys(const TempDir& keys) {
  auto r =
      run_command({LABGATECTL_PATH, "--db", (keys / "keys-audit.db").string(), "--simulated-clock",
                   "2026-11-24 09:00", "keys", "--key-file", (keys / "site.keys").string(),
                   "rotate", "--old-valid-until", "2026-11-25"});
  REQUIRE(r.exit_code == 0);
}

void expect_granted_tap(NfcSite& site) {
  auto& d = site.d();
  REQUIRE(site.emu.at("front-in")->cmd("place desfire 04112233445566").rfind("ok placed", 0) == 0);
  auto e = site.await_event("tap_entry", "front-in", 1);
  INFO(d.log());
  CHECK(e.decision == store::Decision::kGranted);
  CHECK(e.member_no == std::optional<std::string>("M1"));
  CHECK(d.cmd("output front.strike") == "ok front.strike on");
}

}  // namespace

TEST_CASE("desfire: a card issued with diversified keys is granted after AES authentication",
          "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  const std::string section = desfire_section(keys);
  std::int64_t credential = 0;
  auto enrolled = [&](store::Store& s) {
    auto c = s.staff().enroll_credential("M1", "desfire", kDesfireUid, "issued card", "test");
    REQUIRE(c.ok());
    credential = c.value().id;
    REQUIRE(s.database()
                .execute_script("UPDATE credentials SET issued_key_version = 1 "
                                "WHERE technology = 'desfire'")
                .ok());
  };
  auto issue = [&](NfcSite& site) {
    issue_on(*site.emu.at("front-in"), (keys / "site.keys").string(),
             static_cast<std::uint64_t>(credential));
  };
  NfcSite site({"front-in"}, {}, enrolled, section, issue);
  expect_granted_tap(site);
}

// Every way a DESFire tap can be forged or broken is refused with card_not_authenticated and
// leaves the daemon running: a UID clone of an issued card, a card keyed by another site, a
// wrong (tampered or replayed) answer MAC, an oversized answer, removal mid-authentication.
TEST_CASE("desfire: clones, foreign keys, bad MACs and removal are refused", "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  TempDir other{"labgate-nfcint-other"};
  const std::string section = desfire_section(keys);
  desfire_section(other);  // another site's key file
  const std::vector<std::uint8_t> foreign_uid{0x04, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0x01};
  std::int64_t credential = 0;
  std::int64_t foreign_credential = 0;
  auto enrolled = [&](store::Store& s) {
    auto c = s.staff().enroll_credential("M1", "desfire", kDesfireUid, "issued card", "test");
    REQUIRE(c.ok());
    credential = c.value().id;
    auto f = s.staff().enroll_credential("M1", "desfire", foreign_uid, "second card", "test");
    REQUIRE(f.ok());
    foreign_credential = f.value().id;
    REQUIRE(s.database()
                .execute_script("UPDATE credentials SET issued_key_version = 1 "
                                "WHERE technology = 'desfire'")
                .ok());
  };
  auto issue = [&](NfcSite& site) {
    auto& emu = *site.emu.at("front-in");
    issue_on(emu, (keys / "site.keys").string(), static_cast<std::uint64_t>(credential));
    issue_on(emu, (other / "site.keys").string(), static_cast<std::uint64_t>(foreign_credential),
             foreign_uid);
  };
  NfcSite site({"front-in"}, {}, enrolled, section, issue);
  auto& d = site.d();
  auto& emu = *site.emu.at("front-in");
  int taps = 0;
  auto tap = [&](const std::string& place) {
    REQUIRE(emu.cmd(place).rfind("ok placed", 0) == 0);
    auto e = site.await_event("tap_entry", "front-in", ++taps);
    return e;
  };
  auto refused = [&](const store::AccessEvent& e) {
    INFO(d.log());
    CHECK(e.decision == store::Decision::kDenied);
    CHECK(e.reason == "card_not_authenticated");
  };

  auto first = tap("place desfire 04112233445566");
  CHECK(first.decision == store::Decision::kGranted);

  // Faults arm on the card in the field and strike at its next tap.
  REQUIRE(emu.cmd("fault badmac") == "ok fault badmac");
  site.remove_card("front-in");
  refused(tap("place desfire 04112233445566"));
  CHECK(contains(d.log(), "MAC wrong"));

  REQUIRE(emu.cmd("fault longread 300").rfind("ok fault longread", 0) == 0);
  site.remove_card("front-in");
  refused(tap("place desfire 04112233445566"));

  site.remove_card("front-in");
  REQUIRE(emu.cmd("fault leave 4") == "ok fault leave 4");
  refused(tap("place desfire 04112233445566"));
  REQUIRE(emu.cmd("fault none") == "ok fault none");
  site.remove_card("front-in");

  refused(tap("place desfire 04aabbccddee01"));  // keyed by another site
  CHECK(contains(d.log(), "wrong key"));
  site.remove_card("front-in");

  refused(tap("place desfire 04112233445566 clone=1"));
  site.remove_card("front-in");

  // None of it broke anything: the genuine card still opens the door.
  auto again = tap("place desfire 04112233445566");
  INFO(d.log());
  CHECK(again.decision == store::Decision::kGranted);
}

// Rotation: cards of the old version open the door until the date staff set, then are refused
// with key_version_retired; cards issued under the new version work throughout.
TEST_CASE("desfire: after a key rotation the old version is accepted until its date", "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  const std::string section = desfire_section(keys);
  const std::string kf = (keys / "site.keys").string();
  const std::vector<std::uint8_t> new_uid{0x04, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
  std::int64_t old_credential = 0;
  std::int64_t new_credential = 0;
  auto enrolled = [&](store::Store& s) {
    auto c = s.staff().enroll_credential("M1", "desfire", kDesfireUid, "v1 card", "test");
    REQUIRE(c.ok());
    old_credential = c.value().id;
    auto n = s.staff().enroll_credential("M1", "desfire", new_uid, "v2 card", "test");
    REQUIRE(n.ok());
    new_credential = n.value().id;
    REQUIRE(s.database()
                .execute_script("UPDATE credentials SET issued_key_version = 1 "
                                "WHERE technology = 'desfire'")
                .ok());
  };
  auto issue_and_rotate = [&](NfcSite& site) {
    auto& emu = *site.emu.at("front-in");
    issue_on(emu, kf, static_cast<std::uint64_t>(old_credential));
    rotate_keys(keys);
    issue_on(emu, kf, static_cast<std::uint64_t>(new_credential), new_uid);
  };
  NfcSite site({"front-in"}, {}, enrolled, section, issue_and_rotate);
  auto& d = site.d();
  auto& emu = *site.emu.at("front-in");
  int taps = 0;
  auto tap = [&](const std::string& uid) {
    REQUIRE(emu.cmd("place desfire " + uid).rfind("ok placed", 0) == 0);
    auto e = site.await_event("tap_entry", "front-in", ++taps);
    site.remove_card("front-in");
    return e;
  };
  CHECK(tap("04112233445566").decision == store::Decision::kGranted);  // v1, before its date
  CHECK(tap("04223344556677").decision == store::Decision::kGranted);  // v2
  d.cmd("clock advance 48h");
  auto old_card = tap("04112233445566");
  INFO(d.log());
  CHECK(old_card.decision == store::Decision::kDenied);
  CHECK(old_card.reason == "key_version_retired");
  CHECK(contains(old_card.detail, "2026-11-25"));
  CHECK(tap("04223344556677").decision == store::Decision::kGranted);
}

// The desk: `labgatectl credentials issue` writes a factory card through real libnfc and enrols
// it; the door then grants it. A card already issued is refused and nothing is recorded.
TEST_CASE("desfire: labgatectl credentials issue at a desk reader, then the door grants",
          "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  const std::string section = desfire_section(keys);
  labgate::testing::RunResult issued, again, listed;
  auto desk = [&](NfcSite& site) {
    auto& emu = *site.emu.at("front-in");
    REQUIRE(emu.cmd("place desfire 04112233445566").rfind("ok placed", 0) == 0);
    auto with = [&](const std::vector<std::string>& extra) { return ctl_on(site, extra); };
    issued = with(
        {"credentials", "issue", "--member", "M1", "--device", emu.connstring(), "--timeout", "5"});
    again = with(
        {"credentials", "issue", "--member", "M1", "--device", emu.connstring(), "--timeout", "5"});
    listed = with({"credentials", "list", "--needs-issue"});
    REQUIRE(emu.cmd("remove") == "ok removed");
  };
  NfcSite site({"front-in"}, {}, {}, section, desk);
  INFO(issued.out << issued.err);
  REQUIRE(issued.exit_code == 0);
  CHECK(contains(issued.out, "key version 1"));
  CHECK(again.exit_code == 1);
  CHECK(contains(again.err, "already"));
  CHECK_FALSE(contains(listed.out, "desfire"));
  expect_granted_tap(site);
}

// --reader: the desk reader is a [[readers]] entry with role = "desk". labgatectl writes the card
// there; the daemon never opens that reader; a door's reader is refused as a desk. The card then
// goes to the door (the emulators share their DESFire cards through --cards).
TEST_CASE("desfire: credentials issue --reader uses the config's desk reader", "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  const std::string cards = (keys / "cards").string();
  std::filesystem::create_directories(cards);
  EmulatedReader desk(PN532_EMU_PATH, keys.path(), "desk", {"--cards", cards});
  const std::string section = desfire_section(keys) + "\n[[readers]]\nid = \"desk\"\ndevice = \"" +
                              desk.connstring() + "\"\nrole = \"desk\"\n";
  labgate::testing::RunResult issued, at_door, unknown;
  auto at_desk = [&](NfcSite& site) {
    REQUIRE(desk.cmd("place desfire 04112233445566").rfind("ok placed", 0) == 0);
    auto with = [&](const std::vector<std::string>& extra) { return ctl_on(site, extra); };
    at_door =
        with({"credentials", "issue", "--member", "M1", "--reader", "front-in", "--timeout", "2"});
    unknown =
        with({"credentials", "issue", "--member", "M1", "--reader", "nowhere", "--timeout", "2"});
    issued = with({"credentials", "issue", "--member", "M1", "--reader", "desk", "--timeout", "5"});
    REQUIRE(desk.cmd("remove") == "ok removed");
  };
  NfcSite site({"front-in"}, {}, {}, section, at_desk, {"--cards", cards});
  INFO(issued.out << issued.err);
  CHECK(at_door.exit_code != 0);
  CHECK(contains(at_door.err, "not a desk reader"));
  CHECK(unknown.exit_code != 0);
  CHECK(contains(unknown.err, "no reader nowhere"));
  REQUIRE(issued.exit_code == 0);
  CHECK(contains(issued.out, "key version 1"));
  CHECK(count_events(site.d(), "reader_up", "desk") == 0);
  expect_granted_tap(site);
  // The daemon never talks to the desk reader: no frame reached it since the card was written.
  const auto frames = desk.counter("frames");
  std::this_thread::sleep_for(300ms);
  CHECK(desk.counter("frames") == frames);
}

// Rekeying at the desk: after a rotation, `credentials rekey` moves an issued card from the old
// version to the current one (keys and credential file) and records it; the card then works
// past the old version's date, when a v1 card is refused. Another member's card is refused and
// left as it was.
TEST_CASE("desfire: credentials rekey moves a card to the current key version", "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  const std::string section = desfire_section(keys);
  const std::string kf = (keys / "site.keys").string();
  std::int64_t credential = 0;
  auto enrolled = [&](store::Store& s) {
    auto c = s.staff().enroll_credential("M1", "desfire", kDesfireUid, "v1 card", "test", 1);
    REQUIRE(c.ok());
    credential = c.value().id;
  };
  labgate::testing::RunResult wrong_member, rekeyed, again;
  auto rotate_and_rekey = [&](NfcSite& site) {
    auto& emu = *site.emu.at("front-in");
    issue_on(emu, kf, static_cast<std::uint64_t>(credential));
    rotate_keys(keys);
    REQUIRE(emu.cmd("place desfire 04112233445566").rfind("ok placed", 0) == 0);
    auto rekey = [&](const std::string& member) {
      return ctl_on(site, {"credentials", "rekey", "--member", member, "--device", emu.connstring(),
                           "--timeout", "5"});
    };
    wrong_member = rekey("M2");
    rekeyed = rekey("M1");
    again = rekey("M1");
    REQUIRE(emu.cmd("remove") == "ok removed");
  };
  NfcSite site({"front-in"}, {}, enrolled, section, rotate_and_rekey);
  INFO(rekeyed.out << rekeyed.err);
  CHECK(wrong_member.exit_code != 0);
  REQUIRE(rekeyed.exit_code == 0);
  CHECK(contains(rekeyed.out, "from key version 1 to 2"));
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK(contains(again.out, "from key version 2 to 2"));
  auto& d = site.d();
  {
    auto s = d.open_store();
    auto list = s->staff().list_credentials(std::nullopt);
    REQUIRE(list.ok());
    REQUIRE(list.value().size() >= 1);
    for (const auto& c : list.value())
      if (c.id == credential) CHECK(c.issued_key_version == std::optional<int>(2));
  }
  auto audit = ctl_on(site, {"audit", "list"});
  CHECK(contains(audit.out + audit.err, "credential.rekey"));
  d.cmd("clock advance 48h");
  REQUIRE(site.emu.at("front-in")->cmd("place desfire 04112233445566").rfind("ok placed", 0) == 0);
  auto e = site.await_event("tap_entry", "front-in", 1);
  INFO(d.log());
  CHECK(e.decision == store::Decision::kGranted);
  CHECK(e.member_no == std::optional<std::string>("M1"));
}

namespace {

namespace df = labgate::drivers::desfire;

// The site's keys as the desk and the doors use them (the test config's site id "test").
df::SiteKeys site_keys_of(const TempDir& keys, bool random_uid = false) {
  auto file = labgate::gateway::keys::load_key_file(keys / "site.keys");
  REQUIRE(file);
  df::ApplicationSettings app;
  const std::string system_id = "test";
  app.system_id.assign(system_id.begin(), system_id.end());
  app.random_uid = random_uid;
  return file->site_keys(app);
}

// Another site's application (AID 0x030201) created on the card in the field, as any reader
// may on a factory card (PICC key settings 0x0F).
void add_foreign_application(nfc_device* dev) {
  const std::uint8_t create[] = {0xCA, 0x01, 0x02, 0x03, 0x0F, 0x81};
  std::uint8_t rx[8];
  REQUIRE(nfc_initiator_transceive_bytes(dev, create, sizeof create, rx, sizeof rx, 500) == 1);
  REQUIRE(rx[0] == 0x00);
}

// What the desk finds out about the card (read-only): who holds the PICC master key.
df::PiccOwner picc_owner(nfc_device* dev, const std::vector<std::uint8_t>& uid,
                         const df::SiteKeys& keys, std::string& failure) {
  df::CardSurvey survey;
  const auto r = df::survey_card(dev, uid, keys, {.format = true}, survey);
  failure = r.failure;
  return r.ok ? survey.owner : df::PiccOwner::kUnknown;
}

std::string issue_cmd_out(const labgate::testing::RunResult& r) {
  return r.out + r.err;
}

}  // namespace

// `credentials issue` refuses a card holding another site's application (another AID, or the
// labgate AID under keys that are not ours), and a card it issued before; nothing is recorded.
// --format erases such a card with its factory PICC master key and issues it; the door grants.
TEST_CASE("desfire: credentials issue refuses another site's card unless --format", "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  TempDir other{"labgate-nfcint-other"};
  const std::string section = desfire_section(keys);
  desfire_section(other);  // another labgate site's key file
  labgate::testing::RunResult foreign_aid, foreign_aid_fmt, foreign_lg, foreign_lg_fmt, again,
      again_fmt;
  auto desk = [&](NfcSite& site) {
    auto& emu = *site.emu.at("front-in");
    auto issue = [&](const std::string& member, bool format) {
      std::vector<std::string> args{"credentials", "issue",          "--member",  member,
                                    "--device",    emu.connstring(), "--timeout", "5"};
      if (format) args.push_back("--format");
      return ctl_on(site, args);
    };
    // Another AID on the card.
    on_card(emu, "place desfire 04112233445566",
            [](nfc_device* dev, const nfc_target&) { add_foreign_application(dev); });
    REQUIRE(emu.cmd("place desfire 04112233445566") == "ok placed remembered");
    foreign_aid = issue("M1", false);
    foreign_aid_fmt = issue("M1", true);
    again = issue("M1", false);
    again_fmt = issue("M1", true);
    REQUIRE(emu.cmd("remove") == "ok removed");
    // The labgate AID written under another site's keys.
    const std::vector<std::uint8_t> uid2{0x04, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    issue_on(emu, (other / "site.keys").string(), 99, uid2);
    REQUIRE(emu.cmd("place desfire 04223344556677") == "ok placed remembered");
    foreign_lg = issue("M2", false);
    foreign_lg_fmt = issue("M2", true);
    REQUIRE(emu.cmd("remove") == "ok removed");
  };
  NfcSite site({"front-in"}, {}, {}, section, desk);
  INFO(issue_cmd_out(foreign_aid));
  CHECK(foreign_aid.exit_code == 1);
  CHECK(contains(foreign_aid.err, "applications of another site (AID 030201)"));
  CHECK(contains(foreign_aid.err, "--format"));
  INFO(issue_cmd_out(foreign_aid_fmt));
  REQUIRE(foreign_aid_fmt.exit_code == 0);
  INFO(issue_cmd_out(again));
  CHECK(again.exit_code == 1);
  CHECK(contains(again.err, "already issued by this site"));
  // --format on a card the store already holds: refused by the store before the card is
  // touched (a card keeps its one credential), so the door still grants it below.
  INFO(issue_cmd_out(again_fmt));
  CHECK(again_fmt.exit_code == 1);
  CHECK(contains(again_fmt.err, "already enrolled"));
  INFO(issue_cmd_out(foreign_lg));
  CHECK(foreign_lg.exit_code == 1);
  CHECK(contains(foreign_lg.err, "labgate application whose keys are not this site's"));
  INFO(issue_cmd_out(foreign_lg_fmt));
  REQUIRE(foreign_lg_fmt.exit_code == 0);
  {
    auto s = site.d().open_store();
    auto m1 = s->taps().find_credential("desfire", kDesfireUid);
    REQUIRE(m1.ok());
    REQUIRE(m1.value());
    CHECK(m1.value()->member.member_no == "M1");
  }
  expect_granted_tap(site);
  site.remove_card("front-in");
  REQUIRE(site.emu.at("front-in")->cmd("place desfire 04223344556677").rfind("ok placed", 0) == 0);
  auto e = site.await_event("tap_entry", "front-in", 2);
  INFO(site.d().log());
  CHECK(e.decision == store::Decision::kGranted);
  CHECK(e.member_no == std::optional<std::string>("M2"));
}

// The PICC master key: a plain issue leaves the factory key; --take-ownership replaces it by the
// site's key diversified for the card (from a DES and from an AES factory key), after which the
// factory key no longer opens the card and the site's does; --format then works on the owned
// card with the site's key. A key file without a PICC master key cannot take ownership.
TEST_CASE("desfire: credentials issue --take-ownership sets the site's PICC master key",
          "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  const std::string section = desfire_section(keys);
  TempDir old_keys{"labgate-nfcint-old"};
  labgate::testing::RunResult plain, owned_des, owned_aes, refused_no_picc, reformat, random_off;
  std::string des_default_fail, aes_default_fail;
  df::PiccOwner plain_owner{}, des_owner{}, des_default{}, aes_owner{}, aes_default{};
  auto desk = [&](NfcSite& site) {
    auto& emu = *site.emu.at("front-in");
    const auto site_keys = site_keys_of(keys);
    auto no_picc = site_keys;
    no_picc.picc_master.reset();
    auto issue = [&](const std::string& member, std::vector<std::string> extra,
                     const std::string& key_file = {}) {
      std::vector<std::string> args{"credentials", "issue",          "--member",  member,
                                    "--device",    emu.connstring(), "--timeout", "5"};
      if (!key_file.empty()) args.insert(args.end(), {"--key-file", key_file});
      args.insert(args.end(), extra.begin(), extra.end());
      return ctl_on(site, args);
    };
    // Issues the card `place` puts down, then asks who holds its PICC master key, with the
    // site's keys and with keys that know only the factory default.
    auto issue_then_probe = [&](const std::string& place, const std::string& member,
                                std::vector<std::string> extra, df::PiccOwner& owner,
                                df::PiccOwner& default_owner, std::string& default_failure) {
      REQUIRE(emu.cmd(place).rfind("ok placed", 0) == 0);
      auto r = issue(member, std::move(extra));
      REQUIRE(emu.cmd("remove") == "ok removed");
      on_card(emu, place, [&](nfc_device* dev, const nfc_target& t) {
        std::string failure;
        owner = picc_owner(dev, uid_of(t), site_keys, failure);
        default_owner = picc_owner(dev, uid_of(t), no_picc, default_failure);
      });
      return r;
    };
    df::PiccOwner ignored{};
    std::string ignored_failure;
    plain = issue_then_probe("place desfire 04112233445566", "M1", {}, plain_owner, ignored,
                             ignored_failure);
    owned_des = issue_then_probe("place desfire 04223344556677", "M2", {"--take-ownership"},
                                 des_owner, des_default, des_default_fail);
    // The owned card again, its record lost (a database restored from an older backup):
    // --format authenticates with the site's PICC key, erases the card and issues it anew.
    {
      auto s = site.d().open_store();
      REQUIRE(s->database()
                  .execute_script("DELETE FROM credentials WHERE member_id = "
                                  "(SELECT id FROM members WHERE member_no = 'M2')")
                  .ok());
    }
    REQUIRE(emu.cmd("place desfire 04223344556677").rfind("ok placed", 0) == 0);
    reformat = issue("M2", {"--format"});
    REQUIRE(emu.cmd("remove") == "ok removed");
    owned_aes = issue_then_probe("place desfire 04334455667788 picc=aes", "M1",
                                 {"--take-ownership"}, aes_owner, aes_default, aes_default_fail);

    // A key file from before the PICC master key: ownership is refused, the card untouched.
    auto file = labgate::gateway::keys::load_key_file(keys / "site.keys");
    REQUIRE(file);
    labgate::gateway::keys::KeyFile without_picc = *file;
    without_picc.picc_master.reset();
    REQUIRE_FALSE(
        labgate::gateway::keys::save_key_file(old_keys / "site.keys", without_picc, true));
    REQUIRE(emu.cmd("place desfire 04445566778899").rfind("ok placed", 0) == 0);
    refused_no_picc = issue("M1", {"--take-ownership"}, (old_keys / "site.keys").string());
    // This site's config leaves random IDs off.
    random_off = issue("M1", {"--take-ownership", "--random-id"});
    REQUIRE(emu.cmd("remove") == "ok removed");
  };
  NfcSite site({"front-in"}, {}, {}, section, desk);
  INFO(issue_cmd_out(plain));
  REQUIRE(plain.exit_code == 0);
  CHECK(plain_owner == df::PiccOwner::kFactory);  // never changed without --take-ownership
  INFO(issue_cmd_out(owned_des));
  REQUIRE(owned_des.exit_code == 0);
  CHECK(des_owner == df::PiccOwner::kSite);
  CHECK(des_default == df::PiccOwner::kUnknown);  // the factory DES key no longer works
  CHECK(contains(des_default_fail, "neither the factory default nor this site's"));
  INFO(issue_cmd_out(reformat));
  CHECK(reformat.exit_code == 0);
  INFO(issue_cmd_out(owned_aes));
  REQUIRE(owned_aes.exit_code == 0);
  CHECK(aes_owner == df::PiccOwner::kSite);
  CHECK(aes_default == df::PiccOwner::kUnknown);  // nor the factory AES key
  INFO(issue_cmd_out(refused_no_picc));
  CHECK(refused_no_picc.exit_code == 1);
  CHECK(contains(refused_no_picc.err, "no PICC master key"));
  CHECK(contains(refused_no_picc.err, "keys rotate"));
  INFO(issue_cmd_out(random_off));
  CHECK(random_off.exit_code == 1);
  CHECK(contains(random_off.err, "random IDs are off for this site"));
  // Every issued card opens the door, the owned and reformatted ones included.
  for (const std::string uid : {"04112233445566", "04223344556677", "04334455667788"}) {
    auto e = site.tap_and_remove("place desfire " + uid);
    INFO(uid << site.d().log());
    CHECK(e.decision == store::Decision::kGranted);
  }
}

// Random IDs: the card is issued with --random-id (after --take-ownership), then shows a new
// random 08xxxxxx ID at every tap. The door reads the seed, authenticates with keys diversified
// from it, reads the real UID with GetCardUID and grants; the store recorded the keyed hash of
// the real UID. A UID clone, with or without random IDs, is refused.
TEST_CASE("desfire: a card issued with --random-id is granted; its clones are not", "[desfire]") {
  TempDir keys{"labgate-nfcint-keys"};
  const std::string section = desfire_section(keys) + "random_uid = true\n";
  labgate::testing::RunResult without_owner, issued;
  std::vector<std::uint8_t> shown1, shown2, survey_uid;
  auto desk = [&](NfcSite& site) {
    auto& emu = *site.emu.at("front-in");
    auto issue = [&](std::vector<std::string> extra) {
      std::vector<std::string> args{"credentials", "issue",          "--member",  "M1",
                                    "--device",    emu.connstring(), "--timeout", "5"};
      args.insert(args.end(), extra.begin(), extra.end());
      return ctl_on(site, args);
    };
    REQUIRE(emu.cmd("place desfire 04112233445566").rfind("ok placed", 0) == 0);
    without_owner = issue({"--random-id"});
    issued = issue({"--random-id", "--take-ownership"});
    REQUIRE(emu.cmd("remove") == "ok removed");
    const auto site_keys = site_keys_of(keys, true);
    on_card(emu, "place desfire 04112233445566", [&](nfc_device* dev, const nfc_target& t) {
      shown1 = uid_of(t);
      df::CardSurvey survey;
      const auto r = df::survey_card(dev, shown1, site_keys, {.format = true}, survey);
      INFO(r.failure);
      CHECK(r.ok);
      CHECK(survey.owner == df::PiccOwner::kSite);
      survey_uid = survey.uid;
    });
    on_card(emu, "place desfire 04112233445566",
            [&](nfc_device*, const nfc_target& t) { shown2 = uid_of(t); });
  };
  NfcSite site({"front-in"}, {}, {}, section, desk);
  INFO(issue_cmd_out(without_owner));
  CHECK(without_owner.exit_code == 1);
  CHECK(contains(without_owner.err, "--random-id needs --take-ownership"));
  INFO(issue_cmd_out(issued));
  REQUIRE(issued.exit_code == 0);
  REQUIRE(shown1.size() == 4);
  CHECK(shown1[0] == 0x08);
  CHECK(shown1 != shown2);  // a fresh random ID at every power-up
  CHECK(survey_uid == kDesfireUid);
  {
    // The store holds the keyed hash of the real UID, never of a random ID.
    auto s = site.d().open_store();
    auto real = s->taps().find_credential("desfire", kDesfireUid);
    REQUIRE(real.ok());
    REQUIRE(real.value());
    CHECK(real.value()->member.member_no == "M1");
    auto hash = s->credential_hash("desfire", kDesfireUid);
    REQUIRE(hash.ok());
    CHECK(real.value()->credential.id_hash == hash.value());
    auto by_random = s->taps().find_credential("desfire", shown1);
    REQUIRE(by_random.ok());
    CHECK_FALSE(by_random.value());
  }
  auto& d = site.d();
  auto tap = [&](const std::string& place) { return site.tap_and_remove(place); };
  for (int i = 0; i < 2; ++i) {
    auto e = tap("place desfire 04112233445566");
    INFO(d.log());
    CHECK(e.decision == store::Decision::kGranted);
    CHECK(e.member_no == std::optional<std::string>("M1"));
  }
  auto clone = tap("place desfire 04112233445566 clone=1");
  CHECK(clone.decision == store::Decision::kDenied);
  CHECK(clone.reason == "card_not_authenticated");
  auto random_clone = tap("place desfire 04112233445566 clone=1 random_uid=1");
  CHECK(random_clone.decision == store::Decision::kDenied);
  CHECK(random_clone.reason == "card_not_authenticated");
}
