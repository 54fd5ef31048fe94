// labgatectl: members edit and members plan-history. The checks live in store::MemberRegistry;
// this file only reads options and prints.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "context.hpp"
#include "labgate/gateway/text/text.hpp"
#include "member_output.hpp"
#include "output.hpp"

namespace labgate::gateway::ctl {

namespace {

using json = nlohmann::ordered_json;

struct EditArgs {
  std::string member_no, name, email, plan, from, valid_from, valid_until;
};

std::string shown(const std::string& value) {
  return value.empty() ? "(none)" : text::visible(value);
}

}  // namespace

std::string change_text(const json& c, std::string_view indent) {
  const auto text_of = [](const json& v) { return v.is_string() ? v.get<std::string>() : ""; };
  std::string out;
  for (const auto& f : c.at("changes")) {
    const auto field = text_of(f.at("field"));
    out += fmt::format("{}{}: {} -> {}", indent, field, shown(text_of(f.at("from"))),
                       shown(text_of(f.at("to"))));
    if (field == "plan" && c.at("plan_from").is_string())
      out += fmt::format(" (from {})", text_of(c.at("plan_from")));
    out += '\n';
  }
  return out;
}

void build_member_edits(CLI::App& app, Cli& cli) {
  auto* members = app.get_subcommand("members");
  auto a = std::make_shared<EditArgs>();
  auto* edit = members->add_subcommand(
      "edit", "correct a member's name, e-mail, plan or validity dates (audited, old and new)");
  edit->add_option("--no", a->member_no, "member number")->required();
  auto* name = edit->add_option("--name", a->name, "full name");
  auto* email = edit->add_option("--email", a->email, "e-mail address (\"\" removes it)");
  auto* plan = edit->add_option("--plan", a->plan, "plan code (\"\" removes the plan)");
  auto* from = edit->add_option("--from", a->from,
                                "day the plan change applies from, YYYY-MM-DD, today or earlier "
                                "(default today); earlier sessions keep the old plan");
  auto* valid_from =
      edit->add_option("--valid-from", a->valid_from, "first valid day, YYYY-MM-DD (\"\" removes)");
  auto* valid_until = edit->add_option("--valid-until", a->valid_until,
                                       "last valid day, YYYY-MM-DD (\"\" removes)");
  on(edit, cli, [=](Context& ctx) {
    json args{{"member_no", a->member_no}};
    const auto give = [&args](CLI::Option* o, const char* key, const std::string& v) {
      if (o->count() > 0) args[key] = v;
    };
    give(name, "name", a->name);
    give(email, "email", a->email);
    give(plan, "plan", a->plan);
    give(from, "plan_from", a->from);
    give(valid_from, "valid_from", a->valid_from);
    give(valid_until, "valid_until", a->valid_until);
    if (args.size() == 1) {
      usage_error("nothing to change: give --name, --email, --plan, --valid-from or --valid-until");
    }
    if (from->count() > 0 && plan->count() == 0)
      usage_error("--from needs --plan (the plan to change to)");
    check_date(from->count() > 0 ? a->from : "", "--from date");
    check_date(valid_from->count() > 0 ? a->valid_from : "", "--valid-from date");
    check_date(valid_until->count() > 0 ? a->valid_until : "", "--valid-until date");
    // Through the daemon when it runs, so the change records the caller's OS user.
    const auto c = ctx.change("member.edit", args);
    auto lines = change_text(c, "  ");
    lines.pop_back();  // print_one ends the text with its own newline
    print_one(ctx, c,
              fmt::format("member {} ({}) changed:\n{}", c.at("member_no").get<std::string>(),
                          text::visible(c.at("name").get<std::string>()), lines));
    return kExitOk;
  });

  auto hist_no = std::make_shared<std::string>();
  auto* hist = members->add_subcommand("plan-history", "a member's plans over time");
  hist->add_option("--no", *hist_no, "member number")->required();
  on(hist, cli, [hist_no](Context& ctx) {
    const auto rows = check(ctx.store().members().plan_history(*hist_no));
    if (ctx.json_output()) {
      json out = json::array();
      for (const auto& p : rows) {
        out.push_back({{"plan", p.plan_code.empty() ? json(nullptr) : json(p.plan_code)},
                       {"effective_from", null_or(p.effective_from)},
                       {"changed_at", format_utc(p.changed_at_ms)}});
      }
      std::cout << out.dump(2) << '\n';
      return kExitOk;
    }
    Table t({"FROM", "PLAN", "CHANGED"});
    for (const auto& p : rows) {
      t.add({p.effective_from.value_or("(registration)"), shown(p.plan_code),
             format_local(p.changed_at_ms, ctx.tz())});
    }
    t.print(std::cout);
    return kExitOk;
  });
}

}  // namespace labgate::gateway::ctl
