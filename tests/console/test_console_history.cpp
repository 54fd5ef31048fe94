// The events and sessions pages: filters, pages, CSV export and roles, over real HTTP with
// events made by simulated taps on the real daemon.

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

#include "console_site.hpp"
#include "labgate/gateway/store/seal.hpp"
#include "must.hpp"

using namespace labgate::testing;
namespace store = labgate::gateway::store;

namespace {

// The site's verification key as a manager pastes it: 64 hex digits.
std::string key_hex(ConsoleSite& site) {
  std::string hex;
  for (const auto byte : site.daemon().verification_key()) {
    static const char* kDigits = "0123456789abcdef";
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  }
  return hex;
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

std::vector<store::AccessEvent> events_of(ConsoleSite& site, const std::string& member_no) {
  store::HistoryFilter f;
  f.member_no = member_no;
  f.limit = 100000;
  return must(site.daemon().open_store()->events().list_events(f));
}

}  // namespace

TEST_CASE("console: events filter by member, machine, date and reason, page and export CSV",
          "[console]") {
  ConsoleSite site;
  site.daemon().cmd("tap lab-in iso14443a 04000001");
  for (int i = 0; i < 55; ++i) site.daemon().cmd("tap laser iso14443a 04000002");
  const auto m2 = events_of(site, "M2");
  REQUIRE(m2.size() >= 55);
  const std::string reason = m2.front().reason;
  const auto matching =
      static_cast<std::size_t>(std::count_if(m2.begin(), m2.end(), [&](const auto& e) {
        return e.reason == reason && e.machine_id == std::optional<std::string>("laser");
      }));
  REQUIRE(matching > 50);

  auto sam = site.logged_in("sam");
  auto r = site.get(sam, "/events?member=M1");
  REQUIRE(r.status == 200);
  CHECK(count(r.body, "<tr data-seq=") == events_of(site, "M1").size());
  CHECK_FALSE(has(r.body, "<td>M2</td>"));

  r = site.get(sam, "/events?member=M2&machine=laser&reason=" + form_escape(reason));
  CHECK(count(r.body, "<tr data-seq=") == 50);
  CHECK(has(r.body, R"(id="next")"));
  CHECK_FALSE(has(r.body, R"(id="prev")"));
  r = site.get(sam, "/events?member=M2&machine=laser&reason=" + form_escape(reason) + "&page=2");
  CHECK(count(r.body, "<tr data-seq=") == matching - 50);
  CHECK(has(r.body, R"(id="prev")"));
  CHECK_FALSE(has(r.body, R"(id="next")"));

  CHECK(count(site.get(sam, "/events?member=M2&reason=no-such-reason").body, "<tr data-seq=") == 0);
  // The daemon's clock stands at 2026-11-24 (JST): the day holds the taps, the next does not.
  CHECK(count(site.get(sam, "/events?member=M1&from=2026-11-24&to=2026-11-24").body,
              "<tr data-seq=") == events_of(site, "M1").size());
  CHECK(count(site.get(sam, "/events?member=M1&from=2026-11-25").body, "<tr data-seq=") == 0);

  r = site.get(sam, "/events?member=M2&format=csv");
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type").rfind("text/csv", 0) == 0);
  CHECK(has(r.header("content-disposition"), "attachment"));
  CHECK(r.body.rfind("\xEF\xBB\xBFtime,seq,door,machine,member,kind,decision,reason,detail\r\n",
                     0) == 0);
  CHECK(count(r.body, "\r\n") == m2.size() + 1);  // every row, not one page
  CHECK_FALSE(has(r.body, ",M1,"));
}

TEST_CASE("console: sessions list and export; hostile filters are escaped", "[console]") {
  ConsoleSite site;
  site.daemon().cmd("tap lab-in iso14443a 04000001");
  store::HistoryFilter f;
  f.member_no = "M1";
  const auto sessions = must(site.daemon().open_store()->events().list_sessions(f));
  auto sam = site.logged_in("sam");
  auto r = site.get(sam, "/sessions?member=M1");
  REQUIRE(r.status == 200);
  CHECK(count(r.body, "<tr data-session=") == sessions.size());
  r = site.get(sam, "/sessions?member=M1&format=csv");
  CHECK(r.body.rfind(
            "\xEF\xBB\xBFstarted,ended,member,kind,machine,end_reason,measured_seconds\r\n", 0) ==
        0);
  CHECK(count(r.body, "\r\n") == sessions.size() + 1);
  r = site.get(sam, "/sessions?member=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
  CHECK(r.status == 200);
  CHECK_FALSE(has(r.body, "<script>alert"));
  CHECK(has(r.body, "&lt;script&gt;alert(1)"));
}

TEST_CASE("console: events and sessions are staff's", "[console]") {
  ConsoleSite site;
  for (const char* login : {"dina", "tara"}) {
    auto b = site.logged_in(login);
    INFO(login);
    CHECK(site.get(b, "/events").status == 403);
    CHECK(site.get(b, "/events?format=csv").status == 403);
    CHECK(site.get(b, "/sessions").status == 403);
    CHECK(site.get(b, "/sessions?format=csv").status == 403);
  }
}

TEST_CASE("console: the audit page shows the rows and the verification state to managers",
          "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  REQUIRE(site.post(sam, "/machines/laser/lockout", "reason=%3Ci%3Ecrack&confirm=1").status == 303);
  CHECK(site.get(sam, "/audit").status == 403);
  for (const char* login : {"dina", "tara"}) {
    auto b = site.logged_in(login);
    CHECK(site.get(b, "/audit").status == 403);
  }
  auto mona = site.logged_in("mona");
  auto r = site.get(mona, "/audit");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, "machine.lockout"));
  CHECK(has(r.body, "&lt;i&gt;crack"));
  CHECK_FALSE(has(r.body, "<i>crack"));
  // The test site is sealed (audit setup); the head checkpoint and the intact legacy chain show.
  CHECK(has(r.body, R"(id="verification" data-sealed="true")"));
  CHECK(has(r.body, R"(<pre id="checkpoint">labgate-checkpoint v1 seq=)"));
  CHECK(has(r.body, R"(id="chain" data-ok="true")"));
  CHECK(has(r.body, R"(id="key-note")"));
  const auto rows = must(site.daemon().open_store()->audit().list_audit(100000));
  CHECK(count(r.body, "<tr data-audit=") == std::min<std::size_t>(rows.size(), 50));
  // Newest first.
  CHECK(has(r.body, "<tr data-audit=\"" + std::to_string(rows.back().id) + "\">"));
}

TEST_CASE("console: a manager verifies the sealed record with a pasted key, which is not kept",
          "[console]") {
  ConsoleSite site;
  const std::string hex = key_hex(site);
  auto sam = site.logged_in("sam");
  CHECK(site.post(sam, "/audit/verify", "key=" + hex).status == 403);
  auto mona = site.logged_in("mona");
  CHECK(has(site.get(mona, "/audit").body, R"(id="audit-verify")"));
  CHECK(site.post(mona, "/audit/verify", "key=" + hex, false).status == 403);  // no token
  CHECK(site.post(mona, "/audit/verify", "key=not-a-key").status == 400);
  auto r = site.post(mona, "/audit/verify", "key=" + hex);
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="verdict" data-ok="true")"));
  CHECK_FALSE(has(r.body, hex));
  r = site.post(mona, "/audit/verify", "key=" + std::string(64, '0'));
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="verdict" data-ok="false")"));
  CHECK_FALSE(has(site.console_log(), hex));
}

TEST_CASE(
    "console: checkpoints pasted beside the key are each shown with how the chain meets "
    "them",
    "[console]") {
  ConsoleSite site;
  const std::string hex = key_hex(site);
  auto mona = site.logged_in("mona");
  auto page = site.get(mona, "/audit");
  CHECK(has(page.body, R"(<textarea name="checkpoints")"));
  CHECK(has(page.body, R"(id="checkpoints-note")"));
  CHECK(has(site.get(mona, "/audit?lang=ja").body, "チェックポイント"));
  site.get(mona, "/audit?lang=en");

  auto head = must(store::seal::read_head(site.daemon().open_store()->database()));
  REQUIRE(head.has_value());
  const std::string kept = store::seal::format_checkpoint(*head);
  auto beyond = *head;
  beyond.seq += 1000;  // a checkpoint kept after rows that are now gone
  auto rewritten = *head;
  rewritten.mac[0] ^= 0x01;  // the same seal, another MAC
  auto verify = [&](const std::string& checkpoints) {
    return site.post(mona, "/audit/verify",
                     "key=" + hex + "&checkpoints=" + form_escape(checkpoints));
  };

  // Without checkpoints the verdict says what it cannot show.
  auto r = site.post(mona, "/audit/verify", "key=" + hex);
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="no-checkpoints")"));

  r = verify("saved from MQTT:\n" + kept + "\n");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="verdict" data-ok="true")"));
  CHECK(has(r.body, "<tr data-seq=\"" + std::to_string(head->seq) + R"(" data-reach="reached">)"));
  CHECK(has(r.body, "Matches: the chain reaches this seal"));

  r = verify(kept + "\n" + store::seal::format_checkpoint(beyond));
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="verdict" data-ok="false")"));
  CHECK(has(r.body, "<tr data-seq=\"" + std::to_string(head->seq) + R"(" data-reach="reached">)"));
  CHECK(has(r.body, "<tr data-seq=\"" + std::to_string(beyond.seq) + R"(" data-reach="beyond">)"));
  CHECK(has(r.body, "truncated"));

  r = verify(store::seal::format_checkpoint(rewritten));
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="verdict" data-ok="false")"));
  CHECK(has(r.body, "<tr data-seq=\"" + std::to_string(head->seq) + R"(" data-reach="differs">)"));

  // Japanese: the same table in the catalogue's words.
  site.get(mona, "/audit?lang=ja");  // the session keeps the choice
  r = verify(kept);
  REQUIRE(r.status == 200);
  CHECK(has(r.body, "一致：チェーンはこの封印に同じ MAC で到達しています"));

  // A malformed checkpoint is refused before anything is verified, and escaped in the reply.
  r = verify("labgate-checkpoint v1 seq=<b>x</b>");
  CHECK(r.status == 400);
  CHECK_FALSE(has(r.body, "<b>x</b>"));
  CHECK_FALSE(has(r.body, R"(id="verdict")"));
  CHECK_FALSE(has(site.console_log(), hex));
}
