// `bookings add|list|cancel` and `lockers lend|return|list` (docs/BOOKINGS.md). Changes go
// through Context::change (the daemon's admin channel or the file, with the real actor); lists
// read the store.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "context.hpp"
#include "output.hpp"

namespace labgate::gateway::ctl {

namespace {

struct BookingArgs {
  std::string room;
  std::string member;
  std::string start;
  std::string end;
  std::vector<std::string> guests;
  std::string note;
  std::string from;
  std::string to;
  std::string locker;
  std::string until;
  std::int64_t id{0};
  bool all{false};
};

std::string when(const nlohmann::ordered_json& b, const char* key, const std::string& tz) {
  return format_local(b.at(key).get<std::int64_t>(), tz).substr(0, 16);
}

std::string booking_line(const nlohmann::ordered_json& b, const std::string& tz) {
  return fmt::format("booking {} of {} for {}: {} - {} ({})", b.at("id").get<std::int64_t>(),
                     b.at("room").get<std::string>(), b.at("member_no").get<std::string>(),
                     when(b, "start_ms", tz), when(b, "end_ms", tz).substr(11),
                     b.at("state").get<std::string>());
}

}  // namespace

void build_bookings(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<BookingArgs>();
  auto* bookings = app.add_subcommand("bookings", "meeting-room bookings: add, list, cancel");
  bookings->require_subcommand(1);
  auto* add = bookings->add_subcommand("add", "book a room for a member (and named guests)");
  add->add_option("--room", a->room, "room id")->required();
  add->add_option("--member", a->member, "member number of the booker")->required();
  add->add_option("--start", a->start, "start, YYYY-MM-DDTHH:MM site time")->required();
  add->add_option("--end", a->end, "end, YYYY-MM-DDTHH:MM site time")->required();
  add->add_option("--guest", a->guests, "member number of a guest (repeat for each)");
  add->add_option("--note", a->note, "note");
  on(add, cli, [a](Context& ctx) {
    auto b = ctx.change("booking.add", {{"room", a->room},
                                        {"member_no", a->member},
                                        {"start", a->start},
                                        {"end", a->end},
                                        {"guests", a->guests},
                                        {"note", a->note}});
    print_one(ctx, b, booking_line(b, ctx.tz()));
    return kExitOk;
  });
  auto* cancel = bookings->add_subcommand("cancel", "cancel a booking before its start");
  cancel->add_option("--id", a->id, "booking id")->required();
  on(cancel, cli, [a](Context& ctx) {
    auto b = ctx.change("booking.cancel", {{"id", a->id}});
    print_one(ctx, b, booking_line(b, ctx.tz()));
    return kExitOk;
  });
  auto* list = bookings->add_subcommand("list", "list bookings");
  list->add_option("--room", a->room, "room id");
  list->add_option("--member", a->member, "member number (booker or guest)");
  list->add_option("--from", a->from, "first day, YYYY-MM-DD (default today)");
  list->add_option("--to", a->to, "last day, YYYY-MM-DD (inclusive)");
  list->add_flag("--all", a->all, "include cancelled bookings");
  on(list, cli, [a](Context& ctx) {
    st::BookingFilter f;
    if (!a->room.empty()) f.room_id = a->room;
    if (!a->member.empty()) f.member_no = a->member;
    f.from_ms = local_midnight_ms(a->from.empty() ? ctx.store().today() : a->from, ctx.tz());
    if (!a->to.empty()) f.to_ms = local_midnight_ms(st::add_days(a->to, 1), ctx.tz());
    f.include_cancelled = a->all;
    auto rows = check(ctx.store().bookings().list(f));
    if (ctx.json_output()) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& b : rows) out.push_back(st::to_json(b));
      std::cout << out.dump(2) << '\n';
      return kExitOk;
    }
    Table t({"id", "room", "member", "start", "end", "guests", "state"});
    for (const auto& b : rows) {
      std::string guests;
      for (const auto& g : b.guests) guests += (guests.empty() ? "" : " ") + g;
      t.add({std::to_string(b.id), b.room_id, b.member_no,
             format_local(b.start_ms, ctx.tz()).substr(0, 16),
             format_local(b.end_ms, ctx.tz()).substr(0, 16), guests, b.state});
    }
    t.print(std::cout);
    return kExitOk;
  });

  auto* lockers = app.add_subcommand("lockers", "lockers: lend, return, list");
  lockers->require_subcommand(1);
  auto* lend = lockers->add_subcommand("lend", "lend a free locker to a member for a period");
  lend->add_option("--locker", a->locker, "locker id")->required();
  lend->add_option("--member", a->member, "member number")->required();
  lend->add_option("--from", a->from, "first day, YYYY-MM-DD (default today)");
  lend->add_option("--until", a->until, "last day, YYYY-MM-DD (inclusive)")->required();
  on(lend, cli, [a](Context& ctx) {
    auto l =
        ctx.change("locker.lend",
                   {{"locker", a->locker},
                    {"member_no", a->member},
                    {"from", a->from.empty() ? nlohmann::json(nullptr) : nlohmann::json(a->from)},
                    {"until", a->until}});
    print_one(ctx, l,
              fmt::format("locker {} lent to {} from {} until {}", a->locker, a->member,
                          l.at("from").get<std::string>(), l.at("until").get<std::string>()));
    return kExitOk;
  });
  auto* give_back = lockers->add_subcommand("return", "take a lent locker back");
  give_back->add_option("--locker", a->locker, "locker id")->required();
  on(give_back, cli, [a](Context& ctx) {
    auto l = ctx.change("locker.return", {{"locker", a->locker}});
    print_one(
        ctx, l,
        fmt::format("locker {} returned by {}", a->locker, l.at("member_no").get<std::string>()));
    return kExitOk;
  });
  auto* llist = lockers->add_subcommand("list", "the locker map: free, lent, overdue");
  on(llist, cli, [](Context& ctx) {
    auto rows = check(ctx.store().bookings().lockers());
    if (ctx.json_output()) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& l : rows) out.push_back(st::to_json(l));
      std::cout << out.dump(2) << '\n';
      return kExitOk;
    }
    Table t({"locker", "name", "state", "member", "from", "until"});
    for (const auto& l : rows) {
      const std::string state = !l.loan ? "free" : l.overdue ? "overdue" : "lent";
      t.add({l.locker.id, l.locker.name, state, l.loan ? l.loan->member_no : "",
             l.loan ? l.loan->from_date : "", l.loan ? l.loan->until_date : ""});
    }
    t.print(std::cout);
    return kExitOk;
  });
}

}  // namespace labgate::gateway::ctl
