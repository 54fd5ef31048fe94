// Room calendars, bookings and the locker map (docs/BOOKINGS.md, "The console"). Like every
// page they read the store read-only and change it only through labgated's admin channel as the
// logged-in account (the ops booking.add, booking.cancel, locker.lend, locker.return that
// labgatectl sends), so the store checks a booking from here exactly as from labgatectl and the
// audit row names the account. They work without JavaScript: a free slot is a link to a booking
// form, every change a POST form with the session's CSRF token.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "app_context.hpp"
#include "labgate/gateway/report/ward_report.hpp"
#include "labgate/gateway/store/bookings.hpp"
#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::console {

namespace {

using json = nlohmann::json;
using Instant = std::chrono::system_clock::time_point;
using policy::LocalDate;

constexpr std::int64_t kMinuteMs = 60'000;

json booking_change(const std::string& op, json args) {
  return {{"op", "change"}, {"change", {{"op", op}, {"args", std::move(args)}}}};
}

Instant instant_of(std::int64_t ms) {
  return Instant{std::chrono::milliseconds(ms)};
}

std::int64_t ms_of(Instant t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// "2026-12-07T10:00": the form of a slot in links and forms (what labgatectl accepts too).
std::string slot_text(std::int64_t ms, const policy::Calendar& cal) {
  std::string s = store::local_time_text(ms, cal);
  if (s.size() > 10 && s[10] == ' ') s[10] = 'T';
  return s;
}

// The code a refusal from the store starts with ("overlap: ..."), "" when it is none of the
// booking codes (then only labgated's own words are shown).
std::string refusal_code_of(const std::string& message) {
  const auto colon = message.find(':');
  if (colon == std::string::npos) return {};
  const std::string_view head(message.data(), colon);
  for (const std::string_view code : policy::kBookingRefusalCodes) {
    if (head == code) return std::string(code);
  }
  return {};
}

// "M0001 M0002" or "M0001, M0002" -> the member numbers.
std::vector<std::string> member_list(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (const char ch : text + " ") {
    if (ch == ' ' || ch == ',' || ch == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  return out;
}

// A value of a redirect target the page itself chose; anything else falls back, so a form
// cannot send the browser elsewhere.
std::string safe_back(const std::string& back, const std::string& fallback) {
  for (const char* prefix : {"/bookings", "/rooms/", "/members/", "/lockers"}) {
    if (back.starts_with(prefix) && back.find("//") == std::string::npos) return back;
  }
  return fallback;
}

}  // namespace

/// The booking pages of one request: reads under the store's lock, changes through the admin
/// channel (App::change), refusals with their reason in the page's language.
class BookingPages {
 public:
  BookingPages(App& app, Context& c) : app_(app), c_(c) {}

  std::optional<Response> route() {
    const auto p = split_path(c_.path);
    if (p.empty() || (p[0] != "rooms" && p[0] != "bookings" && p[0] != "lockers")) {
      return std::nullopt;
    }
    // Bookings name members: the desk and up, as for the member pages' changes; checked here on
    // the server whatever the navigation shows.
    if (!role_may(c_.role(), Permission::kMembers)) {
      spdlog::warn("console: {} ({}) refused {}", c_.session->login, c_.role(), c_.path);
      return app_.fail(c_, http::status::forbidden, "error.forbidden");
    }
    const bool get = c_.req.method() == http::verb::get;
    if (p[0] == "rooms") {
      if (get && p.size() == 1) return rooms_page();
      if (get && p.size() == 2) return calendar_page(p[1]);
      if (get && p.size() == 3 && p[2] == "book") return book_form(p[1]);
      if (!get && p.size() == 3 && p[2] == "book") return book(p[1]);
    } else if (p[0] == "bookings") {
      if (get && p.size() == 1) return bookings_page();
      if (!get && p.size() == 3 && p[2] == "cancel") return cancel(p[1]);
    } else {
      if (get && p.size() == 1) return lockers_page();
      if (!get && p.size() == 3 && p[2] == "lend") return lend(p[1]);
      if (!get && p.size() == 3 && p[2] == "return") {
        return app_.change(c_, booking_change("locker.return", {{"locker", p[1]}}), "/lockers");
      }
    }
    return app_.fail(c_, http::status::not_found, "error.not_found");
  }

 private:
  std::string t(std::string_view key) const { return std::string(tr(c_.lang, key)); }
  std::string csrf() const { return csrf_input(c_.session->csrf); }

  // One read of the store under its lock (a Store is used from one thread at a time): its
  // value, or an empty one when the read failed (the page then shows nothing rather than fail).
  template <typename T, typename Read>
  T read(Read&& r) {
    std::lock_guard lock(app_.store_mu_);
    auto got = r(*app_.store_);
    return got ? std::move(*got) : T{};
  }

  Response rooms_page() {
    const auto rooms =
        read<std::vector<store::Room>>([](store::Store& s) { return s.bookings().rooms(); });
    std::string items;
    for (const auto& r : rooms) {
      items += fmt::format(R"(<li data-room="{0}"><a href="/rooms/{1}">{2}</a> ({3} {4})</li>)",
                           esc(r.id), esc(url_encode(r.id)), esc(r.name), t("rooms.capacity"),
                           r.rules.capacity);
    }
    std::string body = rooms.empty() ? "<p id=\"no-rooms\">" + t("rooms.none") + "</p>"
                                     : "<ul id=\"rooms\">" + items + "</ul>";
    body += fmt::format(R"(<p><a href="/bookings">{}</a> | <a href="/lockers">{}</a></p>)",
                        t("bookings.heading"), t("lockers.heading"));
    return c_.html(http::status::ok, t("rooms.heading"), body);
  }

  // What a cell of the calendar shows.
  enum class Cell { kFree, kBooked, kClosed, kPast };

  Response calendar_page(const std::string& room_id) {
    std::optional<store::Room> room;
    policy::Calendar cal;
    std::int64_t now = 0;
    {
      std::lock_guard lock(app_.store_mu_);
      auto r = app_.store_->bookings().room(room_id);
      if (r && *r) room = std::move(**r);
      if (auto k = app_.store_->bookings().calendar()) cal = std::move(*k);
      now = app_.store_->now_ms();
    }
    if (!room) return app_.fail(c_, http::status::not_found, "error.not_found");
    const bool week = form_value(c_.query, "view") == "week";
    LocalDate first = cal.to_local(instant_of(now)).date;
    if (const auto d = policy::parse_date(form_value(c_.query, "date"))) first = *d;
    const LocalDate shown = first;
    if (week) {  // from the Monday of that week
      const std::chrono::weekday wd{std::chrono::sys_days(first)};
      first = LocalDate{std::chrono::sys_days(first) - std::chrono::days(wd.iso_encoding() - 1)};
    }
    const int ndays = week ? 7 : 1;
    std::vector<LocalDate> days;
    for (int i = 0; i < ndays; ++i) {
      days.emplace_back(std::chrono::sys_days(first) + std::chrono::days(i));
    }
    const std::int64_t begin = ms_of(cal.to_sys(days.front(), 0));
    const std::int64_t end =
        ms_of(cal.to_sys(LocalDate{std::chrono::sys_days(days.back()) + std::chrono::days(1)}, 0));
    std::vector<store::Booking> bookings;
    {
      std::lock_guard lock(app_.store_mu_);
      store::BookingFilter f;
      f.room_id = room->id;
      f.from_ms = begin;
      f.to_ms = end;
      if (auto b = app_.store_->bookings().list(f)) bookings = std::move(*b);
    }
    const policy::RoomRules& rules = room->rules;
    const int grid = std::max(rules.grid_minutes, 1);
    // One row per grid line of the day; a row every shown day is closed at is left out.
    std::string rows;
    for (int minute = 0; minute < 24 * 60; minute += grid) {
      std::string cells;
      bool any_open = false;
      for (const auto& day : days) {
        const std::int64_t start = ms_of(cal.to_sys(day, minute));
        const std::int64_t stop = start + grid * kMinuteMs;
        // Whether the room opens then, asked as if booked just in time: the lead and advance
        // rules are about when one books, not about the slot.
        const Instant asked =
            instant_of(start) - std::chrono::minutes(std::max(rules.lead_minutes, 0));
        const auto why =
            policy::check_booking(rules, cal, instant_of(start), instant_of(stop), asked, 1);
        const store::Booking* taken = nullptr;
        for (const auto& b : bookings) {
          if ((b.state == "booked" || b.state == "held") && b.start_ms < stop && b.end_ms > start) {
            taken = &b;
          }
        }
        const bool closed = why && (why->code == "outside_opening_hours" ||
                                    why->code == "closure" || why->code == "holiday");
        any_open = any_open || !closed || taken;
        cells += cell(*room, cal, start, taken, closed ? std::string(why->code) : std::string(),
                      start < now);
      }
      if (any_open) {
        rows += fmt::format("<tr><th scope=\"row\">{:02}:{:02}</th>{}</tr>", minute / 60,
                            minute % 60, cells);
      }
    }
    std::string head;
    for (const auto& day : days) {
      const std::chrono::weekday wd{std::chrono::sys_days(day)};
      head += fmt::format("<th scope=\"col\" data-date=\"{0}\">{0} {1}</th>",
                          policy::to_string(day), t("weekday." + std::to_string(wd.c_encoding())));
    }
    const auto nav = [&](int delta_days, std::string_view key) {
      const LocalDate to{std::chrono::sys_days(shown) + std::chrono::days(delta_days)};
      return fmt::format(R"(<a href="/rooms/{}?date={}&amp;view={}">{}</a>)",
                         esc(url_encode(room->id)), policy::to_string(to), week ? "week" : "day",
                         t(key));
    };
    const std::string base =
        "/rooms/" + esc(url_encode(room->id)) + "?date=" + policy::to_string(shown) + "&amp;view=";
    std::string body = fmt::format(
        R"(<p id="room" data-room="{0}">{1} — {2} {3} — {4} {5} {6}</p>)"
        R"(<p class="calendar-nav">{7} | {8} | <a href="{9}day">{10}</a> | <a href="{9}week">{11}</a>)"
        R"( | <a href="/bookings?room={12}">{13}</a></p>)",
        esc(room->id), esc(room->name), t("rooms.capacity"), rules.capacity, t("rooms.grid"), grid,
        t("rooms.minutes"), nav(week ? -7 : -1, "rooms.prev"), nav(week ? 7 : 1, "rooms.next"),
        base, t("rooms.day"), t("rooms.week"), esc(url_encode(room->id)), t("bookings.heading"));
    body += fmt::format(
        R"(<table id="calendar" class="calendar" data-view="{}"><thead><tr><th>{}</th>{}</tr></thead><tbody>{}</tbody></table>)",
        week ? "week" : "day", t("rooms.time"), head, rows);
    return c_.html(http::status::ok, t("rooms.heading") + " — " + room->name, body);
  }

  std::string cell(const store::Room& room, const policy::Calendar& cal, std::int64_t start,
                   const store::Booking* taken, const std::string& closed_code, bool past) const {
    const std::string slot = slot_text(start, cal);
    if (taken) {
      return fmt::format(
          R"(<td class="booked" data-slot="{0}" data-booking="{1}" data-member="{2}">{3} <a href="/members/{4}">{2}</a></td>)",
          slot, taken->id, esc(taken->member_no), t("rooms.booked"),
          esc(url_encode(taken->member_no)));
    }
    if (!closed_code.empty()) {
      return fmt::format(R"(<td class="closed" data-slot="{}" title="{}">—</td>)", slot,
                         t("booking.refusal." + closed_code));
    }
    if (past) return fmt::format(R"(<td class="past" data-slot="{}"></td>)", slot);
    return fmt::format(
        R"(<td class="free" data-slot="{0}"><a class="book" href="/rooms/{1}/book?start={0}">{2}</a></td>)",
        slot, esc(url_encode(room.id)), t("rooms.free"));
  }

  Response book_form(const std::string& room_id) {
    std::optional<store::Room> room;
    std::vector<store::Member> found;
    const std::string start = form_value(c_.query, "start");
    const std::string q = form_value(c_.query, "q");
    {
      std::lock_guard lock(app_.store_mu_);
      auto r = app_.store_->bookings().room(room_id);
      if (r && *r) room = std::move(**r);
      if (!q.empty()) {
        if (auto m = app_.store_->staff().search_members(q, 20, 0)) found = std::move(*m);
      }
    }
    if (!room) return app_.fail(c_, http::status::not_found, "error.not_found");
    const std::string self = "/rooms/" + url_encode(room->id) + "/book";
    // Member lookup: a plain GET form; each match links back here with the member filled in.
    std::string matches;
    for (const auto& m : found) {
      matches += fmt::format(
          R"(<li data-member="{0}"><a href="{1}?start={2}&amp;member={3}">{0}</a> {4} ({5})</li>)",
          esc(m.member_no), esc(self), esc(url_encode(start)), esc(url_encode(m.member_no)),
          esc(m.name),
          esc(tr(c_.lang, std::string("member.status.") + store::to_string(m.status))));
    }
    std::string body = fmt::format(
        R"(<form method="get" action="{0}" id="member-lookup"><input type="hidden" name="start" value="{1}">)"
        R"(<label>{2} <input name="q" value="{3}" maxlength="200"></label> <button type="submit">{4}</button></form>)",
        esc(self), esc(start), t("rooms.lookup"), esc(q), t("rooms.lookup_submit"));
    if (!q.empty()) {
      body += found.empty() ? "<p id=\"lookup-none\">" + t("members.none") + "</p>"
                            : "<ul id=\"lookup\">" + matches + "</ul>";
    }
    const int grid = std::max(room->rules.grid_minutes, 1);
    std::string lengths;
    for (int m = grid; m <= room->rules.max_minutes && m <= 12 * 60; m += grid) {
      lengths += fmt::format(R"(<option value="{0}">{0} {1}</option>)", m, t("rooms.minutes"));
    }
    body += fmt::format(
        R"(<form method="post" action="{0}" id="book-form">{1})"
        R"(<p><label>{2} <input name="start" value="{3}" required pattern="\d{{4}}-\d\d-\d\dT\d\d:\d\d"></label></p>)"
        R"(<p><label>{4} <select name="minutes">{5}</select></label></p>)"
        R"(<p><label>{6} <input name="member_no" id="book-member" value="{7}" required maxlength="64"></label></p>)"
        R"(<p><label>{8} <input name="guests" maxlength="500"></label></p>)"
        R"(<p><label>{9} <input name="note" maxlength="500"></label></p>)"
        R"(<p><button type="submit" id="book-submit">{10}</button></p></form>)",
        esc(self), csrf(), t("rooms.start"), esc(start), t("rooms.length"), lengths, t("member.no"),
        esc(form_value(c_.query, "member")), t("rooms.guests"), t("rooms.note"), t("rooms.book"));
    return c_.html(http::status::ok, t("rooms.book_heading") + " — " + room->name, body);
  }

  Response book(const std::string& room_id) {
    const std::string_view form = c_.req.body();
    const std::string member_no = form_value(form, "member_no");
    const std::string note = form_value(form, "note");
    const auto guests = member_list(form_value(form, "guests"));
    for (const auto& no : guests) {
      if (auto why = text::check(text::Field::kName, no)) return bad("guests", *why);
    }
    if (auto why = text::check(text::Field::kName, member_no)) return bad("member_no", *why);
    if (auto why = text::check(text::Field::kNote, note)) return bad("note", *why);
    policy::Calendar cal;
    {
      std::lock_guard lock(app_.store_mu_);
      if (auto k = app_.store_->bookings().calendar()) cal = std::move(*k);
    }
    const auto start = store::parse_local_time(form_value(form, "start"), cal);
    if (!start) return bad("start", start.error().message);
    int minutes = 0;
    try {
      minutes = std::stoi(form_value(form, "minutes"));
    } catch (const std::exception&) {
    }
    if (minutes <= 0 || minutes > 7 * 24 * 60) return bad("minutes", "1 .. 10080");
    const std::int64_t end = *start + minutes * kMinuteMs;
    json args{{"room", room_id},
              {"member_no", member_no},
              {"start", slot_text(*start, cal)},
              {"end", slot_text(end, cal)},
              {"guests", guests}};
    if (!note.empty()) args["note"] = note;
    const std::string day = slot_text(*start, cal).substr(0, 10);
    return refusable(booking_change("booking.add", std::move(args)),
                     "/rooms/" + url_encode(room_id) + "?date=" + day);
  }

  Response cancel(const std::string& id_text) {
    std::int64_t id = 0;
    try {
      std::size_t used = 0;
      id = std::stoll(id_text, &used);
      if (used != id_text.size() || id <= 0) throw std::invalid_argument("id");
    } catch (const std::exception&) {
      return app_.fail(c_, http::status::not_found, "error.not_found");
    }
    return refusable(booking_change("booking.cancel", {{"id", id}}),
                     safe_back(form_value(c_.req.body(), "back"), "/bookings"));
  }

  Response lend(const std::string& locker_id) {
    const std::string_view form = c_.req.body();
    const std::string member_no = form_value(form, "member_no");
    if (auto why = text::check(text::Field::kName, member_no)) return bad("member_no", *why);
    json args{
        {"locker", locker_id}, {"member_no", member_no}, {"until", form_value(form, "until")}};
    if (auto from = form_value(form, "from"); !from.empty()) args["from"] = from;
    return refusable(booking_change("locker.lend", std::move(args)), "/lockers");
  }

  Response bad(const std::string& field, const std::string& why) {
    return app_.fail(c_, http::status::bad_request, "error.bad_request",
                     fmt::format(" {}: {}", field, why));
  }

  // A change whose refusal is shown with its reason in the page's language and labgated's own
  // words ("overlap: room 'a' is booked then"), and its code in data-code for tests and scripts.
  Response refusable(json request, const std::string& back) {
    request["as"] = c_.session->login;
    auto reply = admin_request(app_.options_.site.admin.socket, request, std::chrono::seconds(10));
    if (!reply) return app_.fail(c_, http::status::service_unavailable, "error.unavailable");
    if (reply->value("ok", false)) {
      spdlog::info("console: {} {}", c_.session->login, c_.path);
      return c_.redirect(back);
    }
    const std::string message = reply->value("error", std::string("refused"));
    const std::string code = refusal_code_of(message);
    const std::string kind = reply->value("code", std::string("bad_request"));
    const http::status status = kind == "conflict"    ? http::status::conflict
                                : kind == "not_found" ? http::status::not_found
                                : kind == "forbidden" ? http::status::forbidden
                                                      : http::status::unprocessable_entity;
    const std::string body = fmt::format(
        R"(<p class="error" id="refusal" data-code="{0}">{1} {2}</p><p class="detail">{3}</p>)"
        R"(<p><a href="{4}">{5}</a></p>)",
        esc(code), t("booking.refused"),
        code.empty() ? std::string() : t("booking.refusal." + code), esc(message), esc(back),
        t("back"));
    return c_.html(status, t("booking.refused"), body);
  }

  Response bookings_page() {
    store::BookingFilter f;
    const std::string member = form_value(c_.query, "member");
    const std::string room = form_value(c_.query, "room");
    if (!member.empty()) f.member_no = member;
    if (!room.empty()) f.room_id = room;
    f.include_cancelled = form_value(c_.query, "all") == "1";
    std::vector<store::Booking> bookings;
    policy::Calendar cal;
    std::int64_t now = 0;
    {
      std::lock_guard lock(app_.store_mu_);
      now = app_.store_->now_ms();
      // From today on unless asked for all: a member's own list is what is still ahead.
      if (!f.include_cancelled) f.from_ms = now - 24 * 60 * kMinuteMs;
      if (auto b = app_.store_->bookings().list(f)) bookings = std::move(*b);
      if (auto k = app_.store_->bookings().calendar()) cal = std::move(*k);
    }
    std::string self = "/bookings?member=" + url_encode(member) + "&room=" + url_encode(room);
    std::string rows;
    for (const auto& b : bookings) {
      std::string action;
      if (b.state == "booked" && b.start_ms > now) {
        action = fmt::format(
            R"(<form method="post" action="/bookings/{0}/cancel" class="inline">{1}<input type="hidden" name="back" value="{2}"><button type="submit" class="cancel">{3}</button></form>)",
            b.id, csrf(), esc(self), t("bookings.cancel"));
      }
      std::string guests;
      for (const auto& g : b.guests) guests += (guests.empty() ? "" : " ") + esc(g);
      rows += fmt::format(
          R"(<tr data-booking="{0}" data-room="{1}" data-member="{2}" data-state="{3}"><td><a href="/rooms/{4}?date={5}">{1}</a></td>)"
          R"(<td>{6} – {7}</td><td><a href="/members/{8}">{2}</a> {9}</td><td>{10}</td><td class="note">{11}</td><td>{12}</td></tr>)",
          b.id, esc(b.room_id), esc(b.member_no), esc(b.state), esc(url_encode(b.room_id)),
          slot_text(b.start_ms, cal).substr(0, 10), esc(store::local_time_text(b.start_ms, cal)),
          esc(store::local_time_text(b.end_ms, cal).substr(11)), esc(url_encode(b.member_no)),
          guests, t("bookings.state." + b.state), esc(b.note), action);
    }
    std::string body = fmt::format(
        R"(<form method="get" action="/bookings" id="bookings-filter"><label>{} <input name="member" value="{}" maxlength="64"></label> )"
        R"(<label>{} <input name="room" value="{}" maxlength="64"></label> <label><input type="checkbox" name="all" value="1"{}> {}</label> <button type="submit">{}</button></form>)",
        t("member.no"), esc(member), t("bookings.room"), esc(room),
        f.include_cancelled ? " checked" : "", t("bookings.all"), t("rooms.lookup_submit"));
    body +=
        bookings.empty()
            ? "<p id=\"no-bookings\">" + t("bookings.none") + "</p>"
            : fmt::format(
                  R"(<table id="bookings"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>{}</tbody></table>)",
                  t("bookings.room"), t("bookings.when"), t("member.no"), t("bookings.state"),
                  t("rooms.note"), rows);
    return c_.html(http::status::ok, t("bookings.heading"), body);
  }

  Response lockers_page() {
    const auto lockers = read<std::vector<store::LockerState>>(
        [](store::Store& s) { return s.bookings().lockers(); });
    std::string items;
    for (const auto& l : lockers) {
      const std::string state = !l.loan ? "free" : l.overdue ? "overdue" : "lent";
      const std::string base = "/lockers/" + url_encode(l.locker.id);
      std::string detail;
      if (l.loan) {
        detail = fmt::format(
            R"(<p class="holder">{0}: <a href="/members/{1}">{2}</a></p><p class="until">{3} – {4}</p>)"
            R"(<form method="post" action="{5}/return" class="inline">{6}<button type="submit" class="return">{7}</button></form>)",
            t("lockers.holder"), esc(url_encode(l.loan->member_no)), esc(l.loan->member_no),
            esc(l.loan->from_date), esc(l.loan->until_date), esc(base), csrf(),
            t("lockers.return"));
      } else {
        detail =
            fmt::format(R"(<form method="post" action="{0}/lend" class="lend">{1})"
                        R"(<label>{2} <input name="member_no" required maxlength="64"></label> )"
                        R"(<label>{3} <input name="until" type="date" required></label> )"
                        R"(<button type="submit">{4}</button></form>)",
                        esc(base), csrf(), t("member.no"), t("lockers.until"), t("lockers.lend"));
      }
      items += fmt::format(
          R"(<li class="locker {0}" data-locker="{1}" data-state="{0}"><h2>{2}</h2><p class="state">{3}{4}</p>{5}</li>)",
          state, esc(l.locker.id), esc(l.locker.name), t("lockers." + state),
          l.locker.door_id ? std::string() : " · " + t("lockers.no_lock"), detail);
    }
    const std::string body = lockers.empty() ? "<p id=\"no-lockers\">" + t("lockers.none") + "</p>"
                                             : "<ul id=\"locker-map\">" + items + "</ul>";
    return c_.html(http::status::ok, t("lockers.heading"), body);
  }

  App& app_;
  Context& c_;
};

std::string ward_rooms_section(const Context& c, const report::WardReport& r) {
  const auto tc = [&](std::string_view key) { return std::string(tr(c.lang, key)); };
  std::string out = fmt::format(
      R"(<h2>{}</h2><table id="report-rooms"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
      tc("report.rooms"), tc("bookings.room"), tc("report.bookings"), tc("report.booked_hours"),
      tc("report.open_hours"), tc("report.utilisation"), tc("report.no_shows"));
  for (const auto& u : r.rooms) {
    out += fmt::format(
        R"(<tr data-room="{0}"><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td class="utilisation">{5}</td><td>{6}</td></tr>)",
        esc(u.id), esc(u.name), u.bookings, report::format_hours(u.booked_ms),
        report::format_hours(u.open_ms), report::format_percent(u.booked_ms, u.open_ms),
        u.no_shows);
  }
  const auto& l = r.lockers;
  out += fmt::format(
      R"(</tbody></table><h2>{}</h2><table id="report-lockers"><tbody><tr><th>{}</th><td>{}</td></tr>)"
      R"(<tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td id="locker-occupancy">{}</td></tr>)"
      R"(<tr><th>{}</th><td>{}</td></tr></tbody></table>)",
      tc("lockers.heading"), tc("report.lockers"), l.lockers, tc("report.locker_days"),
      l.locker_days, tc("report.lent_days"), l.lent_days, tc("report.occupancy"),
      report::format_percent(l.lent_days, l.locker_days), tc("report.lent_at_end"), l.lent_at_end);
  return out;
}

std::optional<Response> App::route_bookings(Context& c) {
  return BookingPages(*this, c).route();
}

}  // namespace labgate::gateway::console
