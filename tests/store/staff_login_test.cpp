// Schema version 9: console passwords and languages of staff accounts, who may set them, and the
// members search the console pages through.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "labgate/gateway/store/store.hpp"
#include "must.hpp"
#include "process.hpp"

using namespace labgate::gateway::store;
using labgate::testing::must;
using labgate::testing::TempDir;

namespace {

// A well-formed argon2id string (the store checks the prefix; the console verifies the rest).
const std::string kHash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo";

struct Staffed {
  TempDir dir;
  std::unique_ptr<Store> store;
  Staffed() {
    StoreOptions o;
    o.site_key = SiteKey{};
    store = must(Store::open(dir.file("labgate.db"), o));
    for (const auto& [login, role] : std::vector<std::pair<std::string, std::string>>{
             {"ada", "admin"}, {"dina", "desk"}, {"sam", "staff"}}) {
      must(store->staff().add_staff_account({login, login, role, true, 0}, "setup"));
    }
  }
  Actor as(const std::string& login) { return Actor::declared(login, ::getuid()); }
};

}  // namespace

TEST_CASE("staff logins: a password is set as its hash, and only by whom it concerns", "[unit]") {
  Staffed s;
  auto none = must(s.store->staff().staff_login("dina"));
  REQUIRE(none);
  CHECK_FALSE(none->password_hash);
  CHECK_FALSE(none->locale);
  CHECK_FALSE(must(s.store->staff().staff_login("nobody")));

  // Any active account may set a first password (it could add the account as well).
  must(s.store->staff().set_staff_password_hash("dina", kHash, s.as("sam")));
  CHECK(must(s.store->staff().staff_login("dina"))->password_hash == kHash);
  // After that: the account itself and admins only.
  auto refused = s.store->staff().set_staff_password_hash("dina", kHash, s.as("sam"));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::kForbidden);
  must(s.store->staff().set_staff_password_hash("dina", kHash, s.as("dina")));
  must(s.store->staff().set_staff_password_hash("dina", kHash, s.as("ada")));
  // Not a hash: refused, so a clear password can never be stored by mistake.
  CHECK_FALSE(s.store->staff().set_staff_password_hash("dina", "hunter22", s.as("ada")));
  CHECK_FALSE(s.store->staff().set_staff_password_hash("nobody", kHash, s.as("ada")));

  // The audit row says it changed, never what to.
  bool seen = false;
  for (const auto& row : must(s.store->audit().list_audit(1000))) {
    CHECK(row.detail.find("argon2id") == std::string::npos);
    seen = seen || (row.action == "staff.passwd" && row.subject == "dina");
  }
  CHECK(seen);
}

TEST_CASE("staff logins: a language is ja, en or none", "[unit]") {
  Staffed s;
  must(s.store->staff().set_staff_locale("dina", "en", s.as("dina")));
  CHECK(must(s.store->staff().staff_login("dina"))->locale == "en");
  CHECK_FALSE(s.store->staff().set_staff_locale("dina", "fr", s.as("dina")));
  CHECK_FALSE(s.store->staff().set_staff_locale("dina", "ja", s.as("sam")));
  must(s.store->staff().set_staff_locale("dina", "", s.as("ada")));
  CHECK_FALSE(must(s.store->staff().staff_login("dina"))->locale);
}

TEST_CASE("members search: number prefix or name part, a page at a time", "[unit]") {
  Staffed s;
  for (int i = 1; i <= 30; ++i) {
    NewMember m;
    m.member_no = "M" + std::to_string(100 + i);
    m.name = i % 2 == 0 ? "Sato " + std::to_string(i) : "Ito 100%_" + std::to_string(i);
    must(s.store->staff().add_member(m, "setup"));
  }
  CHECK(must(s.store->staff().search_members("", 100, 0)).size() == 30);
  const auto page = must(s.store->staff().search_members("", 10, 10));
  REQUIRE(page.size() == 10);
  CHECK(page.front().member_no == "M111");
  CHECK(must(s.store->staff().search_members("M12", 100, 0)).size() == 10);  // M120-M129
  CHECK(must(s.store->staff().search_members("Sato", 100, 0)).size() == 15);
  // LIKE's wildcards in the query are literal.
  CHECK(must(s.store->staff().search_members("100%_", 100, 0)).size() == 15);
  CHECK(must(s.store->staff().search_members("%", 100, 0)).size() == 15);
  CHECK(must(s.store->staff().search_members("_", 100, 0)).size() == 15);
}
