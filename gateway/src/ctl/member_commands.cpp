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

json change_json(const st::MemberChange& c) {
  json changes = json::array();
  for (const auto& f : c.changes) {
    changes.push_back({{"field", f.field},
                       {"from", f.from.empty() ? json(nullptr) : json(f.from)},
                       {"to", f.to.empty() ? json(nullptr) : json(f.to)}});
  }
  return {
      {"member_no", c.after.member_no}, {"changes", changes}, {"plan_from", null_or(c.plan_from)}};
}

std::string change_text(const st::MemberChange& c, std::string_view indent) {
  std::string out;
  for (const auto& f : c.changes) {
    out += fmt::format("{}{}: {} -> {}", indent, f.field, shown(f.from), shown(f.to));
    if (f.field == "plan" && c.plan_from) out += fmt::format(" (from {})", *c.plan_from);
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
    const auto given = [](CLI::Option* o, const std::string& v) {
      return o->count() > 0 ? std::optional<std::string>(v) : std::nullopt;
    };
    st::MemberEdit e;
    e.member_no = a->member_no;
    e.name = given(name, a->name);
    e.email = given(email, a->email);
    e.plan_code = given(plan, a->plan);
    e.plan_from = given(from, a->from);
    e.valid_from = given(valid_from, a->valid_from);
    e.valid_until = given(valid_until, a->valid_until);
    if (!e.name && !e.email && !e.plan_code && !e.valid_from && !e.valid_until) {
      usage_error("nothing to change: give --name, --email, --plan, --valid-from or --valid-until");
    }
    if (e.plan_from && !e.plan_code) usage_error("--from needs --plan (the plan to change to)");
    check_date(e.plan_from.value_or(""), "--from date");
    check_date(e.valid_from.value_or(""), "--valid-from date");
    check_date(e.valid_until.value_or(""), "--valid-until date");
    const auto c = check(ctx.store().members().edit_member(e, ctx.actor()));
    auto lines = change_text(c, "  ");
    lines.pop_back();  // print_one ends the text with its own newline
    print_one(ctx, change_json(c),
              fmt::format("member {} ({}) changed:\n{}", c.after.member_no,
                          text::visible(c.after.name), lines));
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
