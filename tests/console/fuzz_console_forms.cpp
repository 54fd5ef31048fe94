// libFuzzer target: the console's parsing of what a browser sends — form bodies and query
// strings (form_value, url_decode), the Cookie header, Accept-Language and ?lang= — and the
// escaping of whatever comes out. Properties checked, not just "no crash":
// - url_decode(url_encode(x)) == x for any bytes;
// - esc() output never holds a raw < > or " (everything shown passes through it);
// - a value found by form_value or cookie_value is no longer than the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "html.hpp"
#include "i18n.hpp"
#include "labgate/gateway/text/text.hpp"

using namespace labgate::gateway::console;

namespace {

// esc() is text::html_escape (html.cpp); called directly to leave the page code out.
std::string escaped(std::string_view s) {
  return labgate::gateway::text::html_escape(s);
}

void check(bool ok) {
  if (!ok) std::abort();
}

void check_escaped(const std::string& out) {
  check(out.find_first_of("<>\"") == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check(url_decode(url_encode(in)) == in);
  check_escaped(escaped(in));
  check_escaped(escaped(url_decode(in)));
  for (const char* name :
       {"csrf", "login", "password", "q", "page", "lang", "reason", "role", "member_no", ""}) {
    const std::string v = form_value(in, name);
    check(v.size() <= in.size());
    check_escaped(escaped(v));
    const std::string c = cookie_value(in, name);
    check(c.size() <= in.size());
  }
  const Lang chosen = parse_lang(form_value(in, "lang"), from_accept_language(in));
  check(chosen == Lang::kJa || chosen == Lang::kEn);
  (void)tr(chosen, in);
  return 0;
}
