// The room calendar, bookings and the locker map over real HTTP against a real labgate-console
// and a real labgated on the system clock (the console marks past slots by its own clock, the
// store refuses them by the daemon's: they must agree). Every refusal is checked to change
// nothing.

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <limits>
#include <string>

#include "console_site.hpp"
#include "labgate/gateway/store/bookings.hpp"
#include "must.hpp"

using namespace labgate::testing;
namespace store = labgate::gateway::store;

namespace {

// Open every day and in the closure and on holidays too, so that the dates below (relative to
// today) never fall on a closed day whatever day the suite runs.
const std::string kRooms = R"(
[[readers]]
id = "room-in"
device = "sim"

[[doors]]
id = "room-a"
name = "Room A"
entry_reader = "room-in"
strike = "sim"
presence = false

[[rooms]]
id = "room-a"
name = "Room <b>A</b> & \"co\""
door = "room-a"
capacity = 2
hours = "mon-sun 08:00-20:00"
holidays = true
closure = true
grid_minutes = 30
rate_per_hour = 1200

[[lockers]]
id = "locker-1"
name = "Locker 1"

[[lockers]]
id = "locker-2"
name = "Locker 2"
)";

ConsoleSite rooms_site() {
  return ConsoleSite(ConsoleSiteOptions{{}, kRooms, true});
}

// The site-local (JST, no daylight saving) date `offset` days from today.
std::string jst_day(int offset) {
  using namespace std::chrono;
  const std::chrono::year_month_day d{floor<days>(system_clock::now() + hours(9) + days(offset))};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buf;
}

std::vector<store::Booking> bookings(ConsoleSite& site) {
  auto s = site.daemon().open_store();
  store::BookingFilter f;
  f.include_cancelled = true;
  return must(s->bookings().list(f));
}

std::string book_form(const std::string& member, const std::string& start, int minutes,
                      const std::string& extra = {}) {
  return "member_no=" + form_escape(member) + "&start=" + form_escape(start) +
         "&minutes=" + std::to_string(minutes) + extra;
}

}  // namespace

TEST_CASE("console bookings: roles and CSRF are enforced on the server", "[console]") {
  auto site = rooms_site();
  const std::string day = jst_day(2);
  auto tara = site.logged_in("tara");  // a trainer does not handle members' bookings
  CHECK_FALSE(has(site.get(tara, "/").body, R"(href="/rooms")"));
  for (const std::string& target : std::vector<std::string>{
           "/rooms", "/rooms/room-a", "/rooms/room-a/book?start=" + day + "T10:00", "/bookings",
           "/lockers"}) {
    INFO(target);
    CHECK(site.get(tara, target).status == 403);
  }
  CHECK(site.post(tara, "/rooms/room-a/book", book_form("M1", day + "T10:00", 30)).status == 403);
  CHECK(site.post(tara, "/lockers/locker-1/lend", "member_no=M1&until=" + day).status == 403);

  auto dina = site.logged_in("dina");
  CHECK(has(site.get(dina, "/").body, R"(href="/rooms")"));
  CHECK(has(site.get(dina, "/").body, R"(href="/lockers")"));
  // Without the session's token, or with another one, nothing is booked or lent.
  CHECK(site.post(dina, "/rooms/room-a/book", book_form("M1", day + "T10:00", 30), false).status ==
        403);
  CHECK(site.post(dina, "/rooms/room-a/book",
                  book_form("M1", day + "T10:00", 30) + "&csrf=" + std::string(64, 'a'), false)
            .status == 403);
  CHECK(site.post(dina, "/lockers/locker-1/lend", "member_no=M1&until=" + day, false).status ==
        403);
  CHECK(bookings(site).empty());
  auto s = site.daemon().open_store();
  for (const auto& l : must(s->bookings().lockers())) CHECK_FALSE(l.loan);
  // Every form of the calendar's booking page and the locker map carries the token.
  for (const std::string& target :
       std::vector<std::string>{"/rooms/room-a/book?start=" + day + "T10:00", "/lockers"}) {
    const auto page = site.get(dina, target).body;
    std::size_t forms = 0, tokens = 0;
    for (auto at = page.find("<form method=\"post\""); at != std::string::npos;
         at = page.find("<form method=\"post\"", at + 1)) {
      ++forms;
      const auto end = page.find("</form>", at);
      if (page.substr(at, end - at).find(R"(name="csrf" value=")" + dina.csrf) != std::string::npos)
        ++tokens;
    }
    INFO(target);
    CHECK(forms >= 2);  // the logout form and the page's own
    CHECK(tokens == forms);
  }
}

TEST_CASE("console bookings: a free slot books for a member; refusals say why", "[console]") {
  auto site = rooms_site();
  const std::string day = jst_day(2);
  auto dina = site.logged_in("dina");

  auto cal = site.get(dina, "/rooms/room-a?date=" + day, "en");
  REQUIRE(cal.status == 200);
  const std::string free_link = R"(href="/rooms/room-a/book?start=)" + day + R"(T10:00")";
  CHECK(has(cal.body, free_link));
  // Hours the room is closed on every shown day are left out; the day starts at its opening.
  CHECK_FALSE(has(cal.body, R"(data-slot=")" + day + "T07:30"));
  CHECK(has(cal.body, R"(data-slot=")" + day + "T08:00"));
  CHECK_FALSE(has(cal.body, R"(data-slot=")" + day + "T20:00"));
  // Yesterday's open hours are past: no link books them.
  CHECK_FALSE(has(site.get(dina, "/rooms/room-a?date=" + jst_day(-1)).body, "/book?start="));

  // The member lookup of the booking form finds M1 and links back with it filled in.
  auto lookup = site.get(dina, "/rooms/room-a/book?start=" + day + "T10:00&q=M1");
  REQUIRE(lookup.status == 200);
  CHECK(has(lookup.body, "member=M1"));
  CHECK(has(site.get(dina, "/rooms/room-a/book?start=" + day + "T10:00&member=M1").body,
            R"(id="book-member" value="M1")"));

  auto booked = site.post(dina, "/rooms/room-a/book", book_form("M1", day + "T10:00", 60));
  INFO(booked.body);
  REQUIRE(booked.status == 303);
  CHECK(booked.header("location") == "/rooms/room-a?date=" + day);
  auto all = bookings(site);
  REQUIRE(all.size() == 1);
  CHECK(all[0].member_no == "M1");
  CHECK(all[0].end_ms - all[0].start_ms == 3600 * 1000);
  CHECK(audited(site, me("dina"), "booking.add", std::to_string(all[0].id)));
  cal = site.get(dina, "/rooms/room-a?date=" + day);
  CHECK(has(cal.body, R"(<td class="booked" data-slot=")" + day + R"(T10:00" data-booking=")" +
                          std::to_string(all[0].id) + R"(" data-member="M1">)"));
  CHECK(has(cal.body, R"(<td class="booked" data-slot=")" + day + "T10:30"));
  CHECK(has(cal.body, R"(href="/rooms/room-a/book?start=)" + day + R"(T11:00")"));
  CHECK_FALSE(has(cal.body, free_link));
  // The week view shows the same booking in its day's column.
  CHECK(has(site.get(dina, "/rooms/room-a?date=" + day + "&view=week").body,
            R"(data-slot=")" + day + R"(T10:00" data-booking=")"));

  struct Refusal {
    std::string form;
    std::string code;
    std::string english;
  };
  for (const auto& r : std::vector<Refusal>{
           {book_form("M2", day + "T10:30", 30), "overlap", "Overlaps another booking."},
           {book_form("M9999", day + "T12:00", 30), "unknown_member", "No such member."},
           {book_form("M2", day + "T07:00", 60), "outside_opening_hours", "Outside opening hours."},
           {book_form("M2", jst_day(-1) + "T10:00", 30), "in_the_past", "The time is in the past."},
           {book_form("M2", day + "T14:00", 30, "&guests=M1+M4"), "over_capacity",
            "Over the room's capacity."},
           {book_form("M3", day + "T14:00", 30), "member_not_active", "The member is not active."},
       }) {
    INFO(r.code);
    Browser en = dina;
    site.get(en, "/rooms?lang=en");
    auto reply = site.post(en, "/rooms/room-a/book", r.form);
    CHECK(reply.status != 303);
    CHECK(has(reply.body, R"(id="refusal" data-code=")" + r.code + "\""));
    CHECK(has(reply.body, r.english));
    site.get(en, "/rooms?lang=ja");
  }
  CHECK(bookings(site).size() == 1);
  // In Japanese too.
  auto ja = site.post(dina, "/rooms/room-a/book", book_form("M2", day + "T10:30", 30));
  CHECK(has(ja.body, "他の予約と重なっています。"));

  // The member's own bookings, with cancel; the cancel is audited as the account.
  auto mine = site.get(dina, "/bookings?member=M1");
  REQUIRE(mine.status == 200);
  const std::string id = std::to_string(all[0].id);
  CHECK(has(mine.body, R"(data-booking=")" + id + R"(" data-room="room-a" data-member="M1")"));
  CHECK(has(mine.body, R"(action="/bookings/)" + id + R"(/cancel")"));
  CHECK(has(site.get(dina, "/members/M1").body, R"(href="/bookings?member=M1")"));
  auto cancelled = site.post(dina, "/bookings/" + id + "/cancel", "back=%2Fbookings%3Fmember%3DM1");
  REQUIRE(cancelled.status == 303);
  CHECK(cancelled.header("location") == "/bookings?member=M1");
  CHECK(bookings(site)[0].state == "cancelled");
  CHECK(audited(site, me("dina"), "booking.cancel", id));
  // Cancelling it again is refused with its reason; a foreign "back" is not followed.
  auto again = site.post(dina, "/bookings/" + id + "/cancel", "back=https%3A%2F%2Fevil.example%2F");
  CHECK(has(again.body, R"(data-code="not_cancellable")"));
  CHECK_FALSE(has(again.body, "evil.example"));
  CHECK(has(site.get(dina, "/rooms/room-a?date=" + day).body, free_link));
}

TEST_CASE("console lockers: the map shows free, lent and overdue; lend and take back",
          "[console]") {
  auto site = rooms_site();
  auto sam = site.logged_in("sam");
  auto map = site.get(sam, "/lockers");
  REQUIRE(map.status == 200);
  CHECK(has(map.body, R"(data-locker="locker-1" data-state="free")"));
  CHECK(has(map.body, R"(action="/lockers/locker-1/lend")"));

  REQUIRE(site.post(sam, "/lockers/locker-1/lend", "member_no=M2&until=" + jst_day(30)).status ==
          303);
  REQUIRE(site.post(sam, "/lockers/locker-2/lend",
                    "member_no=M1&from=" + jst_day(-30) + "&until=" + jst_day(-1))
              .status == 303);
  CHECK(audited(site, me("sam"), "locker.lend", "locker-1"));
  map = site.get(sam, "/lockers");
  CHECK(has(map.body, R"(data-locker="locker-1" data-state="lent")"));
  CHECK(has(map.body, R"(<a href="/members/M2">M2</a>)"));
  CHECK(has(map.body, R"(data-locker="locker-2" data-state="overdue")"));
  CHECK(has(map.body, R"(action="/lockers/locker-2/return")"));

  // A lent locker is not lent twice; an unknown member is refused with its reason.
  CHECK(site.post(sam, "/lockers/locker-1/lend", "member_no=M1&until=" + jst_day(30)).status ==
        409);
  auto unknown = site.post(sam, "/lockers/locker-1/lend", "member_no=M404&until=" + jst_day(3));
  CHECK(unknown.status != 303);
  {
    auto s = site.daemon().open_store();
    for (const auto& l : must(s->bookings().lockers())) {
      REQUIRE(l.loan);
      CHECK(l.loan->member_no == (l.locker.id == "locker-1" ? "M2" : "M1"));
    }
  }

  // The manager's ward report of this month shows the room's utilisation and the lockers'
  // occupancy, built from the same rows.
  auto mona = site.logged_in("mona");
  auto report = site.get(mona, "/reports/ward?period=" + jst_day(0).substr(0, 7), "en");
  REQUIRE(report.status == 200);
  CHECK(has(report.body, R"(<tr data-room="room-a"><td>Room &lt;b&gt;A&lt;/b&gt;)"));
  CHECK(has(report.body, R"(id="locker-occupancy")"));
  CHECK(has(report.body, "Meeting-room utilisation"));

  REQUIRE(site.post(sam, "/lockers/locker-2/return", "").status == 303);
  CHECK(audited(site, me("sam"), "locker.return", "locker-2"));
  CHECK(has(site.get(sam, "/lockers").body, R"(data-locker="locker-2" data-state="free")"));
}

TEST_CASE("console bookings: names and notes are escaped", "[console]") {
  auto site = rooms_site();
  const std::string day = jst_day(3);
  auto dina = site.logged_in("dina");
  auto cal = site.get(dina, "/rooms/room-a?date=" + day);
  CHECK(has(cal.body, "Room &lt;b&gt;A&lt;/b&gt; &amp; &quot;co&quot;"));
  CHECK_FALSE(has(cal.body, "<b>A</b>"));
  CHECK(has(site.get(dina, "/rooms").body, "Room &lt;b&gt;A&lt;/b&gt;"));

  REQUIRE(site.post(dina, "/rooms/room-a/book",
                    book_form("M1", day + "T09:00", 30,
                              "&note=" + form_escape("<script>alert(1)</script>")))
              .status == 303);
  auto list = site.get(dina, "/bookings?room=room-a");
  CHECK(has(list.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_FALSE(has(list.body, "<script>alert"));
  // A query echoed into the lookup form and filter is escaped too.
  auto q = site.get(dina, "/rooms/room-a/book?start=%22%3E%3Cx&q=%22%3E%3Cimg");
  CHECK_FALSE(has(q.body, "\"><img"));
  CHECK_FALSE(has(q.body, "\"><x"));
  CHECK_FALSE(has(site.get(dina, "/bookings?member=%22%3E%3Cimg").body, "\"><img"));
}

TEST_CASE("console bookings: the rates page lists and sets rooms' and lockers' rates",
          "[console]") {
  auto site = rooms_site();
  auto mona = site.logged_in("mona");
  auto dina = site.logged_in("dina");
  const auto all = [&] {
    return must(site.daemon().open_store()->bookings().resource_rates(std::nullopt, true));
  };
  // The config's rates, in force since always, and a form for every room and locker.
  auto page = site.get(mona, "/rates").body;
  CHECK(has(page, R"(id="resource-rates")"));
  CHECK(has(page, R"(data-target="room:room-a" data-state="in_force")"));
  CHECK(has(page, R"(data-target="locker:locker-2" data-state="in_force")"));
  CHECK(has(page, R"(<option value="room:room-a">)"));
  CHECK(has(page, R"(<option value="locker:locker-1">)"));
  CHECK_FALSE(has(page, "Room <b>A</b>"));  // the room's name is escaped
  const auto before = all().size();
  REQUIRE(before == 3);

  // The manager's only: desk staff are refused, and nothing changes.
  const std::string day = jst_day(3);
  CHECK(site.post(dina, "/rates/resource",
                  "resource=room:room-a&price=1800&from=" + day + "&confirm=1")
            .status == 403);
  CHECK(site.get(dina, "/rates").status == 403);
  CHECK(site.post(mona, "/rates/resource", "resource=room:room-a&price=1800&confirm=1", false)
            .status == 403);
  // Bad input names its field.
  const std::vector<std::pair<std::string, std::string>> bad{
      {"resource=room:room-a&price=abc", "price"},
      {"resource=room:room-a&price=-5", "price"},
      {"resource=room:room-a", "price"},
      {"resource=desk:x&price=100", "resource"},
      {"price=100", "resource"},
      {"resource=room:room-a&price=100&from=2030-02-30", "from"}};
  for (const auto& [form, field] : bad) {
    INFO(form);
    const auto r = site.post(mona, "/rates/resource", form + "&confirm=1");
    CHECK(r.status == 400);
    CHECK(has(r.body, "data-field=\"" + field + "\""));
  }
  // A start in the past: labgated refuses, the page says why at "from".
  auto r = site.post(mona, "/rates/resource",
                     "resource=room:room-a&price=1800&from=" + jst_day(-1) + "&confirm=1");
  CHECK(r.status == 409);
  CHECK(has(r.body, R"(id="error" data-field="from")"));
  CHECK(has(r.body, "starts in the past"));
  CHECK(all().size() == before);

  // Asks first, then sets; the page lists it as coming, the old one until its start.
  r = site.post(mona, "/rates/resource", "resource=room:room-a&price=1800&from=" + day);
  CHECK(has(r.body, R"(id="confirm-form")"));
  CHECK(all().size() == before);
  r = site.post(mona, "/rates/resource",
                "resource=room:room-a&price=1800&note=new+tariff&from=" + day + "&confirm=1");
  REQUIRE(r.status == 303);
  const auto rates = all();
  REQUIRE(rates.size() == before + 1);
  const auto set = std::find_if(rates.begin(), rates.end(), [](const store::ResourceRate& x) {
    return x.target() == "room:room-a" && x.price == 1800;
  });
  REQUIRE(set != rates.end());
  CHECK(set->note == "new tariff");
  CHECK(set->created_by == "mona");
  CHECK(audited(site, me("mona"), "rate_set", "room:room-a"));
  page = site.get(mona, "/rates").body;
  CHECK(has(page, "<tr data-rate=\"" + std::to_string(set->id) +
                      R"(" data-target="room:room-a" data-state="coming">)"));
  // A locker's too, from now (no date).
  REQUIRE(
      site.post(mona, "/rates/resource", "resource=locker:locker-1&price=2500&confirm=1").status ==
      303);
  CHECK(must(site.daemon().open_store()->bookings().resource_rate_at(
                 "locker", "locker-1", std::numeric_limits<std::int64_t>::max() / 2))
            ->price == 2500);

  // The coming room rate can be withdrawn from its row (asked first); one in force cannot.
  const std::string coming = "resource=room:room-a&id=" + std::to_string(set->id);
  CHECK(has(page, "id=\"withdraw-room:room-a-" + std::to_string(set->id) + "\""));
  CHECK(site.post(dina, "/rates/resource/withdraw", coming + "&confirm=1").status == 403);
  r = site.post(mona, "/rates/resource/withdraw", coming);
  CHECK(has(r.body, R"(id="confirm-form")"));
  CHECK(all().size() == before + 2);
  const auto in_force = std::find_if(rates.begin(), rates.end(), [](const store::ResourceRate& x) {
    return x.target() == "room:room-a" && x.price != 1800;
  });
  REQUIRE(in_force != rates.end());
  r = site.post(mona, "/rates/resource/withdraw",
                "resource=room:room-a&id=" + std::to_string(in_force->id) + "&confirm=1");
  CHECK(r.status == 409);
  CHECK(has(r.body, "cannot be withdrawn"));
  REQUIRE(site.post(mona, "/rates/resource/withdraw", coming + "&confirm=1").status == 303);
  CHECK(all().size() == before + 1);
  CHECK_FALSE(must(site.daemon().open_store()->bookings().resource_rate_at(
                       "room", "room-a", std::numeric_limits<std::int64_t>::max() / 2))
                  ->price == 1800);
  CHECK(audited(site, me("mona"), "rate_withdraw", "room:room-a"));
}

TEST_CASE("console bookings: a month with a no-show is issued as confirmed", "[console]") {
  // The manual clock: November has ended by the issue below.
  ConsoleSite site(ConsoleSiteOptions{{}, kRooms, false});
  auto mona = site.logged_in("mona");
  {
    // M1 booked room A on 11-10 and never came (no-shows are free under the room's rules); M2
    // booked 11-12 and came in. Neither was settled: settling is lazy.
    auto db = must(store::Database::open(site.daemon().db_path(), {}));
    const auto ok = db->execute_script(
        "INSERT INTO bookings (room_id, member_id, start_ms, end_ms, created_at_ms, created_by) "
        "VALUES ('room-a', (SELECT id FROM members WHERE member_no = 'M1'), 1794272400000, "
        "1794276000000, 0, 'test'), ('room-a', (SELECT id FROM members WHERE member_no = 'M2'), "
        "1794445200000, 1794448800000, 0, 'test');"
        "INSERT INTO access_events (uuid, at_ms, seq, door_id, member_id, kind, decision) VALUES "
        "('room-in-1', 1794445500000, 900001, 'room-a', (SELECT id FROM members WHERE "
        "member_no = 'M2'), 'tap', 'granted');");
    INFO((ok ? std::string() : ok.error().message));
    REQUIRE(ok.ok());
  }
  site.daemon().cmd("clock set 2026-12-01 09:00");
  // The confirmation shows what the issue will bill: M2's hour only.
  auto r = site.post(mona, "/statements/issue", "month=2026-11");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(data-members="1" data-total="1200")"));
  r = site.post(mona, "/statements/issue",
                "month=2026-11&confirm=1&expected=1&expected_total=1200");
  REQUIRE(r.status == 303);
  const auto done = wait_job(site, mona, r.header("location"));
  CHECK(has(done, R"(data-stage="done")"));
  CHECK(has(done, R"(data-issued="1")"));
  const auto all = bookings(site);
  REQUIRE(all.size() == 2);
  CHECK(all[0].state == "no_show");
  CHECK(all[1].state == "held");
  auto db = must(store::Database::open(site.daemon().db_path(), {}));
  auto n = must(db->prepare("SELECT count(*) FROM statements WHERE month = '2026-11'"));
  REQUIRE(must(n.step()));
  CHECK(n.column_int64(0) == 1);
}
