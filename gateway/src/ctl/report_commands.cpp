// labgatectl: the ward report.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "labgate/gateway/report/ward_report.hpp"
#include "output.hpp"

namespace labgate::gateway::ctl {

namespace {

namespace rp = labgate::gateway::report;
using json = nlohmann::ordered_json;

struct ReportArgs {
  std::string month;
  int fiscal_year{0};
  std::string out;
  std::string formats{"csv,json,html"};
};

int run_ward(Context& ctx, const ReportArgs& a) {
  if (a.month.empty() == (a.fiscal_year == 0)) {
    usage_error("give exactly one of --month YYYY-MM or --fiscal-year YYYY");
  }
  const auto formats = check(rp::parse_formats(a.formats));
  const auto period = check(a.month.empty() ? rp::fiscal_year_period(a.fiscal_year, ctx.tz())
                                            : rp::month_period(a.month, ctx.tz()));
  rp::ReportOptions options;
  options.as_of_ms = ctx.store().now_ms();
  auto report = check(rp::build_ward_report(ctx.store(), period, options));
  // The head of the sealed record travels with the report, off the box: rows later deleted from
  // the end of the record show against it (labgatectl audit verify --checkpoint FILE).
  if (const auto head = check(ctx.store().seal_head())) {
    report.notes.push_back("Audit record checkpoint (labgatectl audit verify --checkpoint): " +
                           st::seal::format_checkpoint(*head));
  }
  const auto paths = check(rp::write_report(report, a.out, formats));

  if (ctx.json_output()) {
    json files = json::array();
    for (const auto& p : paths) files.push_back(p.string());
    std::cout << json{{"period", period.label},
                      {"first_day", period.first_day},
                      {"last_day", period.last_day},
                      {"status", report.empty      ? "no activity recorded"
                                 : report.complete ? "complete"
                                                   : "partial"},
                      {"notes", report.notes},
                      {"unique_users", report.unique_users},
                      {"machine_sessions", report.machine_sessions()},
                      {"machine_hours", rp::format_hours(report.machine_ms())},
                      {"coworking_member_hours", rp::format_hours(report.coworking.ms)},
                      {"coworking_peak", report.coworking.peak_occupancy},
                      {"files", files}}
                     .dump(2)
              << '\n';
    return kExitOk;
  }
  std::cout << fmt::format("Ward report {} ({} .. {}, {})\n", period.label, period.first_day,
                           period.last_day, period.time_zone);
  for (const auto& n : report.notes) std::cout << "NOTE: " << n << '\n';
  Table machines({"MACHINE", "SESSIONS", "HOURS", "USERS"});
  for (const auto& m : report.machines) {
    machines.add(
        {m.id, std::to_string(m.sessions), rp::format_hours(m.ms), std::to_string(m.unique_users)});
  }
  machines.print(std::cout);
  Table summary({"FIGURE", "VALUE"});
  summary.add({"unique users", std::to_string(report.unique_users)});
  summary.add({"new members", std::to_string(report.new_members)});
  summary.add({"active members at end", std::to_string(report.active_members_at_end)});
  summary.add({"machine sessions", std::to_string(report.machine_sessions())});
  summary.add({"machine hours", rp::format_hours(report.machine_ms())});
  summary.add({"coworking sessions", std::to_string(report.coworking.sessions)});
  summary.add({"coworking member-hours", rp::format_hours(report.coworking.ms)});
  summary.add({"coworking peak occupancy",
               report.coworking.peak_at_ms
                   ? fmt::format("{} at {}", report.coworking.peak_occupancy,
                                 format_local(*report.coworking.peak_at_ms, ctx.tz()))
                   : std::to_string(report.coworking.peak_occupancy)});
  std::int64_t trainings = 0;
  for (const auto& t : report.trainings) trainings += t.granted;
  std::int64_t inspections = 0, overdue = 0;
  for (const auto& f : report.inspections) {
    inspections += f.passed + f.failed;
    overdue += f.overdue_at_end ? 1 : 0;
  }
  summary.add({"trainings granted", std::to_string(trainings)});
  summary.add({"inspections done", std::to_string(inspections)});
  summary.add({"machines overdue at end", std::to_string(overdue)});
  summary.print(std::cout);
  std::cout << "Written:\n";
  for (const auto& p : paths) std::cout << "  " << p.string() << '\n';
  return kExitOk;
}

}  // namespace

void build_reports(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<ReportArgs>();
  auto* report = app.add_subcommand("report", "reports for the ward");
  report->require_subcommand(1);
  auto* ward = report->add_subcommand(
      "ward", "the ward report of a month or a fiscal year (April to March) as CSV, JSON, HTML");
  auto* month = ward->add_option("--month", a->month, "month, YYYY-MM (site time)");
  auto* fy =
      ward->add_option("--fiscal-year", a->fiscal_year,
                       "fiscal year starting in April of this year (2026 = 2026-04..2027-03)");
  month->excludes(fy);
  ward->add_option("--out", a->out, "directory to write the files into (created if missing)")
      ->required();
  ward->add_option("--format", a->formats, "comma-separated: csv,json,html (default: all)");
  on(ward, cli, [a](Context& ctx) { return run_ward(ctx, *a); });
}

}  // namespace labgate::gateway::ctl
