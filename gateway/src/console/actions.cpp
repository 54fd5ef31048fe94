// The POST routes that act: each checks the role on the server, then goes through labgated's
// admin channel as the logged-in account, so the audit row names them. And the static files.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include "app_context.hpp"
#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::console {

namespace {

using json = nlohmann::json;

struct Action {
  Permission permission;
  json request;  // the admin channel request, without "as"
  std::string back;
  bool confirm{false};  // asks "are you sure?" on a page of its own first
};

json change_request(const std::string& op, json args) {
  return {{"op", "change"}, {"change", {{"op", op}, {"args", std::move(args)}}}};
}

// A form value, or `fallback` when it is empty; dates and optional fields are left out empty.
std::string value_or(std::string_view form, std::string_view name, const std::string& fallback) {
  auto v = form_value(form, name);
  return v.empty() ? fallback : v;
}

void put_if_set(json& args, std::string_view form, const char* name) {
  if (auto v = form_value(form, name); !v.empty()) args[name] = v;
}

// Enrolment at a reader: POST /members/{no}/enrol starts it, .../enrol/cancel stops it; both
// go on to the enrolment page, which shows how it stands.
std::optional<Action> enrol_action(const std::vector<std::string>& p, std::string_view form) {
  const std::string reader = form_value(form, "reader");
  const std::string back = "/members/" + url_encode(p[1]) + "/enrol?reader=" + url_encode(reader);
  if (p.size() == 3) {
    int timeout = 60;
    try {
      timeout = std::clamp(std::stoi(value_or(form, "timeout", "60")), 5, 600);
    } catch (const std::exception&) {
    }
    return Action{
        Permission::kMembers,
        {{"op", "enroll"}, {"reader", reader}, {"member_no", p[1]}, {"timeout_s", timeout}},
        back};
  }
  if (p.size() == 4 && p[3] == "cancel") {
    return Action{Permission::kMembers, {{"op", "enroll-cancel"}, {"reader", reader}}, back};
  }
  return std::nullopt;
}

std::optional<Action> member_action(const std::vector<std::string>& p, std::string_view form) {
  if (p.size() == 1) {
    json args{{"member_no", form_value(form, "member_no")},
              {"name", form_value(form, "name")},
              {"email", form_value(form, "email")}};
    put_if_set(args, form, "plan");
    return Action{Permission::kMembers, change_request("member.add", args),
                  "/members/" + form_value(form, "member_no")};
  }
  if (p.size() >= 3 && p[2] == "enrol") return enrol_action(p, form);
  if (p.size() != 3 || (p[2] != "approve" && p[2] != "suspend")) return std::nullopt;
  json args{{"member_no", p[1]}};
  if (p[2] == "suspend") args["reason"] = form_value(form, "reason");
  return Action{Permission::kMembers, change_request("member." + p[2], args), "/members/" + p[1]};
}

std::optional<Action> machine_action(const std::vector<std::string>& p, std::string_view form,
                                     const std::string& login) {
  if (p.size() != 3) return std::nullopt;
  const std::string& id = p[1];
  const std::string back = value_or(form, "back", "/") == "/machines" ? "/machines" : "/";
  if (p[2] == "lockout") {
    return Action{
        Permission::kMachines,
        {{"op", "lockout"}, {"machine", id}, {"reason", value_or(form, "reason", "staff")}},
        back,
        true};
  }
  if (p[2] == "release" || p[2] == "confirm") {
    return Action{Permission::kMachines, {{"op", p[2]}, {"machine", id}}, back, p[2] == "release"};
  }
  if (p[2] == "inspection") {
    json args{{"machine_id", id},
              {"inspector", value_or(form, "inspector", login)},
              {"result", form_value(form, "result")},
              {"notes", form_value(form, "notes")}};
    put_if_set(args, form, "done_on");
    put_if_set(args, form, "next_due");
    return Action{Permission::kMachines, change_request("inspection.record", args), "/machines"};
  }
  return std::nullopt;
}

std::optional<Action> cert_action(const std::vector<std::string>& p, std::string_view form,
                                  const std::string& login) {
  const std::string back = "/certifications?type=" + url_encode(form_value(form, "type"));
  json args{{"member_no", form_value(form, "member_no")}, {"type", form_value(form, "type")}};
  if (p.size() == 1) {
    args["trainer"] = value_or(form, "trainer", login);
    put_if_set(args, form, "granted_on");
    return Action{Permission::kCertifications, change_request("cert.grant", args), back};
  }
  if (p.size() == 2 && p[1] == "revoke") {
    args["reason"] = form_value(form, "reason");
    return Action{Permission::kCertifications, change_request("cert.revoke", args), back, true};
  }
  return std::nullopt;
}

// The action a POST path names, with its form values; nullopt for an unknown route.
std::optional<Action> action_for(const std::vector<std::string>& p, std::string_view form,
                                 const std::string& login) {
  if (p.empty()) return std::nullopt;
  if (p[0] == "members") return member_action(p, form);
  if (p[0] == "machines") return machine_action(p, form, login);
  if (p[0] == "certifications") return cert_action(p, form, login);
  if (p[0] == "all-stop" && p.size() == 1) {
    return Action{Permission::kMachines, {{"op", "all-stop"}}, "/", true};
  }
  if (p[0] == "doors" && p.size() == 3 && p[2] == "unlock") {
    return Action{Permission::kMachines, {{"op", "unlock"}, {"door", p[1]}}, "/", true};
  }
  return std::nullopt;
}

// The fields a confirmation page carries over to its second POST.
constexpr std::array kCarried = {"reason", "member_no", "type", "back"};

// The first form value the project's text validator refuses, with why.
std::optional<std::string> bad_field(std::string_view form) {
  for (const char* name :
       {"member_no", "name", "email", "plan", "reason", "type", "trainer", "reader", "granted_on",
        "inspector", "result", "notes", "done_on", "next_due"}) {
    const auto value = form_value(form, name);
    const std::string_view n = name;
    const auto field = n == "reason"  ? text::Field::kReason
                       : n == "email" ? text::Field::kEmail
                       : n == "notes" ? text::Field::kNote
                                      : text::Field::kName;
    if (auto why = text::check(field, value)) return fmt::format("{}: {}", name, *why);
  }
  return std::nullopt;
}

http::status status_of(const std::string& code) {
  if (code == "not_found") return http::status::not_found;
  if (code == "conflict") return http::status::conflict;
  if (code == "forbidden") return http::status::forbidden;
  if (code == "unavailable") return http::status::service_unavailable;
  return http::status::bad_request;
}

}  // namespace

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t at = 1;
  while (at <= path.size()) {
    auto end = path.find('/', at);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

Response App::do_action(Context& c) {
  const auto action = action_for(split_path(c.path), c.req.body(), c.session->login);
  if (!action) return fail(c, http::status::not_found, "error.not_found");
  if (!role_may(c.role(), action->permission)) {
    spdlog::warn("console: {} ({}) refused {}", c.session->login, c.role(), c.path);
    return fail(c, http::status::forbidden, "error.forbidden");
  }
  if (auto why = bad_field(c.req.body())) {
    return fail(c, http::status::bad_request, "error.bad_request", " " + *why);
  }
  if (action->confirm && form_value(c.req.body(), "confirm") != "1") return confirm_page(c);
  return change(c, action->request, action->back);
}

Response App::confirm_page(Context& c) {
  // The second step of an action that cannot be undone quietly: the same POST again, with
  // confirm=1. Without JavaScript this page is the confirmation; the role was checked already.
  std::string hidden;
  for (const char* name : kCarried) {
    if (auto v = form_value(c.req.body(), name); !v.empty()) {
      hidden += fmt::format(R"(<input type="hidden" name="{}" value="{}">)", name, esc(v));
    }
  }
  const std::string reason = form_value(c.req.body(), "reason");
  const std::string body = fmt::format(
      R"(<p id="confirm-what" data-action="{0}">{1} <code>{0}</code>{2}</p>)"
      R"(<form method="post" action="{0}" id="confirm-form">{3}{4})"
      R"(<input type="hidden" name="confirm" value="1"> <button type="submit" id="confirm-yes">{5}</button>)"
      R"( <a href="/" id="confirm-cancel">{6}</a></form>)",
      esc(c.path), esc(tr(c.lang, "confirm.action")), reason.empty() ? "" : " — " + esc(reason),
      csrf_input(c.session->csrf), hidden, esc(tr(c.lang, "confirm.yes")),
      esc(tr(c.lang, "confirm.cancel")));
  return c.html(http::status::ok, tr(c.lang, "confirm"), body);
}

Response App::change(Context& c, nlohmann::json request, const std::string& back) {
  request["as"] = c.session->login;
  auto reply = admin_request(options_.site.admin.socket, request, std::chrono::seconds(10));
  if (!reply) return fail(c, http::status::service_unavailable, "error.unavailable");
  if (!reply->value("ok", false)) {
    const std::string code = reply->value("code", "bad_request");
    return fail(c, status_of(code), "error.refused", reply->value("error", code));
  }
  spdlog::info("console: {} {}", c.session->login, c.path);
  return c.redirect(back);
}

Response App::serve_static(Context& c, std::string_view rel) {
  namespace fs = std::filesystem;
  // Only plain names under the directory: no "..", no hidden files, no absolute paths.
  for (const auto& part : split_path("/" + std::string(rel))) {
    if (part.empty() || part.front() == '.' || part.find('\\') != std::string::npos) {
      return fail(c, http::status::not_found, "error.not_found");
    }
  }
  std::error_code ec;
  const fs::path root = fs::canonical(options_.static_dir, ec);
  const fs::path file = fs::weakly_canonical(root / fs::path(rel), ec);
  const auto [r, f] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (ec || r != root.end() || !fs::is_regular_file(file, ec)) {
    return fail(c, http::status::not_found, "error.not_found");
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  const auto ext = file.extension().string();
  const std::string_view type = ext == ".js"    ? "text/javascript; charset=utf-8"
                                : ext == ".css" ? "text/css; charset=utf-8"
                                : ext == ".svg" ? "image/svg+xml"
                                : ext == ".png" ? "image/png"
                                                : "application/octet-stream";
  auto res = c.respond(http::status::ok, body.str(), type);
  res.set(http::field::cache_control, "max-age=3600");
  return res;
}

}  // namespace labgate::gateway::console
