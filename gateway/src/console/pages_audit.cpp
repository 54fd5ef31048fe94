// The audit log page (manager and admin): the rows, newest first, 50 per page, and how far the
// record can be vouched for from the box itself: whether it is sealed, the seal chain's head
// checkpoint, and the legacy hash chain's check. Full verification needs the verification key,
// which is kept off the box: a manager may paste it into a POST form to verify here, read-only,
// in this process; the key is never logged or stored and is wiped once used.
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "app_context.hpp"
#include "labgate/gateway/store/seal.hpp"

namespace labgate::gateway::console {

namespace {

constexpr std::int64_t kPage = 50;
// Most rows the page reads: list_audit returns the oldest first, so the newest are at the end.
constexpr std::int64_t kScan = 100000;

struct AuditState {
  std::vector<store::AuditEntry> rows;
  std::optional<std::string> head;  // the checkpoint line; nullopt when nothing is sealed
  std::optional<store::AuditVerdict> chain;
  std::string error;
};

std::string verification(const Context& c, const AuditState& s) {
  std::string out = fmt::format(R"(<section id="verification" data-sealed="{}"><h2>{}</h2>)",
                                s.head ? "true" : "false", t(c, "audit.verification"));
  out += s.head ? fmt::format(R"(<p>{}</p><pre id="checkpoint">{}</pre>)", t(c, "audit.sealed"),
                              esc(*s.head))
                : fmt::format(R"(<p id="unsealed">{}</p>)", t(c, "audit.unsealed"));
  if (s.chain) {
    out += fmt::format(R"(<p id="chain" data-ok="{}">{} {} ({} {})</p>)",
                       s.chain->ok ? "true" : "false",
                       s.chain->ok ? t(c, "audit.chain_ok") : t(c, "audit.chain_bad"),
                       esc(s.chain->message), s.chain->rows_checked, t(c, "audit.rows"));
  }
  if (!s.error.empty()) out += "<p class=\"error\">" + esc(s.error) + "</p>";
  out += "<p id=\"key-note\">" + t(c, "audit.key_note") + "</p>";
  // autocomplete=off: the browser must not remember the key either.
  out += fmt::format(
      R"(<form method="post" action="/audit/verify" id="audit-verify" autocomplete="off">{})"
      R"(<label>{} <input name="key" type="password" autocomplete="off" required></label> )"
      R"(<button type="submit">{}</button></form>)",
      csrf_input(c.session->csrf), t(c, "audit.key"), t(c, "audit.verify"));
  return out + "</section>";
}

}  // namespace

Response App::audit_page(Context& c) {
  std::int64_t page_no = 1;
  try {
    page_no = std::clamp<std::int64_t>(std::stoll(form_value(c.query, "page")), 1, kScan / kPage);
  } catch (const std::exception&) {
  }
  AuditState s;
  {
    std::lock_guard lock(store_mu_);
    if (auto r = store_->audit().list_audit(kScan)) s.rows = std::move(*r);
    if (auto h = store::seal::read_head(store_->database()); h && *h) {
      s.head = store::seal::format_checkpoint(**h);
    } else if (!h) {
      s.error = h.error().message;
    }
    if (auto v = store_->audit().verify_audit_chain()) s.chain = std::move(*v);
  }
  std::reverse(s.rows.begin(), s.rows.end());
  const auto skip = std::min(s.rows.size(), static_cast<std::size_t>((page_no - 1) * kPage));
  const auto end = std::min(s.rows.size(), skip + static_cast<std::size_t>(kPage));
  std::string body =
      verification(c, s) +
      fmt::format(
          R"(<table id="audit"><thead><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
          t(c, "history.time"), t(c, "audit.actor"), t(c, "audit.action"), t(c, "audit.subject"),
          t(c, "history.detail"));
  for (auto i = skip; i < end; ++i) {
    const auto& a = s.rows[i];
    body += fmt::format(
        R"(<tr data-audit="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>)",
        a.id, a.id, esc(local_time(a.at_ms)), esc(a.actor), esc(a.action), esc(a.subject),
        esc(a.detail));
  }
  body += "</tbody></table><p class=\"pages\">";
  if (page_no > 1) {
    body += fmt::format(R"(<a id="prev" href="/audit?page={}">{}</a> )", page_no - 1,
                        t(c, "members.prev"));
  }
  if (end < s.rows.size()) {
    body += fmt::format(R"(<a id="next" href="/audit?page={}">{}</a>)", page_no + 1,
                        t(c, "members.next"));
  }
  return c.html(http::status::ok, tr(c.lang, "nav.audit"), body + "</p>");
}

Response App::audit_verify(Context& c) {
  std::string text = form_value(c.req.body(), "key");
  auto key = store::seal::parse_verification_key(text);
  sodium_memzero(text.data(), text.size());
  if (!key) return fail(c, http::status::bad_request, "audit.bad_key");
  std::optional<store::seal::Verdict> verdict;
  std::string error;
  {
    std::lock_guard lock(store_mu_);
    auto v = store::seal::verify(store_->database(), *key, {});
    if (v) {
      verdict = std::move(*v);
    } else {
      error = v.error().message;
    }
  }
  sodium_memzero(key->data(), key->size());
  if (!verdict) return fail(c, http::status::internal_server_error, "audit.verify_failed", error);
  spdlog::info("console: {} verified the sealed record: {}", c.session->login,
               verdict->ok ? "ok" : "TAMPERED");
  std::string body = fmt::format(
      R"(<p id="verdict" data-ok="{}">{} {}</p><p>{} {} / {} {}</p><ul id="findings">)",
      verdict->ok ? "true" : "false", verdict->ok ? t(c, "audit.verified") : t(c, "audit.tampered"),
      esc(verdict->message), verdict->seals_checked, t(c, "audit.seals"), verdict->rows_checked,
      t(c, "audit.rows"));
  for (const auto& f : verdict->findings) {
    body += fmt::format("<li>{} {} #{}: {}</li>", store::seal::to_string(f.kind), esc(f.table),
                        f.row_id, esc(f.message));
  }
  body += "</ul><p><a href=\"/audit\">" + t(c, "back") + "</a></p>";
  return c.html(http::status::ok, tr(c.lang, "audit.verify"), body);
}

}  // namespace labgate::gateway::console
