#pragma once
// The admin channel's actions over the running site (docs/ADMIN.md): live actions run on the
// loop, staff changes on a worker thread with a store connection of their own.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "labgate/gateway/admin/server.hpp"
#include "labgate/gateway/app/enrollment.hpp"
#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/billing/tax.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::app {

/// What the actions act on, owned by the application. `site` and `db` are null while the store
/// is unavailable; the actions then answer "unavailable".
struct AdminWiring {
  boost::asio::io_context& io;
  const std::unique_ptr<Site>& site;
  const std::unique_ptr<store::Store>& db;
  const std::unique_ptr<Enrollments>& enrollments;
  std::string db_path;
  /// Options for the worker's own connection (its clock is set here): the same sealing key,
  /// site key and time zone as the loop's.
  store::StoreOptions change_store_options;
  /// [billing] tax settings: statements issued over the admin channel are billed with them.
  billing::TaxPolicy tax{};
};

/// admin::Actions over the site: each request checks the caller's declared account (one indexed
/// read, as a tap's), then acts and is audited with the kernel's uid. Destruction joins the
/// change worker.
class SiteAdminActions final : public admin::Actions {
 public:
  using R = admin::ActionResult;

  /// Acts on `wiring`'s site and store, which must outlive this.
  explicit SiteAdminActions(AdminWiring wiring);
  ~SiteAdminActions() override;
  SiteAdminActions(const SiteAdminActions&) = delete;
  SiteAdminActions& operator=(const SiteAdminActions&) = delete;

  R status() override;
  R unlock(const std::string& door, const admin::Caller& caller) override;
  R lockout(const std::string& machine, const std::string& reason,
            const admin::Caller& caller) override;
  R release(const std::string& machine, const admin::Caller& caller) override;
  R confirm(const std::string& machine, const admin::Caller& caller) override;
  R all_stop(const admin::Caller& caller) override;
  /// Over the same Enrollments as the control socket's `enroll`; the credential's actor is the
  /// caller's label.
  R enroll(const std::string& reader, const std::string& member_no, int timeout_s,
           const admin::Caller& caller) override;
  R enroll_status(const std::string& reader, const admin::Caller& caller) override;
  R enroll_cancel(const std::string& reader, const admin::Caller& caller) override;
  /// As the signed MQTT `reload`: everything staff change lives in the store, which the site
  /// reads per tap and polls for changes; the configuration file needs a restart. Audited.
  R reload(const admin::Caller& caller) override;
  /// On the change worker: the loop (and every tap) goes on while the change waits for SQLite's
  /// write lock or runs its checks; `done` is called on the loop.
  void change(const admin::Caller& caller, const nlohmann::json& change,
              std::function<void(R)> done) override;

 private:
  // Null when the caller may act (and `actor` is set), else the refusal.
  // The declared account must exist, be active and have a role that may do `need`; doors and
  // machines need staff (docs/ADMIN.md), a desk enrolment desk.
  std::optional<R> refused(const admin::Caller& caller, store::Actor& actor,
                           store::Permission need = store::Permission::kMachines);
  // On the worker: opens its connection once, then applies the change as labgatectl would on
  // its own (store::apply_change).
  R apply_change(const nlohmann::json& change, const store::Actor& actor);

  AdminWiring w_;
  // The worker's store reads the time the loop set when it queued the change.
  std::atomic<std::int64_t> change_now_ms_{0};
  std::unique_ptr<store::Store> change_store_;  // used on the worker thread only
  // Declared last: destroyed (joined) first, before the store its jobs use.
  boost::asio::thread_pool change_pool_{1};
};

}  // namespace labgate::gateway::app
