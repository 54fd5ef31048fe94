#include "labgate/gateway/billing/changes.hpp"

#include <date/tz.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <optional>

#include "labgate/gateway/store/seal.hpp"

namespace labgate::gateway::billing {

namespace {

using ojson = nlohmann::ordered_json;

st::Error invalid(std::string message) {
  return st::Error{st::ErrorKind::kInvalid, 0, std::move(message)};
}

st::Result<ojson> issue(st::Store& store, const nlohmann::json& args, const st::Actor& actor,
                        const TaxPolicy& tax) {
  auto month = args.find("month");
  if (month == args.end() || !month->is_string())
    return invalid("change argument 'month' is missing");
  std::optional<std::string> member;
  if (auto m = args.find("member_no"); m != args.end() && !m->is_null()) {
    if (!m->is_string()) return invalid("'member_no' must be a string");
    member = m->get<std::string>();
  }
  if (auto allowed =
          st::check_permission(store.database(), actor, st::change_permission("statements.issue"));
      !allowed) {
    return allowed.error();
  }
  const date::time_zone* tz = nullptr;
  try {
    tz = date::locate_zone(store.time_zone());
  } catch (const std::exception& e) {
    return invalid(fmt::format("time zone '{}': {}", store.time_zone(), e.what()));
  }
  IssueRequest request{month->get<std::string>(), member, actor, store.now_ms()};
  if (auto w = args.find("whole_month"); w != args.end() && !w->is_null()) {
    if (!w->is_boolean()) return invalid("'whole_month' must be true or false");
    request.whole_month = w->get<bool>();
  }
  if (auto e = args.find("expected"); e != args.end() && !e->is_null()) {
    const auto count = [&](const char* key) -> std::optional<std::int64_t> {
      if (!e->is_object() || !e->contains(key) || !e->at(key).is_number_integer()) {
        return std::nullopt;
      }
      return e->at(key).get<std::int64_t>();
    };
    const auto members = count("members");
    const auto total = count("total");
    if (!members || !total) {
      return invalid("'expected' must be {\"members\": <count>, \"total\": <yen>}");
    }
    request.expected = IssueExpectation{*members, *total};
  }
  // A booking nobody used is a no-show only once settled, and settling is lazy (done by the
  // writers, never on the daemon's loop): a month issued before anyone settled would bill an
  // unused room as booked. Settle first, in the same writer.
  if (auto settled = store.bookings().settle_no_shows(); !settled) return settled.error();
  auto report = issue_statements(store.database(), request, tz, tax);
  if (!report) return report.error();
  // Kept in the log, not the answer: the answer is the issue's record and stays the same for the
  // same data.
  const auto& t = report->timing;
  spdlog::info(
      "statements.issue {}: {} issued; billed in {} ms ({} pass(es); load {} ms (CPU {} ms), "
      "engine {} ms, JSON {} ms, sha256+zstd {} ms, the last three summed over threads (their "
      "CPU {} ms)); {} MiB of JSON bodies "
      "stored as {} MiB meanwhile in {} ms ({} transactions, the longest holding the write lock "
      "{} ms), checkpointed in {} ms; waited {} ms for the write lock, held it {} ms (check {} ms, "
      "commit {} ms)",
      request.month, report->issued.size(), t.bill_ms, t.passes, t.load_ms, t.load_cpu_ms,
      t.engine_ms, t.render_ms, t.pack_ms, t.workers_cpu_ms, t.json_mb, t.stored_mb, t.bodies_ms,
      t.body_batches, t.body_lock_max_ms, t.checkpoint_ms, t.wait_ms, t.locked_ms, t.check_ms,
      t.commit_ms);
  ojson out = to_json(*report, request.month);
  // The head after the issue's audit rows, to keep with the statements.
  auto head = store.seal_head();
  if (!head) return head.error();
  out["audit_checkpoint"] = *head ? ojson(st::seal::format_checkpoint(**head)) : ojson(nullptr);
  return out;
}

}  // namespace

ojson to_json(const IssueReport& report, const std::string& month) {
  ojson issued = ojson::array();
  for (const auto& i : report.issued) {
    issued.push_back({{"statement_id", i.statement_id},
                      {"member_no", i.member_no},
                      {"total", i.total},
                      {"sha256", i.sha256}});
  }
  ojson refused = ojson::array();
  for (const auto& r : report.refused) {
    refused.push_back({{"member_no", r.member_no}, {"reason", r.reason}});
  }
  return {{"month", month},
          {"issued", issued},
          {"already_issued", report.already_issued},
          {"no_usage", report.no_usage},
          {"refused", refused}};
}

st::Result<ojson> apply_change(st::Store& store, const nlohmann::json& change,
                               const st::Actor& actor, const TaxPolicy& tax) {
  if (change.is_object() && change.value("op", "") == "statements.issue") {
    static const nlohmann::json kNoArgs = nlohmann::json::object();
    auto args = change.find("args");
    if (args != change.end() && !args->is_object()) return invalid("args must be an object");
    return issue(store, args == change.end() ? kNoArgs : *args, actor, tax);
  }
  return st::apply_change(store, change, actor);
}

}  // namespace labgate::gateway::billing
