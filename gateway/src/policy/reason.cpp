#include "labgate/gateway/policy/reason.hpp"

namespace labgate::gateway::policy {
namespace {

struct ReasonText {
  std::string_view code;
  std::string_view text;
};

// Indexed by the enum value; kAllReasons and the static_assert keep the table complete.
constexpr std::array<ReasonText, kAllReasons.size()> kTexts = {{
    {"granted", "Welcome"},
    {"unknown_credential", "Card not registered"},
    {"credential_revoked", "Card revoked"},
    {"technology_not_allowed", "Card type not accepted here"},
    {"member_pending", "Membership not yet approved"},
    {"member_suspended", "Membership suspended"},
    {"member_not_yet_valid", "Membership not yet started"},
    {"member_expired", "Membership expired"},
    {"outside_plan_hours", "Outside your plan's hours"},
    {"holiday", "Closed for the holiday"},
    {"closure", "Closed for the year-end break"},
    {"no_certification", "Training required"},
    {"certification_expired", "Certification expired"},
    {"certification_revoked", "Certification revoked"},
    {"machine_locked_out", "Machine locked out by staff"},
    {"inspection_overdue", "Safety inspection overdue"},
    {"machine_in_use", "Machine in use"},
    {"machine_not_ready", "Machine not ready"},
    {"fire_alarm", "Fire alarm active"},
    {"store_unavailable", "System error, ask staff"},
    {"anti_passback", "Anti-passback: tap out first"},
    {"insufficient_credit", "Insufficient credit"},
    {"card_not_authenticated", "Card not genuine, ask staff"},
    {"credential_needs_issue", "Card must be reissued at desk"},
    {"key_version_retired", "Card keys expired, see desk"},
    {"outside_booking", "No booking for you now"},
    {"no_locker_loan", "Locker not lent to you"},
}};
static_assert(static_cast<std::size_t>(Reason::kNoLockerLoan) + 1 == kTexts.size());

}  // namespace

std::string_view to_string(Reason r) {
  const auto i = static_cast<std::size_t>(r);
  return i < kTexts.size() ? kTexts[i].code : std::string_view{"invalid_reason"};
}

std::optional<Reason> parse_reason(std::string_view code) {
  for (auto r : kAllReasons)
    if (kTexts[static_cast<std::size_t>(r)].code == code) return r;
  return std::nullopt;
}

std::string_view describe(Reason r) {
  const auto i = static_cast<std::size_t>(r);
  return i < kTexts.size() ? kTexts[i].text : std::string_view{"Refused"};
}

}  // namespace labgate::gateway::policy
