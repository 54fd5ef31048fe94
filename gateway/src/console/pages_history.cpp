// The events and sessions pages (staff and above): filters, pages of 50, and CSV export through
// the project's CSV writer (formula-leading cells neutralised for Excel). Reads go through the
// store's list_events / list_sessions; every value shown goes through esc().
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "app_context.hpp"
#include "labgate/gateway/csv/writer.hpp"

namespace labgate::gateway::console {

namespace {

constexpr std::int64_t kPage = 50;
// Most rows one page or export looks at: the reason filter is applied after the store's query.
constexpr std::int64_t kScan = 10000;

struct Query {
  std::string member, door, machine, from, to, reason;
  std::int64_t page{1};
  bool csv{false};
};

Query read_query(const std::string& q) {
  Query out{form_value(q, "member"), form_value(q, "door"), form_value(q, "machine"),
            form_value(q, "from"),   form_value(q, "to"),   form_value(q, "reason")};
  try {
    out.page = std::clamp<std::int64_t>(std::stoll(form_value(q, "page")), 1, kScan / kPage);
  } catch (const std::exception&) {
  }
  out.csv = form_value(q, "format") == "csv";
  return out;
}

// "YYYY-MM-DD" at local midnight (JST, no daylight saving) in ms; nullopt when not a date.
std::optional<std::int64_t> local_midnight_ms(const std::string& date) {
  int y = 0;
  unsigned m = 0, d = 0;
  if (date.size() != 10 || std::sscanf(date.c_str(), "%4d-%2u-%2u", &y, &m, &d) != 3) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                        std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  const auto days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  return (static_cast<std::int64_t>(days) * 86400 - 9 * 3600) * 1000;
}

store::HistoryFilter filter_of(const Query& q, bool events) {
  store::HistoryFilter f;
  if (!q.member.empty()) f.member_no = q.member;
  if (!q.machine.empty()) f.machine_id = q.machine;
  if (events && !q.door.empty()) f.door_id = q.door;
  f.from_ms = local_midnight_ms(q.from);
  if (auto to = local_midnight_ms(q.to)) f.to_ms = *to + 86400 * 1000;  // the whole last day
  f.limit = q.csv || !q.reason.empty() ? kScan : std::min(q.page * kPage + 1, kScan);
  return f;
}

std::string query_string(const Query& q, std::int64_t page, bool csv) {
  std::string out = fmt::format("member={}&door={}&machine={}&from={}&to={}&reason={}",
                                url_encode(q.member), url_encode(q.door), url_encode(q.machine),
                                url_encode(q.from), url_encode(q.to), url_encode(q.reason));
  if (csv) return out + "&format=csv";
  return out + "&page=" + std::to_string(page);
}

std::string filter_form(const Context& c, const Query& q, bool events) {
  const auto field = [&](std::string_view name, std::string_view key, const std::string& value,
                         std::string_view type) {
    return fmt::format(R"(<label>{} <input name="{}" type="{}" value="{}"></label> )", t(c, key),
                       name, type, esc(value));
  };
  std::string out = fmt::format(R"(<form method="get" action="{}" id="filter">)", esc(c.path));
  out += field("member", "member.no", q.member, "text");
  if (events) out += field("door", "history.door", q.door, "text");
  out += field("machine", "history.machine", q.machine, "text");
  out += field("from", "history.from", q.from, "date");
  out += field("to", "history.to", q.to, "date");
  out += field("reason", "history.reason", q.reason, "text");
  return out + fmt::format(R"(<button type="submit">{}</button></form>)", t(c, "certs.show"));
}

std::string pager(const Context& c, const Query& q, bool more) {
  std::string out = "<p class=\"pages\">";
  const auto link = [&](std::int64_t p, std::string_view key, std::string_view id) {
    return fmt::format(R"(<a id="{}" href="{}?{}">{}</a> )", id, esc(c.path),
                       esc(query_string(q, p, false)), t(c, key));
  };
  if (q.page > 1) out += link(q.page - 1, "members.prev", "prev");
  if (more) out += link(q.page + 1, "members.next", "next");
  out += fmt::format(R"(<a id="csv" href="{}?{}">{}</a></p>)", esc(c.path),
                     esc(query_string(q, 1, true)), t(c, "history.csv"));
  return out;
}

// Keeps the rows whose reason matches, then the page's slice; true when more rows follow.
template <typename Row, typename Reason>
bool page_of(std::vector<Row>& rows, const Query& q, Reason reason) {
  if (!q.reason.empty()) {
    std::erase_if(rows, [&](const Row& r) { return reason(r) != q.reason; });
  }
  if (q.csv) return false;
  const auto skip = static_cast<std::size_t>((q.page - 1) * kPage);
  rows.erase(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(std::min(skip, rows.size())));
  const bool more = rows.size() > static_cast<std::size_t>(kPage);
  if (more) rows.resize(kPage);
  return more;
}

Response csv_response(const Context& c, std::string body, std::string_view name) {
  auto res = c.respond(http::status::ok, std::move(body), "text/csv; charset=utf-8");
  res.set(http::field::content_disposition, fmt::format("attachment; filename=\"{}\"", name));
  return res;
}

std::string event_csv(const std::vector<store::AccessEvent>& rows) {
  std::string out;
  csv::Writer w(out);
  w.bom().text("time").text("seq").text("door").text("machine").text("member").text("kind");
  w.text("decision").text("reason").text("detail").end_row();
  for (const auto& e : rows) {
    w.text(local_time(e.at_ms)).number(e.seq).text(e.door_id.value_or(""));
    w.text(e.machine_id.value_or("")).text(e.member_no.value_or("")).text(e.kind);
    w.text(store::to_string(e.decision)).text(e.reason).text(e.detail).end_row();
  }
  return out;
}

std::string session_csv(const std::vector<store::Session>& rows) {
  std::string out;
  csv::Writer w(out);
  w.bom().text("started").text("ended").text("member").text("kind").text("machine");
  w.text("end_reason").text("measured_seconds").end_row();
  for (const auto& s : rows) {
    w.text(local_time(s.started_at_ms)).text(s.ended_at_ms ? local_time(*s.ended_at_ms) : "");
    w.text(s.member_no.value_or("")).text(store::to_string(s.kind));
    w.text(s.machine_id.value_or("")).text(s.end_reason.value_or(""));
    w.number(s.measured_seconds).end_row();
  }
  return out;
}

}  // namespace

Response App::events_page(Context& c) {
  const Query q = read_query(c.query);
  std::vector<store::AccessEvent> rows;
  {
    std::lock_guard lock(store_mu_);
    if (auto r = store_->events().list_events(filter_of(q, true))) rows = std::move(*r);
  }
  const bool more = page_of(rows, q, [](const store::AccessEvent& e) { return e.reason; });
  if (q.csv) return csv_response(c, event_csv(rows), "events.csv");
  std::string body =
      filter_form(c, q, true) +
      fmt::format(
          R"(<table id="event-list"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
          t(c, "history.time"), t(c, "history.where"), t(c, "member.no"), t(c, "history.kind"),
          t(c, "history.decision"), t(c, "history.reason"), t(c, "history.detail"));
  for (const auto& e : rows) {
    body += fmt::format(
        R"(<tr data-seq="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>)",
        e.seq, esc(local_time(e.at_ms)), esc(e.door_id.value_or(e.machine_id.value_or(""))),
        esc(e.member_no.value_or("")), esc(e.kind), store::to_string(e.decision), esc(e.reason),
        esc(e.detail));
  }
  body += "</tbody></table>" + pager(c, q, more);
  return c.html(http::status::ok, tr(c.lang, "nav.events"), body);
}

Response App::sessions_page(Context& c) {
  const Query q = read_query(c.query);
  std::vector<store::Session> rows;
  {
    std::lock_guard lock(store_mu_);
    if (auto r = store_->events().list_sessions(filter_of(q, false))) rows = std::move(*r);
  }
  const bool more =
      page_of(rows, q, [](const store::Session& s) { return s.end_reason.value_or(""); });
  if (q.csv) return csv_response(c, session_csv(rows), "sessions.csv");
  std::string body =
      filter_form(c, q, false) +
      fmt::format(
          R"(<table id="session-list"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
          t(c, "history.started"), t(c, "history.ended"), t(c, "member.no"),
          t(c, "history.machine"), t(c, "history.reason"), t(c, "history.seconds"));
  for (const auto& s : rows) {
    body += fmt::format(
        R"(<tr data-session="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>)",
        s.id, esc(local_time(s.started_at_ms)),
        s.ended_at_ms ? esc(local_time(*s.ended_at_ms)) : "…", esc(s.member_no.value_or("")),
        esc(s.machine_id.value_or(store::to_string(s.kind))), esc(s.end_reason.value_or("")),
        s.measured_seconds ? std::to_string(*s.measured_seconds) : "");
  }
  body += "</tbody></table>" + pager(c, q, more);
  return c.html(http::status::ok, tr(c.lang, "nav.sessions"), body);
}

}  // namespace labgate::gateway::console
