// Who really acted (issue 19, part 3) and one validator for stored text (part 6), at the store:
// every audit row records the OS uid and the declared staff account, a declared account must
// exist and be active, and no change stores control characters whichever way it came.
#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db_snapshot.hpp"
#include "labgate/gateway/store/changes.hpp"
#include "labgate/gateway/store/import.hpp"
#include "labgate/gateway/store/store.hpp"
#include "must.hpp"
#include "process.hpp"

using namespace labgate::gateway::store;
using labgate::testing::must;
using labgate::testing::TempDir;

namespace {

// A store opened for the site (no key needed here), as labgatectl or the daemon opens it.
std::unique_ptr<Store> open_store(const std::filesystem::path& path) {
  StoreOptions o;
  o.site_key = SiteKey{};
  o.clock = [] { return std::int64_t{1775001600000}; };
  auto s = Store::open(path, o);
  INFO((s ? std::string() : s.error().message));
  REQUIRE(s.ok());
  return std::move(*s);
}

struct Site {
  TempDir dir;
  std::unique_ptr<Store> store = open_store(dir.file("labgate.db"));

  // Every row of every table, to prove a refusal wrote nothing.
  std::string rows() { return labgate::test::database_snapshot(dir.file("labgate.db")); }
};

const Actor kOwner = "setup";  // this process on its own: no account declared

Actor declared(const std::string& account, std::int64_t uid = 4242) {
  return Actor::declared(account, uid, "alice");
}

void seed(Store& s) {
  must(s.staff().add_plan({"FULL", "Full", "mon-fri 08:30-17:15", false, false}, kOwner));
  must(
      s.staff().add_member({"M1", "Hanako", "", std::nullopt, std::nullopt, std::nullopt}, kOwner));
  must(s.staff().add_certification_type({"laser", "Laser", 365, false}, kOwner));
  must(s.staff().add_machine({"laser1", "Laser 1", std::string("laser"), "hold", 30, false},
                             kOwner));
  must(s.ledger().upsert_price_item({"ACR3", "Acrylic 3 mm", "sheet", 800, false, std::nullopt},
                                    kOwner));
}

template <typename R>
void refused(R r, ErrorKind kind, const std::string& text) {
  INFO((r.ok() ? std::string("accepted") : r.error().message));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == kind);
  CHECK_THAT(r.error().message, Catch::Contains(text));
}

}  // namespace

TEST_CASE("audit rows record the OS uid and the declared account", "[store][actor]") {
  Site site;
  seed(*site.store);
  must(site.store->staff().add_staff_account({"alice", "Alice", "staff", true, 0}, kOwner));
  must(site.store->staff().approve_member("M1", declared("alice")));
  const auto rows = must(site.store->audit().list_audit());
  REQUIRE(rows.size() >= 2);
  // The process acting on its own: its real uid, no account.
  CHECK(rows.front().actor == "setup");
  CHECK(rows.front().os_uid == static_cast<std::int64_t>(::getuid()));
  CHECK_FALSE(rows.front().account.has_value());
  // A person: the uid the caller vouches for (the kernel's, on the admin channel), the account.
  CHECK(rows.back().action == "member.approve");
  CHECK(rows.back().actor == "alice@uid:4242");
  CHECK(rows.back().os_uid == 4242);
  CHECK(rows.back().os_user == "alice");
  CHECK(rows.back().account == "alice");
  CHECK(must(site.store->audit().verify_audit_chain()).ok);
}

TEST_CASE("a declared account that is missing or inactive is refused, and nothing changes",
          "[store][actor]") {
  Site site;
  seed(*site.store);
  must(site.store->staff().add_staff_account({"alice", "", "staff", true, 0}, kOwner));
  must(site.store->staff().add_staff_account({"bob", "", "desk", true, 0}, kOwner));
  must(site.store->staff().set_staff_account_active("bob", false, declared("alice")));
  const auto before = site.rows();
  auto& staff = site.store->staff();
  auto& ledger = site.store->ledger();
  for (const auto& who : {declared("root"), declared("bob")}) {
    const std::string why = who.account == "root" ? "does not exist" : "is not active";
    refused(staff.approve_member("M1", who), ErrorKind::kForbidden, why);
    refused(staff.lockout_machine("laser1", "smoke", who), ErrorKind::kForbidden, why);
    refused(staff.add_member({"M2", "X", "", std::nullopt, std::nullopt, std::nullopt}, who),
            ErrorKind::kForbidden, why);
    refused(ledger.topup("M1", 1000, "cash", who), ErrorKind::kForbidden, why);
    refused(ledger.sell("M1", "ACR3", 1, "", who), ErrorKind::kForbidden, why);
    CHECK_FALSE(site.store->audit().append_audit(who, "remote_unlock", "front", "{}").ok());
    refused(staff.add_staff_account({"eve", "", "admin", true, 0}, who), ErrorKind::kForbidden,
            why);
  }
  CHECK(site.rows() == before);
  // An active account passes.
  must(staff.approve_member("M1", declared("alice")));
}

TEST_CASE("the first staff account is made by its owner; later ones by an existing account",
          "[store][actor]") {
  Site site;
  auto& staff = site.store->staff();
  refused(staff.add_staff_account({"eve", "", "admin", true, 0}, declared("mallory")),
          ErrorKind::kForbidden, "'mallory' does not exist");
  // Another OS user (a peer of the admin channel) cannot bootstrap the site either.
  refused(staff.add_staff_account({"aiko", "Aiko", "admin", true, 0}, declared("aiko", 4242)),
          ErrorKind::kForbidden, "'aiko' does not exist");
  must(staff.add_staff_account({"aiko", "Aiko", "admin", true, 0},
                               declared("aiko", static_cast<std::int64_t>(::getuid()))));
  // Nobody declares themselves in once an account exists.
  refused(staff.add_staff_account({"mallory", "", "admin", true, 0}, declared("mallory")),
          ErrorKind::kForbidden, "'mallory' does not exist");
  must(staff.add_staff_account({"ken", "", "desk", true, 0}, declared("aiko")));
  refused(staff.add_staff_account({"ken", "", "desk", true, 0}, declared("aiko")),
          ErrorKind::kConflict, "already exists");
  refused(staff.add_staff_account({"bad name", "", "desk", true, 0}, declared("aiko")),
          ErrorKind::kInvalid, "bad login");
  refused(staff.add_staff_account({"sue", "", "boss", true, 0}, declared("aiko")),
          ErrorKind::kInvalid, "bad role");
  refused(staff.set_staff_account_active("aiko", false, declared("aiko")), ErrorKind::kConflict,
          "cannot disable itself");
  const auto all = must(staff.list_staff_accounts());
  REQUIRE(all.size() == 2);
  CHECK(all[0].login == "aiko");
  CHECK(all[1].login == "ken");
}

TEST_CASE("stored text passes the one validator at every store change", "[store][text]") {
  Site site;
  seed(*site.store);
  must(site.store->staff().add_staff_account({"alice", "", "staff", true, 0}, kOwner));
  const auto before = site.rows();
  auto& staff = site.store->staff();
  auto& ledger = site.store->ledger();
  const std::string nl = "line1\nline2";
  const std::string esc = "\x1b[31mred";
  const std::string bidi = "abc\xe2\x80\xae";  // U+202E RIGHT-TO-LEFT OVERRIDE
  const std::string bad_utf8 = "caf\xe9";
  for (const auto& bad : {nl, esc, bidi, bad_utf8}) {
    INFO(bad);
    refused(staff.add_member({"M2", bad, "", std::nullopt, std::nullopt, std::nullopt}, kOwner),
            ErrorKind::kInvalid, "bad member name");
    refused(staff.add_member({"M2", "Ok", "a@b.jp" + bad, std::nullopt, std::nullopt, std::nullopt},
                             kOwner),
            ErrorKind::kInvalid, "bad e-mail");
    refused(
        staff.add_member({"M2" + bad, "Ok", "", std::nullopt, std::nullopt, std::nullopt}, kOwner),
        ErrorKind::kInvalid, "bad member number");
    refused(staff.add_plan({"P2", bad, "mon 08:00-09:00", false, false}, kOwner),
            ErrorKind::kInvalid, "bad plan name");
    refused(staff.suspend_member("M1", bad, kOwner), ErrorKind::kInvalid, "suspension reason");
    refused(staff.add_certification_type({"cnc", bad, 30, false}, kOwner), ErrorKind::kInvalid,
            "certification type name");
    refused(staff.grant_certification("M1", "laser", bad, std::nullopt, kOwner),
            ErrorKind::kInvalid, "bad trainer");
    refused(staff.add_machine({"cnc1", bad, std::nullopt, "hold", 0, false}, kOwner),
            ErrorKind::kInvalid, "bad machine name");
    refused(staff.upsert_door({"back", bad, "secure", "entry"}, kOwner), ErrorKind::kInvalid,
            "bad door name");
    refused(staff.lockout_machine("laser1", bad, kOwner), ErrorKind::kInvalid, "lockout reason");
    refused(staff.record_inspection({"laser1", std::nullopt, "Suzuki", "pass", bad, std::nullopt},
                                    kOwner),
            ErrorKind::kInvalid, "inspection notes");
    refused(staff.enroll_credential("M1", "iso14443a", std::vector<std::uint8_t>{1, 2, 3, 4}, bad,
                                    kOwner),
            ErrorKind::kInvalid, "card label");
    refused(staff.add_staff_account({"sue", bad, "desk", true, 0}, kOwner), ErrorKind::kInvalid,
            "staff name");
    refused(ledger.upsert_price_item({"PLA", bad, "kg", 100, false, std::nullopt}, kOwner),
            ErrorKind::kInvalid, "item name");
    refused(ledger.topup("M1", 1000, bad, kOwner), ErrorKind::kInvalid, "top-up note");
    refused(ledger.adjust("M1", -100, bad, kOwner), ErrorKind::kInvalid, "adjustment reason");
    refused(ledger.sell("M1", "ACR3", 1, bad, kOwner), ErrorKind::kInvalid, "sale note");
  }
  // Over the length limit of the field (names: 200 characters, counted as characters).
  refused(staff.add_member(
              {"M2", std::string(201, 'a'), "", std::nullopt, std::nullopt, std::nullopt}, kOwner),
          ErrorKind::kInvalid, "201 characters");
  must(staff.add_member({"M2", std::string(200, 'a'), "", std::nullopt, std::nullopt, std::nullopt},
                        kOwner));
  // Notes may hold a tab; names may not.
  refused(staff.add_member({"M3", "a\tb", "", std::nullopt, std::nullopt, std::nullopt}, kOwner),
          ErrorKind::kInvalid, "U+0009");
  must(staff.record_inspection({"laser1", std::nullopt, "Suzuki", "pass", "lens\tok", std::nullopt},
                               kOwner));
  CHECK(site.rows() != before);  // the two good ones went in
}

TEST_CASE("the roster import refuses control characters in any text column", "[store][text]") {
  Site site;
  seed(*site.store);
  const auto before = site.rows();
  ImportOptions options{"roster.csv", "00", false};
  for (const auto& [name, email] : {std::pair<std::string, std::string>{"a\nb\x1b[31m", ""},
                                    {"Ok", "a@b.jp\r"},
                                    {"Ok\xc2\x85", ""},
                                    {"Ok", "a\x7f@b.jp"}}) {
    ImportMember row{2,
                     {"M7", name, email, std::nullopt, std::nullopt, std::nullopt},
                     MemberStatus::kPending,
                     std::nullopt};
    auto r = site.store->staff().import_members({row}, options, kOwner);
    // Refused as an issue of the file (nothing written), never stored.
    if (r.ok()) {
      CHECK_FALSE(r->issues.empty());
      CHECK(r->imported == 0);
    }
  }
  CHECK(site.rows() == before);
}

TEST_CASE("changes as data: the same store calls, refusals for bad ops and arguments",
          "[store][actor]") {
  Site site;
  seed(*site.store);
  must(site.store->staff().add_staff_account({"alice", "", "staff", true, 0}, kOwner));
  using nlohmann::json;
  auto rec =
      must(apply_change(*site.store,
                        json{{"op", "member.add"},
                             {"args", {{"member_no", "M5"}, {"name", "Jiro"}, {"plan", "FULL"}}}},
                        declared("alice", 1000)));
  CHECK(rec["member_no"] == "M5");
  CHECK(rec["status"] == "pending");
  const auto last = must(site.store->audit().list_audit()).back();
  CHECK(last.action == "member.add");
  CHECK(last.os_uid == 1000);
  CHECK(last.account == "alice");
  rec = must(apply_change(
      *site.store,
      json{{"op", "machine.lockout"}, {"args", {{"id", "laser1"}, {"reason", "smoke"}}}},
      declared("alice")));
  CHECK(rec["locked_out"] == true);
  rec =
      must(apply_change(*site.store,
                        json{{"op", "cert.grant"},
                             {"args", {{"member_no", "M1"}, {"type", "laser"}, {"trainer", "S"}}}},
                        declared("alice")));
  CHECK(rec["type"] == "laser");
  CHECK(must(apply_change(*site.store,
                          json{{"op", "cert.revoke"},
                               {"args", {{"member_no", "M1"}, {"type", "laser"}, {"reason", "x"}}}},
                          declared("alice")))
            .is_array());

  rec = must(apply_change(
      *site.store,
      json{{"op", "sale.add"}, {"args", {{"member_no", "M1"}, {"item", "ACR3"}, {"quantity", 2}}}},
      declared("alice")));
  CHECK(rec["amount"] == 1600);
  CHECK(rec["actor"] == "alice");

  const auto before = site.rows();
  refused(apply_change(*site.store, json{{"op", "account.topup"}, {"args", {{"member_no", "M1"}}}},
                       declared("alice")),
          ErrorKind::kInvalid, "'amount' is missing");
  refused(apply_change(*site.store, json{{"op", "member.delete"}}, declared("alice")),
          ErrorKind::kInvalid, "unknown change op");
  refused(apply_change(*site.store, json::array(), declared("alice")), ErrorKind::kInvalid,
          "JSON object");
  refused(apply_change(*site.store, json{{"op", "member.add"}, {"args", {{"name", "X"}}}},
                       declared("alice")),
          ErrorKind::kInvalid, "'member_no' is missing");
  refused(apply_change(*site.store,
                       json{{"op", "member.add"}, {"args", {{"member_no", 7}, {"name", "X"}}}},
                       declared("alice")),
          ErrorKind::kInvalid, "must be a string");
  refused(apply_change(*site.store, json{{"op", "member.add"}, {"args", "M9"}}, declared("alice")),
          ErrorKind::kInvalid, "args must be an object");
  refused(apply_change(
              *site.store,
              json{{"op", "member.add"}, {"args", {{"member_no", "M9"}, {"name", "a\nb\x1b[31m"}}}},
              declared("alice")),
          ErrorKind::kInvalid, "control character");
  refused(apply_change(*site.store,
                       json{{"op", "member.add"}, {"args", {{"member_no", "M9"}, {"name", "X"}}}},
                       declared("root")),
          ErrorKind::kForbidden, "'root' does not exist");
  CHECK(site.rows() == before);
}
