// labgatectl: rates, accounts, price list, sales, session review.
//
// Every option value is parsed and checked before the store is touched, so a typo exits 2 with
// one line naming the option and writes nothing.
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "context.hpp"
#include "output.hpp"

namespace labgate::gateway::ctl {

namespace {

using json = nlohmann::ordered_json;
using st::to_json;

constexpr std::string_view kDurationHint = "expected a duration like 90s, 15m, 2h or 1h30m";

[[noreturn]] void bad_duration(const std::string& text, std::string_view option) {
  usage_error(fmt::format("bad {} '{}': {}", option, text, kDurationHint));
}

// Whole seconds from "90s", "15m", "2h", "1h30m" or "0"; usage error naming `option` otherwise.
std::int64_t parse_duration(const std::string& text, std::string_view option) {
  const auto bad = [&]() { bad_duration(text, option); };
  if (text == "0") return 0;
  if (text.empty()) bad();
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) != 0) ++j;
    if (j == i || j == text.size()) bad();
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data() + i, text.data() + j, n);
    if (ec != std::errc() || end != text.data() + j) bad();
    std::int64_t scale = 0;
    switch (text[j]) {
      case 's':
        scale = 1;
        break;
      case 'm':
        scale = 60;
        break;
      case 'h':
        scale = 3600;
        break;
      case 'd':
        scale = 86400;
        break;
      default:
        bad_duration(text, option);
    }
    if (n > std::numeric_limits<std::int64_t>::max() / scale / 4) bad();
    total += n * scale;
    i = j + 1;
  }
  return total;
}

// "15m", "1h30m", "90s" -> "1m30s": how a duration is shown back.
std::string show_duration(std::int64_t s) {
  if (s == 0) return "0";
  std::string out;
  if (s >= 3600) out += fmt::format("{}h", s / 3600);
  if (s % 3600 >= 60) out += fmt::format("{}m", (s % 3600) / 60);
  if (s % 60 != 0) out += fmt::format("{}s", s % 60);
  return out;
}

// Integer yen; a usage error naming `option` for anything else (fractions, units, overflow).
std::int64_t parse_yen(const std::string& text, std::string_view option, bool allow_negative) {
  std::int64_t v = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (!text.empty() && text[0] == '+') ++first;
  const auto [end, ec] = std::from_chars(first, last, v);
  if (text.empty() || ec != std::errc() || end != last || (!allow_negative && v < 0)) {
    usage_error(fmt::format("bad {} '{}': expected a whole number of yen{}", option, text,
                            allow_negative ? " (negative to take money off)" : ""));
  }
  return v;
}

[[noreturn]] void bad_plan_term(const std::string& text) {
  usage_error(fmt::format(
      "bad --plan-term '{}': expected PLAN:DISCOUNT%:INCLUDED_MINUTES, e.g. FULL:10%:60", text));
}

// PLAN:DISCOUNT%:INCLUDED_MIN, e.g. FULL:10%:60.
st::NewRatePlanTerm parse_plan_term(const std::string& text) {
  const auto bad = [&]() { bad_plan_term(text); };
  const auto c1 = text.find(':');
  const auto c2 = c1 == std::string::npos ? c1 : text.find(':', c1 + 1);
  if (c1 == std::string::npos || c2 == std::string::npos || c1 == 0) bad();
  if (text.find(':', c2 + 1) != std::string::npos) bad();
  std::string discount = text.substr(c1 + 1, c2 - c1 - 1);
  if (!discount.empty() && discount.back() == '%') discount.pop_back();
  const std::string included = text.substr(c2 + 1);
  st::NewRatePlanTerm t;
  t.plan_code = text.substr(0, c1);
  const auto number = [&](const std::string& part) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size()) bad();
    return v;
  };
  t.discount_percent = number(discount);
  t.included_minutes = number(included);
  return t;
}

std::string terms_text(const st::Rate& r) {
  std::string out;
  for (const auto& t : r.plan_terms) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}:{}%:{}m", t.plan_code, t.discount_percent, t.included_minutes);
  }
  return out;
}

std::string opt_yen(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : std::string("-");
}

struct Args {
  // rates
  std::string machine, unit, price, idle_price, minimum, grace, daily_cap, from, note, rate_id,
      room, locker;
  bool coworking{false}, history{false};
  std::vector<std::string> plan_terms, drop_plans;
  // accounts, prices, sales
  std::string member, amount, reason, code, name, item_unit{"pcs"}, item, qty{"1"}, tax_class;
  bool day_pass{false}, all{false};
  // session review
  std::string session_id, bill;
  bool waive{false};
};

// "300 per 15m (idle 100, minimum 500, grace 2m, daily cap 3000; plan terms FULL:10%:60m)":
// every term of a rate, so a change can be read before and after.
std::string rate_terms_text(const st::Rate& r) {
  const std::string terms = terms_text(r);
  return fmt::format(
      "{} per {} (idle {}, minimum {}, grace {}, daily cap {}; plan terms {})", r.price_per_unit,
      show_duration(r.unit_seconds), opt_yen(r.idle_price_per_unit), r.minimum_charge,
      show_duration(r.grace_seconds), opt_yen(r.daily_cap), terms.empty() ? "none" : terms);
}

// The rate's span as people date it: "from 2026-12-01 00:00:00" (and "until ..." when it ends).
std::string rate_span(const st::Rate& r, const std::string& tz) {
  std::string out = "from " + format_local(r.effective_from_ms, tz);
  if (r.effective_until_ms) out += " until " + format_local(*r.effective_until_ms, tz);
  return out;
}

// A yen option that may also be "none" (remove the term); absent when not given.
std::optional<std::optional<std::int64_t>> parse_optional_yen(const std::string& text,
                                                              std::string_view option) {
  if (text.empty()) return std::nullopt;
  if (text == "none") return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{parse_yen(text, option, false)};
}

// The options of `rates set` and `rates replace`, parsed and checked before the store is opened
// for writing; what is not given stays absent (the store takes it from the rate amended).
st::RateAmendment parse_amendment(const Args& a, Context& ctx) {
  st::RateAmendment r;
  if (!a.unit.empty()) {
    r.unit_seconds = parse_duration(a.unit, "--unit");
    if (*r.unit_seconds <= 0)
      usage_error(fmt::format("bad --unit '{}': must be longer than 0", a.unit));
  }
  if (!a.price.empty()) r.price_per_unit = parse_yen(a.price, "--price", false);
  r.idle_price_per_unit = parse_optional_yen(a.idle_price, "--idle-price");
  if (!a.minimum.empty()) r.minimum_charge = parse_yen(a.minimum, "--minimum", false);
  if (!a.grace.empty()) r.grace_seconds = parse_duration(a.grace, "--grace");
  r.daily_cap = parse_optional_yen(a.daily_cap, "--daily-cap");
  if (!a.from.empty() && a.from != "now") {
    if (!st::is_valid_date(a.from)) {
      usage_error(fmt::format("bad --from '{}': expected YYYY-MM-DD or now", a.from));
    }
    r.effective_from_ms = local_midnight_ms(a.from, ctx.tz());
  }  // "now" or nothing: the store's clock, read once when it writes
  for (const auto& t : a.plan_terms) r.plan_terms.push_back(parse_plan_term(t));
  r.drop_plans = a.drop_plans;
  if (!a.note.empty()) r.note = a.note;
  return r;
}

void add_term_options(CLI::App* cmd, const std::shared_ptr<Args>& a) {
  cmd->add_option("--unit", a->unit, "billing unit, e.g. 15m (time is rounded up to it)");
  cmd->add_option("--price", a->price, "yen per unit (while busy, with --idle-price)");
  cmd->add_option("--idle-price", a->idle_price,
                  "yen per unit while the busy input is off (machines with one); none removes it");
  cmd->add_option("--minimum", a->minimum, "minimum charge in yen per session");
  cmd->add_option("--grace", a->grace, "sessions this short are free, e.g. 2m");
  cmd->add_option("--daily-cap", a->daily_cap,
                  "most yen per member per day for this target; none removes it");
  cmd->add_option("--plan-term", a->plan_terms,
                  "PLAN:DISCOUNT%:INCLUDED_MIN per plan, e.g. FULL:10%:60 (repeatable; other "
                  "plans keep their terms)");
  cmd->add_option("--drop-plan-term", a->drop_plans, "PLAN whose terms to remove (repeatable)");
  cmd->add_option("--note", a->note, "why the rate changes");
}

// The change record the store (or the daemon) answered, as labgatectl shows it.
void print_change(Context& ctx, const json& record, std::string_view headline) {
  if (ctx.json_output()) {
    std::cout << record.dump(2) << '\n';
    return;
  }
  const auto after = check(st::rate_from_json(record));
  std::cout << fmt::format("{}: rate {} for {} {}: {}\n", headline, after.id, after.target(),
                           rate_span(after, ctx.tz()), rate_terms_text(after));
  if (!record.at("before").is_null()) {
    const auto before = check(st::rate_from_json(record.at("before")));
    std::cout << fmt::format("  before: rate {} {}: {}\n", before.id, rate_span(before, ctx.tz()),
                             rate_terms_text(before));
  } else {
    std::cout << "  before: no rate\n";
  }
  std::cout << fmt::format("  after:  rate {} {}: {}\n", after.id, rate_span(after, ctx.tz()),
                           rate_terms_text(after));
}

// A rate seeded from the config is in force since always: its start says so.
std::string resource_from_text(std::int64_t ms, const std::string& tz) {
  return ms == 0 ? std::string("always") : format_local(ms, tz);
}

// A room's or locker's rate as `rates set` and `rates withdraw` answer with it.
void print_resource_rate(Context& ctx, const json& record, std::string_view verb) {
  const auto integer = [&](const char* key) { return record.value(key, std::int64_t{0}); };
  print_one(ctx, record,
            fmt::format("{} rate {} for {} from {}: {} per {}", verb, integer("id"),
                        record.value("target", ""),
                        resource_from_text(integer("effective_from_ms"), ctx.tz()),
                        integer("price"), record.value("unit", "")));
}

// `rates set --room R` / `--locker L`: only a price, a start and a note make sense there.
int set_resource_rate(Context& ctx, const Args& a) {
  const bool room = !a.room.empty();
  for (const auto& [text, option] : {std::pair<const std::string&, const char*>{a.unit, "--unit"},
                                     {a.idle_price, "--idle-price"},
                                     {a.minimum, "--minimum"},
                                     {a.grace, "--grace"},
                                     {a.daily_cap, "--daily-cap"}}) {
    if (!text.empty())
      usage_error(fmt::format("{} is for machine and coworking rates, not --{}", option,
                              room ? "room" : "locker"));
  }
  if (!a.plan_terms.empty() || !a.drop_plans.empty())
    usage_error("plan terms are for machine and coworking rates");
  if (a.price.empty())
    usage_error(fmt::format("rates set --{} needs --price (yen per {})", room ? "room" : "locker",
                            room ? "hour" : "month"));
  json args{{"kind", room ? "room" : "locker"},
            {"resource", room ? a.room : a.locker},
            {"price", parse_yen(a.price, "--price", false)},
            {"note", a.note}};
  if (!a.from.empty() && a.from != "now") {
    if (!st::is_valid_date(a.from))
      usage_error(fmt::format("bad --from '{}': expected YYYY-MM-DD or now", a.from));
    args["effective_from_ms"] = local_midnight_ms(a.from, ctx.tz());
  }
  print_resource_rate(ctx, ctx.change("resource_rate.set", args), "set:");
  return kExitOk;
}

void build_rates(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* rates = app.add_subcommand("rates", "prices of machine and coworking time");
  rates->require_subcommand(1);
  auto* set = rates->add_subcommand(
      "set",
      "a new rate from a date (the current one ends there; sessions keep their rate); terms not "
      "given are those of the rate in force then");
  auto* machine = set->add_option("--machine", a->machine, "machine id");
  auto* coworking = set->add_flag("--coworking", a->coworking, "the rate for coworking time");
  auto* room = set->add_option("--room", a->room, "a meeting room: --price is yen per hour");
  auto* locker = set->add_option("--locker", a->locker, "a locker: --price is yen per month");
  machine->excludes(coworking);
  room->excludes(machine)->excludes(coworking)->excludes(locker);
  locker->excludes(machine)->excludes(coworking);
  add_term_options(set, a);
  set->add_option("--from", a->from, "YYYY-MM-DD (local midnight) or now (default)");
  on(set, cli, [a](Context& ctx) {
    if (!a->room.empty() || !a->locker.empty()) return set_resource_rate(ctx, *a);
    if (a->machine.empty() && !a->coworking)
      usage_error("rates set needs --machine M, --coworking, --room R or --locker L");
    st::RateAmendment r = parse_amendment(*a, ctx);
    r.kind = a->coworking ? st::SessionKind::kCoworking : st::SessionKind::kMachine;
    if (!a->coworking) r.machine_id = a->machine;
    // Through the daemon when it runs, so the change records the caller's OS user.
    print_change(ctx, ctx.change("rate.set", st::to_json(r)), "set");
    return kExitOk;
  });
  auto* replace = rates->add_subcommand(
      "replace", "correct a rate that has not started yet (terms not given stay as they are)");
  replace->add_option("--id", a->rate_id, "rate id (rates list)")->required();
  add_term_options(replace, a);
  replace->add_option("--from", a->from, "YYYY-MM-DD (local midnight): move its start");
  on(replace, cli, [a](Context& ctx) {
    const auto id = parse_count(a->rate_id, "--id");
    if (a->from == "now") usage_error("bad --from 'now': a replaced rate starts on a date");
    auto args = st::to_json(parse_amendment(*a, ctx));
    args["id"] = id;
    print_change(ctx, ctx.change("rate.replace", args), "replaced");
    return kExitOk;
  });
  auto* withdraw = rates->add_subcommand(
      "withdraw", "remove a rate that has not started yet (the rate before it stays in force)");
  withdraw->add_option("--id", a->rate_id, "rate id (rates list)")->required();
  // Rooms' and lockers' rates number on their own (rates list): the resource names which.
  auto* withdraw_room = withdraw->add_option("--room", a->room, "the rate is a meeting room's");
  withdraw->add_option("--locker", a->locker, "the rate is a locker's")->excludes(withdraw_room);
  on(withdraw, cli, [a](Context& ctx) {
    const auto id = parse_count(a->rate_id, "--id");
    if (!a->room.empty() || !a->locker.empty()) {
      const bool is_room = !a->room.empty();
      const auto record =
          ctx.change("resource_rate.withdraw", {{"kind", is_room ? "room" : "locker"},
                                                {"resource", is_room ? a->room : a->locker},
                                                {"id", id}});
      print_resource_rate(ctx, record, "withdrew");
      return kExitOk;
    }
    const auto record = ctx.change("rate.withdraw", {{"id", id}});
    const auto r = check(st::rate_from_json(record));
    print_one(ctx, record,
              fmt::format("withdrew rate {} for {} {}: {}", r.id, r.target(),
                          rate_span(r, ctx.tz()), rate_terms_text(r)));
    return kExitOk;
  });
  auto* list = rates->add_subcommand("list", "rates in force and coming (all with --history)");
  list->add_option("--target", a->machine, "a machine id, coworking, room:R or locker:L");
  list->add_flag("--history", a->history, "also the rates that ended");
  on(list, cli, [a](Context& ctx) {
    // Rooms' and lockers' rates after the machines' (their own table: a price per hour or month).
    const auto colon = a->machine.find(':');
    const std::string kind = colon == std::string::npos ? "" : a->machine.substr(0, colon);
    const bool resource_target = kind == "room" || kind == "locker";
    std::vector<st::Rate> rows;
    if (!resource_target) {
      rows = check(ctx.store().ledger().list_rates(opt_text(a->machine), a->history));
    }
    std::vector<st::ResourceRate> others;
    if (a->machine.empty() || resource_target) {
      for (auto& r : check(ctx.store().bookings().resource_rates(opt_text(kind), a->history))) {
        if (!resource_target || r.target() == a->machine) others.push_back(std::move(r));
      }
    }
    if (ctx.json_output()) {
      json out = json::array();
      for (const auto& r : rows) out.push_back(to_json(r));
      for (const auto& r : others) out.push_back(to_json(r));
      std::cout << out.dump(2) << '\n';
      return kExitOk;
    }
    const auto print_others = [&] {
      Table t({"ID", "TARGET", "FROM", "UNTIL", "PRICE", "PER", "NOTE", "BY"});
      for (const auto& r : others) {
        t.add({std::to_string(r.id), r.target(), resource_from_text(r.effective_from_ms, ctx.tz()),
               format_local(r.effective_until_ms, ctx.tz()), std::to_string(r.price),
               r.kind == "room" ? "hour" : "month", r.note, r.created_by});
      }
      t.print(std::cout);
    };
    if (resource_target) {
      print_others();
      return kExitOk;
    }
    Table t({"ID", "TARGET", "FROM", "UNTIL", "UNIT", "PRICE", "IDLE", "MINIMUM", "GRACE", "CAP",
             "PLAN TERMS", "NOTE"});
    for (const auto& r : rows) {
      t.add({std::to_string(r.id), r.target(), format_local(r.effective_from_ms, ctx.tz()),
             format_local(r.effective_until_ms, ctx.tz()), show_duration(r.unit_seconds),
             std::to_string(r.price_per_unit), opt_yen(r.idle_price_per_unit),
             std::to_string(r.minimum_charge), show_duration(r.grace_seconds), opt_yen(r.daily_cap),
             terms_text(r), r.note});
    }
    t.print(std::cout);
    if (!others.empty()) {
      std::cout << '\n';
      print_others();
    }
    return kExitOk;
  });
}

void build_accounts(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* accounts = app.add_subcommand("accounts", "members' prepaid balance and credit limit");
  accounts->require_subcommand(1);
  auto* topup = accounts->add_subcommand("topup", "add money to a member's balance");
  topup->add_option("--member", a->member, "member number")->required();
  topup->add_option("--amount", a->amount, "yen, positive")->required();
  topup->add_option("--note", a->note, "receipt number, payment method...");
  on(topup, cli, [a](Context& ctx) {
    const auto yen = parse_yen(a->amount, "--amount", false);
    if (yen == 0) usage_error("bad --amount '0': a top-up must be positive");
    auto e =
        ctx.change("account.topup", {{"member_no", a->member}, {"amount", yen}, {"note", a->note}});
    print_one(
        ctx, e,
        fmt::format("topped up {} yen for {}", e.value("amount", std::int64_t{0}), a->member));
    return kExitOk;
  });
  auto* adjust = accounts->add_subcommand("adjust", "correct a member's balance, with a reason");
  adjust->add_option("--member", a->member, "member number")->required();
  adjust->add_option("--amount", a->amount, "yen, negative to take money off")->required();
  adjust->add_option("--reason", a->reason, "why")->required();
  on(adjust, cli, [a](Context& ctx) {
    const auto yen = parse_yen(a->amount, "--amount", true);
    if (yen == 0) usage_error("bad --amount '0': an adjustment of 0 changes nothing");
    auto e = ctx.change("account.adjust",
                        {{"member_no", a->member}, {"amount", yen}, {"reason", a->reason}});
    print_one(ctx, e,
              fmt::format("adjusted {} by {:+} yen: {}", a->member,
                          e.value("amount", std::int64_t{0}), a->reason));
    return kExitOk;
  });
  auto* limit = accounts->add_subcommand("credit-limit", "how far below zero a member may go");
  limit->add_option("--member", a->member, "member number")->required();
  limit->add_option("--amount", a->amount, "yen, 0 for prepaid only")->required();
  on(limit, cli, [a](Context& ctx) {
    const auto yen = parse_yen(a->amount, "--amount", false);
    auto acct = ctx.change("account.credit_limit", {{"member_no", a->member}, {"amount", yen}});
    print_one(ctx, acct,
              fmt::format("credit limit of {} is {} yen (balance {})",
                          acct.value("member_no", std::string()),
                          acct.value("credit_limit", std::int64_t{0}),
                          acct.value("balance", std::int64_t{0})));
    return kExitOk;
  });
  auto* show = accounts->add_subcommand("show", "balance, credit limit and entries");
  show->add_option("--member", a->member, "member number")->required();
  on(show, cli, [a](Context& ctx) {
    auto acct = check(ctx.store().ledger().account(a->member));
    if (ctx.json_output()) {
      std::cout << to_json(acct).dump(2) << '\n';
      return kExitOk;
    }
    std::cout << fmt::format("{}: balance {} yen, credit limit {} yen, available {} yen\n",
                             acct.member_no, acct.balance, acct.credit_limit,
                             acct.balance + acct.credit_limit);
    Table t({"ID", "TIME", "KIND", "AMOUNT", "REFERENCE", "BY"});
    for (const auto& e : acct.entries) {
      t.add({std::to_string(e.id), format_local(e.at_ms, ctx.tz()), e.kind,
             fmt::format("{:+}", e.amount), e.reference, e.actor});
    }
    t.print(std::cout);
    return kExitOk;
  });
}

void build_prices(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* prices = app.add_subcommand("prices", "the price list of materials and passes");
  prices->require_subcommand(1);
  auto* set =
      prices->add_subcommand("set", "add an item or change it (past sales keep their price)");
  set->add_option("--code", a->code, "item code, e.g. ACR3")->required();
  set->add_option("--name", a->name, "item name")->required();
  set->add_option("--price", a->price, "yen per unit")->required();
  set->add_option("--unit", a->item_unit, "unit sold, e.g. sheet, g, pcs (default pcs)");
  set->add_flag("--day-pass", a->day_pass, "buying it makes that day's coworking free");
  set->add_option("--tax", a->tax_class,
                  "consumption tax class: standard (10 %), reduced (8 %) or exempt (default: "
                  "the item's class so far, standard for a new item)")
      ->check(CLI::IsMember({"standard", "reduced", "exempt"}));
  on(set, cli, [a](Context& ctx) {
    const auto price = parse_yen(a->price, "--price", false);
    nlohmann::json args{{"code", a->code},
                        {"name", a->name},
                        {"unit", a->item_unit},
                        {"price", price},
                        {"day_pass", a->day_pass}};
    if (!a->tax_class.empty()) args["tax_class"] = a->tax_class;
    auto p = ctx.change("price.set", args);
    print_one(
        ctx, p,
        fmt::format("{} ({}): {} yen per {}{}, tax {}", p.value("code", std::string()),
                    p.value("name", std::string()), p.value("price", std::int64_t{0}),
                    p.value("unit", std::string()), p.value("day_pass", false) ? ", day pass" : "",
                    p.value("tax_class", std::string("standard"))));
    return kExitOk;
  });
  auto* list = prices->add_subcommand("list", "the items on sale (all with --all)");
  list->add_flag("--all", a->all, "also inactive items");
  on(list, cli, [a](Context& ctx) {
    auto rows = check(ctx.store().ledger().list_price_items(a->all));
    if (ctx.json_output()) {
      json out = json::array();
      for (const auto& p : rows) out.push_back(to_json(p));
      std::cout << out.dump(2) << '\n';
      return kExitOk;
    }
    Table t({"CODE", "NAME", "UNIT", "PRICE", "DAY PASS", "ACTIVE", "TAX"});
    for (const auto& p : rows) {
      t.add({p.code, p.name, p.unit, std::to_string(p.price), p.day_pass ? "yes" : "no",
             p.active ? "yes" : "no", p.tax_class});
    }
    t.print(std::cout);
    return kExitOk;
  });
  auto* deactivate = prices->add_subcommand("deactivate", "take an item off sale");
  deactivate->add_option("--code", a->code, "item code")->required();
  on(deactivate, cli, [a](Context& ctx) {
    auto p = ctx.change("price.deactivate", {{"code", a->code}});
    print_one(ctx, p,
              fmt::format("{} ({}) is no longer sold", p.value("code", std::string()),
                          p.value("name", std::string())));
    return kExitOk;
  });

  auto* sell = app.add_subcommand("sell", "sell a price-list item to a member");
  sell->add_option("--member", a->member, "member number")->required();
  sell->add_option("--item", a->item, "item code")->required();
  sell->add_option("--qty", a->qty, "quantity (default 1)");
  sell->add_option("--note", a->note, "what it was for");
  on(sell, cli, [a](Context& ctx) {
    const auto qty = parse_count(a->qty, "--qty");
    if (qty <= 0) usage_error(fmt::format("bad --qty '{}': must be at least 1", a->qty));
    auto s = ctx.change(
        "sale.add",
        {{"member_no", a->member}, {"item", a->item}, {"quantity", qty}, {"note", a->note}});
    print_one(
        ctx, s,
        fmt::format("sold {} x {} to {} at {} yen = {} yen (sale {})",
                    s.value("quantity", std::int64_t{0}), s.value("item", std::string()),
                    s.value("member_no", std::string()), s.value("unit_price", std::int64_t{0}),
                    s.value("amount", std::int64_t{0}), s.value("id", std::int64_t{0})));
    return kExitOk;
  });
}

void build_review(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  // `sessions` (list) is declared with the history commands; review belongs to billing.
  CLI::App* sessions = nullptr;
  try {
    sessions = app.get_subcommand("sessions");
  } catch (const CLI::OptionNotFound&) {
    sessions = app.add_subcommand("sessions", "machine and coworking sessions");
    sessions->require_subcommand(1);
  }
  auto* held = sessions->add_subcommand("held", "sessions over 24 h waiting for a review");
  on(held, cli, [](Context& ctx) {
    auto rows = check(ctx.store().ledger().list_held_sessions());
    if (ctx.json_output()) {
      json out = json::array();
      for (const auto& s : rows) {
        out.push_back(
            {{"id", s.id},
             {"kind", st::to_string(s.kind)},
             {"member_no", s.member_no.value_or("")},
             {"machine_id", s.machine_id ? json(*s.machine_id) : json(nullptr)},
             {"started_at", format_utc(s.started_at_ms)},
             {"ended_at", format_utc(s.ended_at_ms.value_or(s.started_at_ms))},
             {"seconds", (s.ended_at_ms.value_or(s.started_at_ms) - s.started_at_ms) / 1000},
             {"end_reason", s.end_reason.value_or("")}});
      }
      std::cout << out.dump(2) << '\n';
      return kExitOk;
    }
    Table t({"ID", "KIND", "MEMBER", "MACHINE", "STARTED", "ENDED", "LENGTH", "END REASON"});
    for (const auto& s : rows) {
      const auto seconds = (s.ended_at_ms.value_or(s.started_at_ms) - s.started_at_ms) / 1000;
      t.add({std::to_string(s.id), st::to_string(s.kind), s.member_no.value_or(""),
             s.machine_id.value_or(""), format_local(s.started_at_ms, ctx.tz()),
             format_local(s.ended_at_ms, ctx.tz()), show_duration(seconds),
             s.end_reason.value_or("")});
    }
    t.print(std::cout);
    return kExitOk;
  });
  auto* review = sessions->add_subcommand("review", "decide what a held session bills");
  review->add_option("--id", a->session_id, "session id")->required();
  auto* bill = review->add_option("--bill", a->bill, "time to bill, e.g. 3h or 2h30m");
  auto* waive = review->add_flag("--waive", a->waive, "bill nothing");
  bill->excludes(waive);
  review->add_option("--note", a->note, "why");
  on(review, cli, [a](Context& ctx) {
    const auto id = parse_count(a->session_id, "--id");
    if (a->bill.empty() && !a->waive)
      usage_error("sessions review needs --bill DURATION or --waive");
    const std::int64_t seconds = a->waive ? 0 : parse_duration(a->bill, "--bill");
    auto r = ctx.change("session.review",
                        {{"session_id", id}, {"billed_seconds", seconds}, {"note", a->note}});
    const auto billed = r.value("billed_seconds", std::int64_t{0});
    const auto reviewer = r.value("reviewer", std::string());
    print_one(ctx, r,
              billed == 0 ? fmt::format("session {} waived by {}", id, reviewer)
                          : fmt::format("session {} bills {} (reviewed by {})", id,
                                        show_duration(billed), reviewer));
    return kExitOk;
  });
}

}  // namespace

void build_billing(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<Args>();
  build_rates(app, cli, args);
  build_accounts(app, cli, args);
  build_prices(app, cli, args);
  build_review(app, cli, args);
}

}  // namespace labgate::gateway::ctl
