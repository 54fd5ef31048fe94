// Parsing what a browser sends: %xx-decoding, form bodies and query strings, the Cookie header.
// Apart from the page code (and its store dependencies) so that the fuzz target
// (tests/console/fuzz_console_forms.cpp) takes just these.
#include <fmt/format.h>

#include <cctype>

#include "html.hpp"

namespace labgate::gateway::console {

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() + 0 && hex_digit(text[i + 1]) >= 0 &&
               hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += ch;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string form_value(std::string_view form, std::string_view name) {
  std::size_t at = 0;
  while (at <= form.size()) {
    auto end = form.find('&', at);
    if (end == std::string_view::npos) end = form.size();
    const auto pair = form.substr(at, end - at);
    const auto eq = pair.find('=');
    if (url_decode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    }
    at = end + 1;
  }
  return {};
}

std::string cookie_value(std::string_view all, std::string_view name) {
  std::size_t at = 0;
  while (at < all.size()) {
    auto end = all.find(';', at);
    if (end == std::string_view::npos) end = all.size();
    auto part = all.substr(at, end - at);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.starts_with(name) && part.size() > name.size() && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    at = end + 1;
  }
  return {};
}

}  // namespace labgate::gateway::console
