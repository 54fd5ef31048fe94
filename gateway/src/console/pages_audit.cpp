// The audit log page (manager and admin): the rows, newest first, 50 per page, and how far the
// record can be vouched for from the box itself: whether it is sealed, the seal chain's head
// checkpoint, and the legacy hash chain's check. Full verification needs the verification key,
// which is kept off the box: a manager may paste it into a POST form to verify here, read-only,
// in this process; the key is never logged or stored and is wiped once used. Beside it go the
// checkpoints kept off the box (MQTT, statements, ward reports): the verdict lists each one with
// whether the chain still reaches it, which is what shows rows deleted from the record's end.
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "app_context.hpp"
#include "labgate/gateway/store/seal.hpp"
#include "labgate/gateway/store/seal_checkpoints.hpp"

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
      R"(<label>{}<br><textarea name="checkpoints" rows="3" cols="100"></textarea></label> )"
      R"(<button type="submit">{}</button></form><p id="checkpoints-note">{}</p>)",
      csrf_input(c.session->csrf), t(c, "audit.key"), t(c, "audit.checkpoints_input"),
      t(c, "audit.verify"), t(c, "audit.checkpoints_note"));
  return out + "</section>";
}

const char* reach_key(store::seal::Reach reach) {
  switch (reach) {
    case store::seal::Reach::kReached:
      return "audit.reach.reached";
    case store::seal::Reach::kBeyond:
      return "audit.reach.beyond";
    case store::seal::Reach::kDiffers:
      return "audit.reach.differs";
  }
  return "audit.reach.differs";
}

// Each checkpoint given and how the chain compares with it.
std::string checkpoint_table(const Context& c,
                             const std::vector<store::seal::CheckpointCheck>& checks) {
  if (checks.empty()) return "<p id=\"no-checkpoints\">" + t(c, "audit.no_checkpoints") + "</p>";
  std::string out = fmt::format(
      R"(<h2>{}</h2><table id="checkpoints"><thead><tr><th>{}</th><th>{}</th><th>{}</th>)"
      R"(<th>{}</th></tr></thead><tbody>)",
      t(c, "audit.checkpoints"), t(c, "audit.cp_seq"), t(c, "audit.cp_epoch"),
      t(c, "audit.cp_table"), t(c, "audit.cp_result"));
  for (const auto& [cp, reach] : checks) {
    out += fmt::format(
        R"(<tr data-seq="{}" data-reach="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>)",
        cp.seq, store::seal::to_string(reach), cp.seq, cp.epoch, esc(cp.table),
        t(c, reach_key(reach)));
  }
  return out + "</tbody></table>";
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
  // Checked before any verifying: a typo in a pasted checkpoint is the manager's to fix, and
  // verifying without it would pass over exactly what the checkpoint was pasted to show.
  std::vector<store::seal::Checkpoint> checkpoints;
  const std::string pasted = form_value(c.req.body(), "checkpoints");
  if (pasted.find_first_not_of(" \t\r\n") != std::string::npos) {
    auto parsed = store::seal::parse_checkpoints(pasted);
    if (!parsed) {
      sodium_memzero(key->data(), key->size());
      return fail(c, http::status::bad_request, "audit.bad_checkpoints", parsed.error().message);
    }
    checkpoints = std::move(*parsed);
  }
  std::optional<store::seal::Verdict> verdict;
  std::vector<store::seal::CheckpointCheck> checks;
  std::string error;
  {
    std::lock_guard lock(store_mu_);
    auto v = store::seal::verify(store_->database(), *key, checkpoints);
    if (v) {
      verdict = std::move(*v);
      auto reached = store::seal::check_checkpoints(store_->database(), checkpoints);
      if (reached) {
        checks = std::move(*reached);
      } else {
        verdict.reset();
        error = reached.error().message;
      }
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
  body += "</ul>" + checkpoint_table(c, checks);
  body += "<p><a href=\"/audit\">" + t(c, "back") + "</a></p>";
  return c.html(http::status::ok, tr(c.lang, "audit.verify"), body);
}

}  // namespace labgate::gateway::console
