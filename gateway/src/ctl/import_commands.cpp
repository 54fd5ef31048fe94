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
#include "labgate/gateway/store/import.hpp"

namespace labgate::gateway::ctl {

namespace {

// A roster of the whole centre is a few MB at most; a bigger file is a wrong path, not a roster.
constexpr std::uintmax_t kMaxRosterBytes = 64u * 1024u * 1024u;

struct ImportArgs {
  std::string file;
  bool dry_run{false};
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
[[noreturn]] void refuse(const std::string& file, const std::vector<st::ImportIssue>& issues) {
  std::set<std::int64_t> lines;
  for (const auto& issue : issues) {
    std::cerr << st::format_issue(file, issue) << '\n';
    if (issue.line > 0) lines.insert(issue.line);
  }
  if (lines.empty()) throw Failure{kExitRefused, "nothing imported"};
  throw Failure{kExitRefused, fmt::format("nothing imported: {} bad row{}", lines.size(),
                                          lines.size() == 1 ? "" : "s")};
}

int run_import(Context& ctx, const ImportArgs& a) {
  const auto bytes = read_roster(a.file);
  auto& store = ctx.store();
  std::set<std::string, std::less<>> plans;
  for (const auto& p : check(store.staff().list_plans())) plans.insert(p.code);
  st::RosterLookup lookup;
  lookup.plan_exists = [&plans](std::string_view code) { return plans.count(code) > 0; };
  lookup.member_exists = [&store](std::string_view no) {
    return check(store.taps().member_by_no(no)).has_value();
  };
  const auto roster = st::parse_roster(bytes, lookup);
  if (!roster.issues.empty()) refuse(a.file, roster.issues);

  st::ImportOptions options;
  options.source = std::filesystem::path(a.file).filename().string();
  options.sha256 = roster.sha256;
  options.dry_run = a.dry_run;
  const auto result = check(store.staff().import_members(roster.rows, options, ctx.actor()));
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
  import_cmd->add_flag("--dry-run", a->dry_run, "check everything and report; write nothing");
  on(import_cmd, cli, [a](Context& ctx) { return run_import(ctx, *a); });
}

}  // namespace labgate::gateway::ctl
