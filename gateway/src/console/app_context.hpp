#pragma once
// One request being answered (private to the console's sources).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app.hpp"
#include "html.hpp"

namespace labgate::gateway::report {
struct WardReport;
}

namespace labgate::gateway::console {

/// The request, where it came from, its session and language, and what the response must set.
struct App::Context {
  const Request& req;
  const Peer& peer;
  std::string path;   ///< decoded path
  std::string query;  ///< raw query string
  std::optional<Session> session;
  Lang lang{Lang::kJa};
  std::string set_cookie;

  /// The session cookie for `id`, with Secure under TLS.
  std::string cookie_header(const std::string& id) const;
  /// A response with the console's security headers.
  Response respond(http::status status, std::string body, std::string_view type) const;
  /// A whole HTML page.
  Response html(http::status status, std::string_view title, const std::string& body) const;
  /// 303 See Other.
  Response redirect(const std::string& location) const;
  /// The page frame for this request.
  Frame frame() const;
  /// The role of the logged-in account ("" when none).
  std::string role() const { return session ? session->role : std::string(); }
};

using Context = App::Context;

/// The catalogue's text for `key` in the request's language.
inline std::string t(const Context& c, std::string_view key) {
  return std::string(tr(c.lang, key));
}
/// "/machines/laser/lockout" -> {"machines", "laser", "lockout"} (a leading '/' assumed).
std::vector<std::string> split_path(std::string_view path);
/// The ward report page's meeting-room utilisation and locker occupancy tables
/// (pages_bookings.cpp).
std::string ward_rooms_section(const Context& c, const report::WardReport& r);
/// A POST form with the CSRF token, an optional reason and one button. `js_confirm` makes
/// console.js ask first (for actions without a confirmation page of their own).
std::string action_form(const Context& c, const std::string& action, std::string_view label,
                        bool with_reason, bool js_confirm);
/// A background job's phase and progress bar (`#job-phase` with `data-stage`, `#job-progress`,
/// `#job-count`), as every job page shows them.
std::string job_progress(const Context& c, const JobState& j);

}  // namespace labgate::gateway::console
