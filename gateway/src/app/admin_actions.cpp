#include "admin_actions.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <utility>

#include "labgate/gateway/billing/changes.hpp"
#include "labgate/gateway/store/changes.hpp"

namespace labgate::gateway::app {

namespace {

using R = SiteAdminActions::R;

R unavailable() {
  return R::failure(admin::ErrorCode::kUnavailable, "store unavailable");
}

R unknown(const char* what, const std::string& id) {
  return R::failure(admin::ErrorCode::kNotFound, std::string("unknown ") + what + " " + id);
}

admin::ErrorCode code_of(store::ErrorKind kind) {
  switch (kind) {
    case store::ErrorKind::kForbidden:
      return admin::ErrorCode::kForbidden;
    case store::ErrorKind::kNotFound:
      return admin::ErrorCode::kNotFound;
    case store::ErrorKind::kInvalid:
      return admin::ErrorCode::kBadRequest;
    case store::ErrorKind::kConflict:
    case store::ErrorKind::kConstraint:
      return admin::ErrorCode::kConflict;
    default:
      return admin::ErrorCode::kUnavailable;
  }
}

}  // namespace

SiteAdminActions::SiteAdminActions(AdminWiring wiring) : w_(std::move(wiring)) {
  w_.change_store_options.clock = [this] { return change_now_ms_.load(); };
}

SiteAdminActions::~SiteAdminActions() {
  change_pool_.join();
}

R SiteAdminActions::status() {
  if (!w_.site) return unavailable();
  R r;
  r.data = {{"lines", w_.site->status_lines()},
            {"faulted", w_.site->faulted()},
            {"pending_writes", w_.site->pending_writes()}};
  return r;
}

std::optional<R> SiteAdminActions::refused(const admin::Caller& caller, store::Actor& actor,
                                           store::Permission need) {
  if (!w_.db) return unavailable();
  actor = store::Actor::declared(caller.as, caller.uid);
  if (auto st = store::check_account(w_.db->database(), actor, need); !st) {
    return R::failure(code_of(st.error().kind), st.error().message);
  }
  return std::nullopt;
}

R SiteAdminActions::unlock(const std::string& door, const admin::Caller& caller) {
  if (!w_.site) return unavailable();
  store::Actor actor;
  if (auto no = refused(caller, actor)) return *no;
  if (!w_.site->remote_unlock(door, actor)) return unknown("door", door);
  return R{true, {}, {}, {{"door", door}}};
}

R SiteAdminActions::lockout(const std::string& machine, const std::string& reason,
                            const admin::Caller& caller) {
  if (!w_.site) return unavailable();
  store::Actor actor;
  if (auto no = refused(caller, actor)) return *no;
  if (!w_.site->lockout(machine, reason, actor)) return unknown("machine", machine);
  return R{true, {}, {}, {{"machine", machine}, {"reason", reason}}};
}

R SiteAdminActions::release(const std::string& machine, const admin::Caller& caller) {
  if (!w_.site) return unavailable();
  store::Actor actor;
  if (auto no = refused(caller, actor)) return *no;
  if (!w_.site->release(machine, actor)) return unknown("machine", machine);
  return R{true, {}, {}, {{"machine", machine}}};
}

R SiteAdminActions::confirm(const std::string& machine, const admin::Caller& caller) {
  if (!w_.site) return unavailable();
  store::Actor actor;
  if (auto no = refused(caller, actor)) return *no;
  if (!w_.site->confirm(machine, actor)) return unknown("machine", machine);
  return R{true, {}, {}, {{"machine", machine}}};
}

R SiteAdminActions::all_stop(const admin::Caller& caller) {
  if (!w_.site) return unavailable();
  store::Actor actor;
  if (auto no = refused(caller, actor)) return *no;
  w_.site->all_stop(actor);
  return R{};
}

namespace {

// An Enrollments reply line ("ok waiting", "ok enrolled M1 iso14443a credential=7", "err
// timeout", ...) as the channel's answer.
R enrollment_reply(const std::string& line) {
  R r;
  if (line == "ok waiting") {
    r.data = {{"state", "waiting"}};
  } else if (line.rfind("ok enrolled ", 0) == 0) {
    r.data = {{"state", "done"}};
    if (auto at = line.find("credential="); at != std::string::npos) {
      r.data["credential"] = std::stoll(line.substr(at + 11));
    }
  } else if (line == "err timeout" || line == "err cancelled") {
    r.data = {{"state", line.substr(4) == "timeout" ? "timeout" : "cancelled"}};
  } else if (line.rfind("err not armed", 0) == 0) {
    return R::failure(admin::ErrorCode::kNotFound, line.substr(4));
  } else {
    r.data = {{"state", "failed"}, {"error", line.rfind("err ", 0) == 0 ? line.substr(4) : line}};
  }
  return r;
}

}  // namespace

R SiteAdminActions::enroll(const std::string& reader, const std::string& member_no, int timeout_s,
                           const admin::Caller& caller) {
  if (!w_.site || !w_.enrollments) return unavailable();
  store::Actor actor;
  if (auto no = refused(caller, actor, store::Permission::kMembers)) return *no;
  auto member = w_.db->taps().member_by_no(member_no);
  if (!member.ok()) return unavailable();
  if (!member.value()) return unknown("member", member_no);
  const std::string timeout = std::to_string(
      timeout_s > 0 ? timeout_s : static_cast<int>(Enrollments::kDefaultTimeout.count()));
  const auto line = w_.enrollments->arm_command({reader, member_no, timeout, caller.label()});
  if (line.rfind("err unknown reader", 0) == 0) return unknown("reader", reader);
  if (line.rfind("ok", 0) != 0) return R::failure(admin::ErrorCode::kBadRequest, line.substr(4));
  (void)w_.db->audit().append_audit(actor, "enroll_armed", reader,
                                    nlohmann::json{{"member_no", member_no}}.dump());
  return R{true, {}, {}, {{"reader", reader}, {"state", "waiting"}}};
}

R SiteAdminActions::enroll_status(const std::string& reader, const admin::Caller& caller) {
  if (!w_.enrollments) return unavailable();
  store::Actor actor;
  if (auto no = refused(caller, actor, store::Permission::kMembers)) return *no;
  return enrollment_reply(w_.enrollments->status_command({reader}));
}

R SiteAdminActions::enroll_cancel(const std::string& reader, const admin::Caller& caller) {
  if (!w_.enrollments) return unavailable();
  store::Actor actor;
  if (auto no = refused(caller, actor, store::Permission::kMembers)) return *no;
  const auto line = w_.enrollments->cancel_command({reader});
  if (line.rfind("err not armed", 0) == 0)
    return R::failure(admin::ErrorCode::kNotFound, line.substr(4));
  if (line == "err finished") return R::failure(admin::ErrorCode::kConflict, "already finished");
  return R{true, {}, {}, {{"reader", reader}, {"state", "cancelled"}}};
}

R SiteAdminActions::reload(const admin::Caller& caller) {
  store::Actor actor;
  if (auto no = refused(caller, actor)) return *no;
  auto st = w_.db->audit().append_audit(actor, "admin_reload", "site", R"({"reloaded":[]})");
  if (!st.ok()) spdlog::error("admin: audit of reload: {}", st.error().message);
  return R{true,
           {},
           {},
           {{"reloaded", nlohmann::json::array()},
            {"note",
             "members, cards, certifications, plans and machines are read from the store as "
             "they change; the site configuration needs a restart"}}};
}

void SiteAdminActions::change(const admin::Caller& caller, const nlohmann::json& change,
                              std::function<void(R)> done) {
  if (!w_.db) {
    done(unavailable());
    return;
  }
  // The store refuses a declared account that is missing or inactive inside the change's own
  // transaction, on the worker.
  change_now_ms_.store(w_.db->now_ms());
  boost::asio::post(change_pool_, [this, actor = store::Actor::declared(caller.as, caller.uid),
                                   change, done = std::move(done)]() mutable {
    R result = apply_change(change, actor);
    boost::asio::post(w_.io, [done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  });
}

R SiteAdminActions::apply_change(const nlohmann::json& change, const store::Actor& actor) {
  if (!change_store_) {
    // Its rows are sealed like the loop's: the sealer reads the head in each transaction.
    auto opened = store::Store::open(w_.db_path, w_.change_store_options);
    if (!opened) return R::failure(admin::ErrorCode::kUnavailable, opened.error().message);
    change_store_ = std::move(opened.value());
  }
  auto record = billing::apply_change(*change_store_, change, actor, w_.tax);
  if (!record) return R::failure(code_of(record.error().kind), record.error().message);
  return R{true, {}, {}, {{"record", nlohmann::json(*record)}}};
}

}  // namespace labgate::gateway::app
