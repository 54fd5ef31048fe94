// Member roster import: a CSV reader, the roster checks and the all-or-nothing write.
#include "labgate/gateway/store/import.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "rows.hpp"

namespace labgate::gateway::store {

namespace {

using json = nlohmann::json;

constexpr std::string_view kNotUtf8 =
    "not UTF-8: save as CSV UTF-8 (in Excel: Save As > \"CSV UTF-8 (Comma delimited)\")";
constexpr std::size_t kMaxMemberNoBytes = 64;

bool is_break(char c) {
  return c == '\r' || c == '\n';
}

// Consumes one line break at `i` (CRLF counts once) and returns true, or returns false.
bool take_break(std::string_view s, std::size_t& i) {
  if (i >= s.size()) return false;
  if (s[i] == '\r') {
    ++i;
    if (i < s.size() && s[i] == '\n') ++i;
    return true;
  }
  if (s[i] == '\n') {
    ++i;
    return true;
  }
  return false;
}

// After a syntax error the rest of the physical line is dropped so the next record starts clean.
void skip_line(std::string_view s, std::size_t& i, std::int64_t& line) {
  while (i < s.size() && !is_break(s[i])) ++i;
  if (take_break(s, i)) ++line;
}

std::int64_t line_of_offset(std::string_view s, std::size_t offset) {
  std::int64_t line = 1;
  for (std::size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n' || (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n'))) ++line;
  }
  return line;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "Member No" and "member-no" name the member_no column too: headers are typed by people.
std::string column_key(std::string_view header) {
  std::string key = lower_ascii(trim(header));
  for (auto& c : key) {
    if (c == ' ' || c == '-') c = '_';
  }
  return key;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

std::string joined(std::span<const std::string_view> names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

Error import_error(Error e, std::int64_t line, std::string_view member_no) {
  e.message = fmt::format("line {}: cannot add member '{}' ({})", line, member_no, e.message);
  return e;
}

}  // namespace

// RFC 5322 allows more, but nothing a roster should hold.
bool is_valid_email(std::string_view e) {
  const auto at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  constexpr std::string_view kForbidden = "()<>[]:;,\\\"";
  for (char c : e) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || kForbidden.find(c) != std::string_view::npos) return false;
  }
  const auto local = e.substr(0, at);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return false;
  }
  auto domain = e.substr(at + 1);
  if (domain.find('.') == std::string_view::npos) return false;
  for (;;) {
    const auto dot = domain.find('.');
    const auto label = domain.substr(0, dot);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      const auto u = static_cast<unsigned char>(c);
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || u >= 0x80;
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    domain.remove_prefix(dot + 1);
  }
}

CsvTable read_csv(std::string_view bytes) {
  CsvTable t;
  if (bytes.starts_with("\xFF\xFE") || bytes.starts_with("\xFE\xFF")) {
    t.errors.push_back({1, "UTF-16 text, " + std::string(kNotUtf8)});
    return t;
  }
  if (bytes.starts_with("\xEF\xBB\xBF")) {
    t.had_bom = true;
    bytes.remove_prefix(3);
  }
  if (std::size_t bad = 0; !is_valid_utf8(bytes, &bad)) {
    t.errors.push_back({line_of_offset(bytes, bad), std::string(kNotUtf8)});
    return t;
  }
  const auto n = bytes.size();
  std::size_t i = 0;
  std::int64_t line = 1;
  while (i < n) {
    if (take_break(bytes, i)) {
      ++line;
      continue;
    }
    CsvRecord rec;
    rec.line = line;
    bool broken = false;
    for (;;) {
      std::string field;
      const auto number = rec.fields.size() + 1;
      if (i < n && bytes[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          const char c = bytes[i];
          if (c == '"') {
            if (i + 1 < n && bytes[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\n' || (c == '\r' && (i + 1 >= n || bytes[i + 1] != '\n'))) ++line;
          field += c;
          ++i;
        }
        if (!closed) {
          t.errors.push_back(
              {rec.line, fmt::format("field {} opens a quote that is never closed", number)});
          return t;
        }
        if (i < n && bytes[i] != ',' && !is_break(bytes[i])) {
          t.errors.push_back(
              {rec.line, fmt::format("field {}: text after the closing quote", number)});
          broken = true;
        }
      } else {
        while (i < n && bytes[i] != ',' && !is_break(bytes[i])) {
          if (bytes[i] == '"') {
            t.errors.push_back(
                {rec.line, fmt::format("field {}: a quote inside an unquoted field (quote the "
                                       "whole field and double the quote)",
                                       number)});
            broken = true;
            break;
          }
          field += bytes[i];
          ++i;
        }
      }
      if (broken) break;
      rec.fields.push_back(std::move(field));
      if (i < n && bytes[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    if (broken) {
      skip_line(bytes, i, line);
      continue;
    }
    t.records.push_back(std::move(rec));
    if (take_break(bytes, i)) ++line;
  }
  return t;
}

std::vector<std::string> check_import_row(const ImportMember& row) {
  std::vector<std::string> why;
  const auto& m = row.member;
  if (m.member_no.empty()) {
    why.emplace_back("missing member_no");
  } else if (has_space_or_control(m.member_no)) {
    why.push_back(fmt::format("bad member_no '{}': no spaces or control characters", m.member_no));
  } else if (m.member_no.size() > kMaxMemberNoBytes) {
    why.push_back(fmt::format("member_no is longer than {} characters", kMaxMemberNoBytes));
  }
  if (m.name.empty()) {
    why.emplace_back("missing name");
  } else if (has_control(m.name)) {
    why.emplace_back("name contains a line break or control character");
  } else if (const auto chars = utf8_length(m.name); chars > kMaxNameChars) {
    why.push_back(fmt::format("name is {} characters long (at most {})", chars, kMaxNameChars));
  }
  if (!m.email.empty() && !is_valid_email(m.email)) {
    why.push_back(fmt::format("malformed email '{}'", m.email));
  }
  if (m.plan_code && m.plan_code->empty()) why.emplace_back("empty plan code");
  bool dates_ok = true;
  for (const auto& [value, what] :
       {std::pair{&m.valid_from, "valid_from"}, std::pair{&m.valid_until, "valid_until"}}) {
    if (*value && !is_valid_date(**value)) {
      why.push_back(fmt::format("bad {} date '{}': expected YYYY-MM-DD", what, **value));
      dates_ok = false;
    }
  }
  if (dates_ok && m.valid_from && m.valid_until && *m.valid_until < *m.valid_from) {
    why.push_back(
        fmt::format("valid_until {} is before valid_from {}", *m.valid_until, *m.valid_from));
  }
  if (row.status != MemberStatus::kPending && row.status != MemberStatus::kActive) {
    why.push_back(fmt::format("status {} cannot be imported: expected pending or active",
                              to_string(row.status)));
  }
  if (row.credit_limit && *row.credit_limit < 0) {
    why.push_back(
        fmt::format("credit_limit {} is negative: expected 0 or more yen", *row.credit_limit));
  }
  return why;
}

Roster parse_roster(std::string_view bytes, const RosterLookup& lookup) {
  Roster r;
  r.sha256 = sha256_hex(bytes);
  if (bytes.empty()) {
    r.issues.push_back({0, "the file is empty"});
    return r;
  }
  auto table = read_csv(bytes);
  r.issues = std::move(table.errors);
  if (table.records.empty()) {
    if (r.issues.empty()) r.issues.push_back({0, "the file has no header row (only blank lines)"});
    return r;
  }
  const auto& header = table.records.front();
  // A syntax error before the first good record means the header itself was unreadable.
  if (!r.issues.empty() && r.issues.front().line < header.line) return r;

  std::map<std::string, std::size_t, std::less<>> col;
  std::vector<ImportIssue> header_issues;
  for (std::size_t c = 0; c < header.fields.size(); ++c) {
    const auto key = column_key(header.fields[c]);
    if (key.empty()) {
      header_issues.push_back({header.line, fmt::format("column {} has no name", c + 1)});
    } else if (std::find(std::begin(kRosterColumns), std::end(kRosterColumns), key) ==
               std::end(kRosterColumns)) {
      header_issues.push_back(
          {header.line, fmt::format("unknown column '{}' (known columns: {})",
                                    std::string(trim(header.fields[c])), joined(kRosterColumns))});
    } else if (!col.emplace(key, c).second) {
      header_issues.push_back({header.line, fmt::format("column '{}' appears twice", key)});
    }
  }
  for (std::string_view required : {"member_no", "name"}) {
    if (col.find(required) == col.end()) {
      header_issues.push_back({header.line, fmt::format("missing column '{}'", required)});
    }
  }
  if (!header_issues.empty()) {
    r.issues.insert(r.issues.end(), header_issues.begin(), header_issues.end());
    sort_issues(r.issues);
    return r;
  }

  auto text = [&](const CsvRecord& rec, std::string_view name) -> std::string {
    const auto it = col.find(name);
    return it == col.end() ? std::string() : std::string(trim(rec.fields[it->second]));
  };
  auto optional_text = [&](const CsvRecord& rec, std::string_view name) {
    auto v = text(rec, name);
    return v.empty() ? std::nullopt : std::optional<std::string>(std::move(v));
  };
  std::unordered_map<std::string, std::int64_t> first_line;
  for (std::size_t k = 1; k < table.records.size(); ++k) {
    const auto& rec = table.records[k];
    if (std::all_of(rec.fields.begin(), rec.fields.end(),
                    [](const std::string& f) { return trim(f).empty(); })) {
      continue;
    }
    ++r.data_rows;
    if (rec.fields.size() != header.fields.size()) {
      r.issues.push_back({rec.line, fmt::format("expected {} fields as in the header, found {}",
                                                header.fields.size(), rec.fields.size())});
      continue;
    }
    ImportMember row;
    row.line = rec.line;
    row.member.member_no = text(rec, "member_no");
    row.member.name = text(rec, "name");
    row.member.email = text(rec, "email");
    row.member.plan_code = optional_text(rec, "plan");
    row.member.valid_from = optional_text(rec, "valid_from");
    row.member.valid_until = optional_text(rec, "valid_until");
    std::vector<std::string> why;
    if (const auto status = text(rec, "status"); !status.empty()) {
      row.status_given = true;
      const auto s = lower_ascii(status);
      if (s == "active") {
        row.status = MemberStatus::kActive;
      } else if (s != "pending") {
        why.push_back(fmt::format("bad status '{}': expected pending or active", status));
      }
    }
    if (const auto credit = text(rec, "credit_limit"); !credit.empty()) {
      std::int64_t value = 0;
      const auto* end = credit.data() + credit.size();
      const auto [ptr, ec] = std::from_chars(credit.data(), end, value);
      if (ec == std::errc::result_out_of_range) {
        why.push_back(fmt::format("credit_limit '{}' is too large", credit));
      } else if (ec != std::errc{} || ptr != end) {
        why.push_back(fmt::format("bad credit_limit '{}': expected whole yen, e.g. 50000", credit));
      } else {
        row.credit_limit = value;
      }
    }
    auto checks = check_import_row(row);
    why.insert(why.end(), checks.begin(), checks.end());
    if (!row.member.member_no.empty()) {
      const auto [it, fresh] = first_line.emplace(row.member.member_no, rec.line);
      if (!fresh) {
        why.push_back(fmt::format("duplicate member_no '{}' (first on line {})",
                                  row.member.member_no, it->second));
      } else if (lookup.member_exists && lookup.member_exists(row.member.member_no)) {
        why.push_back(
            fmt::format("member_no '{}' is already in the database", row.member.member_no));
      }
    }
    if (row.member.plan_code && !row.member.plan_code->empty() && lookup.plan_exists &&
        !lookup.plan_exists(*row.member.plan_code)) {
      why.push_back(fmt::format("unknown plan '{}'", *row.member.plan_code));
    }
    if (why.empty()) {
      r.rows.push_back(std::move(row));
    } else {
      for (auto& w : why) r.issues.push_back({rec.line, std::move(w)});
    }
  }
  if (r.data_rows == 0 && r.issues.empty()) {
    r.issues.push_back({0, "no member rows after the header"});
  }
  sort_issues(r.issues);
  return r;
}

void sort_issues(std::vector<ImportIssue>& issues) {
  std::stable_sort(issues.begin(), issues.end(),
                   [](const auto& a, const auto& b) { return a.line < b.line; });
}

std::string format_issue(std::string_view source, const ImportIssue& issue) {
  if (issue.line <= 0) return fmt::format("{}: {}", source, issue.reason);
  return fmt::format("{}:{}: {}", source, issue.line, issue.reason);
}

Result<ImportResult> StaffRegistry::import_members(const std::vector<ImportMember>& members,
                                                   const ImportOptions& options,
                                                   std::string_view actor) {
  if (members.empty()) return rows::invalid("nothing to import: no member rows");
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();

  // The same checks as parse_roster, again inside the transaction: the database may have
  // changed since the file was read, and callers other than labgatectl skip the parser.
  ImportResult out;
  std::unordered_map<std::string, std::int64_t> first_line;
  std::unordered_map<std::string, std::optional<std::int64_t>> plan_ids;
  std::vector<std::optional<std::int64_t>> plan_of(members.size());
  for (std::size_t k = 0; k < members.size(); ++k) {
    const auto& row = members[k];
    auto why = check_import_row(row);
    const auto& no = row.member.member_no;
    if (!no.empty()) {
      const auto [it, fresh] = first_line.emplace(no, row.line);
      if (!fresh) {
        why.push_back(fmt::format("duplicate member_no '{}' (first on line {})", no, it->second));
      } else {
        auto existing = reads_->member_by_no(no);
        if (!existing) return existing.error();
        if (*existing) why.push_back(fmt::format("member_no '{}' is already in the database", no));
      }
    }
    if (row.member.plan_code && !row.member.plan_code->empty()) {
      const auto& code = *row.member.plan_code;
      auto found = plan_ids.find(code);
      if (found == plan_ids.end()) {
        auto stmt = db_->prepare("SELECT id FROM plans WHERE code = ?1");
        if (!stmt) return stmt.error();
        stmt->bind(1, std::string_view{code});
        auto id =
            rows::first<std::int64_t>(*stmt, [](const Statement& s) { return s.column_int64(0); });
        if (!id) return id.error();
        found = plan_ids.emplace(code, *id).first;
      }
      if (!found->second) why.push_back(fmt::format("unknown plan '{}'", code));
      plan_of[k] = found->second;
    }
    for (auto& w : why) out.issues.push_back({row.line, std::move(w)});
  }
  if (!out.issues.empty()) {
    sort_issues(out.issues);
    return out;
  }

  const std::int64_t now = now_ms();
  std::int64_t with_limit = 0;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const auto& row = members[k];
    const bool active = row.status == MemberStatus::kActive;
    auto insert = db_->prepare(
        "INSERT INTO members (member_no, name, email, status, plan_id, valid_from, valid_until, "
        "created_at, approved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    if (!insert) return insert.error();
    insert->bind(1, row.member.member_no)
        .bind(2, row.member.name)
        .bind(3, row.member.email)
        .bind(4, std::string_view{to_string(row.status)})
        .bind(5, plan_of[k])
        .bind(6, row.member.valid_from)
        .bind(7, row.member.valid_until)
        .bind(8, now)
        .bind(9, active ? std::optional<std::int64_t>(now) : std::nullopt);
    if (auto s = insert->run(); !s) return import_error(s.error(), row.line, row.member.member_no);
    const std::int64_t member_id = db_->last_insert_rowid();
    if (row.credit_limit) {
      auto account = db_->prepare("INSERT INTO accounts (member_id, credit_limit) VALUES (?1, ?2)");
      if (!account) return account.error();
      account->bind(1, member_id).bind(2, *row.credit_limit);
      if (auto s = account->run(); !s) {
        return import_error(s.error(), row.line, row.member.member_no);
      }
      ++with_limit;
    }
    ++out.imported;
    if (active) ++out.active;
  }
  LABGATE_TRY(audit(actor, "members_import", options.source,
                    json{{"count", out.imported},
                         {"active", out.active},
                         {"with_credit_limit", with_limit},
                         {"file", options.source},
                         {"sha256", options.sha256},
                         {"first", members.front().member.member_no},
                         {"last", members.back().member.member_no}}
                        .dump()));
  return rows::commit_unless_dry_run(*tx, options.dry_run, std::move(out));
}

}  // namespace labgate::gateway::store
