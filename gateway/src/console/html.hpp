#pragma once
// HTML output: escaping (every value that did not come from the catalogue goes through it) and
// the page frame.

#include <string>
#include <string_view>

#include "i18n.hpp"

namespace labgate::gateway::console {

/// `text` with & < > " escaped, for element content and double-quoted attributes (the only
/// kind the console writes).
std::string esc(std::string_view text);
/// A %xx-decoded form or query value ('+' is a space).
std::string url_decode(std::string_view text);
/// The value of `name` in an application/x-www-form-urlencoded string or a query; "" if absent.
std::string form_value(std::string_view form, std::string_view name);

/// What every page frame needs.
struct Frame {
  Lang lang{Lang::kJa};
  std::string login;  ///< "" on the login page (no navigation)
  std::string csrf;
  std::string path;  ///< the page's own path, for the language form
};
/// The hidden CSRF input of a form.
std::string csrf_input(const std::string& token);
/// A whole page: doctype, <html lang>, head with the console's script, navigation, `body`.
std::string page(const Frame& frame, std::string_view title, const std::string& body);

}  // namespace labgate::gateway::console
