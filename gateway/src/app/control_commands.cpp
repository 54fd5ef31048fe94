#include "control_commands.hpp"

#include <memory>
#include <string>
#include <vector>

namespace labgate::gateway::app {

using std::chrono::milliseconds;

// Long (one registration per control-socket verb) so the command table reads in one place.
void add_control_commands(const ControlWiring& wiring) {
  // Shared by the commands, which outlive this call.
  const auto w = std::make_shared<const ControlWiring>(wiring);
  w->hub.add_command("status", [w](const std::vector<std::string>&) {
    if (!w->site) return std::string("ok store unavailable");
    std::string out = "ok";
    for (const auto& l : w->site->status_lines()) out += " | " + l;
    return out;
  });
  w->hub.add_command("clock", [w](const std::vector<std::string>& args) -> std::string {
    if (args.empty()) {
      return "ok " + local_time_string(w->clock.wall(), w->time_zone);
    }
    if (!w->advance) {
      return "err the clock is the system clock: clock " + args[0] +
             " moves a simulated clock only (labgated --simulated-clock)";
    }
    if (args[0] == "advance" && args.size() == 2) {
      milliseconds d{};
      if (!parse_duration(args[1], d)) return "err bad duration: " + args[1];
      w->advance(d);
    } else if (args[0] == "set" && args.size() >= 2) {
      std::string text = args[1];
      for (std::size_t i = 2; i < args.size(); ++i) text += " " + args[i];
      std::chrono::system_clock::time_point t;
      if (!parse_time(text, w->time_zone, t)) return "err bad time: " + text;
      if (t < w->clock.wall()) return "err time never runs back";
      w->advance(std::chrono::duration_cast<milliseconds>(t - w->clock.wall()));
    } else {
      return "err usage: clock | clock advance <90s|15m|2h> | clock set <YYYY-MM-DD HH:MM>";
    }
    return "ok " + local_time_string(w->clock.wall(), w->time_zone);
  });
  auto machine_cmd = [w](const std::string& verb) {
    return [w, verb](const std::vector<std::string>& args) -> std::string {
      if (!w->site) return "err store unavailable";
      if (args.empty()) return "err usage: " + verb + " <machine> [reason]";
      std::string reason = args.size() > 1 ? args[1] : "staff";
      bool ok = verb == "confirm" ? w->site->confirm(args[0], args.size() > 1 ? args[1] : "control")
                : verb == "lockout" ? w->site->lockout(args[0], reason, "control")
                                    : w->site->release(args[0], "control");
      return ok ? "ok " + verb + " " + args[0] : "err unknown machine " + args[0];
    };
  };
  w->hub.add_command("confirm", machine_cmd("confirm"));
  w->hub.add_command("lockout", machine_cmd("lockout"));
  w->hub.add_command("release", machine_cmd("release"));
  w->hub.add_command("unlock", [w](const std::vector<std::string>& args) -> std::string {
    if (!w->site) return "err store unavailable";
    if (args.size() != 1) return "err usage: unlock <door>";
    return w->site->remote_unlock(args[0], "control") ? "ok unlock " + args[0]
                                                      : "err unknown door " + args[0];
  });
  w->hub.add_command("enroll", [w](const std::vector<std::string>& args) -> std::string {
    if (!w->site) return "err store unavailable";
    return w->enrollments.arm_command(args);
  });
  w->hub.add_command("enroll-status", [w](const std::vector<std::string>& args) {
    return w->enrollments.status_command(args);
  });
  w->hub.add_command("enroll-cancel", [w](const std::vector<std::string>& args) {
    return w->enrollments.cancel_command(args);
  });
  w->hub.add_command("read-result", [w](const std::vector<std::string>& args) {
    return w->read_ledger.command(args);
  });
  w->hub.add_command("all-stop", [w](const std::vector<std::string>&) -> std::string {
    if (!w->site) return "err store unavailable";
    w->site->all_stop("control");
    return "ok all-stop";
  });
}

}  // namespace labgate::gateway::app
