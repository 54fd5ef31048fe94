#include "labgate/gateway/csv/writer.hpp"

#include <charconv>

namespace labgate::gateway::csv {

bool starts_like_formula(std::string_view text) {
  if (text.empty()) return false;
  switch (text.front()) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r':
      return true;
    default:
      return false;
  }
}

void append_text_cell(std::string& out, std::string_view text) {
  const bool neutralise = starts_like_formula(text);
  const std::size_t special = text.find_first_of(",\"\r\n");
  if (special == std::string_view::npos) {
    if (neutralise) out += '\'';
    out += text;
    return;
  }
  out += '"';
  if (neutralise) out += '\'';
  // Copy runs between quotes in one append each: statements carry long explanation texts.
  std::size_t run = 0;
  for (std::size_t q = text.find('"', special); q != std::string_view::npos;
       q = text.find('"', q + 1)) {
    out.append(text.data() + run, q + 1 - run);
    out += '"';
    run = q + 1;
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
}

std::string text_cell(std::string_view text) {
  std::string out;
  append_text_cell(out, text);
  return out;
}

void append_number_cell(std::string& out, std::int64_t value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

Writer& Writer::numbers(std::span<const std::int64_t> values) {
  separate();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out_ += ' ';
    append_number_cell(out_, values[i]);
  }
  return *this;
}

Writer& Writer::row(std::initializer_list<std::string_view> cells) {
  for (const auto c : cells) text(c);
  return end_row();
}

}  // namespace labgate::gateway::csv
