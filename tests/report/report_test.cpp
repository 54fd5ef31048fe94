// Ward report figures on small datasets computed by hand (see report_fixture.hpp).
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "labgate/gateway/report/ward_report.hpp"
#include "report_fixture.hpp"

namespace {

namespace rp = labgate::gateway::report;
using labgate::test::kHourMs;
using labgate::test::ReportDb;
using labgate::test::tokyo;

constexpr const char* kTz = "Asia/Tokyo";

rp::Period month(const std::string& m) {
  auto p = rp::month_period(m, kTz);
  REQUIRE(p.ok());
  return *p;
}

rp::WardReport build(ReportDb& db, const rp::Period& p, const std::string& as_of) {
  rp::ReportOptions o;
  o.as_of_ms = tokyo(as_of);
  auto r = rp::build_ward_report(db.store(), p, o);
  if (!r) FAIL(r.error().message);
  return std::move(r).value();
}

const rp::MachineUsage& machine(const rp::WardReport& r, const std::string& id) {
  auto it = std::find_if(r.machines.begin(), r.machines.end(),
                         [&](const rp::MachineUsage& m) { return m.id == id; });
  REQUIRE(it != r.machines.end());
  return *it;
}

const rp::DayUsage& day(const rp::WardReport& r, const std::string& date) {
  auto it = std::find_if(r.days.begin(), r.days.end(),
                         [&](const rp::DayUsage& d) { return d.date == date; });
  REQUIRE(it != r.days.end());
  return *it;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("periods: months and fiscal years in local time", "[report]") {
  auto may = month("2026-05");
  CHECK(may.first_day == "2026-05-01");
  CHECK(may.last_day == "2026-05-31");
  CHECK(may.start_ms == tokyo("2026-05-01 00:00"));
  CHECK(may.end_ms == tokyo("2026-06-01 00:00"));
  auto feb = month("2028-02");
  CHECK(feb.last_day == "2028-02-29");

  auto fy = rp::fiscal_year_period(2026, kTz);
  REQUIRE(fy.ok());
  CHECK(fy->label == "FY2026");
  CHECK(fy->first_day == "2026-04-01");
  CHECK(fy->last_day == "2027-03-31");
  CHECK(fy->start_ms == tokyo("2026-04-01 00:00"));
  CHECK(fy->end_ms == tokyo("2027-04-01 00:00"));
  auto parsed = rp::parse_period("fy2026", kTz);
  REQUIRE(parsed.ok());
  CHECK(parsed->end_ms == fy->end_ms);
  CHECK(rp::parse_period("2026-05", kTz)->label == "2026-05");

  for (const char* bad : {"2026-13", "2026-00", "26-05", "2026/05", "2026-5", "FY26", "May", ""}) {
    auto r = rp::parse_period(bad, kTz);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == labgate::gateway::store::ErrorKind::kInvalid);
  }
  CHECK_FALSE(rp::month_period("2026-05", "Mars/Olympus").ok());
  CHECK_FALSE(rp::fiscal_year_period(99999, kTz).ok());
}

TEST_CASE("month report: hand-computed figures of May 2026", "[report]") {
  ReportDb db;
  fill_may_2026(db);
  const auto r = build(db, month("2026-05"), "2026-11-23 12:00");
  CHECK(r.complete);
  CHECK_FALSE(r.empty);
  CHECK(r.data_starts_on == "2026-04-01");

  // Laser: the session from 04-30 23:00 gives 1 h to May but is April's session.
  const auto& laser = machine(r, "laser");
  CHECK(laser.name == "レーザー加工機");
  CHECK(laser.sessions == 1);
  CHECK(laser.ms == 3 * kHourMs + kHourMs / 2);
  CHECK(laser.unique_users == 2);
  // Printer: 05-31 23:00 -> 06-01 02:00 gives 1 h; 05-15 23:30 -> 00:30 crosses midnight.
  const auto& printer = machine(r, "printer");
  CHECK(printer.sessions == 2);
  CHECK(printer.ms == 2 * kHourMs);
  CHECK(printer.unique_users == 2);
  CHECK(r.machine_sessions() == 3);

  REQUIRE(r.days.size() == 31);
  CHECK(day(r, "2026-05-01").machines_total_ms == kHourMs);
  CHECK(day(r, "2026-05-10").machines_total_ms == 5 * kHourMs / 2);
  CHECK(day(r, "2026-05-15").machines_total_ms == kHourMs / 2);
  CHECK(day(r, "2026-05-16").machines_total_ms == kHourMs / 2);
  CHECK(day(r, "2026-05-31").machines_total_ms == kHourMs);
  CHECK(day(r, "2026-05-02").machines_total_ms == 0);
  std::int64_t sum = 0;
  for (const auto& d : r.days) sum += d.machines_total_ms;
  CHECK(sum == r.machine_ms());

  // Coworking: 3 + 1 + 0.25 + 1 + 1 + 3 x 1 = 9.25 member-hours.
  CHECK(r.coworking.sessions == 8);
  CHECK(r.coworking.ms == 9 * kHourMs + kHourMs / 4);
  CHECK(r.coworking.unique_members == 6);
  CHECK(r.coworking.peak_occupancy == 3);
  REQUIRE(r.coworking.peak_at_ms);
  CHECK(*r.coworking.peak_at_ms == tokyo("2026-05-20 10:30"));  // earliest of the tie
  CHECK(day(r, "2026-05-20").coworking_ms == 5 * kHourMs + kHourMs / 4);

  // Members 1..6 and 8 (8 only through a granted door); 7's denied and machine events do not count.
  CHECK(r.unique_users == 7);
  CHECK(r.new_members == 1);
  CHECK(r.active_members_at_end == 6);

  REQUIRE(r.trainings.size() == 2);
  CHECK(r.trainings[0].type_code == "laser");
  CHECK(r.trainings[0].granted == 2);
  CHECK(r.trainings[0].granted_revoked == 1);
  CHECK(r.trainings[0].revoked_in_period == 0);
  CHECK(r.trainings[1].type_code == "printer");
  CHECK(r.trainings[1].granted == 1);
  CHECK(r.trainings[1].granted_revoked == 0);
  CHECK(r.trainings[1].revoked_in_period == 1);

  REQUIRE(r.inspections.size() == 2);
  const auto& li = r.inspections[0];
  CHECK(li.machine_id == "laser");
  CHECK(li.passed == 1);
  CHECK(li.failed == 1);
  CHECK(li.overdue_days == 14);
  CHECK(li.overdue_at_end);
  CHECK(li.due_at_end == std::optional<std::string>("2026-05-30"));
  const auto& pi = r.inspections[1];
  CHECK(pi.machine_id == "printer");
  CHECK(pi.overdue_days == 31);  // never inspected
  CHECK(pi.overdue_at_end);
  CHECK_FALSE(pi.due_at_end);

  REQUIRE(r.months.size() == 1);
  const auto& m = r.months[0];
  CHECK(m.month == "2026-05");
  CHECK(m.machine_sessions == 3);
  CHECK(m.machine_ms == r.machine_ms());
  CHECK(m.coworking_sessions == 8);
  CHECK(m.coworking_ms == r.coworking.ms);
  CHECK(m.coworking_peak == 3);
  CHECK(m.unique_users == 7);
  CHECK(m.new_members == 1);
  CHECK(m.trainings == 3);
  CHECK(m.inspections == 2);
}

TEST_CASE("month report: April and June see their side of the crossing sessions", "[report]") {
  ReportDb db;
  fill_may_2026(db);
  const auto apr = build(db, month("2026-04"), "2026-11-23 12:00");
  CHECK(machine(apr, "laser").sessions == 1);
  CHECK(machine(apr, "laser").ms == kHourMs);
  CHECK(apr.new_members == 6);  // 1..5 on 04-01 and 8 on 04-30 23:59
  const auto jun = build(db, month("2026-06"), "2026-11-23 12:00");
  CHECK(machine(jun, "printer").sessions == 1);
  CHECK(machine(jun, "printer").ms == 2 * kHourMs + kHourMs);
  CHECK(day(jun, "2026-06-01").machines_total_ms == 2 * kHourMs);
  CHECK(jun.new_members == 1);
}

TEST_CASE("peak occupancy: back-to-back sessions and month carry-over", "[report]") {
  ReportDb db;
  db.member("2026-04-01 00:00");
  db.member("2026-04-01 00:00");
  db.member("2026-04-01 00:00");
  // Back to back: never two at once.
  db.session(1, "", "2026-04-10 09:00", "2026-04-10 10:00");
  db.session(2, "", "2026-04-10 10:00", "2026-04-10 11:00");
  db.session(3, "", "2026-04-10 11:00", "2026-04-10 12:00");
  // Across the April/May boundary: one person on 04-30 evening into 05-01 morning, joined by a
  // second at 05-01 07:00.
  db.session(1, "", "2026-04-30 20:00", "2026-05-01 08:00");
  db.session(2, "", "2026-05-01 07:00", "2026-05-01 09:00");
  auto fy = rp::fiscal_year_period(2026, kTz);
  REQUIRE(fy.ok());
  const auto r = build(db, *fy, "2027-06-01 00:00");
  CHECK(r.coworking.peak_occupancy == 2);
  CHECK(*r.coworking.peak_at_ms == tokyo("2026-05-01 07:00"));
  REQUIRE(r.months.size() == 12);
  CHECK(r.months[0].coworking_peak == 1);
  CHECK(r.months[1].coworking_peak == 2);
  CHECK(r.months[2].coworking_peak == 0);
  CHECK(r.months[0].coworking_ms == 3 * kHourMs + 4 * kHourMs);
  CHECK(r.months[1].coworking_ms == 8 * kHourMs + 2 * kHourMs);
  CHECK(r.months[0].coworking_sessions == 4);
  CHECK(r.months[1].coworking_sessions == 1);

  // May alone: the carried-over session occupies it from 00:00.
  const auto may = build(db, month("2026-05"), "2027-06-01 00:00");
  CHECK(may.coworking.peak_occupancy == 2);
  CHECK(may.coworking.sessions == 1);
  CHECK(may.coworking.unique_members == 2);
  CHECK(may.coworking.ms == 10 * kHourMs);

  // Only the back-to-back day: peak 1, at the first start.
  db.exec("DELETE FROM sessions WHERE started_at_ms >= " +
          std::to_string(tokyo("2026-04-30 00:00")));
  const auto apr = build(db, month("2026-04"), "2027-06-01 00:00");
  CHECK(apr.coworking.peak_occupancy == 1);
  CHECK(*apr.coworking.peak_at_ms == tokyo("2026-04-10 09:00"));
}

TEST_CASE("coworking per hour of the day: split at each local hour, clipped to the period",
          "[report]") {
  ReportDb db;
  db.member("2026-04-01 00:00");
  db.member("2026-04-01 00:00");
  db.machine("laser", "Laser", 90);
  db.session(1, "", "2026-05-10 09:30", "2026-05-10 11:15");  // 30 min at 9, 60 at 10, 15 at 11
  db.session(2, "", "2026-05-10 10:00", "2026-05-10 10:45");  // 45 min at 10
  db.session(1, "", "2026-05-12 23:30", "2026-05-13 00:20");  // 30 min at 23, 20 at 0
  db.session(2, "", "2026-04-30 23:00", "2026-05-01 01:00");  // May sees 00:00-01:00 only
  db.session(1, "laser", "2026-05-10 10:00", "2026-05-10 12:00");  // a machine: not coworking
  const auto may = build(db, month("2026-05"), "2027-06-01 00:00");
  constexpr std::int64_t kMin = 60'000;
  CHECK(may.coworking_hour_ms[9] == 30 * kMin);
  CHECK(may.coworking_hour_ms[10] == 105 * kMin);
  CHECK(may.coworking_hour_ms[11] == 15 * kMin);
  CHECK(may.coworking_hour_ms[23] == 30 * kMin);
  CHECK(may.coworking_hour_ms[0] == 20 * kMin + 60 * kMin);
  CHECK(may.coworking_hour_ms[12] == 0);
  std::int64_t sum = 0;
  for (const auto ms : may.coworking_hour_ms) sum += ms;
  CHECK(sum == may.coworking.ms);  // every coworking minute of the period lands in one hour
}

TEST_CASE("fiscal year: March 31 / April 1 boundaries in local time", "[report]") {
  ReportDb db;
  db.machine("laser", "Laser", 0, "2026-01-01 00:00");
  db.machine("printer", "Printer", 0, "2026-01-01 00:00");
  db.machine("cnc", "CNC", 0, "2026-01-01 00:00");
  db.member("2026-01-01 00:00");
  db.member("2026-01-01 00:00");
  db.member("2026-01-01 00:00");
  // Into FY2026 from FY2025 (1 h), out of FY2026 into FY2027 (0.5 h).
  db.session(1, "laser", "2026-03-31 23:00", "2026-04-01 01:00");
  db.session(1, "laser", "2027-03-31 23:30", "2027-04-01 00:30");
  // A long session (9 days) started well before the year: only the 2 days inside count.
  db.session(2, "printer", "2026-03-25 00:00", "2026-04-03 00:00");
  // 09:00 local on 04-01 is 00:00 UTC on 04-01; at 08:59 local it is still 03-31 in UTC.
  db.member("2026-04-01 08:59");
  db.member("2027-03-31 23:59");
  db.member("2027-04-01 00:00");

  auto fy26 = rp::fiscal_year_period(2026, kTz);
  REQUIRE(fy26.ok());
  const auto r = build(db, *fy26, "2027-06-01 00:00");
  CHECK(r.complete);
  REQUIRE(r.months.size() == 12);
  CHECK(r.months.front().month == "2026-04");
  CHECK(r.months.back().month == "2027-03");
  CHECK(r.days.size() == 365);
  CHECK(machine(r, "laser").sessions == 1);
  CHECK(machine(r, "laser").ms == kHourMs + kHourMs / 2);
  CHECK(machine(r, "printer").sessions == 0);
  CHECK(machine(r, "printer").ms == 48 * kHourMs);
  CHECK(r.months.front().machine_ms == kHourMs + 48 * kHourMs);
  CHECK(r.months.back().machine_ms == kHourMs / 2);
  CHECK(r.months.back().machine_sessions == 1);
  CHECK(r.new_members == 2);
  CHECK(r.months.front().new_members == 1);
  CHECK(r.months.back().new_members == 1);
  CHECK(r.unique_users == 2);

  auto fy27 = rp::fiscal_year_period(2027, kTz);
  const auto r27 = build(db, *fy27, "2027-06-01 00:00");
  CHECK_FALSE(r27.complete);
  CHECK(machine(r27, "laser").sessions == 0);
  CHECK(machine(r27, "laser").ms == kHourMs / 2);
  CHECK(r27.new_members == 1);

  // Still open: counted up to as_of, and the period is partial.
  db.session(3, "cnc", "2026-03-31 12:00", std::nullopt);
  const auto open = build(db, *fy26, "2026-04-10 00:00");
  CHECK_FALSE(open.complete);
  CHECK(machine(open, "cnc").ms == 9 * 24 * kHourMs);
  CHECK(day(open, "2026-04-10").machines_total_ms == 0);
  CHECK(std::any_of(open.notes.begin(), open.notes.end(),
                    [](const std::string& n) { return n.find("Partial period") == 0; }));
}

TEST_CASE("bad periods: not begun, before the data, empty month", "[report]") {
  ReportDb db;
  fill_may_2026(db);
  rp::ReportOptions o;
  o.as_of_ms = tokyo("2026-11-23 12:00");

  auto future = rp::build_ward_report(db.store(), month("2027-01"), o);
  REQUIRE_FALSE(future.ok());
  CHECK(future.error().kind == labgate::gateway::store::ErrorKind::kInvalid);
  CHECK(future.error().message.find("has not begun") != std::string::npos);

  auto before = rp::build_ward_report(db.store(), month("2026-03"), o);
  REQUIRE_FALSE(before.ok());
  CHECK(before.error().kind == labgate::gateway::store::ErrorKind::kNotFound);
  CHECK(before.error().message.find("the database starts on 2026-04-01") != std::string::npos);

  const auto empty = build(db, month("2026-08"), "2026-11-23 12:00");
  CHECK(empty.empty);
  REQUIRE_FALSE(empty.notes.empty());
  CHECK(empty.notes[0].find("No activity was recorded in 2026-08") == 0);
  CHECK(empty.days.size() == 31);
  CHECK(empty.machines.size() == 2);
  CHECK(rp::render_json(empty).find("\"empty\": true") != std::string::npos);
  CHECK(rp::render_html(empty).find("No activity was recorded") != std::string::npos);
  CHECK(rp::render_csv(empty)[0].content.find("no activity recorded") != std::string::npos);

  ReportDb blank("blank.db");
  auto none = rp::build_ward_report(blank.store(), month("2026-05"), o);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("no activity yet") != std::string::npos);
}

TEST_CASE("renderers: deterministic bytes, CSV BOM and CRLF, HTML with one bar per day",
          "[report]") {
  ReportDb db;
  fill_may_2026(db);
  const auto a = build(db, month("2026-05"), "2026-11-23 12:00");
  const auto b = build(db, month("2026-05"), "2027-01-01 00:00");  // a later "now": same bytes
  CHECK(rp::render_json(a) == rp::render_json(b));
  CHECK(rp::render_html(a) == rp::render_html(b));
  const auto csv_a = rp::render_csv(a);
  const auto csv_b = rp::render_csv(b);
  REQUIRE(csv_a.size() == 6);  // summary, machines, daily, trainings, inspections, rooms
  for (std::size_t i = 0; i < csv_a.size(); ++i) {
    CHECK(csv_a[i].content == csv_b[i].content);
    CHECK(csv_a[i].content.rfind("\xEF\xBB\xBF", 0) == 0);
    const auto& c = csv_a[i].content;
    CHECK(count_of(c, "\n") == count_of(c, "\r\n"));
  }
  CHECK(csv_a[1].suffix == "machines");
  CHECK(csv_a[1].content.find("laser,レーザー加工機,1,3.50,2\r\n") != std::string::npos);
  CHECK(csv_a[2].content.find("2026-05-10,2.50,0.00,2.50,0.00\r\n") != std::string::npos);

  const auto json = nlohmann::json::parse(rp::render_json(a));
  CHECK(json["period"]["label"] == "2026-05");
  CHECK(json["summary"]["unique_users"] == 7);
  CHECK(json["coworking"]["peak_at"] == "2026-05-20 10:30:00");
  CHECK(json["machines"][0]["hours"] == 3.5);
  CHECK_FALSE(json.contains("as_of"));

  const auto html = rp::render_html(a);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<meta charset=\"utf-8\">") != std::string::npos);
  CHECK(html.find("@media print") != std::string::npos);
  CHECK(html.find("レーザー加工機") != std::string::npos);
  CHECK(count_of(html, "<rect class=\"bar\"") == 31);
  CHECK(count_of(html, "<svg") == 1);
  CHECK(count_of(html, "</svg>") == 1);
  CHECK(count_of(html, "<table>") == count_of(html, "</table>"));
  CHECK(count_of(html, "<tr>") == count_of(html, "</tr>"));
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // nothing external

  auto fy = rp::fiscal_year_period(2026, kTz);
  const auto y = build(db, *fy, "2027-06-01 00:00");
  CHECK(count_of(rp::render_html(y), "<rect class=\"bar\"") == 365);
  CHECK(rp::render_csv(y).back().suffix == "months");
  std::int64_t month_sum = 0;
  for (const auto& m : y.months) month_sum += m.machine_ms;
  CHECK(month_sum == y.machine_ms());
}

TEST_CASE("write_report writes the chosen formats and nothing else", "[report]") {
  ReportDb db;
  fill_may_2026(db);
  const auto r = build(db, month("2026-05"), "2026-11-23 12:00");
  auto formats = rp::parse_formats("html,csv");
  REQUIRE(formats.ok());
  CHECK_FALSE(rp::parse_formats("csv,pdf").ok());
  const auto out = db.dir().path() / "out" / "nested";
  auto paths = rp::write_report(r, out, *formats);
  REQUIRE(paths.ok());
  REQUIRE(paths->size() == 7);
  CHECK(paths->front().filename() == "ward-2026-05.html");
  CHECK((*paths)[1].filename() == "ward-2026-05-summary.csv");
  std::ifstream in(paths->front(), std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  CHECK(bytes == rp::render_html(r));
  CHECK_FALSE(std::filesystem::exists(out / "ward-2026-05.json"));
}
