// Property tests over seeded random member-months: the invariants every statement must keep.
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>

#include "billing_support.hpp"
#include "labgate/gateway/billing/render.hpp"

using namespace labgate::test::billing;
namespace bl = labgate::gateway::billing;

namespace {

using Rng = std::mt19937_64;

std::int64_t pick(Rng& rng, std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>{lo, hi}(rng);
}

bl::RateTerms random_rate(Rng& rng, std::int64_t id) {
  bl::RateTerms r;
  r.id = id;
  const std::int64_t units[] = {1, 60, 300, 600, 900, 1800, 3600};
  r.unit_seconds = units[pick(rng, 0, 6)];
  r.price_per_unit = pick(rng, 0, 2000);
  if (pick(rng, 0, 2) == 0) r.idle_price_per_unit = pick(rng, 0, 500);
  r.minimum_charge = pick(rng, 0, 1) == 0 ? 0 : pick(rng, 0, 3000);
  r.grace_seconds = pick(rng, 0, 1) == 0 ? 0 : pick(rng, 0, 300);
  if (pick(rng, 0, 2) == 0) r.daily_cap = pick(rng, r.minimum_charge, 20000);
  r.discount_percent = pick(rng, 0, 1) == 0 ? 0 : pick(rng, 0, 100);
  r.included_minutes = pick(rng, 0, 1) == 0 ? 0 : pick(rng, 0, 600);
  return r;
}

const char* kTargets[] = {"laser", "printer-1", "cnc", "coworking"};

// A month of usage: sessions on a few targets, some with busy time, reviews, open ones and sales.
bl::StatementInput random_month(Rng& rng) {
  std::vector<bl::RateTerms> rates;
  for (std::int64_t id = 1; id <= 5; ++id) rates.push_back(random_rate(rng, id));
  bl::StatementInput in;
  in.member_no = "M" + std::to_string(pick(rng, 1, 9999));
  in.name = "山田 \"Taro\", 太郎";
  in.plan = "fablab";
  in.month = "2026-11";
  const std::int64_t n = pick(rng, 0, 60);
  std::int64_t id = pick(rng, 1, 1000);
  for (std::int64_t i = 0; i < n; ++i) {
    bl::SessionUsage s;
    s.id = id;
    id += pick(rng, 1, 5);
    s.target = kTargets[pick(rng, 0, 3)];
    s.started_at_ms = nov(static_cast<unsigned>(pick(rng, 1, 30)), 0) + pick(rng, 0, 86'399'999);
    const std::int64_t kind = pick(rng, 0, 20);
    const std::int64_t dur = kind == 0 ? pick(rng, 86'400'000, 200'000'000)
                                       : pick(rng, 0, kind < 5 ? 400'000 : 20'000'000);
    s.ended_at_ms = s.started_at_ms + dur;
    if (pick(rng, 0, 30) == 0) s.ended_at_ms.reset();
    if (pick(rng, 0, 1) == 0) s.busy_seconds = pick(rng, 0, dur / 1000 + 100);
    if (pick(rng, 0, 15) != 0) s.rate = rates[static_cast<std::size_t>(pick(rng, 0, 4))];
    if (kind == 0 && pick(rng, 0, 1) == 0) s.review = bl::Review{pick(rng, 0, 20000), "Ren Ito"};
    in.sessions.push_back(std::move(s));
  }
  const std::int64_t sales = pick(rng, 0, 5);
  for (std::int64_t i = 0; i < sales; ++i) {
    in.sales.push_back({i + 1, "item-" + std::to_string(i), "材料, \"A4\"", pick(rng, 1, 10),
                        pick(rng, 0, 5000),
                        nov(static_cast<unsigned>(pick(rng, 1, 30)), 0) + pick(rng, 0, 86'399'999),
                        pick(rng, 0, 3) == 0, static_cast<bl::TaxClass>(pick(rng, 0, 2))});
  }
  return in;
}

// Random tax settings: either price mode, any rounding, and sometimes a standard rate that
// changes in the middle of the month (so one statement has lines at two standard rates).
bl::TaxPolicy random_tax(Rng& rng) {
  bl::TaxPolicy tax;
  tax.prices = pick(rng, 0, 1) == 0 ? bl::PriceMode::kInclusive : bl::PriceMode::kExclusive;
  tax.rounding = static_cast<bl::TaxRounding>(pick(rng, 0, 2));
  if (pick(rng, 0, 1) == 0) {
    const auto day = pick(rng, 10, 28);
    tax.rates = bl::merge_tax_rates(
        {{bl::TaxClass::kStandard, pick(rng, 11, 25), "2026-11-" + std::to_string(day)}});
  }
  if (pick(rng, 0, 1) == 0) tax.issuer = {"Lab", "Tokyo", "T1234567890123"};
  return tax;
}

constexpr int kRuns = 400;

}  // namespace

TEST_CASE("property: total is the sum of lines, subtotals add up, nothing is negative",
          "[billing][property]") {
  Rng rng{20261124};
  bl::Engine engine{tokyo()};
  for (int run = 0; run < kRuns; ++run) {
    const auto in = random_month(rng);
    const auto st = engine.bill(in);
    std::int64_t sum = 0;
    for (const auto& l : st.lines) {
      INFO("run " << run << " rule " << l.rule);
      CHECK(l.amount >= 0);
      CHECK(l.gross >= 0);
      CHECK(l.discount >= 0);
      CHECK(l.cap_reduction >= 0);
      CHECK(l.included_seconds_used >= 0);
      CHECK(l.billable_seconds <= l.seconds);
      if (!l.minimum_applied) CHECK(l.amount <= l.gross);
      sum += l.amount;
    }
    CHECK(st.total == sum);
    CHECK(st.subtotal_machine + st.subtotal_coworking + st.subtotal_materials +
              st.subtotal_day_passes ==
          st.total);
    // Every session appears exactly once: on a line, held, or open.
    std::vector<std::int64_t> seen;
    for (const auto& l : st.lines)
      seen.insert(seen.end(), l.session_ids.begin(), l.session_ids.end());
    for (const auto& h : st.held_for_review) seen.push_back(h.session_id);
    for (const auto& o : st.open_sessions) seen.push_back(o.session_id);
    std::sort(seen.begin(), seen.end());
    std::vector<std::int64_t> ids;
    for (const auto& s : in.sessions) ids.push_back(s.id);
    std::sort(ids.begin(), ids.end());
    CHECK(seen == ids);
  }
}

TEST_CASE("property: splitting a session at random points never lowers its charge",
          "[billing][property]") {
  Rng rng{42};
  bl::Engine engine{tokyo()};
  for (int run = 0; run < kRuns; ++run) {
    auto in = random_month(rng);
    // The session to split: closed, not over 24 h, not reviewed (those keep their own line).
    bl::SessionUsage victim;
    victim.id = 100000;
    victim.target = kTargets[pick(rng, 0, 3)];
    victim.started_at_ms = nov(15, 0) + pick(rng, 0, 86'399'999);
    const std::int64_t dur = pick(rng, 1000, 14'400'000);
    victim.ended_at_ms = victim.started_at_ms + dur;
    victim.rate = random_rate(rng, 9);
    if (pick(rng, 0, 1) == 0) victim.busy_seconds = pick(rng, 0, dur / 1000);
    // Keep the rest of the month away from the victim's target so only the split changes.
    std::erase_if(in.sessions, [&](const auto& s) { return s.target == victim.target; });
    auto whole = in;
    whole.sessions.push_back(victim);
    // Tap-off/tap-on with no gap, at whole seconds from the start (a tap is timed in seconds
    // relative to the previous one; rule 1 floors each session to whole seconds).
    const std::int64_t pieces = pick(rng, 2, 6);
    std::vector<std::int64_t> cuts;
    for (std::int64_t i = 1; i < pieces; ++i) cuts.push_back(pick(rng, 1, dur / 1000 - 1) * 1000);
    if (dur / 1000 < 2) cuts.clear();
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    auto split = in;
    std::int64_t from = victim.started_at_ms;
    std::int64_t busy_left = victim.busy_seconds.value_or(0);
    std::int64_t next_id = 200000;
    cuts.push_back(dur);
    for (std::size_t i = 0; i < cuts.size(); ++i) {
      bl::SessionUsage piece = victim;
      piece.id = next_id++;
      piece.started_at_ms = from;
      piece.ended_at_ms = victim.started_at_ms + cuts[i];
      if (victim.busy_seconds) {
        const std::int64_t b = i + 1 == cuts.size() ? busy_left : pick(rng, 0, busy_left);
        piece.busy_seconds = b;
        busy_left -= b;
      }
      from = *piece.ended_at_ms;
      split.sessions.push_back(piece);
    }
    const auto a = engine.bill(whole);
    const auto b = engine.bill(split);
    INFO("run " << run << " pieces " << cuts.size());
    CHECK(b.total >= a.total);
  }
}

TEST_CASE("property: the sum over tax rates is the total; the tax is within a yen of exact",
          "[billing][property][tax]") {
  Rng rng{2019};
  for (int run = 0; run < kRuns; ++run) {
    const auto tax = random_tax(rng);
    const auto st = bl::Engine{tokyo(), tax}.bill(random_month(rng));
    INFO("run " << run << " prices " << bl::to_string(tax.prices) << " rounding "
                << bl::to_string(tax.rounding));
    const bool exclusive = tax.prices == bl::PriceMode::kExclusive;
    std::int64_t taxable = 0, taxes = 0, totals = 0, line_sum = 0;
    for (const auto& l : st.lines) line_sum += l.amount;
    std::int64_t previous = -1;
    for (const auto& t : st.taxes) {
      CHECK(t.percent > previous);  // one entry per rate, in order
      previous = t.percent;
      std::int64_t lines_at_rate = 0;
      for (const auto& l : st.lines) {
        if (l.tax_percent == t.percent) lines_at_rate += l.amount;
      }
      CHECK(t.taxable == lines_at_rate);
      // Rounded once: |tax - taxable * r / den| < 1, in whole numbers (no floating point).
      const std::int64_t den = exclusive ? 100 : 100 + t.percent;
      const std::int64_t exact_num = t.taxable * t.percent;
      CHECK(t.tax * den <= exact_num + den - 1);
      CHECK(t.tax * den >= exact_num - den + 1);
      CHECK(t.tax >= 0);
      CHECK(t.total == (exclusive ? t.taxable + t.tax : t.taxable));
      taxable += t.taxable;
      taxes += t.tax;
      totals += t.total;
    }
    CHECK(taxable == line_sum);
    CHECK(st.lines_total == line_sum);
    CHECK(taxes == st.tax_total);
    CHECK(totals == st.total);
    CHECK(st.total == (exclusive ? line_sum + taxes : line_sum));
  }
}

TEST_CASE("property: the same inputs give byte-identical CSV and JSON, in any input order",
          "[billing][property]") {
  Rng rng{7};
  for (int run = 0; run < kRuns / 4; ++run) {
    auto in = random_month(rng);
    const auto tax = random_tax(rng);
    const auto first = bl::Engine{tokyo(), tax}.bill(in);
    std::shuffle(in.sessions.begin(), in.sessions.end(), rng);
    std::shuffle(in.sales.begin(), in.sales.end(), rng);
    const auto second = bl::Engine{tokyo(), tax}.bill(in);
    CHECK(bl::to_csv(first) == bl::to_csv(second));
    const std::string json = bl::to_json(first);
    CHECK(json == bl::to_json(second));
    // The hand-written JSON is valid and says what the statement says.
    const auto parsed = nlohmann::json::parse(json);
    CHECK(parsed.at("total").get<std::int64_t>() == first.total);
    CHECK(parsed.at("lines").size() == first.lines.size());
    CHECK(parsed.at("name").get<std::string>() == first.name);
    std::int64_t sum = 0;
    for (const auto& l : parsed.at("lines")) sum += l.at("amount").get<std::int64_t>();
    CHECK(sum == first.lines_total);
    std::int64_t over_rates = 0;
    for (const auto& t : parsed.at("taxes")) over_rates += t.at("total").get<std::int64_t>();
    CHECK(over_rates == first.total);
    const bool exclusive = tax.prices == bl::PriceMode::kExclusive;
    CHECK(first.total == sum + (exclusive ? first.tax_total : 0));
  }
}
