#include "labgate/gateway/mqtt/topics.hpp"

#include <stdexcept>

namespace labgate::gateway::mqtt {

namespace {
constexpr std::size_t kMaxSegment = 64;

std::string join(const std::string& root, std::string_view a, std::string_view b,
                 std::string_view c) {
  std::string out;
  out.reserve(root.size() + a.size() + b.size() + c.size() + 2);
  out.append(root).append(a).append(b).append(c);
  return out;
}
}  // namespace

bool valid_topic_segment(std::string_view s) {
  if (s.empty() || s.size() > kMaxSegment) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic.front() == '$' && (filter.empty() || filter.front() != '$')) {
    return false;
  }
  std::size_t f = 0;
  std::size_t t = 0;
  while (true) {
    const std::size_t f_end = std::min(filter.find('/', f), filter.size());
    const std::string_view f_level = filter.substr(f, f_end - f);
    if (f_level == "#") return true;
    if (t > topic.size()) return false;
    const std::size_t t_end = std::min(topic.find('/', t), topic.size());
    const std::string_view t_level = topic.substr(t, t_end - t);
    if (f_level != "+" && f_level != t_level) return false;
    const bool f_last = f_end == filter.size();
    const bool t_last = t_end == topic.size();
    if (f_last && t_last) return true;
    if (t_last) {
      // "a/#" also matches "a": the only way to continue is a final "#".
      return filter.substr(f_end + 1) == "#";
    }
    if (f_last) return false;
    f = f_end + 1;
    t = t_end + 1;
  }
}

Topics::Topics(std::string site, std::string gateway)
    : site_(std::move(site)), gateway_(std::move(gateway)) {
  if (!valid_topic_segment(site_)) throw std::invalid_argument("invalid MQTT site id: " + site_);
  if (!valid_topic_segment(gateway_)) {
    throw std::invalid_argument("invalid MQTT gateway id: " + gateway_);
  }
  root_ = "labgate/v1/" + site_ + "/" + gateway_ + "/";
}

std::string Topics::door_state(std::string_view door) const {
  return join(root_, "door/", door, "/state");
}
std::string Topics::door_event(std::string_view door) const {
  return join(root_, "door/", door, "/event");
}
std::string Topics::machine_state(std::string_view machine) const {
  return join(root_, "machine/", machine, "/state");
}
std::string Topics::machine_session(std::string_view machine) const {
  return join(root_, "machine/", machine, "/session");
}
std::string Topics::command(std::string_view name) const {
  return join(root_, "cmd/", name, "");
}
std::string Topics::reply(std::string_view id) const {
  return join(root_, "reply/", id, "");
}

}  // namespace labgate::gateway::mqtt
