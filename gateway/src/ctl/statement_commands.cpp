// labgatectl: monthly statements (show, export, issue, list).
#include <date/tz.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "labgate/gateway/billing/invoice.hpp"
#include "labgate/gateway/billing/render.hpp"
#include "labgate/gateway/billing/statements.hpp"
#include "labgate/gateway/files/files.hpp"
#include "output.hpp"

namespace labgate::gateway::ctl {

namespace {

namespace bl = labgate::gateway::billing;
using json = nlohmann::ordered_json;

struct StatementArgs {
  std::string member;
  std::string month;
  std::string format{"text"};
  std::string out;
  std::string lang{"ja"};
};

const date::time_zone* zone(Context& ctx) {
  return check(bl::find_zone(ctx.tz()));
}

void require_month(const std::string& month) {
  if (month.empty()) return;
  // month_range is the single parser; any zone will do to validate the text.
  auto r = bl::month_range(month, date::locate_zone("UTC"));
  if (!r) usage_error(r.error().message);
}

std::string yen(std::int64_t v) {
  return fmt::format("{}", v);
}

void print_text(const bl::Statement& s, const std::string& standing) {
  std::cout << fmt::format("Statement {} for {} {} (plan {}), times in {}\n", s.month, s.member_no,
                           s.name, s.plan.empty() ? "-" : s.plan, s.time_zone);
  std::cout << standing << '\n';
  if (!s.note.empty()) std::cout << s.note << '\n';
  if (!s.lines.empty()) {
    Table t({"DATE", "TYPE", "TARGET", "SESSIONS", "START", "END", "BILLABLE", "AMOUNT", "RULE"});
    for (const auto& l : s.lines) {
      std::string ids;
      for (const auto id : l.session_ids) {
        // Appending in place: `"+" + std::to_string(id)` made GCC 12 at -O3 report a false
        // -Wrestrict inside the inlined string concatenation.
        if (!ids.empty()) ids += '+';
        ids += std::to_string(id);
      }
      if (l.sale_id) ids = "sale " + std::to_string(*l.sale_id);
      // Times keep their seconds: a line billed by the second must show where it ended.
      const bool sale = bl::is_sale(l.type);
      t.add({l.date, bl::to_string(l.type), sale ? l.item : l.target, ids, l.start.substr(11, 8),
             l.end.substr(11, 8), sale ? "" : bl::format_duration(l.billable_seconds),
             yen(l.amount), l.rule});
    }
    t.print(std::cout);
  }
  std::cout << fmt::format("machine {}  coworking {}  materials {}  day passes {}  total {} yen\n",
                           s.subtotal_machine, s.subtotal_coworking, s.subtotal_materials,
                           s.subtotal_day_passes, s.total);
  const bool inclusive = s.prices == bl::PriceMode::kInclusive;
  for (const auto& t : s.taxes) {
    std::cout << fmt::format("{}% ({}): {} yen {}, consumption tax {} yen\n", t.percent, t.classes,
                             t.taxable, inclusive ? "including tax" : "before tax", t.tax);
  }
  std::cout << fmt::format("prices {} of tax, tax rounded ({}) once per rate\n",
                           inclusive ? "include" : "exclude", bl::to_string(s.tax_rounding));
  if (!s.issuer.name.empty() || !s.issuer.address.empty()) {
    std::cout << fmt::format("issuer: {}{}{}\n", s.issuer.name,
                             s.issuer.address.empty() ? "" : ", ", s.issuer.address);
  }
  std::cout << bl::invoice_note(s) << '\n';
  for (const auto& h : s.held_for_review) {
    std::cout << fmt::format("held for review: session {} on {} from {}: {}\n", h.session_id,
                             h.target, h.start, h.explanation);
  }
  for (const auto& o : s.open_sessions) {
    std::cout << fmt::format("open: session {} on {} since {}: {}\n", o.session_id, o.target,
                             o.start, o.explanation);
  }
}

// Member numbers become file names: keep them to a portable character set.
void write_file(const std::filesystem::path& path, const std::string& body) {
  const auto r = files::write_atomically(path, body, {files::kExportMode, {}, true});
  if (r.error) throw Failure{kExitUnavailable, fmt::format("cannot write {}", *r.error)};
}

int show(Context& ctx, const StatementArgs& a) {
  const auto* tz = zone(ctx);
  const auto view = check(bl::view_statement(ctx.store().database(), a.member, a.month,
                                             ctx.store().now_ms(), tz, ctx.cli().tax));
  const std::string format = ctx.json_output() ? "json" : a.format;
  // CSV and JSON are the statement body exactly as issued (its sha256 covers those bytes); the
  // standing goes to stderr there so a script still learns it.
  if (format == "csv") {
    std::cout << bl::to_csv(view.statement);
    std::cerr << view.standing << '\n';
  } else if (format == "json") {
    std::cout << bl::to_json(view.statement) << '\n';
    std::cerr << view.standing << '\n';
  } else {
    print_text(view.statement, view.standing);
  }
  return kExitOk;
}

int export_statements(Context& ctx, const StatementArgs& a) {
  const auto* tz = zone(ctx);
  if (auto started =
          bl::require_started(check(bl::month_range(a.month, tz)), ctx.store().now_ms(), tz);
      !started) {
    throw Failure{exit_code_for(started.error()), started.error().message};
  }
  std::vector<bl::Statement> statements;
  if (a.member.empty()) {
    statements = check(bl::month_statements(ctx.store().database(), a.month, tz, ctx.cli().tax));
  } else {
    statements.push_back(
        check(bl::member_statement(ctx.store().database(), a.member, a.month, tz, ctx.cli().tax)));
  }
  const std::filesystem::path dir{a.out};
  if (auto why = files::prepare_export_folder(dir)) throw Failure{kExitUnavailable, *why};
  for (const auto& s : statements) {
    const std::string stem =
        fmt::format("statement-{}-{}", s.month, files::file_name_part(s.member_no));
    write_file(dir / (stem + ".csv"), bl::to_csv(s));
    write_file(dir / (stem + ".json"), bl::to_json(s) + "\n");
  }
  const auto summary = dir / fmt::format("summary-{}.csv", a.month);
  write_file(summary, bl::summary_csv(statements));
  // The head of the sealed record leaves the box with the month's statements.
  std::optional<std::string> checkpoint;
  if (const auto head = check(ctx.store().seal_head())) {
    checkpoint = st::seal::format_checkpoint(*head);
    write_file(dir / fmt::format("checkpoint-{}.txt", a.month), *checkpoint + "\n");
  }
  std::int64_t total = 0;
  for (const auto& s : statements) total += s.total;
  if (ctx.json_output()) {
    json j = {{"month", a.month},
              {"directory", std::filesystem::absolute(dir).string()},
              {"summary", std::filesystem::absolute(summary).string()},
              {"statements", statements.size()},
              {"total", total},
              {"audit_checkpoint", null_or(checkpoint)}};
    std::cout << j.dump(2) << '\n';
    return kExitOk;
  }
  if (checkpoint) std::cout << "audit record checkpoint: " << *checkpoint << '\n';
  std::cout << fmt::format("wrote {} statement(s) for {} (CSV + JSON each) and {} to {}\n",
                           statements.size(), a.month, summary.filename().string(),
                           std::filesystem::absolute(dir).string());
  Table t({"MEMBER", "NAME", "LINES", "HELD", "OPEN", "TOTAL"});
  for (const auto& s : statements) {
    t.add({s.member_no, s.name, std::to_string(s.lines.size()),
           std::to_string(s.held_for_review.size()), std::to_string(s.open_sessions.size()),
           yen(s.total)});
  }
  t.print(std::cout);
  std::cout << fmt::format("total {} yen\n", total);
  return kExitOk;
}

// The printable invoice (HTML, or the PDF weasyprint makes of it): the bytes the console serves.
int invoice(Context& ctx, const StatementArgs& a) {
  const auto* tz = zone(ctx);
  const auto lang = bl::parse_invoice_lang(a.lang);
  if (!lang) usage_error("--lang must be ja or en");
  std::string body = check(bl::invoice_document(ctx.store().database(), a.member, a.month,
                                                ctx.store().now_ms(), tz, ctx.cli().tax, *lang));
  if (a.format == "pdf") body = check(bl::render_pdf(body));
  if (a.out.empty() || a.out == "-") {
    std::cout << body;
    return kExitOk;
  }
  write_file(std::filesystem::path{a.out}, body);
  std::cerr << fmt::format("wrote {} ({} bytes)\n", a.out, body.size());
  return kExitOk;
}

std::string member_list(const std::vector<std::string>& members) {
  if (members.empty()) return "-";
  std::string out;
  for (const auto& m : members) out += (out.empty() ? "" : ", ") + m;
  return out;
}

// The closing summary of an issue run: every member in one of four groups.
void print_summary(const json& report) {
  const auto members = [](const json& list) {
    std::vector<std::string> out;
    for (const auto& m : list)
      out.push_back(m.is_string() ? m.get<std::string>() : m.at("member_no").get<std::string>());
    return out;
  };
  std::cout << fmt::format("summary for {}:\n", report.at("month").get<std::string>());
  for (const auto& [label, key] : {std::pair{"issued", "issued"},
                                   {"already issued", "already_issued"},
                                   {"no usage", "no_usage"},
                                   {"refused", "refused"}}) {
    const auto list = members(report.at(key));
    std::cout << fmt::format("  {} ({}): {}\n", label, list.size(), member_list(list));
  }
}

int issue(Context& ctx, const StatementArgs& a) {
  nlohmann::json args{{"month", a.month}};
  if (!a.member.empty()) args["member_no"] = a.member;
  // Through the daemon when it runs, so the issue records the caller's OS user; the answer
  // carries the sealed head after the issue's audit rows, to keep with the statements.
  const json report = ctx.change("statements.issue", args);
  const bool complete = report.at("refused").empty();
  if (ctx.json_output()) {
    std::cout << report.dump(2) << '\n';
    return complete ? kExitOk : kExitRefused;
  }
  std::cout << fmt::format("issued {} statement(s) for {}\n", report.at("issued").size(), a.month);
  Table t({"MEMBER", "STATEMENT", "TOTAL", "SHA256"});
  for (const auto& i : report.at("issued")) {
    t.add({i.at("member_no").get<std::string>(),
           std::to_string(i.at("statement_id").get<std::int64_t>()),
           yen(i.at("total").get<std::int64_t>()),
           i.at("sha256").get<std::string>().substr(0, 16)});
  }
  t.print(std::cout);
  if (!complete) {
    std::cout << fmt::format("refused {} member(s):\n", report.at("refused").size());
    Table r({"MEMBER", "REASON"});
    for (const auto& x : report.at("refused")) {
      r.add({x.at("member_no").get<std::string>(), x.at("reason").get<std::string>()});
    }
    r.print(std::cout);
  }
  print_summary(report);
  if (report.at("audit_checkpoint").is_string()) {
    std::cout << "audit record checkpoint (keep it with the statements):\n  "
              << report.at("audit_checkpoint").get<std::string>() << '\n';
  }
  // 0: every member that could be issued was; 1: some were refused (named above, with why).
  return complete ? kExitOk : kExitRefused;
}

int list(Context& ctx, const StatementArgs& a) {
  const auto rows = check(bl::list_statements(ctx.store().database(), opt_text(a.month)));
  if (ctx.json_output()) {
    json arr = json::array();
    for (const auto& r : rows) {
      arr.push_back({{"id", r.id},
                     {"member_no", r.member_no},
                     {"name", r.name},
                     {"month", r.month},
                     {"issued_at", format_utc(r.issued_at_ms)},
                     {"issued_by", r.issued_by},
                     {"total", r.total},
                     {"sha256", r.sha256}});
    }
    std::cout << arr.dump(2) << '\n';
    return kExitOk;
  }
  Table t({"MONTH", "MEMBER", "NAME", "TOTAL", "ISSUED", "BY", "SHA256"});
  for (const auto& r : rows) {
    t.add({r.month, r.member_no, r.name, yen(r.total), format_local(r.issued_at_ms, ctx.tz()),
           r.issued_by, r.sha256.substr(0, 16)});
  }
  t.print(std::cout);
  return kExitOk;
}

}  // namespace

void build_statements(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<StatementArgs>();
  auto* statements = app.add_subcommand("statements", "monthly statements per member");
  statements->require_subcommand(1);

  auto* show_cmd = statements->add_subcommand("show", "one member's statement for a month");
  show_cmd->add_option("--member", a->member, "member number")->required();
  show_cmd->add_option("--month", a->month, "YYYY-MM (local)")->required();
  show_cmd->add_option("--format", a->format, "text, csv or json")
      ->check(CLI::IsMember({"text", "csv", "json"}));
  on(show_cmd, cli, [a](Context& ctx) {
    require_month(a->month);
    return show(ctx, *a);
  });

  auto* export_cmd = statements->add_subcommand(
      "export", "write one CSV and one JSON per member and a summary CSV to a directory");
  export_cmd->add_option("--month", a->month, "YYYY-MM (local)")->required();
  export_cmd->add_option("--out", a->out, "directory (created when missing)")->required();
  export_cmd->add_option("--member", a->member, "only this member");
  on(export_cmd, cli, [a](Context& ctx) {
    require_month(a->month);
    return export_statements(ctx, *a);
  });

  auto* invoice_cmd = statements->add_subcommand(
      "invoice",
      "the printable invoice of a month (one A4 sheet per member), as HTML or PDF (weasyprint)");
  invoice_cmd->add_option("--month", a->month, "YYYY-MM (local)")->required();
  invoice_cmd->add_option("--member", a->member, "only this member (default: every member)");
  invoice_cmd->add_option("--lang", a->lang, "ja or en")->check(CLI::IsMember({"ja", "en"}));
  invoice_cmd->add_option("--format", a->format, "html or pdf")
      ->check(CLI::IsMember({"html", "pdf"}));
  invoice_cmd->add_option("--out", a->out, "file to write (default: standard output)");
  on(invoice_cmd, cli, [a](Context& ctx) {
    require_month(a->month);
    if (a->format != "pdf") a->format = "html";
    return invoice(ctx, *a);
  });

  auto* issue_cmd = statements->add_subcommand(
      "issue",
      "freeze a past month: statement rows, account entries and audit, per member; ends with a "
      "summary; exit 0 when every member that could be issued was, 1 when some were refused");
  issue_cmd->add_option("--month", a->month, "YYYY-MM (local), must have ended")->required();
  issue_cmd->add_option("--member", a->member, "only this member");
  on(issue_cmd, cli, [a](Context& ctx) {
    require_month(a->month);
    return issue(ctx, *a);
  });

  auto* list_cmd = statements->add_subcommand("list", "issued statements");
  list_cmd->add_option("--month", a->month, "YYYY-MM (local)");
  on(list_cmd, cli, [a](Context& ctx) {
    require_month(a->month);
    return list(ctx, *a);
  });
}

}  // namespace labgate::gateway::ctl
