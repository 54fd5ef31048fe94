#include "labgate/gateway/billing/engine.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <tuple>
#include <utility>

namespace labgate::gateway::billing {

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return a <= 0 ? 0 : (a + b - 1) / b;
}

// Sessions merged into one line (rule 2). A reviewed session always stands alone: its billed
// seconds are a staff decision, not a measurement that can be added to its neighbours.
struct Group {
  std::vector<std::int64_t> ids;
  std::string target;
  std::int64_t start_ms{0};
  std::int64_t end_ms{0};
  std::int64_t seconds{0};
  std::optional<std::int64_t> busy;
  std::optional<RateTerms> rate;
  std::optional<Review> review;
};

bool same_rate(const std::optional<RateTerms>& a, const std::optional<RateTerms>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || a->id == b->id;
}

std::string join_ids(const std::vector<std::int64_t>& ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) out += '+';
    out += std::to_string(ids[i]);
  }
  return out;
}

void put2(char* p, std::int64_t v) {
  p[0] = static_cast<char>('0' + (v / 10) % 10);
  p[1] = static_cast<char>('0' + v % 10);
}

void put_date(char* p, const date::year_month_day& ymd) {
  const int y = static_cast<int>(ymd.year());
  put2(p, (y / 100) % 100);
  put2(p + 2, y % 100);
  p[4] = '-';
  put2(p + 5, static_cast<unsigned>(ymd.month()));
  p[7] = '-';
  put2(p + 8, static_cast<unsigned>(ymd.day()));
}

}  // namespace

const char* to_string(LineType type) {
  switch (type) {
    case LineType::kMachine:
      return "machine";
    case LineType::kCoworking:
      return "coworking";
    case LineType::kSale:
      return "sale";
    case LineType::kDayPass:
      return "day_pass";
  }
  return "machine";
}

std::string format_duration(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  const std::int64_t h = seconds / 3600;
  const std::int64_t m = (seconds % 3600) / 60;
  const std::int64_t s = seconds % 60;
  // By hand, as local_iso: every line's rule names several durations, a million lines a month.
  // "1h02m03s", "2m03s", "45s": the leading figure unpadded, the others two digits.
  char buf[32];
  char* p = buf;
  const auto lead = [&](std::int64_t v, char unit) {
    p = std::to_chars(p, buf + sizeof buf, v).ptr;
    *p++ = unit;
  };
  const auto two = [&](std::int64_t v, char unit) {
    put2(p, v);
    p += 2;
    *p++ = unit;
  };
  if (h > 0) {
    lead(h, 'h');
    two(m, 'm');
    if (s != 0) two(s, 's');
  } else if (m > 0) {
    lead(m, 'm');
    if (s != 0) two(s, 's');
  } else {
    lead(s, 's');
  }
  return std::string(buf, p);
}

Engine::Engine(const date::time_zone* tz, TaxPolicy tax) : tz_(tz), tax_(std::move(tax)) {}

std::int64_t Engine::offset_seconds(std::int64_t ms) const {
  const std::int64_t s = floor_div(ms, 1000);
  if (s >= cache_begin_s_ && s < cache_end_s_) return cache_offset_s_;
  // Offsets only change at transitions, so one lookup serves every instant up to the next one.
  const auto info = tz_->get_info(date::sys_seconds{std::chrono::seconds{s}});
  cache_begin_s_ = info.begin.time_since_epoch().count();
  cache_end_s_ = info.end.time_since_epoch().count();
  cache_offset_s_ = info.offset.count();
  return cache_offset_s_;
}

std::int64_t Engine::local_day(std::int64_t ms) const {
  return floor_div(floor_div(ms, 1000) + offset_seconds(ms), 86400);
}

std::string Engine::local_date(std::int64_t ms) const {
  const date::year_month_day ymd{date::sys_days{date::days{local_day(ms)}}};
  char buf[10];
  put_date(buf, ymd);
  return std::string(buf, sizeof buf);
}

std::string Engine::local_iso(std::int64_t ms) const {
  const std::int64_t off = offset_seconds(ms);
  const std::int64_t local_s = floor_div(ms, 1000) + off;
  const std::int64_t day = floor_div(local_s, 86400);
  const std::int64_t tod = local_s - day * 86400;
  const date::year_month_day ymd{date::sys_days{date::days{day}}};
  const std::int64_t aoff = off < 0 ? -off : off;
  // Formatted by hand: this runs twice per line, a million times per site-month.
  char buf[25];
  put_date(buf, ymd);
  buf[10] = 'T';
  put2(buf + 11, tod / 3600);
  buf[13] = ':';
  put2(buf + 14, (tod % 3600) / 60);
  buf[16] = ':';
  put2(buf + 17, tod % 60);
  buf[19] = off < 0 ? '-' : '+';
  put2(buf + 20, aoff / 3600);
  buf[22] = ':';
  put2(buf + 23, (aoff % 3600) / 60);
  return std::string(buf, sizeof buf);
}

void Engine::apply_tax(Statement& st) const {
  st.prices = tax_.prices;
  st.tax_rounding = tax_.rounding;
  st.issuer = tax_.issuer;
  // A statement has one to three rates, so a flat scan beats a map; `classes` is a bit per class.
  std::vector<unsigned> classes;
  for (auto& l : st.lines) {
    if (!is_sale(l.type)) l.tax_class = tax_.time_class;
    l.tax_percent = tax_.percent_on(l.tax_class, l.date).value_or(0);
    std::size_t i = 0;
    while (i < st.taxes.size() && st.taxes[i].percent != l.tax_percent) ++i;
    if (i == st.taxes.size()) {
      st.taxes.push_back(TaxSummary{l.tax_percent, {}, 0, 0, 0});
      classes.push_back(0);
    }
    st.taxes[i].taxable += l.amount;
    classes[i] |= 1U << static_cast<unsigned>(l.tax_class);
  }
  for (std::size_t i = 0; i < st.taxes.size(); ++i) {
    for (const auto c : {TaxClass::kStandard, TaxClass::kReduced, TaxClass::kExempt}) {
      if ((classes[i] & (1U << static_cast<unsigned>(c))) == 0) continue;
      if (!st.taxes[i].classes.empty()) st.taxes[i].classes += '+';
      st.taxes[i].classes += to_string(c);
    }
  }
  std::sort(st.taxes.begin(), st.taxes.end(),
            [](const TaxSummary& a, const TaxSummary& b) { return a.percent < b.percent; });
  st.tax_total = 0;
  for (auto& t : st.taxes) {
    // Once per statement and rate, never per line: the qualified-invoice rule.
    t.tax = tax_of(t.taxable, t.percent, tax_.prices, tax_.rounding);
    t.total = tax_.prices == PriceMode::kExclusive ? t.taxable + t.tax : t.taxable;
    st.tax_total += t.tax;
  }
  st.total = tax_.prices == PriceMode::kExclusive ? st.lines_total + st.tax_total : st.lines_total;
}

Statement Engine::bill(const StatementInput& input) const {
  Statement st;
  st.member_no = input.member_no;
  st.name = input.name;
  st.plan = input.plan;
  st.month = input.month;
  st.time_zone = std::string{tz_->name()};

  // Step 1: open and held sessions are listed, never billed.
  std::vector<const SessionUsage*> closed;
  closed.reserve(input.sessions.size());
  for (const auto& s : input.sessions) {
    if (!s.ended_at_ms) {
      st.open_sessions.push_back({s.id, s.target, local_iso(s.started_at_ms), "", std::nullopt,
                                  "still open: billed on the statement after it ends"});
      continue;
    }
    const std::int64_t d = (*s.ended_at_ms - s.started_at_ms) / 1000;
    if (d > kReviewThresholdSeconds && !s.review) {
      st.held_for_review.push_back(
          {s.id, s.target, local_iso(s.started_at_ms), local_iso(*s.ended_at_ms), d,
           fmt::format("longer than 24 h ({}): held for staff review, not billed until a "
                       "reviewer sets the seconds to bill (0 waives it)",
                       format_duration(d))});
      continue;
    }
    closed.push_back(&s);
  }
  auto by_start = [](const auto& a, const auto& b) {
    return std::tie(a.started_at_ms, a.id) < std::tie(b.started_at_ms, b.id);
  };
  std::sort(closed.begin(), closed.end(),
            [&](const SessionUsage* a, const SessionUsage* b) { return by_start(*a, *b); });
  std::sort(st.open_sessions.begin(), st.open_sessions.end(),
            [](const auto& a, const auto& b) { return a.session_id < b.session_id; });
  std::sort(st.held_for_review.begin(), st.held_for_review.end(),
            [](const auto& a, const auto& b) { return a.session_id < b.session_id; });

  // Step 2: merge tap-off/tap-on splits on the same target under the same rate.
  std::vector<Group> groups;
  groups.reserve(closed.size());
  std::map<std::string, std::size_t, std::less<>> last_group;
  for (const SessionUsage* s : closed) {
    const std::int64_t d =
        s->review ? s->review->billed_seconds : (*s->ended_at_ms - s->started_at_ms) / 1000;
    auto it = last_group.find(s->target);
    if (it != last_group.end() && !s->review) {
      Group& g = groups[it->second];
      const std::int64_t grace = g.rate ? g.rate->grace_seconds : 0;
      if (!g.review && same_rate(g.rate, s->rate) && s->started_at_ms - g.end_ms <= grace * 1000) {
        g.ids.push_back(s->id);
        g.end_ms = std::max(g.end_ms, *s->ended_at_ms);
        g.seconds += d;
        if (s->busy_seconds) g.busy = g.busy.value_or(0) + *s->busy_seconds;
        continue;
      }
    }
    Group g;
    g.ids.push_back(s->id);
    g.target = s->target;
    g.start_ms = s->started_at_ms;
    g.end_ms = *s->ended_at_ms;
    g.seconds = d;
    g.busy = s->busy_seconds;
    g.rate = s->rate;
    g.review = s->review;
    last_group[s->target] = groups.size();
    groups.push_back(std::move(g));
  }

  std::set<std::int64_t> pass_days;
  for (const auto& sale : input.sales) {
    if (sale.day_pass) pass_days.insert(local_day(sale.at_ms));
  }

  std::map<std::string, std::int64_t, std::less<>> included_used;
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> day_running;
  st.lines.reserve(groups.size() + input.sales.size());
  for (const Group& g : groups) {
    StatementLine line;
    line.type = g.target == kCoworkingTarget ? LineType::kCoworking : LineType::kMachine;
    line.date = local_date(g.start_ms);
    line.target = g.target;
    line.session_ids = g.ids;
    line.start_ms = g.start_ms;
    line.end_ms = g.end_ms;
    line.start = local_iso(g.start_ms);
    line.end = local_iso(g.end_ms);
    line.seconds = g.seconds;
    std::string prefix;
    if (g.ids.size() > 1) {
      prefix = fmt::format("sessions {} merged (gaps <= grace {}); ", join_ids(g.ids),
                           format_duration(g.rate ? g.rate->grace_seconds : 0));
    }
    if (g.review) {
      prefix += fmt::format("reviewed by {}: bill {}; ", g.review->reviewer,
                            format_duration(g.review->billed_seconds));
    }
    auto finish = [&](std::string text) {
      line.rule = prefix + std::move(text);
      st.lines.push_back(std::move(line));
    };
    if (!g.rate) {
      finish("no rate");
      continue;
    }
    const RateTerms& r = *g.rate;
    line.rate_id = r.id;
    line.unit_seconds = r.unit_seconds;
    line.unit_price = r.price_per_unit;
    std::int64_t d = g.seconds;
    if (g.review && g.review->billed_seconds == 0) {
      finish(fmt::format("waived by {}", g.review->reviewer));
      continue;
    }
    if (d <= r.grace_seconds) {
      finish(fmt::format("{} <= grace {}: free", format_duration(d),
                         format_duration(r.grace_seconds)));
      continue;
    }
    const std::int64_t day = local_day(g.start_ms);
    if (line.type == LineType::kCoworking && pass_days.count(day) != 0) {
      finish("day pass");
      continue;
    }
    std::string text;
    if (r.included_minutes > 0) {
      std::int64_t& used = included_used[g.target];
      const std::int64_t remaining = std::max<std::int64_t>(0, r.included_minutes * 60 - used);
      const std::int64_t inc = std::min(remaining, d);
      used += inc;
      line.included_seconds_used = inc;
      if (inc > 0) {
        text = fmt::format("{} - {} included ({} left this month) = {}", format_duration(d),
                           format_duration(inc), format_duration(remaining - inc),
                           format_duration(d - inc));
        d -= inc;
        if (d == 0) {
          line.billable_seconds = 0;
          finish(text + ": included");
          continue;
        }
      }
    }
    line.billable_seconds = d;
    if (text.empty()) text = format_duration(d);
    const std::string unit = format_duration(r.unit_seconds);
    std::int64_t gross = 0;
    if (r.idle_price_per_unit && g.busy) {
      const std::int64_t busy = std::min(*g.busy, d);
      const std::int64_t idle = d - busy;
      const std::int64_t bu = ceil_div(busy, r.unit_seconds);
      const std::int64_t iu = ceil_div(idle, r.unit_seconds);
      gross = bu * r.price_per_unit + iu * *r.idle_price_per_unit;
      line.busy_seconds = busy;
      line.busy_units = bu;
      line.idle_units = iu;
      line.idle_unit_price = *r.idle_price_per_unit;
      line.units = bu + iu;
      // A part with no time is left out: "0 x 15m units x 200" only makes the line harder to read.
      const auto part = [&](const char* name, std::int64_t seconds, std::int64_t units,
                            std::int64_t price) {
        return fmt::format("{} {} = {} x {} units (rounded up) x {}", name,
                           format_duration(seconds), units, unit, price);
      };
      std::string parts;
      if (busy > 0) parts = part("busy", busy, bu, r.price_per_unit);
      if (idle > 0) {
        if (!parts.empty()) parts += " + ";
        parts += part("idle", idle, iu, *r.idle_price_per_unit);
      }
      text += fmt::format(" -> {} = {}", parts, gross);
    } else {
      line.units = ceil_div(d, r.unit_seconds);
      gross = line.units * r.price_per_unit;
      text += fmt::format(" -> {} x {} units (rounded up) x {} = {}", line.units, unit,
                          r.price_per_unit, gross);
    }
    line.gross = gross;
    std::int64_t charge = gross;
    if (r.minimum_charge > gross) {
      charge = r.minimum_charge;
      line.minimum_applied = true;
      text += fmt::format("; minimum charge {}", r.minimum_charge);
    }
    if (r.discount_percent > 0) {
      line.discount = charge * r.discount_percent / 100;
      charge -= line.discount;
      text += fmt::format("; plan -{}% = {}", r.discount_percent, charge);
    }
    if (r.daily_cap) {
      std::int64_t& running = day_running[{g.target, day}];
      const std::int64_t over = std::max<std::int64_t>(0, running + charge - *r.daily_cap);
      line.cap_reduction = std::min(over, charge);
      charge -= line.cap_reduction;
      running += charge;
      if (line.cap_reduction > 0) {
        text += fmt::format("; daily cap {} for {} reached: -{} = {}", *r.daily_cap, line.date,
                            line.cap_reduction, charge);
      }
    }
    line.amount = charge;
    finish(std::move(text));
  }

  for (const auto& sale : input.sales) {
    StatementLine line;
    line.type = sale.day_pass ? LineType::kDayPass : LineType::kSale;
    line.date = local_date(sale.at_ms);
    line.target = sale.item_code;
    line.sale_id = sale.id;
    line.item = sale.item_name;
    line.quantity = sale.quantity;
    line.start_ms = sale.at_ms;
    line.end_ms = sale.at_ms;
    line.start = local_iso(sale.at_ms);
    line.end = line.start;
    line.unit_price = sale.unit_price;
    line.units = sale.quantity;
    line.gross = sale.quantity * sale.unit_price;
    line.amount = line.gross;
    line.rule = fmt::format("{} x {} = {}{}", sale.quantity, sale.unit_price, line.amount,
                            sale.day_pass ? " (day pass: coworking free that day)" : "");
    line.tax_class = sale.tax_class;
    st.lines.push_back(std::move(line));
  }

  auto key = [](const StatementLine& l) {
    const bool sale = is_sale(l.type);
    return std::make_tuple(l.start_ms, sale ? 1 : 0,
                           sale ? *l.sale_id : (l.session_ids.empty() ? 0 : l.session_ids[0]));
  };
  std::sort(st.lines.begin(), st.lines.end(),
            [&](const StatementLine& a, const StatementLine& b) { return key(a) < key(b); });
  for (const auto& l : st.lines) {
    switch (l.type) {
      case LineType::kMachine:
        st.subtotal_machine += l.amount;
        break;
      case LineType::kCoworking:
        st.subtotal_coworking += l.amount;
        break;
      case LineType::kSale:
        st.subtotal_materials += l.amount;
        break;
      case LineType::kDayPass:
        st.subtotal_day_passes += l.amount;
        break;
    }
    st.lines_total += l.amount;
  }
  apply_tax(st);
  if (st.lines.empty() && st.held_for_review.empty() && st.open_sessions.empty()) {
    st.note = fmt::format("no usage in {}", input.month);
  }
  return st;
}

}  // namespace labgate::gateway::billing
