#pragma once
// HTML output: escaping (every value that did not come from the catalogue goes through it) and
// the page frame.

#include <cstdint>
#include <string>
#include <string_view>

#include "i18n.hpp"

namespace labgate::gateway::console {

/// `text` with & < > " escaped, for element content and double-quoted attributes (the only
/// kind the console writes).
std::string esc(std::string_view text);
/// A %xx-decoded form or query value ('+' is a space).
std::string url_decode(std::string_view text);
/// `text` %xx-encoded for a query value (unreserved characters stay as they are).
std::string url_encode(std::string_view text);
/// The value of `name` in an application/x-www-form-urlencoded string or a query; "" if absent.
std::string form_value(std::string_view form, std::string_view name);

/// The value of cookie `name` in a Cookie header ("a=1; b=2"); "" if absent.
std::string cookie_value(std::string_view header, std::string_view name);

/// `ms` since the epoch as the site's local time, "YYYY-MM-DD HH:MM:SS".
std::string local_time(std::int64_t ms);

/// What every page frame needs.
struct Frame {
  Lang lang{Lang::kJa};
  std::string login;  ///< "" on the login page (no navigation)
  std::string role;   ///< the account's role: the navigation links only what it may open
  std::string csrf;
  std::string path;  ///< the page's own path, for the language form
  int refresh_s{0};  ///< > 0: the page reloads itself after this many seconds (no script needed)
};
/// The hidden CSRF input of a form.
std::string csrf_input(const std::string& token);
/// A whole page: doctype, <html lang>, head with the console's script, navigation, `body`.
std::string page(const Frame& frame, std::string_view title, const std::string& body);

}  // namespace labgate::gateway::console
