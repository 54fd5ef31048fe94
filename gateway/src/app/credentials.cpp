#include "labgate/gateway/app/credentials.hpp"

#include <spdlog/spdlog.h>

#include "labgate/gateway/app/site_types.hpp"

namespace labgate::gateway::app {

namespace {

policy::MemberStatus to_policy(store::MemberStatus s) {
  switch (s) {
    case store::MemberStatus::kPending:
      return policy::MemberStatus::kPending;
    case store::MemberStatus::kActive:
      return policy::MemberStatus::kActive;
    case store::MemberStatus::kSuspended:
      return policy::MemberStatus::kSuspended;
  }
  return policy::MemberStatus::kSuspended;
}

}  // namespace

std::optional<policy::LocalDate> date_of(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return policy::parse_date(*s);
}

Credentials::Credentials(const SiteSetup& setup, store::Store& store, Clock& clock)
    : setup_(setup), store_(store), clock_(clock) {}

CardLookup Credentials::lookup(const drivers::Card& card) {
  CardLookup out;
  auto match = store_.taps().find_credential(drivers::to_string(card.technology), card.identifier);
  out.store_ok = match.ok();
  if (out.store_ok) {
    out.found = match.value();
  } else {
    out.failure = match.error().message;
  }
  return out;
}

policy::CardProof Credentials::desfire_proof(const drivers::Card& card,
                                             const std::optional<store::CredentialMatch>& match,
                                             const policy::LocalDate& today) const {
  policy::CardProof p;
  if (!card.proof) {
    p.detail = "the reader did not authenticate the card";
    return p;
  }
  p.authenticated = card.proof->authenticated;
  p.detail = card.proof->failure;
  if (!p.authenticated) return p;
  const int version = card.proof->key_version;
  auto it = setup_.key_accept_until.find(version);
  if (it == setup_.key_accept_until.end()) {
    p.key_version_accepted = false;
    p.detail = "key version " + std::to_string(version) + " is not in the key file";
  } else if (!it->second.empty() && it->second < policy::to_string(today)) {
    p.key_version_accepted = false;
    p.detail = "key version " + std::to_string(version) + " was accepted until " + it->second +
               "; rekey the card at the desk";
  }
  // The file's credential id must be the one the card's (authenticated) UID is enrolled as: a
  // card reissued to someone else keeps no old identity.
  if (match)
    p.credential_matches =
        match->credential.id == static_cast<std::int64_t>(card.proof->credential);
  return p;
}

policy::TapContext Credentials::context(const drivers::ReaderEvent& event, const CardLookup& lookup,
                                        bool fire_alarm) {
  policy::TapContext ctx;
  ctx.at = clock_.wall();
  ctx.calendar = &setup_.calendar;
  ctx.site_technologies = setup_.accepted;
  if (auto it = setup_.reader_accept.find(event.reader_id); it != setup_.reader_accept.end()) {
    ctx.reader_technologies = it->second;
  }
  ctx.store_available = lookup.store_ok;
  ctx.fire_alarm = fire_alarm;
  const auto& match = lookup.found;
  if (event.card && event.card->technology == drivers::CardTechnology::kDesfire) {
    ctx.proof = desfire_proof(*event.card, match, setup_.calendar.to_local(ctx.at).date);
  }
  if (!match) return ctx;
  policy::CredentialFacts cf;
  cf.technology = policy::parse_technology(match->credential.technology)
                      .value_or(policy::Technology::kIso14443a);
  cf.revoked = match->credential.revoked_at_ms.has_value();
  cf.needs_issue = match->credential.needs_issue();
  ctx.credential = cf;
  policy::MemberFacts mf;
  mf.id = match->member.id;
  mf.status = to_policy(match->member.status);
  mf.valid_from = date_of(match->member.valid_from);
  mf.valid_until = date_of(match->member.valid_until);
  // A plan whose windows cannot be read keeps the empty (never open) schedule: its members
  // are refused as outside plan hours, and plan_windows() logged why.
  if (match->plan) {
    if (auto w = plan_windows(*match->plan)) {
      mf.plan.windows = *w;
      mf.plan.holidays = match->plan->holidays_allowed;
      mf.plan.closure = match->plan->closure_allowed;
    }
  }
  ctx.member = mf;
  return ctx;
}

std::optional<policy::TimeWindows> Credentials::plan_windows(const store::Plan& plan) {
  auto it = windows_cache_.find(plan.windows);
  if (it != windows_cache_.end()) return it->second;
  auto parsed = policy::parse_windows(plan.windows);
  if (!parsed.has_value()) {
    spdlog::error("plan {} has unreadable windows '{}': refusing its members", plan.code,
                  plan.windows);
    return std::nullopt;
  }
  windows_cache_.emplace(plan.windows, parsed.value());
  return parsed.value();
}

}  // namespace labgate::gateway::app
