// The live page's confirmed actions, certifications and machines pages, over real HTTP against a
// real labgate-console and labgated. Each refusal is checked to change nothing.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "console_site.hpp"
#include "must.hpp"

using namespace labgate::testing;
namespace store = labgate::gateway::store;

namespace {

std::optional<store::Certification> cert_of(ConsoleSite& site, const std::string& member_no,
                                            const std::string& type) {
  auto s = site.daemon().open_store();
  store::CertificationFilter filter;
  filter.member_no = member_no;
  filter.type_code = type;
  auto all = must(s->staff().list_certifications(filter));
  if (all.empty()) return std::nullopt;
  return all.front();
}

}  // namespace

TEST_CASE("console: lockout, release, unlock and all-stop ask first; only confirm=1 acts",
          "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  auto r = site.post(sam, "/machines/laser/lockout", "reason=%3Cb%3Ehot%3C%2Fb%3E");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="confirm-form")"));
  CHECK(has(r.body, R"(name="confirm" value="1")"));
  CHECK(has(r.body, "&lt;b&gt;hot&lt;/b&gt;"));  // the reason is carried over, escaped
  CHECK_FALSE(has(r.body, "<b>hot"));
  CHECK_FALSE(site.machine("laser").locked_out);
  REQUIRE(
      site.post(sam, "/machines/laser/lockout", "reason=%3Cb%3Ehot%3C%2Fb%3E&confirm=1").status ==
      303);
  CHECK(site.machine("laser").lockout_reason == "<b>hot</b>");

  CHECK(site.post(sam, "/machines/laser/release", "").status == 200);
  CHECK(site.machine("laser").locked_out);
  CHECK(site.post(sam, "/machines/laser/release", "confirm=1").status == 303);
  CHECK_FALSE(site.machine("laser").locked_out);

  CHECK(site.post(sam, "/doors/front/unlock", "").status == 200);
  CHECK_FALSE(audited(site, me("sam"), "remote_unlock", "front"));
  CHECK(site.post(sam, "/doors/front/unlock", "confirm=1").status == 303);
  CHECK(audited(site, me("sam"), "remote_unlock", "front"));

  r = site.get(sam, "/");
  CHECK(has(r.body, R"(id="all-stop")"));
  CHECK(site.post(sam, "/all-stop", "").status == 200);
  CHECK_FALSE(site.machine("printer").locked_out);
  CHECK(site.post(sam, "/all-stop", "confirm=1").status == 303);
  CHECK(site.machine("laser").locked_out);
  CHECK(site.machine("printer").locked_out);
  CHECK(site.machine("printer").lockout_reason == "all-stop");
}

TEST_CASE("console: all-stop and confirm are staff's; desk and trainer are refused", "[console]") {
  ConsoleSite site;
  for (const char* login : {"dina", "tara"}) {
    auto b = site.logged_in(login);
    INFO(login);
    CHECK(site.post(b, "/all-stop", "confirm=1").status == 403);
    CHECK(site.post(b, "/machines/laser/confirm", "").status == 403);
    CHECK_FALSE(has(site.get(b, "/").body, R"(id="all-stop")"));
  }
  CHECK_FALSE(site.machine("laser").locked_out);
  CHECK_FALSE(site.machine("printer").locked_out);
  CHECK_FALSE(audited(site, me("dina"), "machine_confirm", "laser"));
  auto sam = site.logged_in("sam");
  CHECK(site.post(sam, "/all-stop", "").status == 200);  // a forged token still fails first
  auto forged = sam;
  forged.csrf = std::string(64, 'b');
  CHECK(site.post(forged, "/all-stop", "confirm=1").status == 403);
  CHECK_FALSE(site.machine("laser").locked_out);
  REQUIRE(site.post(sam, "/machines/laser/confirm", "").status == 303);
  CHECK(audited(site, me("sam"), "machine_confirm", "laser"));
  CHECK(site.post(sam, "/machines/nope/confirm", "").status == 404);
}

TEST_CASE("console: a trainer grants and revokes certifications; desk may not", "[console]") {
  ConsoleSite site;
  auto tara = site.logged_in("tara");
  auto r = site.get(tara, "/certifications");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="cert-grant")"));
  CHECK(has(r.body, R"(name="member_no")"));
  CHECK(has(r.body, R"(name="type")"));
  CHECK(has(r.body, R"(name="trainer" value="tara")"));
  CHECK(has(r.body, R"(data-cert="M1:laser")"));
  CHECK_FALSE(cert_of(site, "M2", "laser"));

  r = site.post(tara, "/certifications", "member_no=M2&type=laser&granted_on=2026-11-20");
  REQUIRE(r.status == 303);
  CHECK(r.header("location") == "/certifications?type=laser");
  auto cert = cert_of(site, "M2", "laser");
  REQUIRE(cert);
  CHECK(cert->trainer == "tara");
  CHECK(cert->granted_on == "2026-11-20");
  CHECK(audited(site, me("tara"), "cert.grant", "M2"));
  CHECK(site.post(tara, "/certifications", "member_no=M2&type=nope").status == 404);

  auto dina = site.logged_in("dina");
  CHECK(site.get(dina, "/certifications").status == 403);
  CHECK(site.post(dina, "/certifications", "member_no=M3&type=laser").status == 403);
  CHECK_FALSE(cert_of(site, "M3", "laser"));
  CHECK(site.post(dina, "/certifications/revoke", "member_no=M2&type=laser&reason=x&confirm=1")
            .status == 403);
  CHECK_FALSE(cert_of(site, "M2", "laser")->revoked_at_ms);

  // Revoking asks first, then records the reason.
  CHECK(site.post(tara, "/certifications/revoke", "member_no=M2&type=laser&reason=unsafe+use")
            .status == 200);
  CHECK_FALSE(cert_of(site, "M2", "laser")->revoked_at_ms);
  r = site.post(tara, "/certifications/revoke",
                "member_no=M2&type=laser&reason=unsafe+use&confirm=1");
  REQUIRE(r.status == 303);
  auto s = site.daemon().open_store();
  store::CertificationFilter filter;
  filter.member_no = "M2";
  filter.include_revoked = true;
  auto all = must(s->staff().list_certifications(filter));
  REQUIRE(all.size() == 1);
  CHECK(all[0].revoked_at_ms);
  CHECK(all[0].revoked_reason == "unsafe use");
}

TEST_CASE("console: certifications list by type and expiring within N days", "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  auto r = site.get(sam, "/certifications?type=printer");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(data-cert="M1:printer")"));
  CHECK_FALSE(has(r.body, R"(data-cert="M1:laser")"));
  // M1's laser certification runs for a year from its grant, printer for two; none expires
  // within 0 days.
  r = site.get(sam, "/certifications?expiring=0");
  CHECK_FALSE(has(r.body, "data-cert="));
  r = site.get(sam, "/certifications?expiring=400");
  CHECK(has(r.body, R"(data-cert="M1:laser")"));
  CHECK_FALSE(has(r.body, R"(data-cert="M4:laser")"));    // already expired
  CHECK_FALSE(has(r.body, R"(data-cert="M1:printer")"));  // expires later than that
  CHECK(has(site.get(sam, "/certifications?expiring=3650").body, R"(data-cert="M1:printer")"));
  // A hostile type in the query is escaped, never markup.
  r = site.get(sam, "/certifications?type=%3Cscript%3E");
  CHECK(r.status == 200);
  CHECK_FALSE(has(r.body, "<script>"));
}

TEST_CASE("console: the machines page records inspections and shows overdue machines first",
          "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  auto r = site.get(sam, "/machines");
  REQUIRE(r.status == 200);
  CHECK(r.body.find(R"(data-machine="laser")") < r.body.find(R"(data-machine="printer")"));
  CHECK(has(r.body, "2026-11-01"));
  r = site.post(sam, "/machines/printer/inspection",
                "done_on=2026-11-02&result=fail&notes=belt+worn&next_due=2026-11-03");
  REQUIRE(r.status == 303);
  auto s = site.daemon().open_store();
  auto inspections = must(s->staff().list_inspections("printer"));
  REQUIRE(inspections.size() == 2);
  bool found = false;
  for (const auto& i : inspections) {
    if (i.done_on == "2026-11-02") {
      found = true;
      CHECK(i.inspector == "sam");
      CHECK(i.result == "fail");
      CHECK(i.notes == "belt worn");
    }
  }
  CHECK(found);
  r = site.get(sam, "/machines");
  // A failed inspection also takes the machine out of service.
  CHECK(has(r.body, R"(data-machine="printer" data-locked="true" data-overdue="true")"));
  CHECK(r.body.find(R"(data-machine="printer")") < r.body.find(R"(data-machine="laser")"));

  // A lockout from this page comes back to it once confirmed.
  r = site.post(sam, "/machines/laser/lockout", "reason=belt&back=%2Fmachines");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(name="back" value="/machines")"));
  r = site.post(sam, "/machines/laser/lockout", "reason=belt&back=%2Fmachines&confirm=1");
  CHECK(r.header("location") == "/machines");
  CHECK(site.machine("laser").locked_out);

  for (const char* login : {"dina", "tara"}) {
    auto b = site.logged_in(login);
    INFO(login);
    CHECK(site.get(b, "/machines").status == 403);
    CHECK_FALSE(has(site.get(b, "/").body, R"(href="/machines")"));
    CHECK(site.post(b, "/machines/laser/inspection", "result=pass").status == 403);
  }
  CHECK(must(s->staff().list_inspections("laser")).size() == 1);
  CHECK(has(site.get(sam, "/").body, R"(href="/machines")"));
  CHECK_FALSE(has(site.get(sam, "/").body, R"(href="/audit")"));
}
