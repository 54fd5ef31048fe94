// The admin's staff-account pages, search by card, the member's balance and the live page's
// state names, over real HTTP against a real labgate-console and labgated. Every refusal is
// checked to change nothing.

#include <catch2/catch.hpp>
#include <string>

#include "console_site.hpp"
#include "i18n.hpp"
#include "labgate/gateway/console/password.hpp"
#include "must.hpp"

using namespace labgate::testing;
namespace store = labgate::gateway::store;
namespace console = labgate::gateway::console;

namespace {

// The fixture's admin account "test" has no password: give it one and log in.
Browser admin(ConsoleSite& site) {
  {
    auto s = site.daemon().open_store();
    const auto hash = console::hash_password(ConsoleSite::password_of("test"));
    REQUIRE(hash);
    must(s->staff().set_staff_password_hash("test", *hash, "setup"));
  }
  return site.logged_in("test");
}

std::optional<store::StaffAccount> account(ConsoleSite& site, const std::string& login) {
  auto s = site.daemon().open_store();
  for (auto& a : must(s->staff().list_staff_accounts())) {
    if (a.login == login) return a;
  }
  return std::nullopt;
}

int login_status(ConsoleSite& site, const std::string& login, const std::string& password) {
  Browser b;
  return site.log_in(b, login, password).status;
}

}  // namespace

TEST_CASE("console users: only an admin opens or changes staff accounts", "[console]") {
  ConsoleSite site;
  for (const std::string login : {"dina", "tara", "sam", "mona"}) {
    INFO(login);
    auto b = site.logged_in(login);
    CHECK(site.get(b, "/users").status == 403);
    CHECK_FALSE(has(site.get(b, "/").body, R"(href="/users")"));
    CHECK(site.post(b, "/users",
                    "login=sneaky&name=x&role=admin&password=" + form_escape("long enough pw"))
              .status == 403);
    CHECK(site.post(b, "/users/dina/role", "role=admin").status == 403);
    CHECK(site.post(b, "/users/sam/disable", "").status == 403);
    CHECK(site.post(b, "/users/mona/password", "password=" + form_escape("taken over!")).status ==
          403);
  }
  CHECK_FALSE(account(site, "sneaky"));
  CHECK(account(site, "dina")->role == "desk");
  CHECK(account(site, "sam")->active);
  CHECK(login_status(site, "mona", "taken over!") == 401);
  CHECK(login_status(site, "mona", ConsoleSite::password_of("mona")) == 303);

  auto t = admin(site);
  auto page = site.get(t, "/users");
  REQUIRE(page.status == 200);
  CHECK(has(page.body, R"(data-login="dina" data-role="desk" data-active="1")"));
  CHECK(has(page.body, R"(id="user-add")"));
  CHECK(has(site.get(t, "/").body, R"(href="/users")"));
  // Every form of the page carries the session's token.
  std::size_t forms = 0, tokens = 0;
  for (auto at = page.body.find("<form method=\"post\""); at != std::string::npos;
       at = page.body.find("<form method=\"post\"", at + 1)) {
    ++forms;
    const auto end = page.body.find("</form>", at);
    if (page.body.substr(at, end - at).find(R"(name="csrf" value=")" + t.csrf) !=
        std::string::npos) {
      ++tokens;
    }
  }
  CHECK(forms >= 10);
  CHECK(tokens == forms);
}

TEST_CASE("console users: posts without the session's token change nothing", "[console]") {
  ConsoleSite site;
  auto t = admin(site);
  const std::string add = "login=nocsrf&name=x&role=desk&password=" + form_escape("long enough pw");
  CHECK(site.post(t, "/users", add, false).status == 403);
  CHECK(site.post(t, "/users", add + "&csrf=not-the-token", false).status == 403);
  CHECK(site.post(t, "/users/dina/role", "role=admin", false).status == 403);
  CHECK(site.post(t, "/users/dina/disable", "", false).status == 403);
  CHECK(site.post(t, "/users/dina/password", "password=" + form_escape("hijacked pw"), false)
            .status == 403);
  CHECK_FALSE(account(site, "nocsrf"));
  CHECK(account(site, "dina")->role == "desk");
  CHECK(account(site, "dina")->active);
  CHECK(login_status(site, "dina", "hijacked pw") == 401);
}

TEST_CASE("console users: add, change a role, deactivate, reactivate, reset a password",
          "[console]") {
  ConsoleSite site;
  auto t = admin(site);
  const std::string hostile = "<script>alert(1)</script>";
  auto r = site.post(t, "/users",
                     "login=kenji&name=" + form_escape(hostile) +
                         "&role=trainer&password=" + form_escape("kenji first pw"));
  REQUIRE(r.status == 303);
  CHECK(r.header("location") == "/users");
  REQUIRE(account(site, "kenji"));
  CHECK(account(site, "kenji")->role == "trainer");
  CHECK(account(site, "kenji")->name == hostile);
  CHECK(audited(site, me("test"), "staff.add", "kenji"));
  CHECK(audited(site, me("test"), "staff.passwd", "kenji"));
  auto page = site.get(t, "/users");
  CHECK(has(page.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_FALSE(has(page.body, hostile));
  CHECK(login_status(site, "kenji", "kenji first pw") == 303);
  // A login taken already, a bad role, a short password: refused, nothing else made.
  CHECK(site.post(t, "/users", "login=kenji&role=desk&password=" + form_escape("other pw 123"))
            .status == 409);
  CHECK(site.post(t, "/users", "login=eve&role=root&password=" + form_escape("other pw 123"))
            .status == 400);
  CHECK(site.post(t, "/users", "login=eve2&role=desk&password=short").status == 400);
  CHECK(site.post(t, "/users",
                  "login=" + form_escape("<b>") +
                      "&role=desk&password=" + form_escape("other pw 123"))
            .status == 400);
  CHECK_FALSE(account(site, "eve"));
  CHECK_FALSE(account(site, "eve2"));

  // Role.
  REQUIRE(site.post(t, "/users/kenji/role", "role=staff").status == 303);
  CHECK(account(site, "kenji")->role == "staff");
  CHECK(audited(site, me("test"), "staff.role", "kenji"));
  CHECK(site.post(t, "/users/kenji/role", "role=staff").status == 409);
  CHECK(site.post(t, "/users/kenji/role", "role=" + form_escape("<i>root</i>")).status == 400);
  CHECK(site.post(t, "/users/test/role", "role=desk").status == 409);  // not its own
  CHECK(account(site, "test")->role == "admin");
  CHECK(site.post(t, "/users/nobody/role", "role=desk").status == 404);

  // Deactivate: the account can no longer log in; reactivate: it can again.
  REQUIRE(site.post(t, "/users/kenji/disable", "").status == 303);
  CHECK_FALSE(account(site, "kenji")->active);
  CHECK(audited(site, me("test"), "staff.disable", "kenji"));
  CHECK(login_status(site, "kenji", "kenji first pw") == 401);
  CHECK(site.post(t, "/users/test/disable", "").status == 409);
  REQUIRE(site.post(t, "/users/kenji/enable", "").status == 303);
  CHECK(account(site, "kenji")->active);
  CHECK(audited(site, me("test"), "staff.enable", "kenji"));
  CHECK(login_status(site, "kenji", "kenji first pw") == 303);

  // Password reset: the old one stops working; the audit row shows neither.
  REQUIRE(
      site.post(t, "/users/kenji/password", "password=" + form_escape("kenji second pw")).status ==
      303);
  CHECK(login_status(site, "kenji", "kenji first pw") == 401);
  CHECK(login_status(site, "kenji", "kenji second pw") == 303);
  CHECK(site.post(t, "/users/kenji/password", "password=short").status == 400);
  CHECK(login_status(site, "kenji", "kenji second pw") == 303);
  auto s = site.daemon().open_store();
  for (const auto& a : must(s->audit().list_audit(1000))) {
    CHECK_FALSE(has(a.detail, "kenji second pw"));
    CHECK_FALSE(has(a.detail, "$argon2id$"));
  }
}

TEST_CASE("console members: search by a card's UID finds its holder", "[console]") {
  ConsoleSite site;
  auto dina = site.logged_in("dina");
  for (const std::string q : {"04000001", "04%3A00%3A00%3A01", "04+00+00+01"}) {
    INFO(q);
    auto r = site.get(dina, "/members?q=" + q);
    REQUIRE(r.status == 200);
    CHECK(has(r.body, R"(data-member="M1" data-card="iso14443a")"));
    CHECK_FALSE(has(r.body, R"(data-member="M2" data-card)"));
  }
  auto other = site.get(dina, "/members?q=04000002");
  CHECK(has(other.body, R"(data-member="M2" data-card="iso14443a")"));
  CHECK_FALSE(has(other.body, R"(data-member="M1" data-card)"));
  // An unknown UID, and a query that is not one, find no card.
  CHECK_FALSE(has(site.get(dina, "/members?q=04999999").body, "data-card="));
  CHECK_FALSE(has(site.get(dina, "/members?q=M1").body, "data-card="));
  // A revoked card still tells whose it was, and says so.
  {
    auto s = site.daemon().open_store();
    auto cards = must(s->staff().list_credentials("M2"));
    REQUIRE_FALSE(cards.empty());
    must(s->staff().revoke_credential(cards.front().id, "lost", "setup"));
  }
  auto revoked = site.get(dina, "/members?q=04000002&lang=en");
  CHECK(has(revoked.body, R"(data-member="M2" data-card="iso14443a")"));
  CHECK(has(revoked.body, "held this card (revoked)"));
}

TEST_CASE("console members: the member page shows the balance and the credit limit", "[console]") {
  ConsoleSite site;
  {
    auto s = site.daemon().open_store();
    must(s->ledger().topup("M1", 12500, "desk", "setup"));
    must(s->ledger().set_credit_limit("M1", 3000, "setup"));
  }
  auto dina = site.logged_in("dina");
  auto page = site.get(dina, "/members/M1?lang=en");
  REQUIRE(page.status == 200);
  CHECK(has(page.body, R"(id="balance" data-yen="12500">12,500 yen)"));
  CHECK(has(page.body, R"(id="credit-limit" data-yen="3000">3,000 yen)"));
  auto none = site.get(dina, "/members/M2?lang=ja");
  CHECK(has(none.body, R"(id="balance" data-yen="0">0 円)"));
}

TEST_CASE("console live: door and machine states are named in the page's language", "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  auto ja = site.get(sam, "/?lang=ja");
  REQUIRE(ja.status == 200);
  CHECK(has(
      ja.body,
      R"(data-door="front" data-state="locked"><span class="id">front</span> <span class="state">施錠</span>)"));
  CHECK(has(
      ja.body,
      R"(data-machine="laser" data-state="idle"><span class="id">laser</span> <span class="state">待機中</span>)"));
  // console.js labels live changes from the same catalogue.
  CHECK(has(ja.body, R"(id="state-labels")"));
  CHECK(has(ja.body, "火災時開放"));
  CHECK(has(ja.body, "こじ開け"));
  auto en = site.get(sam, "/?lang=en");
  CHECK(has(en.body, R"(<span class="state">locked</span>)"));
  CHECK(has(en.body, "fire release"));
  // A machine locked out is out of service, and says so in Japanese.
  REQUIRE(site.post(sam, "/machines/printer/lockout", "reason=jam&confirm=1").status == 303);
  auto after = site.get(sam, "/?lang=ja");
  CHECK(has(
      after.body,
      R"(data-machine="printer" data-state="out_of_service"><span class="id">printer</span> <span class="state">使用停止中</span>)"));
}

TEST_CASE("console catalogue: every door and machine state has both languages", "[unit]") {
  for (const char* s : {"locked", "unlocked", "open", "held_open", "forced_open", "fire_release",
                        "fault", "unknown"}) {
    CHECK(console::has_key(std::string("state.door.") + s));
  }
  for (const char* s : {"startup", "idle", "in_use", "grace", "busy_hold", "awaiting_checkoff",
                        "out_of_service", "fire_alarm", "fault", "unknown"}) {
    CHECK(console::has_key(std::string("state.machine.") + s));
  }
  CHECK(console::tr(console::Lang::kJa, "state.door.held_open") != "held open");
}
