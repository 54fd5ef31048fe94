// The one catalogue. Keys are short English identifiers; every entry has both languages.
#include "i18n.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace labgate::gateway::console {

namespace {

struct Entry {
  std::string_view key;
  std::string_view ja;
  std::string_view en;
};

constexpr std::array kCatalogue = {
    Entry{"title", "labgate 管理コンソール", "labgate console"},
    Entry{"login.heading", "ログイン", "Log in"},
    Entry{"login.login", "ログインID", "Login"},
    Entry{"login.password", "パスワード", "Password"},
    Entry{"login.submit", "ログイン", "Log in"},
    Entry{"login.failed", "ログインIDまたはパスワードが違います。", "Wrong login or password."},
    Entry{"login.locked", "失敗が続いたため一時的にロックされています。しばらく待ってください。",
          "Too many failures: locked for a while. Please wait."},
    Entry{"logout", "ログアウト", "Log out"},
    Entry{"nav.live", "現在の状況", "Live site"},
    Entry{"nav.rollcall", "在館者（点呼）", "Roll call"},
    Entry{"nav.members", "会員", "Members"},
    Entry{"lang.switch", "表示言語", "Language"},
    Entry{"lang.apply", "切替", "Switch"},
    Entry{"live.doors", "扉", "Doors"},
    Entry{"live.machines", "機械", "Machines"},
    Entry{"live.events", "最新のイベント", "Latest events"},
    Entry{"live.state", "状態", "State"},
    Entry{"live.unavailable", "labgated に接続できません。", "labgated does not answer."},
    Entry{"door.unlock", "解錠", "Unlock"},
    Entry{"machine.lockout", "使用停止", "Lock out"},
    Entry{"machine.release", "使用停止解除", "Release"},
    Entry{"reason", "理由", "Reason"},
    Entry{"confirm", "実行してよろしいですか？", "Are you sure?"},
    Entry{"rollcall.heading", "現在の在館者", "On site now"},
    Entry{"rollcall.count", "人", "people"},
    Entry{"rollcall.since", "入館時刻", "Since"},
    Entry{"member.no", "会員番号", "Member no."},
    Entry{"member.name", "氏名", "Name"},
    Entry{"member.email", "メール", "E-mail"},
    Entry{"member.status", "状態", "Status"},
    Entry{"member.plan", "プラン", "Plan"},
    Entry{"member.cards", "カード", "Cards"},
    Entry{"member.certs", "資格", "Certifications"},
    Entry{"member.events", "最近のイベント", "Recent events"},
    Entry{"member.sessions", "最近の利用", "Recent sessions"},
    Entry{"member.status.pending", "承認待ち", "pending"},
    Entry{"member.status.active", "有効", "active"},
    Entry{"member.status.suspended", "利用停止", "suspended"},
    Entry{"members.search", "検索", "Search"},
    Entry{"members.query", "番号・氏名", "Number or name"},
    Entry{"members.none", "該当する会員はいません。", "No member matches."},
    Entry{"members.next", "次へ", "Next"},
    Entry{"members.prev", "前へ", "Previous"},
    Entry{"members.register", "会員登録", "Register a member"},
    Entry{"members.add", "登録", "Register"},
    Entry{"member.approve", "承認", "Approve"},
    Entry{"member.suspend", "利用停止", "Suspend"},
    Entry{"done", "完了しました。", "Done."},
    Entry{"error.forbidden", "この操作の権限がありません。", "You may not do this."},
    Entry{"error.csrf", "フォームの有効期限が切れています。もう一度お試しください。",
          "The form has expired. Please try again."},
    Entry{"error.not_found", "見つかりません。", "Not found."},
    Entry{"error.bad_request", "入力内容に誤りがあります。", "The input is not valid."},
    Entry{"error.refused", "labgated が拒否しました：", "labgated refused: "},
    Entry{"error.unavailable", "labgated に接続できません。", "labgated does not answer."},
    Entry{"error.too_large", "送信データが大きすぎます。", "The request is too large."},
    Entry{"error.media_type", "このデータ形式は受け付けません。",
          "This content type is not accepted."},
    Entry{"back", "戻る", "Back"},
    Entry{"nav.certs", "資格", "Certifications"},
    Entry{"nav.machines", "機械と点検", "Machines"},
    Entry{"confirm.action", "次の操作を実行します：", "About to do:"},
    Entry{"confirm.yes", "実行する", "Yes, do it"},
    Entry{"confirm.cancel", "やめる", "Cancel"},
    Entry{"live.all_stop", "全機械を緊急停止", "Stop all machines"},
    Entry{"machine.confirm", "起動確認", "Confirm"},
    Entry{"certs.all_types", "すべての種類", "All types"},
    Entry{"certs.type", "資格の種類", "Certification type"},
    Entry{"certs.expiring", "期限まで（日）", "Expiring within (days)"},
    Entry{"certs.expiring_in", "期限切れが近いもの（日以内）：", "Expiring within days:"},
    Entry{"certs.show", "表示", "Show"},
    Entry{"certs.none", "該当する資格はありません。", "No certification matches."},
    Entry{"certs.trainer", "講習担当", "Trainer"},
    Entry{"certs.granted_on", "付与日", "Granted on"},
    Entry{"certs.expires_on", "有効期限", "Expires on"},
    Entry{"certs.grant", "資格の付与", "Grant a certification"},
    Entry{"certs.grant_submit", "付与", "Grant"},
    Entry{"certs.revoke", "取消", "Revoke"},
    Entry{"machines.locked", "使用停止中", "Locked out"},
    Entry{"machines.in_service", "使用可", "In service"},
    Entry{"machines.overdue", "点検期限を過ぎています。", "Inspection overdue."},
    Entry{"inspection.date", "点検日", "Date"},
    Entry{"inspection.inspector", "点検者", "Inspector"},
    Entry{"inspection.result", "結果", "Result"},
    Entry{"inspection.pass", "合格", "pass"},
    Entry{"inspection.fail", "不合格", "fail"},
    Entry{"inspection.notes", "備考", "Notes"},
    Entry{"inspection.next_due", "次回点検期限", "Next due"},
    Entry{"inspection.record", "点検を記録", "Record inspection"},
    Entry{"nav.events", "イベント", "Events"},
    Entry{"nav.sessions", "利用記録", "Sessions"},
    Entry{"history.door", "扉", "Door"},
    Entry{"history.machine", "機械", "Machine"},
    Entry{"history.from", "開始日", "From"},
    Entry{"history.to", "終了日", "To"},
    Entry{"history.reason", "理由コード", "Reason code"},
    Entry{"history.time", "日時", "Time"},
    Entry{"history.where", "場所", "Where"},
    Entry{"history.kind", "種類", "Kind"},
    Entry{"history.decision", "判定", "Decision"},
    Entry{"history.detail", "詳細", "Detail"},
    Entry{"history.started", "開始", "Started"},
    Entry{"history.ended", "終了", "Ended"},
    Entry{"history.seconds", "計測秒数", "Measured seconds"},
    Entry{"history.csv", "CSV で書き出す", "Export CSV"},
    Entry{"nav.audit", "監査ログ", "Audit log"},
    Entry{"audit.verification", "記録の検証状態", "Verification"},
    Entry{"audit.sealed", "記録は封印されています。封印チェーンの先頭：",
          "The record is sealed. Head of the seal chain:"},
    Entry{"audit.unsealed", "記録はまだ封印されていません（labgatectl audit setup）。",
          "The record is not sealed yet (labgatectl audit setup)."},
    Entry{"audit.chain_ok",
          "旧形式のハッシュチェーン（鍵なし。意図的な書き換えは検出できません）：正常",
          "Legacy hash chain (unkeyed: it cannot catch a deliberate rewrite): intact"},
    Entry{"audit.chain_bad", "旧形式のハッシュチェーン：異常", "Legacy hash chain: BROKEN"},
    Entry{"audit.key", "検証鍵（64桁の16進数）", "Verification key (64 hex digits)"},
    Entry{"audit.verify", "この場で検証する", "Verify here"},
    Entry{"audit.bad_key", "検証鍵は audit setup が表示した64桁の16進数です。",
          "The verification key is the 64 hex digits audit setup printed."},
    Entry{"audit.verify_failed", "検証を実行できませんでした：", "Verification could not run: "},
    Entry{"audit.verified", "封印された記録は改ざんされていません。",
          "The sealed record is intact."},
    Entry{"audit.tampered", "改ざんが見つかりました：", "Tampering found:"},
    Entry{"audit.seals", "件の封印", "seals"},
    Entry{"audit.rows", "行を確認", "rows checked"},
    Entry{"audit.key_note",
          "完全な検証には検証鍵が必要です。検証鍵はこの機器には置かないでください。保管場所で "
          "labgatectl audit verify を実行するか、下に貼り付けてください（メモリ上で一度だけ使い、"
          "保存も記録もしません）。",
          "Full verification needs the verification key, which is kept off this box: run "
          "labgatectl audit verify where it is kept, or paste it below (used once in memory, "
          "never stored or logged)."},
    Entry{"audit.actor", "実行者", "Actor"},
    Entry{"audit.action", "操作", "Action"},
    Entry{"audit.subject", "対象", "Subject"},
    // Money pages (pages_money.cpp): rates, price list, desk sales, accounts, held sessions,
    // ward report.
    Entry{"nav.rates", "料金", "Rates"},
    Entry{"nav.prices", "価格表", "Price list"},
    Entry{"nav.desk", "窓口販売", "Desk sales"},
    Entry{"nav.accounts", "会員口座", "Accounts"},
    Entry{"nav.held", "保留中の利用", "Held sessions"},
    Entry{"nav.reports", "区への報告", "Ward report"},
    Entry{"money.yen", "円", "yen"},
    Entry{"money.yes", "はい", "yes"},
    Entry{"money.no", "いいえ", "no"},
    Entry{"money.by", "記録者", "By"},
    Entry{"money.now", "今すぐ", "now"},
    Entry{"money.unchanged", "変更なし", "unchanged"},
    Entry{"money.until", "終了", "Until"},
    Entry{"money.coworking", "コワーキング", "coworking"},
    Entry{"money.rate_state", "状態", "State"},
    Entry{"money.rate.in_force", "適用中", "in force"},
    Entry{"money.rate.coming", "予定", "coming"},
    Entry{"money.rate.ended", "終了", "ended"},
    Entry{"money.rate.set_heading", "新しい料金", "A new rate"},
    Entry{"money.rate.set_help",
          "開始日から新しい料金になり、その時点の料金はそこで終わります。空欄の項目はその時点の料金"
          "のままです。アイドル料金と日額上限は none で削除します。",
          "The new rate starts on the date (now when empty) and the rate then in force ends there. "
          "Empty terms stay as they were; none removes the idle price or the daily cap."},
    Entry{"money.rate.set", "料金を設定", "Set the rate"},
    Entry{"money.rate.replace", "訂正", "Correct"},
    Entry{"money.rate.withdraw", "取り下げ", "Withdraw"},
    Entry{"money.rate.confirm_set", "次の料金を設定します：", "Set a new rate for"},
    Entry{"money.rate.confirm_replace", "開始前の料金を訂正します：", "Correct the coming rate"},
    Entry{"money.rate.confirm_withdraw", "開始前の料金を取り下げます：",
          "Withdraw the coming rate"},
    Entry{"money.field.target", "対象", "Target"},
    Entry{"money.field.from", "開始日", "Effective from"},
    Entry{"money.field.unit_min", "単位（分）", "Unit (minutes)"},
    Entry{"money.field.price", "価格（円）", "Price (yen)"},
    Entry{"money.field.idle_price", "アイドル時価格（円）", "Idle price (yen)"},
    Entry{"money.field.minimum", "最低料金（円）", "Minimum (yen)"},
    Entry{"money.field.grace_min", "無料時間（分）", "Grace (minutes)"},
    Entry{"money.field.daily_cap", "日額上限（円）", "Daily cap (yen)"},
    Entry{"money.field.note", "メモ", "Note"},
    Entry{"money.field.code", "品目コード", "Code"},
    Entry{"money.field.name", "品名", "Name"},
    Entry{"money.field.unit", "単位", "Unit"},
    Entry{"money.field.tax_class", "税区分", "Tax class"},
    Entry{"money.field.day_pass", "一日券", "Day pass"},
    Entry{"money.field.item", "品目", "Item"},
    Entry{"money.field.quantity", "数量", "Quantity"},
    Entry{"money.field.member_no", "会員番号", "Member no."},
    Entry{"money.field.amount", "金額（円）", "Amount (yen)"},
    Entry{"money.field.credit_limit", "与信限度額（円）", "Credit limit (yen)"},
    Entry{"money.field.minutes", "請求時間（分）", "Bill (minutes)"},
    Entry{"money.field.period", "期間", "Period"},
    Entry{"money.tax.standard", "標準税率 10%", "standard 10 %"},
    Entry{"money.tax.reduced", "軽減税率 8%", "reduced 8 %"},
    Entry{"money.tax.exempt", "非課税", "exempt"},
    Entry{"money.active", "販売中", "On sale"},
    Entry{"money.price.set_heading", "品目の追加・変更", "Add or change an item"},
    Entry{"money.price.set", "保存", "Save"},
    Entry{"money.price.deactivate", "販売終了", "Take off sale"},
    Entry{"money.price.confirm_set", "価格表を更新します：", "Update the price list:"},
    Entry{"money.price.confirm_deactivate", "販売を終了します：", "Take off sale:"},
    Entry{"money.balance", "残高", "Balance"},
    Entry{"money.available", "利用可能額", "Available"},
    Entry{"money.reference", "摘要", "Reference"},
    Entry{"money.topup", "入金", "Top up"},
    Entry{"money.topup.confirm", "入金します：", "Top up the account of"},
    Entry{"money.set_limit", "限度額を設定", "Set the limit"},
    Entry{"money.limit.confirm", "与信限度額を変更します：", "Set the credit limit of"},
    Entry{"money.sell", "販売", "Sell"},
    Entry{"money.sell.confirm", "販売します：", "Sell to"},
    Entry{"money.sell.another", "続けて販売", "Sell another item"},
    Entry{"money.receipt", "領収控え", "Receipt"},
    Entry{"money.receipt.no", "販売番号", "Sale no."},
    Entry{"money.unit_price", "単価", "Unit price"},
    Entry{"money.total", "合計", "Total"},
    Entry{"money.sold_by", "担当", "Sold by"},
    Entry{"money.minutes", "分", "minutes"},
    Entry{"money.length_min", "長さ（分）", "Length (minutes)"},
    Entry{
        "money.held.help",
        "24時間を超えた利用は請求前に確認が必要です。請求する時間を入力するか、免除してください。",
        "Sessions over 24 h wait for a review: bill the time they really took, or waive them."},
    Entry{"money.held.none", "確認待ちの利用はありません。", "No session is waiting for a review."},
    Entry{"money.held.bill", "請求", "Bill"},
    Entry{"money.held.waive", "免除", "Waive"},
    Entry{"money.held.confirm_bill", "次の利用を請求します：", "Bill session"},
    Entry{"money.held.confirm_waive", "次の利用の請求を免除します：", "Waive session"},
    Entry{"money.bad.required", "入力してください。", "is required."},
    Entry{"money.bad.yen", "0以上 {} 以下の整数（円）で入力してください。",
          "must be a whole number of yen from 0 to {}."},
    Entry{"money.bad.positive_yen", "1以上 {} 以下の整数（円）で入力してください。",
          "must be a whole number of yen from 1 to {}."},
    Entry{"money.bad.yen_or_none", "0以上の整数（円、{} まで）か none を入力してください。",
          "must be a whole number of yen (up to {}) or none."},
    Entry{"money.bad.minutes", "1以上の整数（分、1週間まで）で入力してください。",
          "must be a whole number of minutes, at least 1 and at most a week."},
    Entry{"money.bad.grace", "0以上 1439 以下の整数（分）で入力してください。",
          "must be a whole number of minutes from 0 to 1439."},
    Entry{"money.bad.bill_minutes",
          "1以上 {} 以下の整数（分）で入力してください（請求しない場合は免除）。",
          "must be a whole number of minutes from 1 to {} (waive to bill nothing)."},
    Entry{"money.bad.quantity", "1以上 {} 以下の整数で入力してください。",
          "must be a whole number from 1 to {}."},
    Entry{"money.bad.date", "YYYY-MM-DD の日付で入力してください。", "must be a date, YYYY-MM-DD."},
    Entry{"money.bad.choice", "一覧から選んでください。", "must be one of the choices."},
    Entry{"money.bad.no_member", "その会員番号の会員はいません。", "no member has this number."},
    Entry{"money.bad.no_item", "販売中の品目から選んでください。", "must be an item on sale."},
    Entry{"money.bad.period", "YYYY-MM（月）か FY2026（年度）の形で入力してください。",
          "must be a month YYYY-MM or a fiscal year FY2026."},
    Entry{"money.report.month", "月（YYYY-MM）", "Month (YYYY-MM)"},
    Entry{"money.report.fiscal_year", "年度（FY2026）", "Fiscal year (FY2026)"},
    Entry{"money.report.show", "表示", "Show"},
    Entry{"money.report.partial", "期間の途中までの集計です",
          "the period is not over: figures so far"},
    Entry{"money.report.files", "ダウンロード（labgatectl report と同じファイル）",
          "Download (the files labgatectl report writes)"},
    Entry{"money.report.chart_daily", "日別の機械利用時間", "Machine hours per day"},
    Entry{"money.report.chart_hourly", "時間帯別のコワーキング平均在席数",
          "Coworking occupancy per hour of the day"},
    Entry{"money.report.chart_machines", "機械別の利用回数", "Sessions per machine"},
    Entry{"money.report.summary", "概要", "Summary"},
    Entry{"money.report.unique_users", "利用者数", "Unique users"},
    Entry{"money.report.machine_sessions", "機械利用回数", "Machine sessions"},
    Entry{"money.report.machine_hours", "機械利用時間", "Machine hours"},
    Entry{"money.report.coworking_hours", "コワーキング利用時間（延べ）", "Coworking member-hours"},
    Entry{"money.report.coworking_peak", "コワーキング最大在席数", "Coworking peak occupancy"},
    Entry{"money.report.new_members", "新規会員", "New members"},
    Entry{"money.report.hour", "時間帯", "Hour"},
    Entry{"money.report.occupancy", "平均在席数", "Mean occupancy"},
    Entry{"money.report.date", "日付", "Date"},
    Entry{"money.report.months", "月別", "By month"},
    Entry{"enrol.heading", "カード登録", "Enrol a card"},
    Entry{"enrol.link", "受付リーダーでカードを登録", "Enrol a card at a reader"},
    Entry{"enrol.reader", "リーダー", "Reader"},
    Entry{"enrol.timeout", "待ち時間（秒）", "Wait (seconds)"},
    Entry{"enrol.start", "登録開始", "Start"},
    Entry{"enrol.cancel", "中止", "Cancel"},
    Entry{"enrol.state.idle", "リーダーを選んで開始してください。", "Choose a reader and start."},
    Entry{"enrol.state.waiting", "カードを待っています…リーダーにカードをかざしてください。",
          "Waiting for the card… hold it to the reader."},
    Entry{"enrol.state.done", "カードを登録しました。", "The card is enrolled."},
    Entry{"enrol.state.timeout", "時間切れです。もう一度開始してください。",
          "Timed out. Please start again."},
    Entry{"enrol.state.cancelled", "中止しました。", "Cancelled."},
    Entry{"enrol.state.failed", "登録できませんでした：", "The card could not be enrolled:"},
};

const Entry* find(std::string_view key) {
  const auto it = std::find_if(kCatalogue.begin(), kCatalogue.end(),
                               [&](const Entry& e) { return e.key == key; });
  return it == kCatalogue.end() ? nullptr : &*it;
}

}  // namespace

std::string_view code(Lang lang) {
  return lang == Lang::kJa ? "ja" : "en";
}

Lang parse_lang(std::string_view c, Lang fallback) {
  if (c == "ja") return Lang::kJa;
  if (c == "en") return Lang::kEn;
  return fallback;
}

Lang from_accept_language(std::string_view header) {
  // The first language range that is ja or en wins; q-values are honoured only by order, which
  // is how browsers write them.
  std::string lower(header);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::size_t at = 0;
  while (at < lower.size()) {
    auto end = lower.find(',', at);
    if (end == std::string::npos) end = lower.size();
    std::string_view range = std::string_view(lower).substr(at, end - at);
    while (!range.empty() && range.front() == ' ') range.remove_prefix(1);
    if (range.starts_with("ja")) return Lang::kJa;
    if (range.starts_with("en")) return Lang::kEn;
    at = end + 1;
  }
  return Lang::kJa;
}

std::string_view tr(Lang lang, std::string_view key) {
  const Entry* e = find(key);
  if (e == nullptr) return key;
  return lang == Lang::kJa ? e->ja : e->en;
}

bool has_key(std::string_view key) {
  const Entry* e = find(key);
  return e != nullptr && !e->ja.empty() && !e->en.empty();
}

}  // namespace labgate::gateway::console
