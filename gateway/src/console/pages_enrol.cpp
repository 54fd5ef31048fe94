// Card enrolment at a reader (desk and above): start, a "waiting for card" state that reloads
// itself until the daemon reports done, timeout or cancelled, and a cancel. The daemon does the
// enrolling (admin ops enroll, enroll-status, enroll-cancel); this page only asks how it stands.
#include <fmt/format.h>

#include "app_context.hpp"

namespace labgate::gateway::console {

namespace {

// Seconds between reloads while waiting for the card.
constexpr int kPollSeconds = 2;

std::string start_form(const Context& c, const std::string& member_no,
                       const std::vector<config::ReaderConfig>& readers) {
  std::string options;
  for (const auto& r : readers) {
    if (!r.desk) options += fmt::format(R"(<option value="{0}">{0}</option>)", esc(r.id));
  }
  return fmt::format(
      R"(<form method="post" action="/members/{0}/enrol" id="enrol-form">{1})"
      R"(<label>{2} <select name="reader" id="enrol-reader">{3}</select></label> )"
      R"(<label>{4} <input name="timeout" type="number" min="5" max="600" value="60"></label> )"
      R"(<button type="submit" id="enrol-start">{5}</button></form>)",
      esc(url_encode(member_no)), csrf_input(c.session->csrf), t(c, "enrol.reader"), options,
      t(c, "enrol.timeout"), t(c, "enrol.start"));
}

std::string cancel_form(const Context& c, const std::string& member_no, const std::string& reader) {
  return fmt::format(
      R"(<form method="post" action="/members/{0}/enrol/cancel" id="enrol-cancel-form">{1})"
      R"(<input type="hidden" name="reader" value="{2}"><button type="submit" id="enrol-cancel">{3}</button></form>)",
      esc(url_encode(member_no)), csrf_input(c.session->csrf), esc(reader), t(c, "enrol.cancel"));
}

}  // namespace

Response App::enrol_page(Context& c, const std::string& member_no) {
  {
    std::lock_guard lock(store_mu_);
    auto m = store_->taps().member_by_no(member_no);
    if (!m || !*m) return fail(c, http::status::not_found, "error.not_found");
  }
  const std::string reader = form_value(c.query, "reader");
  std::string state = "idle";
  std::string detail;
  if (!reader.empty()) {
    auto reply =
        admin_request(options_.site.admin.socket,
                      {{"op", "enroll-status"}, {"reader", reader}, {"as", c.session->login}},
                      std::chrono::seconds(3));
    if (!reply) return fail(c, http::status::service_unavailable, "error.unavailable");
    if (reply->value("ok", false)) {
      state = reply->value("state", "failed");
      detail = reply->value("error", "");
      if (reply->contains("credential")) detail = "#" + reply->at("credential").dump();
    }
  }
  std::string body = fmt::format(
      R"(<p><a href="/members/{0}">{1}</a></p><p id="enrol-status" data-state="{2}" data-reader="{3}">{4} <span class="detail">{5}</span></p>)",
      esc(url_encode(member_no)), esc(member_no), esc(state), esc(reader),
      t(c, "enrol.state." + state), esc(detail));
  body += state == "waiting" ? cancel_form(c, member_no, reader)
                             : start_form(c, member_no, options_.site.readers);
  Frame f = c.frame();
  if (state == "waiting") f.refresh_s = kPollSeconds;
  return c.respond(http::status::ok, page(f, tr(c.lang, "enrol.heading"), body),
                   "text/html; charset=utf-8");
}

}  // namespace labgate::gateway::console
