// DESFire taps: only an authenticated card with an accepted key version and its own credential
// file passes; an unissued UID enrolment passes only as opt-in "desfire-uid".
#include <catch2/catch.hpp>

#include "labgate/gateway/policy/access.hpp"
#include "test_time.hpp"

using namespace labgate::gateway::policy;
using labgate::gateway::policy::test::jst;

namespace {

DoorRequest desfire_entry(CardProof proof) {
  DoorRequest r;
  r.tap.at = jst(2026, 3, 9, 10, 0);
  r.tap.proof = std::move(proof);
  r.tap.credential = CredentialFacts{Technology::kDesfire, false, false};
  MemberFacts m;
  m.id = 1;
  m.plan.windows = parse_windows("mon-sun 00:00-24:00").value();
  r.tap.member = m;
  r.direction = Direction::kEntry;
  r.door.egress = true;
  return r;
}

CardProof authenticated() {
  CardProof p;
  p.authenticated = true;
  return p;
}

}  // namespace

TEST_CASE("an authenticated DESFire card is granted", "[proof]") {
  CHECK(decide_door(desfire_entry(authenticated())).reason == Reason::kGranted);
}

TEST_CASE("a DESFire card that did not authenticate is refused, known UID or not", "[proof]") {
  CardProof p;
  p.detail = "AES authentication failed (wrong key)";
  auto r = desfire_entry(p);
  auto d = decide_door(r);
  CHECK_FALSE(d.granted);
  CHECK(d.reason == Reason::kCardNotAuthenticated);
  CHECK(d.detail == p.detail);
  r.tap.credential.reset();
  r.tap.member.reset();
  CHECK(decide_door(r).reason == Reason::kCardNotAuthenticated);
  // Exits with egress too: a clone must not be recorded as leaving.
  r = desfire_entry(p);
  r.direction = Direction::kExit;
  CHECK(decide_door(r).reason == Reason::kCardNotAuthenticated);
  MachineRequest m;
  m.tap = desfire_entry(p).tap;
  CHECK(decide_machine(m).reason == Reason::kCardNotAuthenticated);
}

TEST_CASE("a retired key version past its date is refused with its own reason", "[proof]") {
  auto p = authenticated();
  p.key_version_accepted = false;
  p.detail = "key version 1 was accepted until 2026-03-01";
  auto d = decide_door(desfire_entry(p));
  CHECK(d.reason == Reason::kKeyVersionRetired);
  CHECK(d.detail == p.detail);
}

TEST_CASE("a credential file naming another credential is refused", "[proof]") {
  auto p = authenticated();
  p.credential_matches = false;
  CHECK(decide_door(desfire_entry(p)).reason == Reason::kCardNotAuthenticated);
}

TEST_CASE("UID-enrolled DESFire credentials need issuing unless the site takes desfire-uid",
          "[proof]") {
  auto r = desfire_entry(CardProof{});
  r.tap.credential->needs_issue = true;
  CHECK(decide_door(r).reason == Reason::kCredentialNeedsIssue);
  r.tap.site_technologies = {Technology::kDesfireUid};
  CHECK(decide_door(r).reason == Reason::kGranted);
  // A reader that narrows the opt-in away sends the member to the desk.
  r.tap.reader_technologies = TechnologySet{Technology::kFelica};
  CHECK(decide_door(r).reason == Reason::kCredentialNeedsIssue);
  // The opt-in never covers a card that claims an issued credential but fails authentication.
  r = desfire_entry(CardProof{});
  r.tap.site_technologies = {Technology::kDesfireUid};
  CHECK(decide_door(r).reason == Reason::kCardNotAuthenticated);
}

TEST_CASE("desfire-uid parses and prints", "[proof]") {
  CHECK(parse_technology("desfire-uid") == Technology::kDesfireUid);
  CHECK(to_string(Technology::kDesfireUid) == "desfire-uid");
  CHECK_FALSE(technology_accepted(Technology::kDesfireUid, {}, std::nullopt));
}
