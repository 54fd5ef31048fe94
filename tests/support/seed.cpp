#include "seed.hpp"

#include <cctype>

#include "must.hpp"

namespace labgate::testing {

namespace store = gateway::store;

void seed_plan_all(store::Store& s) {
  must(s.staff().add_plan({"all", "All hours", "24h", true, true}, "test"), "plan all");
}

void seed_certification_type(store::Store& s, const std::string& code, int validity_days) {
  std::string name = code;
  if (!name.empty()) name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
  must(s.staff().add_certification_type({code, name, validity_days, false}, "test"),
       "type " + code);
}

void seed_member(store::Store& s, const SeedMember& m) {
  store::NewMember nm;
  nm.member_no = m.member_no;
  nm.name = "Member " + m.member_no;
  nm.plan_code = m.plan;
  must(s.staff().add_member(nm, "test"), "member " + m.member_no);
  must(s.staff().approve_member(m.member_no, "test"), "approve " + m.member_no);
  must(s.staff().enroll_credential(m.member_no, "iso14443a", m.card, "card", "test"),
       "enroll " + m.member_no);
  for (const auto& type : m.certifications) {
    must(s.staff().grant_certification(m.member_no, type, "Trainer", m.certified_on, "test"),
         "certify " + m.member_no + " " + type);
  }
}

}  // namespace labgate::testing
