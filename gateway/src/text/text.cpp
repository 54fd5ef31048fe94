#include "labgate/gateway/text/text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace labgate::gateway::text {
namespace {

// Decodes the code point at `i` of valid UTF-8 and moves `i` past it.
std::uint32_t decode(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  std::uint32_t cp = len == 1   ? b0
                     : len == 2 ? (b0 & 0x1Fu)
                     : len == 3 ? (b0 & 0x0Fu)
                                : (b0 & 0x07u);
  for (std::size_t k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  i += len;
  return cp;
}

bool is_control(std::uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

bool is_bidi_control(std::uint32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

std::string code_point_name(std::uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

}  // namespace

FieldRule rule(Field field) {
  switch (field) {
    case Field::kName:
      return {"name", 200, false};
    case Field::kEmail:
      return {"e-mail", 254, false};
    case Field::kNote:
      return {"note", 1000, true};
    case Field::kReason:
      return {"reason", 500, false};
    case Field::kItemName:
      return {"item name", 200, false};
  }
  return {"text", 200, false};
}

bool is_valid_utf8(std::string_view bytes, std::size_t* bad_offset) {
  const auto n = bytes.size();
  std::size_t i = 0;
  auto fail = [&] {
    if (bad_offset != nullptr) *bad_offset = i;
    return false;
  };
  while (i < n) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    // Per the Unicode table of well-formed sequences: the second byte's range excludes
    // overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      return fail();
    }
    if (i + len > n) return fail();
    const auto b1 = static_cast<unsigned char>(bytes[i + 1]);
    if (b1 < lo || b1 > hi) return fail();
    for (std::size_t k = 2; k < len; ++k) {
      const auto b = static_cast<unsigned char>(bytes[i + k]);
      if (b < 0x80 || b > 0xBF) return fail();
    }
    i += len;
  }
  return true;
}

std::size_t utf8_length(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::optional<std::string> check(Field field, std::string_view value) {
  const FieldRule r = rule(field);
  const std::string label = r.label;
  if (std::size_t bad = 0; !is_valid_utf8(value, &bad)) {
    return label + ": not valid UTF-8 text (byte " + std::to_string(bad + 1) + ")";
  }
  std::size_t i = 0;
  std::size_t position = 0;
  while (i < value.size()) {
    ++position;
    const std::uint32_t cp = decode(value, i);
    if (cp == '\t' && r.tab) continue;
    if (is_control(cp)) {
      return label + ": control character " + code_point_name(cp) + " at character " +
             std::to_string(position) + (cp == '\n' || cp == '\r' ? " (a line break)" : "") +
             "; type it on one line";
    }
    if (is_bidi_control(cp)) {
      return label + ": bidirectional control " + code_point_name(cp) + " at character " +
             std::to_string(position) + " (it makes text display as something else)";
    }
  }
  if (position > r.max_chars) {
    return label + ": " + std::to_string(position) + " characters long (at most " +
           std::to_string(r.max_chars) + ")";
  }
  return std::nullopt;
}

std::string visible(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  std::size_t i = 0;
  auto hex = [&](unsigned v, int digits, const char* prefix) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%s%0*x", prefix, digits, v);
    out += buf;
  };
  while (i < value.size()) {
    const std::size_t start = i;
    // A byte that does not begin a well-formed sequence is shown alone, and the next one is
    // tried afresh.
    const auto b0 = static_cast<unsigned char>(value[i]);
    const std::size_t len = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    if (i + len > value.size() || !is_valid_utf8(value.substr(i, len))) {
      hex(b0, 2, "\\x");
      ++i;
      continue;
    }
    const std::uint32_t cp = decode(value, i);
    if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x80 && is_control(cp)) {
      hex(cp, 2, "\\x");
    } else if (is_control(cp) || is_bidi_control(cp)) {
      hex(cp, 4, "\\u");
    } else {
      out.append(value.substr(start, i - start));
    }
  }
  return out;
}

std::string html_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace labgate::gateway::text
