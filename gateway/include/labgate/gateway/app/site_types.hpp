#pragma once
// What the site is built from (doors, machines, calendar, technology lists) and what a card read
// comes to: the types every unit of the tap path shares.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "labgate/firmware/door_controller.hpp"
#include "labgate/firmware/machine_interlock.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/gateway/policy/access.hpp"
#include "labgate/gateway/policy/calendar.hpp"
#include "labgate/gateway/store/bookings.hpp"

namespace labgate::gateway::app {

/// One door as the site runs it.
struct DoorSetup {
  std::string id;
  std::string name;
  firmware::DoorConfig controller;
  std::optional<std::string> entry_reader;  ///< reader outside the door
  std::optional<std::string> exit_reader;   ///< reader inside the door
  bool presence{false};       ///< entry/exit here is who is on site and coworking time
  bool anti_passback{false};  ///< refuse a second passage the same way
  /// A meeting room's door: its entry reader admits the room's bookings, not the plan.
  std::optional<std::string> room;
  std::int64_t early_entry_ms{0};  ///< the room admits a booking this long before its start
  /// A locker's lock: its entry reader opens it for the holder of the loan.
  std::optional<std::string> locker;
};

/// One machine as the site runs it.
struct MachineSetup {
  std::string id;
  std::string name;
  std::string reader;
  firmware::MachineConfig controller;
  std::optional<std::string> certification;  ///< certification type code required
  std::int64_t inspection_interval_days{0};
};

/// Everything the site needs to know that does not change while it runs.
struct SiteSetup {
  std::string site_id{"site"};
  std::string gateway_id{"gw1"};
  policy::Calendar calendar;
  policy::TechnologySet accepted;  ///< clonable technologies the site opted in to
  std::map<std::string, policy::TechnologySet> reader_accept;  ///< narrower lists per reader
  /// DESFire key versions the readers hold: version -> last accepted local day ("YYYY-MM-DD",
  /// inclusive), "" = no end (the current version).
  std::map<int, std::string> key_accept_until;
  std::vector<DoorSetup> doors;
  std::vector<MachineSetup> machines;
  std::vector<store::Room> rooms;           ///< recorded in the store at start (booking rules)
  std::vector<store::Locker> lockers;       ///< likewise
  std::vector<policy::LocalDate> holidays;  ///< the site's, for the booking rules
  std::optional<policy::Closure> closure;   ///< likewise
  std::optional<int> closing_minute;        ///< local minute of day open coworking sessions close
  std::chrono::milliseconds heartbeat{5000};
  std::chrono::milliseconds store_poll{250};  ///< how often staff changes are looked for
};

/// The doors, machines, calendar and technology lists of a validated configuration, as labgated
/// runs them.
SiteSetup site_setup_from(const config::SiteConfig& config);

/// What a card read came to, for the log and for whoever waits for the acknowledgement.
struct TapOutcome {
  bool granted{false};
  std::string reason;     ///< policy reason code, or a session verb ("session_ended")
  std::string target;     ///< door or machine id
  std::string member_no;  ///< empty for unknown cards
  std::string detail;
  std::int64_t seq{0};  ///< sequence number of the committed event, 0 if not yet committed
  /// "granted <target> <member> <reason>" / "denied ...": the control socket reply.
  std::string summary() const;
};

/// Called once a tap's event is durable (or could not be recorded: seq 0).
using TapDone = std::function<void(const TapOutcome&)>;

/// Billing's verdict at a machine tap: may `member_id` start `machine_id` at `at_ms` (balance
/// or credit limit covers the machine's minimum charge)? Doors never ask.
using CreditCheck =
    std::function<bool(std::int64_t member_id, const std::string& machine_id, std::int64_t at_ms)>;

/// What the journal runs once the tap's event is committed under `seq` (0: dropped): `done`
/// answered with `outcome` and that seq. Empty when `done` is.
std::function<void(std::int64_t seq)> tap_answer(TapDone done, TapOutcome outcome);

/// The earlier of two deadlines (none counts as never).
inline std::optional<firmware::Millis> earliest(std::optional<firmware::Millis> a,
                                                std::optional<firmware::Millis> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

/// When a unit commanded the outputs for a tap (where the decision-time benchmark stops its
/// clock); none when the tap was answered without a decision.
using DrivenAt = std::optional<std::chrono::steady_clock::time_point>;

}  // namespace labgate::gateway::app
