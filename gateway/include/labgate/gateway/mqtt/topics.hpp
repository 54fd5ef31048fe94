#pragma once
// Topic layout of DESIGN §4: everything a gateway publishes or accepts lives under
// `labgate/v1/<site>/<gateway>/`.

#include <string>
#include <string_view>

namespace labgate::gateway::mqtt {

/// The QoS of every message labgate sends or subscribes to: events are billed and audited, so
/// each must arrive at least once (a payload carries its event id to deduplicate by).
inline constexpr int kQos1 = 1;

/// True when `s` can be one level of a topic: non-empty, at most 64 bytes, only
/// [A-Za-z0-9_.-]. Site, gateway, door, machine and plug ids must pass it (check them when the
/// configuration is loaded).
bool valid_topic_segment(std::string_view s);

/// True when `topic` matches the subscription `filter` (MQTT 3.1.1 rules: `+` one level,
/// `#` the rest including the parent level; topics starting with `$` only match filters
/// that start with `$`).
bool topic_matches(std::string_view filter, std::string_view topic);

/// Builds the topics of one gateway. All ids passed to the member functions must satisfy
/// valid_topic_segment(); the constructor checks site and gateway.
class Topics {
 public:
  /// Throws std::invalid_argument when site or gateway is not a valid topic segment.
  Topics(std::string site, std::string gateway);

  const std::string& site() const { return site_; }
  const std::string& gateway() const { return gateway_; }
  /// `labgate/v1/<site>/<gateway>/`, with the trailing slash.
  const std::string& root() const { return root_; }

  /// `<root>status`: retained "online"/"offline" (last will).
  std::string status() const { return root_ + "status"; }
  /// `<root>door/<id>/state` (retained).
  std::string door_state(std::string_view door) const;
  /// `<root>door/<id>/event`.
  std::string door_event(std::string_view door) const;
  /// `<root>machine/<id>/state` (retained).
  std::string machine_state(std::string_view machine) const;
  /// `<root>machine/<id>/session`.
  std::string machine_session(std::string_view machine) const;
  /// `<root>audit/checkpoint` (retained): the head of the sealed audit record, kept by the
  /// broker so that deleted tail rows show (labgatectl audit verify --checkpoint).
  std::string audit_checkpoint() const { return root_ + "audit/checkpoint"; }
  /// `<root>alarm`.
  std::string alarm() const { return root_ + "alarm"; }
  /// `<root>cmd/<name>`.
  std::string command(std::string_view name) const;
  /// `<root>cmd/+`: the filter the command router subscribes to.
  std::string command_filter() const { return root_ + "cmd/+"; }
  /// `<root>reply/<id>`.
  std::string reply(std::string_view id) const;

 private:
  std::string site_;
  std::string gateway_;
  std::string root_;
};

}  // namespace labgate::gateway::mqtt
