#pragma once
// Presence: who is on site. A granted passage at a presence door opens or closes the member's
// coworking session; closing time closes the sessions still open; anti-passback asks which way
// a member last went.

#include <cstdint>
#include <optional>
#include <string>

#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/app/journal.hpp"
#include "labgate/gateway/app/site_types.hpp"

namespace labgate::gateway::app {

/// Coworking sessions and closing time. See the file comment.
class Presence {
 public:
  /// Every reference must outlive this.
  Presence(const SiteSetup& setup, store::Store& store, Clock& clock, Journal& journal);

  /// Which way `member_id` last passed a presence door (entry while a coworking session is
  /// open); none when the store cannot tell.
  std::optional<policy::Direction> last_direction(std::int64_t member_id);
  /// A granted passage at a presence door: entry opens a coworking session, exit closes it.
  void passage(const std::string& door_id, policy::Direction direction, std::int64_t member_id,
               const std::string& member_no);
  /// At closing time (once a day), closes every coworking session still open.
  void tick();

 private:
  const SiteSetup& setup_;
  store::Store& store_;
  Clock& clock_;
  Journal& journal_;
  std::optional<std::int64_t> last_closing_day_;
};

}  // namespace labgate::gateway::app
