// Card enrolment at a reader from the member page, through the console, the admin channel and
// the real daemon, with a simulated tap.

#include <catch2/catch.hpp>
#include <string>

#include "console_site.hpp"
#include "must.hpp"

using namespace labgate::testing;

namespace {

std::size_t cards_of(ConsoleSite& site, const std::string& member_no) {
  return must(site.daemon().open_store()->staff().list_credentials(member_no)).size();
}

}  // namespace

TEST_CASE("console: desk enrols the next card tapped at a reader", "[console]") {
  ConsoleSite site;
  auto dina = site.logged_in("dina");
  auto r = site.get(dina, "/members/M2/enrol");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="enrol-start")"));
  CHECK(has(r.body, R"(id="enrol-status" data-state="idle")"));
  CHECK(has(r.body, R"(<option value="lab-in">)"));
  CHECK(has(site.get(dina, "/members/M2").body, R"(href="/members/M2/enrol")"));
  const auto before = cards_of(site, "M2");

  r = site.post(dina, "/members/M2/enrol", "reader=lab-in&timeout=30");
  REQUIRE(r.status == 303);
  CHECK(r.header("location") == "/members/M2/enrol?reader=lab-in");
  r = site.get(dina, "/members/M2/enrol?reader=lab-in");
  CHECK(has(r.body, R"(data-state="waiting")"));
  CHECK(has(r.body, R"(http-equiv="refresh")"));  // follows on without a script
  CHECK(has(r.body, R"(id="enrol-cancel")"));
  CHECK(site.daemon().cmd("enroll-status lab-in") == "ok waiting");

  site.daemon().cmd("tap lab-in iso14443a 04C0FFEE");
  REQUIRE(wait_until(
      [&] {
        return has(site.get(dina, "/members/M2/enrol?reader=lab-in").body, R"(data-state="done")");
      },
      std::chrono::seconds(10)));
  CHECK(cards_of(site, "M2") == before + 1);
  r = site.get(dina, "/members/M2/enrol?reader=lab-in");
  CHECK_FALSE(has(r.body, R"(http-equiv="refresh")"));
}

TEST_CASE("console: an enrolment times out or is cancelled, and then binds nothing", "[console]") {
  ConsoleSite site;
  auto dina = site.logged_in("dina");
  const auto before = cards_of(site, "M2");
  REQUIRE(site.post(dina, "/members/M2/enrol", "reader=lab-in&timeout=5").status == 303);
  site.daemon().cmd("clock advance 6000ms");
  CHECK(has(site.get(dina, "/members/M2/enrol?reader=lab-in").body, R"(data-state="timeout")"));

  REQUIRE(site.post(dina, "/members/M2/enrol", "reader=lab-in&timeout=30").status == 303);
  auto r = site.post(dina, "/members/M2/enrol/cancel", "reader=lab-in");
  REQUIRE(r.status == 303);
  r = site.get(dina, "/members/M2/enrol?reader=lab-in");
  CHECK(has(r.body, R"(data-state="cancelled")"));
  CHECK(has(r.body, R"(id="enrol-start")"));
  site.daemon().cmd("tap lab-in iso14443a 04C0FFEE");
  CHECK(site.daemon().cmd("enroll-status lab-in") == "err cancelled");
  CHECK(cards_of(site, "M2") == before);
  // Cancelling what is no longer waiting is a conflict, not a silent success.
  CHECK(site.post(dina, "/members/M2/enrol/cancel", "reader=lab-in").status == 409);
}

TEST_CASE("console: enrolment is desk's and above; bad readers and members are refused",
          "[console]") {
  ConsoleSite site;
  auto tara = site.logged_in("tara");
  CHECK(site.get(tara, "/members/M2/enrol").status == 403);
  CHECK(site.post(tara, "/members/M2/enrol", "reader=lab-in&timeout=30").status == 403);
  CHECK(site.post(tara, "/members/M2/enrol/cancel", "reader=lab-in").status == 403);
  CHECK(site.daemon().cmd("enroll-status lab-in") == "err not armed lab-in");

  auto dina = site.logged_in("dina");
  CHECK(site.post(dina, "/members/M2/enrol", "reader=nope&timeout=30").status == 404);
  CHECK(site.post(dina, "/members/M999/enrol", "reader=lab-in&timeout=30").status == 404);
  CHECK(site.get(dina, "/members/M999/enrol").status == 404);
  CHECK(site.daemon().cmd("enroll-status lab-in") == "err not armed lab-in");
  auto forged = dina;
  forged.csrf = std::string(64, 'c');
  CHECK(site.post(forged, "/members/M2/enrol", "reader=lab-in&timeout=30").status == 403);
  CHECK(site.daemon().cmd("enroll-status lab-in") == "err not armed lab-in");
}
