// The GET pages. Every value from the store, the daemon or the request goes through esc().
#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <sstream>

#include "app_context.hpp"

namespace labgate::gateway::console {

namespace {

using json = nlohmann::json;

// "door front locked strike=locked" / "machine laser idle relay=off user=-" -> words.
std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

std::string action_form(const Context& c, const std::string& action, std::string_view label,
                        bool with_reason, bool js_confirm) {
  std::string reason;
  if (with_reason) {
    reason = fmt::format(R"( <input name="reason" placeholder="{}" maxlength="500">)",
                         esc(tr(c.lang, "reason")));
  }
  return fmt::format(
      R"(<form method="post" action="{}" class="inline{}">{}{} <button type="submit">{}</button></form>)",
      esc(action), js_confirm ? " confirm" : "", csrf_input(c.session->csrf), reason, esc(label));
}

namespace {

std::string door_item(const Context& c, const std::vector<std::string>& w) {
  const std::string& id = w[1];
  const std::string state = w.size() > 2 ? w[2] : "unknown";
  std::string out = fmt::format(
      R"(<li data-door="{0}" data-state="{1}"><span class="id">{0}</span> <span class="state">{2}</span>)",
      esc(id), esc(state), esc(tr(c.lang, "state.door." + state)));
  if (role_may(c.role(), Permission::kMachines)) {
    out += action_form(c, "/doors/" + id + "/unlock", tr(c.lang, "door.unlock"), false, false);
  }
  return out + "</li>";
}

std::string machine_item(const Context& c, const std::vector<std::string>& w) {
  const std::string& id = w[1];
  std::string user = w.size() > 4 && w[4].starts_with("user=") ? w[4].substr(5) : "-";
  const std::string state = w.size() > 2 ? w[2] : "unknown";
  std::string out = fmt::format(
      R"(<li data-machine="{0}" data-state="{1}"><span class="id">{0}</span> <span class="state">{3}</span> <span class="user">{2}</span>)",
      esc(id), esc(state), esc(user), esc(tr(c.lang, "state.machine." + state)));
  if (role_may(c.role(), Permission::kMachines)) {
    const std::string base = "/machines/" + id;
    out += action_form(c, base + "/lockout", tr(c.lang, "machine.lockout"), true, false);
    out += action_form(c, base + "/release", tr(c.lang, "machine.release"), false, false);
    out += action_form(c, base + "/confirm", tr(c.lang, "machine.confirm"), false, true);
  }
  return out + "</li>";
}

// The state names in the page's language, for console.js to label live changes with: a JSON
// object in an attribute (escaped), as the page's policy allows no inline script.
std::string state_labels(const Context& c) {
  json labels = json::object();
  for (const char* s : {"locked", "unlocked", "open", "held_open", "forced_open", "fire_release",
                        "fault", "unknown"}) {
    labels["door"][s] = std::string(tr(c.lang, std::string("state.door.") + s));
  }
  for (const char* s : {"startup", "idle", "in_use", "grace", "busy_hold", "awaiting_checkoff",
                        "out_of_service", "fire_alarm", "fault", "unknown"}) {
    labels["machine"][s] = std::string(tr(c.lang, std::string("state.machine.") + s));
  }
  return fmt::format(R"(<div id="state-labels" hidden data-labels="{}"></div>)",
                     esc(labels.dump()));
}

// A query that could be a card's UID: 4 to 10 bytes of hex (':' or spaces between bytes).
std::optional<std::vector<std::uint8_t>> card_uid(std::string_view q) {
  std::size_t digits = 0;
  for (const char ch : q) {
    if (std::isxdigit(static_cast<unsigned char>(ch))) {
      ++digits;
    } else if (ch != ':' && ch != ' ') {
      return std::nullopt;
    }
  }
  if (digits < 8 || digits > 20) return std::nullopt;
  auto bytes = store::parse_hex(q);
  if (!bytes) return std::nullopt;
  return std::move(*bytes);
}

// Yen with thousands separators ("-1,200").
std::string yen(std::int64_t amount) {
  std::string digits = std::to_string(amount < 0 ? -amount : amount);
  for (auto i = static_cast<std::ptrdiff_t>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return (amount < 0 ? "-" : "") + digits;
}

}  // namespace

Response App::live_page(Context& c) {
  auto status =
      admin_request(options_.site.admin.socket, {{"op", "status"}, {"as", c.session->login}},
                    std::chrono::seconds(3));
  std::vector<std::vector<std::string>> lines;
  if (status && status->value("ok", false)) {
    for (const auto& l : status->value("lines", json::array())) {
      if (l.is_string()) lines.push_back(words(l.get<std::string>()));
    }
  } else {
    for (const auto& d : options_.site.doors) lines.push_back({"door", d.id, "unknown"});
    for (const auto& m : options_.site.machines) lines.push_back({"machine", m.id, "unknown"});
  }
  std::string doors, machines;
  for (const auto& w : lines) {
    if (w.size() >= 2 && w[0] == "door") doors += door_item(c, w);
    if (w.size() >= 2 && w[0] == "machine") machines += machine_item(c, w);
  }
  std::string events;
  {
    std::lock_guard lock(store_mu_);
    store::HistoryFilter filter;
    filter.limit = 20;
    if (auto rows = store_->events().list_events(filter)) {
      for (const auto& e : *rows) {
        events +=
            fmt::format(R"(<li data-seq="{}">{} {} {} {} {}</li>)", e.seq, esc(local_time(e.at_ms)),
                        esc(e.door_id.value_or(e.machine_id.value_or(""))),
                        esc(e.member_no.value_or("")), esc(e.kind), esc(e.reason));
      }
    }
  }
  std::string body = state_labels(c);
  if (!status) body += "<p class=\"error\" id=\"unavailable\">" + t(c, "live.unavailable") + "</p>";
  if (role_may(c.role(), Permission::kMachines)) {
    body += fmt::format(
        R"(<form method="post" action="/all-stop" id="all-stop">{}<button type="submit">{}</button></form>)",
        csrf_input(c.session->csrf), t(c, "live.all_stop"));
  }
  body += fmt::format(
      R"(<section><h2>{}</h2><ul id="doors">{}</ul></section><section><h2>{}</h2><ul id="machines">{}</ul></section><section><h2>{}</h2><ul id="events" data-live="/live/events">{}</ul></section>)",
      t(c, "live.doors"), doors, t(c, "live.machines"), machines, t(c, "live.events"), events);
  return c.html(http::status::ok, tr(c.lang, "nav.live"), body);
}

Response App::rollcall_page(Context& c) {
  std::string rows;
  std::size_t count = 0;
  {
    std::lock_guard lock(store_mu_);
    store::HistoryFilter filter;
    filter.open_only = true;
    filter.limit = 100000;
    if (auto sessions = store_->events().list_sessions(filter)) {
      for (const auto& s : *sessions) {
        if (s.kind != store::SessionKind::kCoworking) continue;
        ++count;
        std::string name;
        if (auto m = store_->taps().member_by_no(s.member_no.value_or("")); m && *m) {
          name = (*m)->name;
        }
        rows +=
            fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(s.member_no.value_or("")),
                        esc(name), esc(local_time(s.started_at_ms)));
      }
    }
  }
  const std::string body = fmt::format(
      R"(<p id="count">{} {}</p><table id="rollcall"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>)",
      count, t(c, "rollcall.count"), t(c, "member.no"), t(c, "member.name"), t(c, "rollcall.since"),
      rows);
  return c.html(http::status::ok, tr(c.lang, "rollcall.heading"), body);
}

Response App::members_page(Context& c) {
  constexpr std::int64_t kPage = 50;
  const std::string q = form_value(c.query, "q");
  std::int64_t page_no = 1;
  try {
    page_no = std::clamp<std::int64_t>(std::stoll(form_value(c.query, "page")), 1, 100000);
  } catch (const std::exception&) {
  }
  std::vector<store::Member> found;
  // The store keeps only a keyed hash of each card's UID: a typed UID is hashed the same way,
  // for each technology, and looked up exactly (never shown back beyond the query itself).
  std::vector<store::CredentialMatch> by_card;
  {
    std::lock_guard lock(store_mu_);
    if (const auto uid = card_uid(q); uid && page_no == 1) {
      for (const char* tech : {"iso14443a", "felica", "desfire"}) {
        if (auto m = store_->taps().find_credential(tech, *uid); m && *m) {
          by_card.push_back(std::move(**m));
        }
      }
    }
    auto r = store_->staff().search_members(q, kPage + 1, (page_no - 1) * kPage);
    if (r) found = std::move(*r);
  }
  const bool more = found.size() > static_cast<std::size_t>(kPage);
  if (more) found.pop_back();
  std::string rows;
  for (const auto& match : by_card) {
    const auto& m = match.member;
    rows += fmt::format(
        R"(<tr data-member="{0}" data-card="{3}"><td><a href="/members/{0}">{0}</a></td><td>{1}</td><td>{2}</td></tr>)",
        esc(m.member_no), esc(m.name),
        esc(tr(c.lang, std::string("member.status.") + store::to_string(m.status))) + " — " +
            esc(tr(c.lang,
                   match.credential.revoked_at_ms ? "members.card_revoked" : "members.card_match")),
        esc(match.credential.technology));
  }
  for (const auto& m : found) {
    rows += fmt::format(
        R"(<tr data-member="{0}"><td><a href="/members/{0}">{0}</a></td><td>{1}</td><td>{2}</td></tr>)",
        esc(m.member_no), esc(m.name),
        esc(tr(c.lang, std::string("member.status.") + store::to_string(m.status))));
  }
  std::string body = fmt::format(
      R"(<form method="get" action="/members" id="search"><input name="q" id="q" value="{}" placeholder="{}"> <button type="submit">{}</button></form>)",
      esc(q), esc(tr(c.lang, "members.query")), t(c, "members.search"));
  body +=
      rows.empty()
          ? "<p id=\"none\">" + t(c, "members.none") + "</p>"
          : fmt::format(
                R"(<table id="members"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>)",
                t(c, "member.no"), t(c, "member.name"), t(c, "member.status"), rows);
  const auto link = [&](std::int64_t p, std::string_view key, std::string_view id) {
    return fmt::format(R"(<a id="{}" href="/members?q={}&amp;page={}">{}</a> )", id, esc(q), p,
                       esc(tr(c.lang, key)));
  };
  body += "<p class=\"pages\">";
  if (page_no > 1) body += link(page_no - 1, "members.prev", "prev");
  if (more) body += link(page_no + 1, "members.next", "next");
  body += "</p>";
  if (role_may(c.role(), Permission::kMembers)) {
    body += fmt::format(
        R"(<h2>{}</h2><form method="post" action="/members" id="register">{}<p><label>{} <input name="member_no" required></label></p><p><label>{} <input name="name" required></label></p><p><label>{} <input name="email" type="email"></label></p><p><label>{} <input name="plan"></label></p><p><button type="submit">{}</button></p></form>)",
        t(c, "members.register"), csrf_input(c.session->csrf), t(c, "member.no"),
        t(c, "member.name"), t(c, "member.email"), t(c, "member.plan"), t(c, "members.add"));
  }
  return c.html(http::status::ok, tr(c.lang, "nav.members"), body);
}

Response App::member_page(Context& c, const std::string& member_no) {
  std::optional<store::Member> member;
  std::vector<store::Credential> cards;
  std::vector<store::Certification> certs;
  std::vector<store::AccessEvent> events;
  std::vector<store::Session> sessions;
  std::optional<store::Account> account;
  {
    std::lock_guard lock(store_mu_);
    if (auto m = store_->taps().member_by_no(member_no); m && *m) member = std::move(**m);
    if (member) {
      if (auto a = store_->ledger().account(member_no)) account = std::move(*a);
      if (auto r = store_->staff().list_credentials(member_no)) cards = std::move(*r);
      store::CertificationFilter filter;
      filter.member_no = member_no;
      if (auto r = store_->staff().list_certifications(filter)) certs = std::move(*r);
      store::HistoryFilter recent;
      recent.member_no = member_no;
      recent.limit = 20;
      if (auto r = store_->events().list_events(recent)) events = std::move(*r);
      if (auto r = store_->events().list_sessions(recent)) sessions = std::move(*r);
    }
  }
  if (!member) return fail(c, http::status::not_found, "error.not_found");
  std::string body = fmt::format(
      R"(<dl id="member" data-member="{0}" data-status="{3}"><dt>{4}</dt><dd>{0}</dd><dt>{5}</dt><dd id="name">{1}</dd><dt>{6}</dt><dd>{2}</dd><dt>{7}</dt><dd id="status">{8}</dd></dl>)",
      esc(member->member_no), esc(member->name), esc(member->email),
      store::to_string(member->status), t(c, "member.no"), t(c, "member.name"),
      t(c, "member.email"), t(c, "member.status"),
      esc(tr(c.lang, std::string("member.status.") + store::to_string(member->status))));
  if (account) {
    // What the member may still spend: the balance plus the credit limit (billing ledger).
    body += fmt::format(
        R"(<h2>{}</h2><dl id="account"><dt>{}</dt><dd id="balance" data-yen="{}">{} {}</dd><dt>{}</dt><dd id="credit-limit" data-yen="{}">{} {}</dd></dl>)",
        t(c, "member.account"), t(c, "member.balance"), account->balance, yen(account->balance),
        t(c, "yen"), t(c, "member.credit_limit"), account->credit_limit, yen(account->credit_limit),
        t(c, "yen"));
  }
  if (role_may(c.role(), Permission::kMembers)) {
    body += fmt::format(R"(<p><a id="member-bookings" href="/bookings?member={}">{}</a></p>)",
                        esc(url_encode(member->member_no)), t(c, "bookings.link"));
  }
  body += "<h2>" + t(c, "member.cards") + "</h2><ul id=\"cards\">";
  for (const auto& card : cards) {
    body += fmt::format("<li>#{} {} {}{}</li>", card.id, esc(card.technology), esc(card.label),
                        card.revoked_at_ms ? " (revoked)" : "");
  }
  body += "</ul><h2>" + t(c, "member.certs") + "</h2><ul id=\"certs\">";
  for (const auto& cert : certs) {
    body += fmt::format("<li>{} {} {}</li>", esc(cert.type_code), esc(cert.granted_on),
                        esc(cert.expires_on.value_or("")));
  }
  body += "</ul><h2>" + t(c, "member.events") + "</h2><ul id=\"member-events\">";
  for (const auto& e : events) {
    body +=
        fmt::format("<li>{} {} {} {}</li>", esc(local_time(e.at_ms)),
                    esc(e.door_id.value_or(e.machine_id.value_or(""))), esc(e.kind), esc(e.reason));
  }
  body += "</ul><h2>" + t(c, "member.sessions") + "</h2><ul id=\"member-sessions\">";
  for (const auto& s : sessions) {
    body += fmt::format("<li>{} {} {}</li>", esc(local_time(s.started_at_ms)),
                        esc(s.machine_id.value_or(store::to_string(s.kind))),
                        s.ended_at_ms ? esc(local_time(*s.ended_at_ms)) : "…");
  }
  body += "</ul>";
  if (role_may(c.role(), Permission::kMembers)) {
    const std::string base = "/members/" + member->member_no;
    body += fmt::format(R"(<p><a href="{}/enrol" id="enrol-link">{}</a></p>)",
                        esc("/members/" + url_encode(member->member_no)), t(c, "enrol.link"));
    if (member->status != store::MemberStatus::kActive) {
      body += action_form(c, base + "/approve", tr(c.lang, "member.approve"), false, true);
    }
    if (member->status != store::MemberStatus::kSuspended) {
      body += action_form(c, base + "/suspend", tr(c.lang, "member.suspend"), true, true);
    }
  }
  return c.html(http::status::ok, member->name, body);
}

}  // namespace labgate::gateway::console
