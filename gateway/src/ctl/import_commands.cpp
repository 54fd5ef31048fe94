// labgatectl: members import from CSV.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "commands.hpp"
#include "context.hpp"
#include "labgate/gateway/store/changes.hpp"
#include "labgate/gateway/store/import.hpp"
#include "member_output.hpp"

namespace labgate::gateway::ctl {

namespace {

// A roster of the whole centre is a few MB at most; a bigger file is a wrong path, not a roster.
constexpr std::uintmax_t kMaxRosterBytes = 64u * 1024u * 1024u;

struct ImportArgs {
  std::string file;
  std::string from;
  bool dry_run{false};
  bool update{false};
};

std::string read_roster(const std::string& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(file, ec);
  if (ec || !fs::exists(status)) usage_error(fmt::format("cannot read '{}': no such file", file));
  if (!fs::is_regular_file(status)) usage_error(fmt::format("cannot read '{}': not a file", file));
  const auto size = fs::file_size(file, ec);
  if (!ec && size > kMaxRosterBytes) {
    throw Failure{kExitRefused, fmt::format("nothing imported: '{}' is {} bytes, more than a "
                                            "roster's {} MiB limit",
                                            file, size, kMaxRosterBytes / (1024 * 1024))};
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) usage_error(fmt::format("cannot read '{}': permission denied or unreadable", file));
  std::string bytes{std::istreambuf_iterator<char>(in), {}};
  if (in.bad()) usage_error(fmt::format("cannot read '{}': read error", file));
  return bytes;
}

// Prints every issue, compiler style, and refuses the whole file.
[[noreturn]] void refuse(const std::string& file, const std::vector<st::ImportIssue>& issues,
                         std::string_view outcome = "nothing imported") {
  std::set<std::int64_t> lines;
  for (const auto& issue : issues) {
    std::cerr << st::format_issue(file, issue) << '\n';
    if (issue.line > 0) lines.insert(issue.line);
  }
  if (lines.empty()) throw Failure{kExitRefused, std::string(outcome)};
  throw Failure{kExitRefused, fmt::format("{}: {} bad row{}", outcome, lines.size(),
                                          lines.size() == 1 ? "" : "s")};
}

// --update: the roster's rows change existing members; every change is listed, old -> new.
int run_update(Context& ctx, const ImportArgs& a, const std::string& bytes,
               const st::RosterLookup& lookup) {
  const auto roster = st::parse_roster(bytes, lookup);
  if (!roster.issues.empty()) refuse(a.file, roster.issues, "nothing updated");
  st::RosterUpdateOptions options;
  options.source = std::filesystem::path(a.file).filename().string();
  options.sha256 = roster.sha256;
  options.plan_from = opt_text(a.from);
  options.dry_run = a.dry_run;
  const auto result = check(ctx.store().members().update_members(
      roster.rows, options, ctx.actor(st::Permission::kMembers)));
  if (!result.issues.empty()) refuse(a.file, result.issues, "nothing updated");

  const auto changed = static_cast<std::int64_t>(result.changed.size());
  if (ctx.json_output()) {
    nlohmann::ordered_json changes = nlohmann::ordered_json::array();
    for (const auto& c : result.changed) changes.push_back(st::to_json(c));
    std::cout << nlohmann::ordered_json{{"file", a.file},
                                        {"sha256", roster.sha256},
                                        {"dry_run", a.dry_run},
                                        {"updated", a.dry_run ? 0 : changed},
                                        {"would_update", changed},
                                        {"unchanged", result.unchanged},
                                        {"changes", changes}}
                     .dump(2)
              << '\n';
    return kExitOk;
  }
  for (const auto& c : result.changed) {
    std::cout << c.after.member_no << ":\n" << change_text(st::to_json(c), "  ");
  }
  const auto count = fmt::format("{} member{}", changed, changed == 1 ? "" : "s");
  if (a.dry_run) {
    std::cout << fmt::format(
        "would update {} from {} ({} unchanged); nothing written (--dry-run)\n", count, a.file,
        result.unchanged);
  } else {
    std::cout << fmt::format("updated {} from {} ({} unchanged)\n", count, a.file,
                             result.unchanged);
  }
  return kExitOk;
}

int run_import(Context& ctx, const ImportArgs& a) {
  if (!a.from.empty() && !a.update) usage_error("--from applies to --update (plan changes)");
  check_date(a.from, "--from date");
  const auto bytes = read_roster(a.file);
  auto& store = ctx.store();
  std::set<std::string, std::less<>> plans;
  for (const auto& p : check(store.staff().list_plans())) plans.insert(p.code);
  st::RosterLookup lookup;
  lookup.plan_exists = [&plans](std::string_view code) { return plans.count(code) > 0; };
  if (a.update) return run_update(ctx, a, bytes, lookup);
  lookup.member_exists = [&store](std::string_view no) {
    return check(store.taps().member_by_no(no)).has_value();
  };
  const auto roster = st::parse_roster(bytes, lookup);
  if (!roster.issues.empty()) refuse(a.file, roster.issues);

  st::ImportOptions options;
  options.source = std::filesystem::path(a.file).filename().string();
  options.sha256 = roster.sha256;
  options.dry_run = a.dry_run;
  const auto result = check(
      store.staff().import_members(roster.rows, options, ctx.actor(st::Permission::kMembers)));
  if (!result.issues.empty()) refuse(a.file, result.issues);

  if (ctx.json_output()) {
    std::cout << nlohmann::json{{"file", a.file},
                                {"sha256", roster.sha256},
                                {"dry_run", a.dry_run},
                                {"imported", a.dry_run ? 0 : result.imported},
                                {"would_import", result.imported},
                                {"active", result.active},
                                {"pending", result.imported - result.active}}
                     .dump(2)
              << '\n';
    return kExitOk;
  }
  const auto count = fmt::format("{} member{}", result.imported, result.imported == 1 ? "" : "s");
  const auto split =
      fmt::format("{} active, {} pending", result.active, result.imported - result.active);
  if (a.dry_run) {
    std::cout << fmt::format("would import {} from {} ({}); nothing written (--dry-run)\n", count,
                             a.file, split);
  } else {
    std::cout << fmt::format("imported {} from {} ({})\n", count, a.file, split);
  }
  return kExitOk;
}

}  // namespace

void build_import(CLI::App& app, Cli& cli) {
  auto* members = app.get_subcommand("members");
  auto a = std::make_shared<ImportArgs>();
  auto* import_cmd = members->add_subcommand(
      "import", "import members from a roster CSV (UTF-8): all rows, or none if any row is bad");
  import_cmd
      ->add_option("FILE", a->file,
                   "CSV with a header naming its columns: member_no, name (required), email, "
                   "plan, valid_from, valid_until, status (pending|active), credit_limit (yen)")
      ->required();
  import_cmd->add_flag("--dry-run", a->dry_run,
                       "check everything and report (with --update: every change); write nothing");
  import_cmd->add_flag("--update", a->update,
                       "change existing members to what the roster says (blank cells leave a "
                       "field as it is); every row must name an existing member");
  import_cmd->add_option("--from", a->from,
                         "with --update: day plan changes apply from, YYYY-MM-DD (default today)");
  on(import_cmd, cli, [a](Context& ctx) { return run_import(ctx, *a); });
}

}  // namespace labgate::gateway::ctl
