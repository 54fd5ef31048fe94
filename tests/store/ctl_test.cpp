// Runs the real labgatectl binary against a temporary database.
#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ctl_harness.hpp"
#include "db_snapshot.hpp"
#include "process.hpp"

namespace {

using labgate::test::Ctl;
using labgate::test::kKey;
using labgate::test::require_ok;
using labgate::test::require_refused;
using labgate::test::Run;
using labgate::testing::TempDir;
using json = nlohmann::json;

void seed(const Ctl& ctl) {
  require_ok(ctl({"--create", "plans", "add", "--code", "FULL", "--name", "Full time", "--windows",
                  "mon-fri 08:30-17:15; sat 10:00-16:00", "--holidays-allowed"}));
  require_ok(ctl({"members", "add", "--no", "M0001", "--name", "Hanako Yamada", "--plan", "FULL",
                  "--valid-until", "2030-03-31"}));
  require_ok(ctl({"members", "approve", "--no", "M0001"}));
  require_ok(ctl({"credentials", "enroll", "--member", "M0001", "--tech", "iso14443a", "--id",
                  "04A1B2C3", "--label", "blue tag"}));
  require_ok(ctl(
      {"cert-types", "add", "--code", "laser", "--name", "Laser cutter", "--validity-days", "20"}));
  require_ok(
      ctl({"cert-types", "add", "--code", "cnc", "--name", "CNC mill", "--validity-days", "365"}));
  require_ok(ctl({"certs", "grant", "--member", "M0001", "--type", "laser", "--trainer", "Sato"}));
  require_ok(ctl({"certs", "grant", "--member", "M0001", "--type", "cnc", "--trainer", "Sato"}));
}

}  // namespace

TEST_CASE("labgatectl: add, enroll, grant, list, expiring", "[ctl]") {
  Ctl ctl;
  seed(ctl);

  const auto members = ctl({"members", "list", "--json"});
  require_ok(members);
  const auto mj = json::parse(members.out);
  REQUIRE(mj.size() == 1);
  CHECK(mj[0]["member_no"] == "M0001");
  CHECK(mj[0]["status"] == "active");
  CHECK(mj[0]["valid_until"] == "2030-03-31");

  const auto table = ctl({"members", "list"});
  require_ok(table);
  CHECK_THAT(table.out, Catch::Contains("MEMBER"));
  CHECK_THAT(table.out, Catch::Contains("Hanako Yamada"));
  CHECK_THAT(table.out, Catch::Contains("active"));

  const auto creds = ctl({"credentials", "list", "--member", "M0001", "--json"});
  require_ok(creds);
  const auto cj = json::parse(creds.out);
  REQUIRE(cj.size() == 1);
  CHECK(cj[0]["technology"] == "iso14443a");
  CHECK(cj[0]["label"] == "blue tag");
  CHECK(cj[0]["revoked_at"].is_null());
  CHECK(labgate::testing::read_file(ctl.db()).find("\x04\xA1\xB2\xC3") == std::string::npos);

  const auto all = json::parse(ctl({"certs", "list", "--json"}).out);
  CHECK(all.size() == 2);
  const auto soon = ctl({"certs", "list", "--expiring", "30d", "--json"});
  require_ok(soon);
  const auto sj = json::parse(soon.out);
  REQUIRE(sj.size() == 1);
  CHECK(sj[0]["type"] == "laser");
  CHECK(sj[0]["trainer"] == "Sato");
  CHECK(json::parse(ctl({"certs", "list", "--expiring", "10", "--json"}).out).empty());
  const auto text = ctl({"certs", "list", "--expiring", "30d"});
  CHECK_THAT(text.out, Catch::Contains("laser"));
  CHECK_THAT(text.out, !Catch::Contains("cnc"));

  require_ok(ctl({"machines", "add", "--id", "laser1", "--name", "Laser cutter 1", "--cert-type",
                  "laser", "--inspection-days", "30"}));
  require_ok(ctl({"machines", "inspect", "--id", "laser1", "--inspector", "Suzuki", "--result",
                  "pass", "--date", "2026-04-01"}));
  const auto machines = json::parse(ctl({"machines", "list", "--json"}).out);
  REQUIRE(machines.size() == 1);
  CHECK(machines[0]["next_inspection_due"] == "2026-05-01");
  require_ok(ctl({"machines", "lockout", "--id", "laser1", "--reason", "smoke"}));
  CHECK(json::parse(ctl({"machines", "list", "--json"}).out)[0]["locked_out"] == true);
  // A declared account must exist: the owner adds it, declaring none of its own.
  require_refused(ctl, {"machines", "release", "--id", "laser1", "--actor", "chief"}, 1,
                  "staff account 'chief' does not exist");
  require_ok(ctl({"users", "add", "--login", "chief", "--role", "staff"}));
  require_ok(ctl({"machines", "release", "--id", "laser1", "--actor", "chief"}));

  require_ok(ctl({"events", "list"}));
  require_ok(ctl({"sessions", "list", "--open"}));

  const auto verify = ctl({"audit", "verify"});
  require_ok(verify);
  CHECK_THAT(verify.out, Catch::Contains("audit chain ok"));
  const auto audit = json::parse(ctl({"audit", "list", "--json"}).out);
  REQUIRE(audit.size() >= 10);
  // Not $USER (the harness sets it to ctl-tester): the OS user, by uid.
  CHECK(audit[0]["actor"] == labgate::test::os_user());
  CHECK(audit[0]["os_uid"] == static_cast<std::int64_t>(::getuid()));
  CHECK(audit[0]["account"].is_null());
  CHECK(audit.back()["actor"] == "chief@uid:" + std::to_string(::getuid()));
  CHECK(audit.back()["account"] == "chief");
  CHECK(audit.back()["os_uid"] == static_cast<std::int64_t>(::getuid()));
  CHECK(audit.back()["action"] == "machine.release");
}

TEST_CASE("labgatectl: staff typos are refused and change nothing", "[ctl]") {
  Ctl ctl;
  seed(ctl);
  require_refused(
      ctl,
      {"credentials", "enroll", "--member", "M0404", "--tech", "iso14443a", "--id", "04A1B2C4"}, 1,
      "unknown member 'M0404'");
  require_refused(
      ctl,
      {"credentials", "enroll", "--member", "M0001", "--tech", "iso14443a", "--id", "04A1B2CZ"}, 2,
      "bad hex");
  require_refused(
      ctl,
      {"credentials", "enroll", "--member", "M0001", "--tech", "iso14443a", "--id", "04A1B2C3"}, 1,
      "already enrolled");
  require_refused(
      ctl, {"members", "add", "--no", "M0002", "--name", "Taro", "--valid-until", "2026-13-01"}, 2,
      "bad --valid-until date '2026-13-01'");
  require_refused(ctl, {"members", "add", "--no", "M0002", "--name", "Taro", "--plan", "GOLD"}, 1,
                  "unknown plan 'GOLD'");
  require_refused(ctl,
                  {"certs", "grant", "--member", "M0001", "--type", "welding", "--trainer", "Sato"},
                  1, "unknown certification type 'welding'");
  require_refused(ctl,
                  {"certs", "grant", "--member", "M0001", "--type", "laser", "--trainer", "Sato",
                   "--date", "2026-02-30"},
                  2, "bad --date");
  require_refused(ctl, {"certs", "list", "--expiring", "soon"}, 2, "bad --expiring");
  require_refused(ctl, {"members", "frobnicate"}, 2,
                  "expected one of: add, approve, suspend, list");
  require_refused(ctl, {"members", "add", "--no", "M0003"}, 2, "--name");
  require_refused(ctl, {"machines", "release", "--id", "nope"}, 1, "unknown machine 'nope'");

  require_ok(ctl(
      {"credentials", "revoke", "--tech", "iso14443a", "--id", "04a1b2c3", "--reason", "lost"}));
  require_refused(
      ctl, {"credentials", "revoke", "--tech", "iso14443a", "--id", "04A1B2C3", "--reason", "lost"},
      1, "already revoked");
  require_ok(
      ctl({"certs", "revoke", "--member", "M0001", "--type", "laser", "--reason", "unsafe use"}));
  require_refused(ctl,
                  {"certs", "revoke", "--member", "M0001", "--type", "laser", "--reason", "again"},
                  1, "no unrevoked");
  require_ok(ctl({"audit", "verify"}));
}

TEST_CASE("labgatectl: --config supplies path and key; no database is a clear error", "[ctl]") {
  Ctl ctl;
  seed(ctl);
  const auto config = ctl.dir().file("labgate.toml");
  labgate::testing::write_private_file(
      config, "[store]\npath = \"labgate.db\"\n\n[site]\nkey = \"" + kKey + "\"\n");
  const auto r = ctl({"--config", config.string(), "members", "list", "--json"}, false);
  require_ok(r);
  CHECK(json::parse(r.out).size() == 1);

  // A wrong key in the config is refused before anything is touched.
  labgate::testing::write_private_file(
      config, "[store]\npath = \"labgate.db\"\n\n[site]\nkey = \"" + std::string(64, 'f') + "\"\n");
  const auto before = ctl.snapshot();
  const auto wrong = ctl({"--config", config.string(), "members", "list"}, false);
  CHECK(wrong.code == 2);
  CHECK_THAT(wrong.err, Catch::Contains("site key does not match"));
  CHECK(ctl.snapshot() == before);

  const auto missing = ctl({"--db", ctl.dir().file("nope.db").string(), "members", "list"}, false);
  CHECK(missing.code == 3);
  CHECK_THAT(missing.err, Catch::Contains("does not exist"));
  CHECK_FALSE(std::filesystem::exists(ctl.dir().file("nope.db")));

  const auto no_db = ctl({"members", "list"}, false);
  CHECK(no_db.code == 2);
  CHECK_THAT(no_db.err, Catch::Contains("--db"));
}

TEST_CASE("labgatectl tables line up Japanese names by display width", "[ctl]") {
  Ctl ctl;
  require_ok(ctl(
      {"--create", "plans", "add", "--code", "FULL", "--name", "Full time", "--windows", "24h"}));
  require_ok(ctl({"members", "add", "--no", "M0001", "--name", "田中 愛子", "--plan", "FULL"}));
  require_ok(ctl({"members", "add", "--no", "M0002", "--name", "Kenji Sato", "--plan", "FULL"}));
  const auto r = ctl({"members", "list"});
  require_ok(r);
  // Where STATUS starts, in terminal columns (a kanji takes two), must be the same on each line.
  std::vector<std::size_t> starts;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("--", 0) == 0) continue;
    const auto at = line.find(line.rfind("MEMBER", 0) == 0 ? "STATUS" : "pending");
    REQUIRE(at != std::string::npos);
    std::size_t columns = 0;
    for (std::size_t i = 0; i < at;) {
      const auto b = static_cast<unsigned char>(line[i]);
      const std::size_t len = b < 0x80 ? 1 : b >= 0xE0 ? 3 : 2;
      columns += len == 3 ? 2 : 1;  // the test's names: ASCII or three-byte kanji/kana
      i += len;
    }
    starts.push_back(columns);
  }
  REQUIRE(starts.size() == 3);
  CHECK(starts[0] == starts[1]);
  CHECK(starts[1] == starts[2]);
}

TEST_CASE("labgatectl tables show stored control characters as escapes", "[ctl][text]") {
  Ctl ctl;
  seed(ctl);
  // A name with a line break and a terminal escape, as an older database may hold it.
  ctl.exec(
      "UPDATE members SET name = 'line1' || char(10) || 'line2' || char(13) || char(27) || "
      "'[31mred' WHERE member_no = 'M0001'");
  const auto table = ctl({"members", "list"});
  require_ok(table);
  CHECK_THAT(table.out, Catch::Contains("line1\\nline2\\r\\x1b[31mred"));
  CHECK(table.out.find('\x1b') == std::string::npos);
  CHECK(table.out.find('\r') == std::string::npos);
  // JSON output keeps the text exactly (escaped by the JSON writer).
  const auto j = json::parse(ctl({"members", "list", "--json"}).out);
  CHECK(j[0]["name"] == "line1\nline2\r\x1b[31mred");
}

namespace {

// labgatectl run as the unprivileged `nobody` (uid 65534), with no supplementary groups: the
// tests run as root, which setpriv lets drop to any uid.
constexpr int kOtherUid = 65534;

Run ctl_as_other_uid(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"setpriv", "--reuid=" + std::to_string(kOtherUid),
                                "--regid=" + std::to_string(kOtherUid), "--clear-groups",
                                LABGATECTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto done = labgate::testing::run_command(argv, std::chrono::seconds(60),
                                                  {{"USER", "root"}, {"LABGATE_SITE_KEY", kKey}});
  return Run{done.exit_code, done.out, done.err};
}

}  // namespace

TEST_CASE("labgatectl: control characters are refused at every text option", "[ctl][text]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"machines", "add", "--id", "laser1", "--name", "Laser cutter 1"}));
  // The issue's name: a line break, a carriage return and a terminal colour escape.
  const std::string hostile = "line1\nline2\r\x1b[31mred";
  require_refused(ctl, {"members", "add", "--no", "M0009", "--name", hostile}, 2,
                  "bad member name: name: control character U+000A");
  require_refused(ctl, {"members", "add", "--no", "M0009", "--name", "a\nb\x1b[31m"}, 2,
                  "control character");
  require_refused(ctl, {"members", "add", "--no", "M0009", "--name", "Ok", "--email", "a@b.jp\r\n"},
                  2, "bad e-mail");
  require_refused(ctl, {"members", "suspend", "--no", "M0001", "--reason", "late\x1b[2J"}, 2,
                  "bad suspension reason");
  require_refused(ctl, {"machines", "lockout", "--id", "laser1", "--reason", "smoke\x07"}, 2,
                  "bad lockout reason");
  require_refused(ctl,
                  {"machines", "inspect", "--id", "laser1", "--inspector", "Suzuki", "--result",
                   "pass", "--notes", "ok\x1b]0;title\x07"},
                  2, "bad inspection notes");
  require_refused(ctl,
                  {"certs", "grant", "--member", "M0001", "--type", "laser", "--trainer", "Sa\nto"},
                  2, "bad trainer");
  require_refused(ctl, {"machines", "add", "--id", "cnc1", "--name", "CNC\xe2\x80\xae"}, 2,
                  "bidirectional control");
  require_refused(ctl, {"credentials", "revoke", "--credential", "1", "--reason", "lost\n"}, 2,
                  "bad revocation reason");
  // A tab is refused where the field does not allow it, and an invalid UTF-8 byte everywhere.
  require_refused(ctl, {"members", "add", "--no", "M0009", "--name", "a\tb"}, 2, "U+0009");
  require_refused(ctl, {"members", "add", "--no", "M0009", "--name", "caf\xe9"}, 2,
                  "not valid UTF-8");
  // The same kinds of text, typed cleanly, pass.
  require_ok(ctl({"members", "add", "--no", "M0009", "--name", "山田 花子", "--email", "a@b.jp"}));
  require_ok(ctl({"machines", "inspect", "--id", "laser1", "--inspector", "Suzuki", "--result",
                  "pass", "--notes", "lens\tcleaned"}));
}

TEST_CASE("labgatectl: the actor is the OS user and a declared, active staff account",
          "[ctl][actor]") {
  Ctl ctl;  // its children get USER=ctl-tester, which must not matter
  seed(ctl);
  // No staff account yet: declaring one is refused, whoever runs the command.
  require_refused(ctl, {"members", "approve", "--no", "M0001", "--actor", "root"}, 1,
                  "staff account 'root' does not exist");
  // The first account is made by its owner declaring it.
  require_ok(ctl({"users", "add", "--login", "aiko", "--name", "Aiko Sato", "--role", "admin",
                  "--actor", "aiko"}));
  // From then on only an existing account may add one; nobody can declare themselves in.
  require_refused(ctl,
                  {"users", "add", "--login", "mallory", "--role", "admin", "--actor", "mallory"},
                  1, "staff account 'mallory' does not exist");
  require_ok(ctl({"users", "add", "--login", "ken", "--role", "desk", "--actor", "aiko"}));
  require_ok(ctl({"members", "suspend", "--no", "M0001", "--reason", "unpaid", "--actor", "ken"}));
  // A deactivated account is refused, and cannot deactivate itself.
  require_refused(ctl, {"users", "disable", "--login", "aiko", "--actor", "aiko"}, 1,
                  "cannot disable itself");
  require_ok(ctl({"users", "disable", "--login", "ken", "--actor", "aiko"}));
  require_refused(ctl, {"members", "approve", "--no", "M0001", "--actor", "ken"}, 1,
                  "staff account 'ken' is not active");
  require_ok(ctl({"users", "enable", "--login", "ken", "--actor", "aiko"}));
  require_ok(ctl({"members", "approve", "--no", "M0001", "--actor", "ken"}));

  const auto audit = json::parse(ctl({"audit", "list", "--json"}).out);
  const auto uid = static_cast<std::int64_t>(::getuid());
  bool saw_ken = false;
  for (const auto& row : audit) {
    INFO(row.dump());
    CHECK(row["os_uid"] == uid);
    CHECK(row["os_user"] == labgate::test::os_user());
    CHECK(row["actor"] != "ctl-tester");
    if (row["action"] == "member.suspend") {
      saw_ken = true;
      CHECK(row["account"] == "ken");
      CHECK(row["actor"] == "ken@uid:" + std::to_string(uid));
    }
  }
  CHECK(saw_ken);
  require_ok(ctl({"audit", "verify"}));
}

TEST_CASE("labgatectl users role: an admin changes another account's role, audited as them",
          "[ctl][actor]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"users", "add", "--login", "aiko", "--role", "admin", "--actor", "aiko"}));
  require_ok(ctl({"users", "add", "--login", "ken", "--role", "desk", "--actor", "aiko"}));
  // Not a role, not an account, the same role, a non-admin, an admin on itself: all refused.
  require_refused(ctl, {"users", "role", "--login", "ken", "--role", "root", "--actor", "aiko"}, 2,
                  "root");
  require_refused(ctl, {"users", "role", "--login", "nobody", "--role", "staff", "--actor", "aiko"},
                  1, "no staff account 'nobody'");
  require_refused(ctl, {"users", "role", "--login", "ken", "--role", "desk", "--actor", "aiko"}, 1,
                  "already desk");
  require_refused(ctl, {"users", "role", "--login", "ken", "--role", "admin", "--actor", "ken"}, 1,
                  "(desk) may not do this");
  require_refused(ctl, {"users", "role", "--login", "aiko", "--role", "desk", "--actor", "aiko"}, 1,
                  "cannot change its own role");
  auto users = json::parse(ctl({"users", "list", "--json"}).out);
  for (const auto& u : users) CHECK(u["role"] == (u["login"] == "ken" ? "desk" : "admin"));

  const auto r = ctl({"users", "role", "--login", "ken", "--role", "staff", "--actor", "aiko"});
  require_ok(r);
  CHECK_THAT(r.out, Catch::Contains("staff account ken is now staff"));
  users = json::parse(ctl({"users", "list", "--json"}).out);
  for (const auto& u : users) CHECK(u["role"] == (u["login"] == "ken" ? "staff" : "admin"));
  // The audit row names the declared account (not the OS user alone) and the role it replaced.
  const auto uid = std::to_string(::getuid());
  int rows = 0;
  for (const auto& row : json::parse(ctl({"audit", "list", "--json"}).out)) {
    if (row["action"] != "staff.role") continue;
    ++rows;
    INFO(row.dump());
    CHECK(row["subject"] == "ken");
    CHECK(row["account"] == "aiko");
    CHECK(row["actor"] == "aiko@uid:" + uid);
    CHECK_THAT(row.dump(), Catch::Contains(R"(\"was\":\"desk\")"));
  }
  CHECK(rows == 1);
  require_ok(ctl({"audit", "verify"}));
}

TEST_CASE("labgatectl: another OS user cannot write the database directly, whatever --actor says",
          "[ctl][actor]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"users", "add", "--login", "aiko", "--role", "admin", "--actor", "aiko"}));
  const auto before = ctl.snapshot();
  // Even a database file the other user could write to (a careless chmod) is refused: only
  // the daemon's user, which owns the file, and root write directly.
  std::filesystem::permissions(ctl.dir().path(), std::filesystem::perms::all);
  for (const auto* suffix : {"", "-wal", "-shm"}) {
    const auto f = ctl.db().string() + suffix;
    if (std::filesystem::exists(f)) {
      std::filesystem::permissions(
          f, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                 std::filesystem::perms::group_read | std::filesystem::perms::group_write |
                 std::filesystem::perms::others_read | std::filesystem::perms::others_write);
    }
  }
  for (const auto& actor : {std::string("root"), std::string("aiko")}) {
    const auto r = ctl_as_other_uid(
        {"--db", ctl.db().string(), "--actor", actor, "members", "approve", "--no", "M0001"});
    INFO("stderr: " << r.err);
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("only the daemon's user"));
    CHECK_THAT(r.err, Catch::Contains("uid " + std::to_string(kOtherUid)));
  }
  // Without --actor, and without $USER mattering (the child's USER says root).
  const auto r = ctl_as_other_uid(
      {"--db", ctl.db().string(), "members", "suspend", "--no", "M0001", "--reason", "spoof"});
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("only the daemon's user"));
  CHECK(ctl.snapshot() == before);
  // Its reads still work: it is only writing that is the daemon's.
  CHECK(ctl_as_other_uid({"--db", ctl.db().string(), "members", "list"}).code == 0);
}
