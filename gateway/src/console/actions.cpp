// The POST routes that act: each checks the role on the server, then goes through labgated's
// admin channel as the logged-in account, so the audit row names them. And the static files.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "app_context.hpp"
#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::console {

namespace {

using json = nlohmann::json;

// "/machines/laser/lockout" -> {"machines", "laser", "lockout"}; empty when not three parts.
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

struct Action {
  Permission permission;
  json request;  // the admin channel request, without "as"
  std::string back;
};

// The action a POST path names, with its form values; nullopt for an unknown route.
std::optional<Action> action_for(const std::vector<std::string>& p, std::string_view form) {
  const auto reason = form_value(form, "reason");
  if (p.size() == 1 && p[0] == "members") {
    json args{{"member_no", form_value(form, "member_no")},
              {"name", form_value(form, "name")},
              {"email", form_value(form, "email")}};
    if (auto plan = form_value(form, "plan"); !plan.empty()) args["plan"] = plan;
    return Action{Permission::kMembers,
                  {{"op", "change"}, {"change", {{"op", "member.add"}, {"args", args}}}},
                  "/members/" + form_value(form, "member_no")};
  }
  if (p.size() != 3) return std::nullopt;
  const std::string& id = p[1];
  if (p[0] == "members" && (p[2] == "approve" || p[2] == "suspend")) {
    json args{{"member_no", id}};
    if (p[2] == "suspend") args["reason"] = reason;
    return Action{Permission::kMembers,
                  {{"op", "change"}, {"change", {{"op", "member." + p[2]}, {"args", args}}}},
                  "/members/" + id};
  }
  if (p[0] == "machines" && p[2] == "lockout") {
    return Action{
        Permission::kMachines,
        {{"op", "lockout"}, {"machine", id}, {"reason", reason.empty() ? "staff" : reason}},
        "/"};
  }
  if (p[0] == "machines" && p[2] == "release") {
    return Action{Permission::kMachines, {{"op", "release"}, {"machine", id}}, "/"};
  }
  if (p[0] == "doors" && p[2] == "unlock") {
    return Action{Permission::kMachines, {{"op", "unlock"}, {"door", id}}, "/"};
  }
  return std::nullopt;
}

// The first form value the project's text validator refuses, with why.
std::optional<std::string> bad_field(std::string_view form) {
  for (const char* name : {"member_no", "name", "email", "plan", "reason"}) {
    const auto value = form_value(form, name);
    const auto field = std::string_view(name) == "reason"  ? text::Field::kReason
                       : std::string_view(name) == "email" ? text::Field::kEmail
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

Response App::do_action(Context& c) {
  const auto action = action_for(split_path(c.path), c.req.body());
  if (!action) return fail(c, http::status::not_found, "error.not_found");
  if (!role_may(c.role(), action->permission)) {
    spdlog::warn("console: {} ({}) refused {}", c.session->login, c.role(), c.path);
    return fail(c, http::status::forbidden, "error.forbidden");
  }
  if (auto why = bad_field(c.req.body())) {
    return fail(c, http::status::bad_request, "error.bad_request", " " + *why);
  }
  return change(c, action->request, action->back);
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
