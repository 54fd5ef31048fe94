#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "labgate/gateway/csv/writer.hpp"
#include "labgate/gateway/files/files.hpp"
#include "labgate/gateway/report/ward_report.hpp"
#include "labgate/gateway/text/text.hpp"
#include "time.hpp"

namespace labgate::gateway::report {

namespace {

using json = nlohmann::ordered_json;

constexpr std::int64_t kCentiHourMs = 36'000;

std::int64_t centi_hours(std::int64_t ms) {
  return (ms + kCentiHourMs / 2) / kCentiHourMs;
}

// Two-decimal hours as a JSON number; the value comes from integers so its text is stable.
json hours_json(std::int64_t ms) {
  return json(static_cast<double>(centi_hours(ms)) / 100.0);
}

json opt(const std::optional<std::string>& v) {
  return v ? json(*v) : json(nullptr);
}

std::string kind_name(PeriodKind k) {
  return k == PeriodKind::kMonth ? "month" : "fiscal_year";
}

std::string peak_text(const WardReport& r) {
  if (!r.coworking.peak_at_ms) return "";
  return detail::local_time(*r.coworking.peak_at_ms, r.period.time_zone);
}

std::int64_t inspections_passed(const WardReport& r) {
  std::int64_t n = 0;
  for (const auto& f : r.inspections) n += f.passed;
  return n;
}
std::int64_t inspections_failed(const WardReport& r) {
  std::int64_t n = 0;
  for (const auto& f : r.inspections) n += f.failed;
  return n;
}
std::int64_t overdue_at_end(const WardReport& r) {
  return std::count_if(r.inspections.begin(), r.inspections.end(),
                       [](const InspectionFigures& f) { return f.overdue_at_end; });
}
std::int64_t trainings_granted(const WardReport& r) {
  std::int64_t n = 0;
  for (const auto& t : r.trainings) n += t.granted;
  return n;
}

std::string status_text(const WardReport& r) {
  if (r.empty) return "no activity recorded";
  return r.complete ? "complete" : "partial";
}

std::string num(std::int64_t v) {
  return std::to_string(v);
}

// ---- HTML ----

std::string esc(std::string_view s) {
  return text::html_escape(s);
}

constexpr const char* kCss = R"css(
body{font-family:"Noto Sans CJK JP","Hiragino Sans","Yu Gothic",Meiryo,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #888}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #999;padding:.25em .6em}
th{background:#eee;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{border:2px solid #b60;background:#fff4e0;padding:.6em 1em;margin:1em 0}
.meta{color:#555}svg{max-width:100%;height:auto}.bar{fill:#3a6ea5}.axis{stroke:#444}
svg text{font-size:10px;fill:#333}
@media print{body{margin:0;font-size:10pt}h2{page-break-after:avoid}table,svg{page-break-inside:avoid}
.bar{fill:#555}th{background:#ddd}}
)css";

std::string chart_svg(const WardReport& r) {
  // Integer geometry in tenths of a unit keeps the text identical on every machine.
  const std::int64_t n = static_cast<std::int64_t>(r.days.size());
  const std::int64_t left = 500, top = 100, plot_w = 9000, plot_h = 2000;
  std::int64_t max_ch = 0;
  for (const auto& d : r.days) max_ch = std::max(max_ch, centi_hours(d.machines_total_ms));
  const std::int64_t scale_ch = std::max<std::int64_t>(max_ch, 100);
  auto tenth = [](std::int64_t v) { return fmt::format("{}.{}", v / 10, v % 10); };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 960 250\" width=\"960\" "
      "height=\"250\" role=\"img\" aria-label=\"Machine hours per day\">\n");
  s += fmt::format("<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", tenth(left),
                   tenth(top + plot_h), tenth(left + plot_w), tenth(top + plot_h));
  s += fmt::format("<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", tenth(left),
                   tenth(top), tenth(left), tenth(top + plot_h));
  s += fmt::format("<text x=\"2\" y=\"{}\">{} h</text>\n", tenth(top + 40),
                   format_hours(scale_ch * kCentiHourMs));
  s += fmt::format("<text x=\"2\" y=\"{}\">0</text>\n", tenth(top + plot_h));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto& d = r.days[static_cast<std::size_t>(i)];
    const std::int64_t x0 = left + plot_w * i / n;
    const std::int64_t x1 = left + plot_w * (i + 1) / n;
    const std::int64_t w = std::max<std::int64_t>(1, (x1 - x0) * 8 / 10);
    const std::int64_t h = plot_h * centi_hours(d.machines_total_ms) / scale_ch;
    s += fmt::format(
        "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: {} h</title>"
        "</rect>\n",
        tenth(x0), tenth(top + plot_h - h), tenth(w), tenth(h), d.date,
        format_hours(d.machines_total_ms));
    // Label the first day of each month (every day of a month report with few days).
    if (d.date.substr(8, 2) == "01" || (n <= 31 && (i % 5 == 0))) {
      s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", tenth(x0), tenth(top + plot_h + 140),
                       n <= 31 ? d.date.substr(8, 2) : d.date.substr(0, 7));
    }
  }
  s += "</svg>\n";
  return s;
}

void html_table(std::string& s, const std::vector<std::string>& head,
                const std::vector<std::vector<std::string>>& rows,
                const std::vector<bool>& numeric) {
  s += "<table>\n<thead><tr>";
  for (const auto& h : head) s += "<th>" + esc(h) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    s += "<tr>";
    for (std::size_t i = 0; i < row.size(); ++i) {
      const bool n = i < numeric.size() && numeric[i];
      s += (n ? "<td class=\"n\">" : "<td>") + esc(row[i]) + "</td>";
    }
    s += "</tr>\n";
  }
  s += "</tbody>\n</table>\n";
}

std::vector<std::vector<std::string>> summary_rows(const WardReport& r) {
  const auto& p = r.period;
  std::vector<std::vector<std::string>> rows = {
      {"period", p.label},
      {"period_kind", kind_name(p.kind)},
      {"first_day", p.first_day},
      {"last_day", p.last_day},
      {"time_zone", p.time_zone},
      {"status", status_text(r)},
      {"data_starts_on", r.data_starts_on},
      {"unique_users", num(r.unique_users)},
      {"new_members", num(r.new_members)},
      {"active_members_at_end", num(r.active_members_at_end)},
      {"machine_sessions", num(r.machine_sessions())},
      {"machine_hours", format_hours(r.machine_ms())},
      {"trainings_granted", num(trainings_granted(r))},
      {"inspections_passed", num(inspections_passed(r))},
      {"inspections_failed", num(inspections_failed(r))},
      {"machines_overdue_at_end", num(overdue_at_end(r))},
      {"coworking_sessions", num(r.coworking.sessions)},
      {"coworking_member_hours", format_hours(r.coworking.ms)},
      {"coworking_unique_members", num(r.coworking.unique_members)},
      {"coworking_peak_occupancy", num(r.coworking.peak_occupancy)},
      {"coworking_peak_at", peak_text(r)},
      {"lockers", num(r.lockers.lockers)},
      {"locker_days_lent", num(r.lockers.lent_days)},
      {"locker_occupancy_percent", format_percent(r.lockers.lent_days, r.lockers.locker_days)},
      {"lockers_lent_at_end", num(r.lockers.lent_at_end)},
  };
  if (!r.complete) {
    rows.push_back({"as_of", detail::local_time(r.as_of_ms, p.time_zone)});
  }
  for (const auto& n : r.notes) rows.push_back({"note", n});
  return rows;
}

std::vector<std::string> daily_head(const WardReport& r) {
  std::vector<std::string> head = {"date"};
  for (const auto& m : r.machines) head.push_back(m.id + "_hours");
  head.push_back("machines_total_hours");
  head.push_back("coworking_hours");
  return head;
}

std::vector<std::string> daily_row(const DayUsage& d) {
  std::vector<std::string> row = {d.date};
  for (auto ms : d.machine_ms) row.push_back(format_hours(ms));
  row.push_back(format_hours(d.machines_total_ms));
  row.push_back(format_hours(d.coworking_ms));
  return row;
}

}  // namespace

std::string format_hours(std::int64_t ms) {
  const std::int64_t c = centi_hours(ms);
  return fmt::format("{}.{:02}", c / 100, c % 100);
}

std::string format_percent(std::int64_t part, std::int64_t whole) {
  if (whole <= 0) return "0.0";
  const std::int64_t tenths = (part * 2000 + whole) / (2 * whole);  // half up
  return fmt::format("{}.{}", tenths / 10, tenths % 10);
}

std::string base_name(const Period& period) {
  return "ward-" + period.label;
}

st::Result<std::vector<Format>> parse_formats(std::string_view list) {
  std::vector<Format> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    const auto comma = list.find(',', pos);
    const auto item = list.substr(pos, comma == std::string_view::npos ? list.npos : comma - pos);
    Format f{};
    if (item == "csv") {
      f = Format::kCsv;
    } else if (item == "json") {
      f = Format::kJson;
    } else if (item == "html") {
      f = Format::kHtml;
    } else {
      return st::Error{
          st::ErrorKind::kInvalid, 0,
          fmt::format("bad format '{}': expected csv, json or html (comma-separated)", item)};
    }
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::string render_json(const WardReport& r) {
  const auto& p = r.period;
  json j;
  j["report"] = "ward";
  j["period"] = {{"kind", kind_name(p.kind)},
                 {"label", p.label},
                 {"first_day", p.first_day},
                 {"last_day", p.last_day},
                 {"time_zone", p.time_zone}};
  j["status"] = status_text(r);
  j["complete"] = r.complete;
  if (!r.complete) j["as_of"] = detail::local_time(r.as_of_ms, p.time_zone);
  j["empty"] = r.empty;
  j["data_starts_on"] = r.data_starts_on;
  j["notes"] = r.notes;
  j["rules"] = {
      "sessions are counted in the period they started in; their time is clipped to the period",
      "unique users: members with a session overlapping the period or a granted door access",
      "peak occupancy: most coworking sessions open at one instant (back-to-back do not overlap)",
      "overdue: latest inspection's next due date before the day, or never inspected",
      "room utilisation: booked hours over the hours the room could be booked (opening hours, "
      "closure, holidays); locker occupancy: days lent (overdue until taken back) over "
      "lockers x days"};
  j["summary"] = {{"unique_users", r.unique_users},
                  {"new_members", r.new_members},
                  {"active_members_at_end", r.active_members_at_end},
                  {"machine_sessions", r.machine_sessions()},
                  {"machine_seconds", r.machine_ms() / 1000},
                  {"machine_hours", hours_json(r.machine_ms())},
                  {"trainings_granted", trainings_granted(r)},
                  {"inspections_passed", inspections_passed(r)},
                  {"inspections_failed", inspections_failed(r)},
                  {"machines_overdue_at_end", overdue_at_end(r)}};
  json machines = json::array();
  for (const auto& m : r.machines) {
    machines.push_back({{"id", m.id},
                        {"name", m.name},
                        {"sessions", m.sessions},
                        {"seconds", m.ms / 1000},
                        {"hours", hours_json(m.ms)},
                        {"unique_users", m.unique_users}});
  }
  j["machines"] = std::move(machines);
  json cw = {{"sessions", r.coworking.sessions},
             {"member_seconds", r.coworking.ms / 1000},
             {"member_hours", hours_json(r.coworking.ms)},
             {"unique_members", r.coworking.unique_members},
             {"peak_occupancy", r.coworking.peak_occupancy},
             {"peak_at", r.coworking.peak_at_ms ? json(peak_text(r)) : json(nullptr)}};
  j["coworking"] = std::move(cw);
  json rooms = json::array();
  for (const auto& u : r.rooms) {
    rooms.push_back({{"id", u.id},
                     {"name", u.name},
                     {"bookings", u.bookings},
                     {"booked_hours", hours_json(u.booked_ms)},
                     {"open_hours", hours_json(u.open_ms)},
                     {"utilisation_percent", json::parse(format_percent(u.booked_ms, u.open_ms))},
                     {"no_shows", u.no_shows}});
  }
  j["rooms"] = std::move(rooms);
  j["lockers"] = {{"lockers", r.lockers.lockers},
                  {"locker_days", r.lockers.locker_days},
                  {"lent_days", r.lockers.lent_days},
                  {"occupancy_percent",
                   json::parse(format_percent(r.lockers.lent_days, r.lockers.locker_days))},
                  {"lent_at_end", r.lockers.lent_at_end}};
  json trainings = json::array();
  for (const auto& t : r.trainings) {
    trainings.push_back({{"type", t.type_code},
                         {"name", t.name},
                         {"granted", t.granted},
                         {"granted_since_revoked", t.granted_revoked},
                         {"revoked_in_period", t.revoked_in_period}});
  }
  j["trainings"] = std::move(trainings);
  json insp = json::array();
  for (const auto& f : r.inspections) {
    insp.push_back({{"machine_id", f.machine_id},
                    {"name", f.name},
                    {"passed", f.passed},
                    {"failed", f.failed},
                    {"overdue_at_end", f.overdue_at_end},
                    {"due_at_end", opt(f.due_at_end)},
                    {"overdue_days", f.overdue_days}});
  }
  j["inspections"] = std::move(insp);
  json months = json::array();
  for (const auto& m : r.months) {
    months.push_back({{"month", m.month},
                      {"machine_sessions", m.machine_sessions},
                      {"machine_hours", hours_json(m.machine_ms)},
                      {"coworking_sessions", m.coworking_sessions},
                      {"coworking_member_hours", hours_json(m.coworking_ms)},
                      {"coworking_peak", m.coworking_peak},
                      {"unique_users", m.unique_users},
                      {"new_members", m.new_members},
                      {"trainings", m.trainings},
                      {"inspections", m.inspections}});
  }
  j["months"] = std::move(months);
  json days = json::array();
  for (const auto& d : r.days) {
    json per = json::object();
    for (std::size_t i = 0; i < r.machines.size(); ++i) {
      per[r.machines[i].id] = hours_json(d.machine_ms[i]);
    }
    days.push_back({{"date", d.date},
                    {"machine_hours", std::move(per)},
                    {"machines_total_hours", hours_json(d.machines_total_ms)},
                    {"coworking_hours", hours_json(d.coworking_ms)}});
  }
  j["daily"] = std::move(days);
  return j.dump(2) + "\n";
}

std::vector<CsvFile> render_csv(const WardReport& r) {
  std::vector<CsvFile> files;
  // Each table goes through the shared writer: names and ids come from staff input, so a text
  // cell is neutralised there when it would start a formula; counts are number cells.
  const auto table = [&files](std::string suffix, const auto& fill) {
    std::string body;
    csv::Writer w(body);
    w.bom();
    fill(w);
    files.push_back({std::move(suffix), std::move(body)});
  };
  table("summary", [&](csv::Writer& w) {
    w.row({"item", "value"});
    for (const auto& row : summary_rows(r)) w.text(row[0]).text(row[1]).end_row();
  });
  table("machines", [&](csv::Writer& w) {
    w.row({"machine_id", "name", "sessions", "hours", "unique_users"});
    for (const auto& m : r.machines) {
      w.text(m.id).text(m.name).number(m.sessions).text(format_hours(m.ms));
      w.number(m.unique_users).end_row();
    }
  });
  table("daily", [&](csv::Writer& w) {
    for (const auto& h : daily_head(r)) w.text(h);
    w.end_row();
    for (const auto& d : r.days) {
      for (const auto& cell : daily_row(d)) w.text(cell);
      w.end_row();
    }
  });
  table("trainings", [&](csv::Writer& w) {
    w.row({"type", "name", "granted", "granted_since_revoked", "revoked_in_period"});
    for (const auto& t : r.trainings) {
      w.text(t.type_code).text(t.name).number(t.granted).number(t.granted_revoked);
      w.number(t.revoked_in_period).end_row();
    }
  });
  table("inspections", [&](csv::Writer& w) {
    w.row(
        {"machine_id", "name", "passed", "failed", "overdue_at_end", "due_at_end", "overdue_days"});
    for (const auto& f : r.inspections) {
      w.text(f.machine_id).text(f.name).number(f.passed).number(f.failed);
      w.text(f.overdue_at_end ? "yes" : "no").text(f.due_at_end.value_or(""));
      w.number(f.overdue_days).end_row();
    }
  });
  table("rooms", [&](csv::Writer& w) {
    w.row({"room_id", "name", "bookings", "booked_hours", "open_hours", "utilisation_percent",
           "no_shows"});
    for (const auto& u : r.rooms) {
      w.text(u.id).text(u.name).number(u.bookings).text(format_hours(u.booked_ms));
      w.text(format_hours(u.open_ms)).text(format_percent(u.booked_ms, u.open_ms));
      w.number(u.no_shows).end_row();
    }
  });
  if (r.period.kind == PeriodKind::kFiscalYear) {
    table("months", [&](csv::Writer& w) {
      w.row({"month", "machine_sessions", "machine_hours", "coworking_sessions",
             "coworking_member_hours", "coworking_peak", "unique_users", "new_members", "trainings",
             "inspections"});
      for (const auto& m : r.months) {
        w.text(m.month).number(m.machine_sessions).text(format_hours(m.machine_ms));
        w.number(m.coworking_sessions).text(format_hours(m.coworking_ms));
        w.number(m.coworking_peak).number(m.unique_users).number(m.new_members);
        w.number(m.trainings).number(m.inspections).end_row();
      }
    });
  }
  return files;
}

std::string render_html(const WardReport& r) {
  const auto& p = r.period;
  const std::string kind_ja = p.kind == PeriodKind::kMonth ? "月次" : "年度";
  std::string s;
  s += "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n";
  s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  s += fmt::format("<title>利用状況報告書 {} / Ward report {}</title>\n", esc(p.label),
                   esc(p.label));
  s += "<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n";
  s += fmt::format("<h1>利用状況報告書（{}） / Ward report {}</h1>\n", kind_ja, esc(p.label));
  s += fmt::format(
      "<p class=\"meta\">期間 Period: {} – {} ({}) · 状態 Status: {} · データ開始 "
      "Data from: {}</p>\n",
      esc(p.first_day), esc(p.last_day), esc(p.time_zone), esc(status_text(r)),
      esc(r.data_starts_on));
  for (const auto& n : r.notes) s += "<p class=\"note\">" + esc(n) + "</p>\n";

  s += "<h2>概要 Summary</h2>\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : summary_rows(r)) {
      if (row[0] == "note") continue;
      rows.push_back(row);
    }
    html_table(s, {"項目 item", "値 value"}, rows, {false, true});
  }

  s += "<h2>機械別利用 Machine use</h2>\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : r.machines) {
      rows.push_back({m.id, m.name, num(m.sessions), format_hours(m.ms), num(m.unique_users)});
    }
    html_table(s, {"ID", "機械 machine", "利用回数 sessions", "時間 hours", "利用者 users"}, rows,
               {false, false, true, true, true});
  }
  s += "<h2>日別機械利用時間 Machine hours per day</h2>\n";
  s += chart_svg(r);

  s += "<h2>コワーキング Coworking</h2>\n";
  html_table(s,
             {"利用回数 sessions", "延べ時間 member-hours", "利用者 members", "最大同時利用 peak",
              "日時 at"},
             {{num(r.coworking.sessions), format_hours(r.coworking.ms),
               num(r.coworking.unique_members), num(r.coworking.peak_occupancy), peak_text(r)}},
             {true, true, true, true, false});

  s += "<h2>会議室 Meeting rooms</h2>\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& u : r.rooms) {
      rows.push_back({u.id, u.name, num(u.bookings), format_hours(u.booked_ms),
                      format_hours(u.open_ms), format_percent(u.booked_ms, u.open_ms),
                      num(u.no_shows)});
    }
    html_table(s,
               {"ID", "会議室 room", "予約 bookings", "予約時間 booked hours",
                "利用可能時間 open hours", "利用率 utilisation %", "不使用 no-shows"},
               rows, {false, false, true, true, true, true, true});
  }
  s += "<h2>ロッカー Lockers</h2>\n";
  html_table(
      s,
      {"ロッカー数 lockers", "貸出日数 days lent", "延べ日数 locker-days", "稼働率 occupancy %",
       "期末貸出中 lent at end"},
      {{num(r.lockers.lockers), num(r.lockers.lent_days), num(r.lockers.locker_days),
        format_percent(r.lockers.lent_days, r.lockers.locker_days), num(r.lockers.lent_at_end)}},
      {true, true, true, true, true});

  s += "<h2>講習 Trainings</h2>\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : r.trainings) {
      rows.push_back(
          {t.type_code, t.name, num(t.granted), num(t.granted_revoked), num(t.revoked_in_period)});
    }
    html_table(s,
               {"種別 type", "名称 name", "認定 granted", "うち取消 since revoked",
                "期間内取消 revoked in period"},
               rows, {false, false, true, true, true});
  }

  s += "<h2>点検 Inspections</h2>\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : r.inspections) {
      rows.push_back({f.machine_id, f.name, num(f.passed), num(f.failed),
                      f.overdue_at_end ? "yes" : "no", f.due_at_end.value_or("-"),
                      num(f.overdue_days)});
    }
    html_table(s,
               {"ID", "機械 machine", "合格 pass", "不合格 fail", "期末超過 overdue at end",
                "次回期限 due", "超過日数 overdue days"},
               rows, {false, false, true, true, false, false, true});
  }

  if (p.kind == PeriodKind::kFiscalYear) {
    s += "<h2>月別 By month</h2>\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : r.months) {
      rows.push_back({m.month, num(m.machine_sessions), format_hours(m.machine_ms),
                      num(m.coworking_sessions), format_hours(m.coworking_ms),
                      num(m.coworking_peak), num(m.unique_users), num(m.new_members),
                      num(m.trainings), num(m.inspections)});
    }
    html_table(
        s,
        {"月 month", "機械回数 sessions", "機械時間 hours", "CW回数 sessions", "CW時間 hours",
         "CW最大 peak", "利用者 users", "新規 new", "講習 trainings", "点検 inspections"},
        rows, {false, true, true, true, true, true, true, true, true, true});
  }
  s += "<h2>集計方法 Counting rules</h2>\n<ul>\n"
       "<li>Sessions are counted in the period they started in; their time is clipped to the "
       "period.</li>\n"
       "<li>Unique users: members with a session overlapping the period or a granted door "
       "access.</li>\n"
       "<li>Peak occupancy: most coworking sessions open at one instant; back-to-back sessions do "
       "not overlap.</li>\n"
       "<li>Overdue: the latest inspection's next due date is before the day, or the machine was "
       "never inspected.</li>\n"
       "<li>Room utilisation: booked hours over the hours the room could be booked (its opening "
       "hours, closure and holidays); locker occupancy: days lent (an overdue locker until taken "
       "back) over lockers &times; days.</li>\n</ul>\n";
  s += "</body>\n</html>\n";
  return s;
}

st::Result<std::vector<std::filesystem::path>> write_report(const WardReport& report,
                                                            const std::filesystem::path& dir,
                                                            const std::vector<Format>& formats) {
  if (auto why = files::prepare_export_folder(dir))
    return st::Error{st::ErrorKind::kUnavailable, 0, *why};
  std::vector<std::filesystem::path> written;
  auto put = [&](const std::string& name, const std::string& bytes) -> st::Status {
    const auto path = dir / name;
    const auto r = files::write_atomically(path, bytes, {files::kExportMode, {}, true});
    if (r.error) return st::Error{st::ErrorKind::kUnavailable, 0, "cannot write " + *r.error};
    written.push_back(path);
    return {};
  };
  const std::string base = base_name(report.period);
  for (auto f : {Format::kJson, Format::kHtml, Format::kCsv}) {
    if (std::find(formats.begin(), formats.end(), f) == formats.end()) continue;
    st::Status s;
    if (f == Format::kJson) s = put(base + ".json", render_json(report));
    if (f == Format::kHtml) s = put(base + ".html", render_html(report));
    if (f == Format::kCsv) {
      for (const auto& c : render_csv(report)) {
        s = put(base + "-" + c.suffix + ".csv", c.content);
        if (!s) break;
      }
    }
    if (!s) return s.error();
  }
  return written;
}

}  // namespace labgate::gateway::report
