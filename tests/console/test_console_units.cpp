// The console's pure parts: roles, the catalogue, escaping, form decoding, limits, passwords.

#include <catch2/catch.hpp>
#include <thread>

#include "app.hpp"
#include "html.hpp"
#include "i18n.hpp"
#include "labgate/gateway/billing/invoice.hpp"
#include "labgate/gateway/console/password.hpp"
#include "pdf_pages.hpp"
#include "sessions.hpp"

using namespace labgate::gateway::console;

TEST_CASE("console roles: each role's routes and no more", "[unit]") {
  using P = Permission;
  CHECK(role_may("desk", P::kMembers));
  CHECK_FALSE(role_may("desk", P::kMachines));
  CHECK_FALSE(role_may("desk", P::kCertifications));
  CHECK_FALSE(role_may("desk", P::kManager));
  CHECK(role_may("trainer", P::kCertifications));
  CHECK_FALSE(role_may("trainer", P::kMembers));
  CHECK(role_may("staff", P::kMachines));
  CHECK(role_may("staff", P::kMembers));
  CHECK_FALSE(role_may("staff", P::kManager));
  CHECK(role_may("manager", P::kManager));
  CHECK_FALSE(role_may("manager", P::kAdmin));
  CHECK(role_may("admin", P::kAdmin));
  CHECK_FALSE(role_may("", P::kView));
  CHECK_FALSE(role_may("root", P::kMembers));
}

TEST_CASE("console catalogue: the keys the pages use exist in both languages", "[unit]") {
  for (const char* key : {"title",
                          "login.heading",
                          "login.failed",
                          "login.locked",
                          "nav.live",
                          "live.doors",
                          "machine.lockout",
                          "member.status.pending",
                          "member.status.active",
                          "member.status.suspended",
                          "error.csrf",
                          "error.forbidden",
                          "members.register",
                          "rollcall.heading",
                          "confirm.yes",
                          "live.all_stop",
                          "certs.grant",
                          "certs.revoke",
                          "inspection.record",
                          "machines.overdue",
                          "nav.certs",
                          "nav.machines"}) {
    INFO(key);
    CHECK(has_key(key));
    CHECK(tr(Lang::kJa, key) != tr(Lang::kEn, key));
  }
  CHECK(from_accept_language("en-GB,en;q=0.9,ja;q=0.8") == Lang::kEn);
  CHECK(from_accept_language("ja-JP") == Lang::kJa);
  CHECK(from_accept_language("fr-FR") == Lang::kJa);
  CHECK(from_accept_language("") == Lang::kJa);
}

TEST_CASE("console html: escaping and form decoding", "[unit]") {
  CHECK(esc("<a href=\"x\">&'</a>") == "&lt;a href=&quot;x&quot;&gt;&amp;'&lt;/a&gt;");
  CHECK(form_value("a=1&b=x%20y+z&c", "b") == "x y z");
  CHECK(form_value("a=1&b=2", "c").empty());
  CHECK(form_value("name=%3Cscript%3E", "name") == "<script>");
  CHECK(url_decode("%zz%4") == "%zz%4");
}

TEST_CASE("console limits: failures lock a key until the lockout ends", "[unit]") {
  FailureLimit limit(3, std::chrono::seconds(1));
  for (int i = 0; i < 2; ++i) limit.fail("k");
  CHECK_FALSE(limit.locked("k"));
  limit.fail("k");
  CHECK(limit.locked("k"));
  CHECK_FALSE(limit.locked("other"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK_FALSE(limit.locked("k"));
}

TEST_CASE("console sessions: a login gets a new id and token", "[unit]") {
  Sessions sessions;
  const auto anon = sessions.create();
  CHECK(anon.id.size() == 64);
  CHECK(anon.id != anon.csrf);
  const auto in = sessions.log_in(anon.id, "sam", "staff", std::nullopt);
  REQUIRE(in);
  CHECK(in->id != anon.id);
  CHECK(in->csrf != anon.csrf);
  CHECK_FALSE(sessions.find(anon.id));
  CHECK(sessions.find(in->id)->login == "sam");
  CHECK(same_token(in->csrf, in->csrf));
  CHECK_FALSE(same_token(in->csrf, anon.csrf));
  CHECK_FALSE(same_token("", ""));
}

TEST_CASE("console passwords: argon2id, verified, refused when short", "[unit]") {
  const auto hash = hash_password("correct horse battery");
  REQUIRE(hash);
  CHECK(hash->starts_with("$argon2id$"));
  CHECK(verify_password(*hash, "correct horse battery"));
  CHECK_FALSE(verify_password(*hash, "correct horse batterY"));
  CHECK(password_problem("short"));
  CHECK(password_problem("has a\nnewline"));
  CHECK_FALSE(password_problem("long enough"));
}

TEST_CASE("console sessions: a flood of login forms never ends a logged-in session", "[unit]") {
  Sessions sessions;
  const auto anon = sessions.create();
  const auto in = sessions.log_in(anon.id, "sam", "staff", std::nullopt);
  REQUIRE(in);
  for (std::size_t i = 0; i < Sessions::kMaxSessions + 10; ++i) sessions.create();
  CHECK(sessions.find(in->id));
}

TEST_CASE("console pdf: one weasyprint document cut at its outline, page for page", "[unit]") {
  namespace billing = labgate::gateway::billing;
  // Three invoices as the renderer lays them out: one <h1> each, the second two pages long.
  const std::string html =
      "<html><body><section style=\"break-after:page\"><h1>M1</h1>one</section>"
      "<section style=\"break-after:page\"><h1>M2</h1>two<p style=\"break-before:page\">two, "
      "page 2</p></section><section><h1>M3</h1>three</section></body></html>";
  const auto pdf = billing::render_pdf(html);
  REQUIRE(pdf);
  const auto parts = split_pdf_at_outline(*pdf);
  REQUIRE(parts.size() == 3);
  const auto pages = [](const std::string& doc) {
    // Each page object once: "/Type /Page" but not "/Type /Pages" (the page tree).
    std::size_t n = 0;
    for (auto at = doc.find("/Type /Page"); at != std::string::npos;
         at = doc.find("/Type /Page", at + 1)) {
      if (doc.compare(at, 12, "/Type /Pages") != 0) ++n;
    }
    return n;
  };
  CHECK(pages(parts[0]) == 1);
  CHECK(pages(parts[1]) == 2);
  CHECK(pages(parts[2]) == 1);
  for (const auto& p : parts) CHECK(p.starts_with("%PDF-"));
  // The same document gives the same bytes.
  CHECK(split_pdf_at_outline(*pdf) == parts);
  // No outline, or no PDF at all: refused with a reason, not an empty zip entry.
  const auto plain = billing::render_pdf("<html><body><p>x</p></body></html>");
  REQUIRE(plain);
  CHECK_THROWS_WITH(split_pdf_at_outline(*plain), Catch::Contains("no outline"));
  CHECK_THROWS(split_pdf_at_outline("not a pdf"));
}
