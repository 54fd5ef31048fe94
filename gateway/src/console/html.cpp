#include "html.hpp"

#include <fmt/format.h>

#include <cctype>
#include <ctime>

#include "labgate/gateway/text/text.hpp"
#include "roles.hpp"

namespace labgate::gateway::console {

std::string esc(std::string_view value) {
  return text::html_escape(value);
}

std::string local_time(std::int64_t ms) {
  // Japan has no daylight saving: UTC+9 is the site's local time all year.
  const std::time_t secs = static_cast<std::time_t>(ms / 1000 + 9 * 3600);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string csrf_input(const std::string& token) {
  return fmt::format(R"(<input type="hidden" name="csrf" value="{}">)", esc(token));
}

namespace {

std::string navigation(const Frame& f) {
  if (f.login.empty()) return {};
  const auto link = [&](std::string_view href, std::string_view key) {
    return fmt::format(R"(<a href="{}">{}</a> | )", href, tr(f.lang, key));
  };
  std::string links =
      link("/", "nav.live") + link("/rollcall", "nav.rollcall") + link("/members", "nav.members");
  if (role_may(f.role, Permission::kCertifications)) links += link("/certifications", "nav.certs");
  if (role_may(f.role, Permission::kMachines)) {
    links += link("/machines", "nav.machines") + link("/events", "nav.events") +
             link("/sessions", "nav.sessions");
  }
  if (role_may(f.role, Permission::kManager)) links += link("/audit", "nav.audit");
  // The money pages: desk sales and accounts for the desk, the rest for managers.
  if (role_may(f.role, Permission::kMembers)) {
    links += link("/desk", "nav.desk") + link("/accounts", "nav.accounts");
    links += link("/rooms", "nav.rooms") + link("/lockers", "nav.lockers");
  }
  if (role_may(f.role, Permission::kManager)) {
    links += link("/rates", "nav.rates") + link("/prices", "nav.prices") +
             link("/held", "nav.held") + link("/reports", "nav.reports");
  }
  if (role_may(f.role, Permission::kManager)) links += link("/statements", "nav.statements");
  if (role_may(f.role, Permission::kAdmin)) links += link("/users", "nav.users");
  return fmt::format(
      R"(<nav>{}<span id="who">{}</span> <form method="post" action="/logout" class="inline">{})"
      R"(<button type="submit" id="logout">{}</button></form></nav>)",
      links, esc(f.login), csrf_input(f.csrf), tr(f.lang, "logout"));
}

std::string language_form(const Frame& f) {
  // A plain GET form: works without JavaScript, and changes nothing but the session's choice.
  return fmt::format(
      R"(<form method="get" action="{}" id="lang-form"><label>{} <select name="lang">)"
      R"(<option value="ja"{}>日本語</option><option value="en"{}>English</option></select>)"
      R"(</label> <button type="submit">{}</button></form>)",
      esc(f.path), tr(f.lang, "lang.switch"), f.lang == Lang::kJa ? " selected" : "",
      f.lang == Lang::kEn ? " selected" : "", tr(f.lang, "lang.apply"));
}

}  // namespace

std::string page(const Frame& f, std::string_view title, const std::string& body) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{}"
      "<title>{} - {}</title><link rel=\"stylesheet\" href=\"/static/console.css\">"
      "<script src=\"/static/console.js\" defer></script></head>"
      "<body data-confirm=\"{}\">{}{}<main><h1>{}</h1>{}</main></body></html>\n",
      code(f.lang),
      f.refresh_s > 0 ? fmt::format("<meta http-equiv=\"refresh\" content=\"{}\">", f.refresh_s)
                      : std::string(),
      esc(title), tr(f.lang, "title"), esc(tr(f.lang, "confirm")), navigation(f), language_form(f),
      esc(title), body);
}

}  // namespace labgate::gateway::console
