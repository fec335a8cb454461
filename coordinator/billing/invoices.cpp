#include "coordinator/billing/invoices.hpp"

#include "common/secrets.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/money.hpp"
#include "coordinator/billing/tax.hpp"

#include <algorithm>
#include <map>

namespace vpsfleet::billing {

namespace {

// pg_advisory_xact_lock(class, hashtext(key)): the class keeps these apart from other advisory
// locks. Two issuers with one idempotency key queue here, so the second sees the first's invoice.
constexpr int k_idempotency_lock_class = 0x696e7600;  // "inv\0"
constexpr std::size_t k_max_description = 1000;

// Timestamps cross the wire as microseconds since the epoch: exact both ways.
std::string micros(const std::string& column) {
    return "(extract(epoch FROM " + column + ") * 1000000)::bigint";
}
std::string from_micros(int param) {
    return "(timestamptz 'epoch' + $" + std::to_string(param) +
           "::bigint * interval '1 microsecond')";
}

std::optional<std::int64_t> to_micros(const std::optional<time_point>& t) {
    if (!t) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count();
}

time_point at_micros(std::int64_t us) {
    return time_point(
        std::chrono::duration_cast<time_point::duration>(std::chrono::microseconds(us)));
}

std::optional<time_point> opt_time(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return at_micros(f.as<std::int64_t>());
}

std::optional<std::string> opt_text(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<std::string>();
}

std::optional<std::int64_t> opt_int(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<std::int64_t>();
}

const std::string k_invoice_columns =
    "id, uid, user_id, year, seq, number, status, currency, subtotal, tax, total, tax_rate_bp, "
    "tax_country, billing_name, billing_address_1, billing_address_2, billing_city, "
    "billing_state, billing_postcode, billing_tax_id, billing_email, " +
    micros("issued_at") + ", " + micros("paid_at") + ", " + micros("voided_at") + ", " +
    micros("period_start") + ", " + micros("period_end") +
    ", idempotency_key, seller_company_id, seller_name, seller_address, seller_tax_id, "
    "seller_email, seller_phone";

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto end = std::min(text.find('\n', start), text.size());
        if (end > start) lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

invoice invoice_from_row(const pqxx::row& r) {
    invoice out;
    out.id = r[0].as<std::int64_t>();
    out.uid = r[1].as<std::string>();
    out.user_id = r[2].as<std::int64_t>();
    out.year = r[3].as<int>();
    out.seq = r[4].as<int>();
    out.number = r[5].as<std::string>();
    out.status = r[6].as<std::string>();
    out.currency = r[7].as<std::string>();
    out.subtotal = r[8].as<std::int64_t>();
    out.tax = r[9].as<std::int64_t>();
    out.total = r[10].as<std::int64_t>();
    out.tax_rate_bp = r[11].as<int>();
    out.tax_country = opt_text(r[12]);
    out.buyer.name = opt_text(r[13]);
    out.buyer.address_1 = opt_text(r[14]);
    out.buyer.address_2 = opt_text(r[15]);
    out.buyer.city = opt_text(r[16]);
    out.buyer.state = opt_text(r[17]);
    out.buyer.postcode = opt_text(r[18]);
    out.buyer.tax_id = opt_text(r[19]);
    out.buyer.email = r[20].as<std::string>();
    out.issued_at = at_micros(r[21].as<std::int64_t>());
    out.paid_at = opt_time(r[22]);
    out.voided_at = opt_time(r[23]);
    out.period_start = opt_time(r[24]);
    out.period_end = opt_time(r[25]);
    out.idempotency_key = opt_text(r[26]);
    if (!r[27].is_null()) {
        out.seller = seller_snapshot{r[27].as<std::int64_t>(),
                                     r[28].as<std::string>(),
                                     split_lines(opt_text(r[29]).value_or("")),
                                     opt_text(r[30]),
                                     opt_text(r[31]),
                                     opt_text(r[32])};
    }
    return out;
}

// Fills in the lines of the given invoices with one query.
void load_lines(pqxx::transaction_base& tx, std::vector<invoice>& invoices) {
    if (invoices.empty()) return;
    std::map<std::int64_t, invoice*> by_id;
    std::string ids = "{";
    for (auto& inv : invoices) {
        if (by_id.size() > 0) ids += ',';
        ids += std::to_string(inv.id);
        by_id[inv.id] = &inv;
    }
    ids += '}';
    const auto rows = tx.exec_params(
        "SELECT invoice_id, position, description, quantity, unit_amount, amount, tax, "
        "instance_id, " +
            micros("period_start") + ", " + micros("period_end") +
            " FROM invoice_lines WHERE invoice_id = ANY($1::bigint[]) "
            "ORDER BY invoice_id, position",
        ids);
    for (const auto& r : rows) {
        invoice_line l;
        l.position = r[1].as<int>();
        l.description = r[2].as<std::string>();
        l.quantity = r[3].as<int>();
        l.unit_amount = r[4].as<std::int64_t>();
        l.amount = r[5].as<std::int64_t>();
        l.tax = r[6].as<std::int64_t>();
        l.instance_id = opt_int(r[7]);
        l.period_start = opt_time(r[8]);
        l.period_end = opt_time(r[9]);
        by_id.at(r[0].as<std::int64_t>())->lines.push_back(std::move(l));
    }
}

std::optional<invoice> load_where(pqxx::transaction_base& tx, const std::string& condition,
                                  const std::string& value) {
    const auto rows =
        tx.exec_params("SELECT " + k_invoice_columns + " FROM invoices WHERE " + condition, value);
    if (rows.empty()) return std::nullopt;
    std::vector<invoice> one{invoice_from_row(rows[0])};
    load_lines(tx, one);
    return std::move(one[0]);
}

invoice load_by_id(pqxx::transaction_base& tx, std::int64_t id) {
    auto inv = load_where(tx, "id = $1::bigint", std::to_string(id));
    if (!inv) throw billing_error("invoice_not_found", "no invoice " + std::to_string(id));
    return std::move(*inv);
}

void check_period(const std::optional<time_point>& start, const std::optional<time_point>& end,
                  const std::string& what) {
    if (start && end && *start > *end)
        throw billing_error("invalid_period", what + ": the period ends before it starts");
}

std::int64_t checked_add(std::int64_t a, std::int64_t b) {
    std::int64_t sum = 0;
    if (__builtin_add_overflow(a, b, &sum))
        throw billing_error("amount_too_large", "the invoice's total does not fit in 64 bits");
    return sum;
}

bool blank(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' '; });
}

struct locked_status {
    std::string status;
    std::string number;
};
// Locks the invoice's row for a status change; throws invoice_not_found.
locked_status lock_status(pqxx::work& tx, std::int64_t id) {
    const auto rows =
        tx.exec_params("SELECT status, number FROM invoices WHERE id = $1 FOR UPDATE", id);
    if (rows.empty()) throw billing_error("invoice_not_found", "no invoice " + std::to_string(id));
    return {rows[0][0].as<std::string>(), rows[0][1].as<std::string>()};
}

}  // namespace

priced_draft price_draft(const invoice_draft& draft) {
    if (!is_currency_code(draft.currency))
        throw billing_error("invalid_currency",
                            "currency \"" + draft.currency +
                                "\" is not an ISO 4217 code of three upper-case letters");
    if (draft.lines.empty())
        throw billing_error("empty_invoice", "an invoice needs at least one line");
    if (draft.tax_rate_bp < 0 || draft.tax_rate_bp > k_max_tax_rate_bp)
        throw billing_error("invalid_tax_rate", "tax rate " + std::to_string(draft.tax_rate_bp) +
                                                    " basis points is outside 0..10000");
    if (draft.tax_country && !is_country_code(*draft.tax_country))
        throw billing_error("invalid_tax_country",
                            "tax country \"" + *draft.tax_country +
                                "\" is not an ISO 3166 code of two upper-case letters");
    check_period(draft.period_start, draft.period_end, "invoice");

    priced_draft out;
    int position = 0;
    for (const auto& d : draft.lines) {
        ++position;
        const std::string where = "line " + std::to_string(position);
        if (blank(d.description) || d.description.size() > k_max_description)
            throw billing_error("invalid_description",
                                where + ": a description of 1 to 1000 characters is needed");
        if (!d.currency.empty() && d.currency != draft.currency)
            throw billing_error("mixed_currencies", where + " is in " + d.currency +
                                                        ", the invoice in " + draft.currency);
        if (d.quantity < 1)
            throw billing_error("invalid_quantity", where + ": quantity must be at least 1, got " +
                                                        std::to_string(d.quantity));
        if (d.unit_amount < 0)
            throw billing_error("negative_amount",
                                where + ": unit amount " + std::to_string(d.unit_amount) +
                                    " is negative (credits are not invoice lines)");
        check_period(d.period_start, d.period_end, where);

        invoice_line l;
        l.position = position;
        l.description = d.description;
        l.quantity = d.quantity;
        l.unit_amount = d.unit_amount;
        if (__builtin_mul_overflow(d.unit_amount, static_cast<std::int64_t>(d.quantity), &l.amount))
            throw billing_error("amount_too_large", where + ": quantity * unit amount overflows");
        l.tax = line_tax(l.amount, draft.tax_rate_bp);
        l.instance_id = d.instance_id;
        l.period_start = d.period_start;
        l.period_end = d.period_end;
        out.subtotal = checked_add(out.subtotal, l.amount);
        out.tax = checked_add(out.tax, l.tax);
        out.lines.push_back(std::move(l));
    }
    out.total = checked_add(out.subtotal, out.tax);
    return out;
}

std::string invoice_number(int year, int seq) {
    std::string digits = std::to_string(seq);
    if (digits.size() < 6) digits.insert(0, 6 - digits.size(), '0');
    return "INV-" + std::to_string(year) + "-" + digits;
}

invoice issue_invoice(pqxx::work& tx, const invoice_draft& draft) {
    const priced_draft priced = price_draft(draft);

    if (draft.idempotency_key) {
        tx.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))", k_idempotency_lock_class,
                       *draft.idempotency_key);
        const auto rows = tx.exec_params(
            "SELECT id, user_id FROM invoices WHERE idempotency_key = $1", *draft.idempotency_key);
        if (!rows.empty()) {
            if (rows[0][1].as<std::int64_t>() != draft.user_id)
                throw billing_error("idempotency_key_reused",
                                    "the idempotency key belongs to another account's invoice");
            return load_by_id(tx, rows[0][0].as<std::int64_t>());
        }
    }

    const auto buyer = tx.exec_params(
        "SELECT email, billing_name, billing_address_1, billing_address_2, billing_city, "
        "billing_state, billing_postcode, billing_tax_id FROM users WHERE id = $1",
        draft.user_id);
    if (buyer.empty())
        throw billing_error("user_not_found", "no user " + std::to_string(draft.user_id));

    // The seller's address lines: street lines, "postcode city", state, country.
    std::optional<std::string> seller_name, seller_address, seller_tax_id, seller_email,
        seller_phone;
    if (draft.seller_company_id) {
        const auto c = tx.exec_params(
            "SELECT name, concat_ws(E'\\n', NULLIF(address_1, ''), NULLIF(address_2, ''), "
            "NULLIF(concat_ws(' ', NULLIF(postcode, ''), NULLIF(city, '')), ''), "
            "NULLIF(state, ''), NULLIF(country_code, '')), tax_id, email, phone "
            "FROM companies WHERE id = $1",
            *draft.seller_company_id);
        if (c.empty())
            throw billing_error("company_not_found",
                                "no company " + std::to_string(*draft.seller_company_id));
        seller_name = c[0][0].as<std::string>();
        seller_address = opt_text(c[0][1]);
        seller_tax_id = opt_text(c[0][2]);
        seller_email = opt_text(c[0][3]);
        seller_phone = opt_text(c[0][4]);
    }

    const auto when =
        tx.exec_params1("SELECT " + micros("t") +
                            ", extract(year FROM t AT TIME ZONE 'UTC')::int FROM (SELECT "
                            "COALESCE(" +
                            from_micros(1) + ", now()) AS t) AS issue",
                        to_micros(draft.issued_at));
    const auto issued_us = when[0].as<std::int64_t>();
    const int year = when[1].as<int>();

    // Holds the year's counter row until commit: the next issuer waits here, and takes this
    // number again if we roll back.
    const int seq =
        tx.exec_params1(
              "INSERT INTO invoice_counters (year, last_seq) VALUES ($1, 1) "
              "ON CONFLICT (year) DO UPDATE SET last_seq = invoice_counters.last_seq + 1 "
              "RETURNING last_seq",
              year)[0]
            .as<int>();

    const auto& b = buyer[0];
    const auto id =
        tx.exec_params1(
              "INSERT INTO invoices (uid, user_id, year, seq, number, currency, subtotal, tax, "
              "total, tax_rate_bp, tax_country, billing_name, billing_address_1, "
              "billing_address_2, billing_city, billing_state, billing_postcode, billing_tax_id, "
              "billing_email, issued_at, period_start, period_end, idempotency_key, "
              "seller_company_id, seller_name, seller_address, seller_tax_id, seller_email, "
              "seller_phone) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
              "$14, $15, $16, $17, $18, $19, " +
                  from_micros(20) + ", " + from_micros(21) + ", " + from_micros(22) +
                  ", $23, $24, $25, $26, $27, $28, $29) RETURNING id",
              secrets::random_token("inv_", 12), draft.user_id, year, seq,
              invoice_number(year, seq), draft.currency, priced.subtotal, priced.tax, priced.total,
              draft.tax_rate_bp, draft.tax_country, opt_text(b[1]), opt_text(b[2]), opt_text(b[3]),
              opt_text(b[4]), opt_text(b[5]), opt_text(b[6]), opt_text(b[7]),
              b[0].as<std::string>(), issued_us, to_micros(draft.period_start),
              to_micros(draft.period_end), draft.idempotency_key, draft.seller_company_id,
              seller_name, seller_address, seller_tax_id, seller_email, seller_phone)[0]
            .as<std::int64_t>();

    for (const auto& l : priced.lines)
        tx.exec_params(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, "
            "unit_amount, amount, tax, instance_id, period_start, period_end) VALUES ($1, $2, $3, "
            "$4, $5, $6, $7, $8, " +
                from_micros(9) + ", " + from_micros(10) + ")",
            id, l.position, l.description, l.quantity, l.unit_amount, l.amount, l.tax,
            l.instance_id, to_micros(l.period_start), to_micros(l.period_end));

    return load_by_id(tx, id);
}

std::optional<std::int64_t> company_of_instance(pqxx::transaction_base& tx,
                                                std::int64_t instance_id) {
    const auto rows = tx.exec_params(
        "SELECT g.company_id FROM instances i JOIN hosts h ON h.id = i.host_id "
        "JOIN regions g ON g.id = h.region_id WHERE i.id = $1",
        instance_id);
    if (!rows.empty()) return opt_int(rows[0][0]);
    // Not placed yet (the first period is paid at the order): the fleet's company when every
    // enabled region belongs to the same one, as for an operator with one legal entity.
    return opt_int(
        tx.exec("SELECT min(company_id) FROM regions WHERE enabled HAVING count(*) > 0 AND "
                "count(company_id) = count(*) AND count(DISTINCT company_id) = 1")[0][0]);
}

std::optional<invoice> get_invoice(pqxx::transaction_base& tx, const std::string& uid) {
    return load_where(tx, "uid = $1", uid);
}

std::optional<invoice> get_invoice(pqxx::connection& conn, const std::string& uid) {
    pqxx::read_transaction tx(conn);
    return get_invoice(tx, uid);
}

std::vector<invoice> list_invoices(pqxx::transaction_base& tx, std::int64_t user_id, int limit,
                                   std::optional<std::int64_t> before) {
    limit = std::clamp(limit, 1, 100);
    std::vector<invoice> out;
    for (const auto& r : tx.exec_params("SELECT " + k_invoice_columns +
                                            " FROM invoices WHERE user_id = $1 AND "
                                            "($2::bigint IS NULL OR id < $2) ORDER BY id DESC "
                                            "LIMIT $3",
                                        user_id, before, limit))
        out.push_back(invoice_from_row(r));
    load_lines(tx, out);
    return out;
}

std::vector<invoice> list_invoices(pqxx::connection& conn, std::int64_t user_id, int limit,
                                   std::optional<std::int64_t> before) {
    pqxx::read_transaction tx(conn);
    return list_invoices(tx, user_id, limit, before);
}

invoice mark_paid(pqxx::work& tx, std::int64_t id, std::optional<time_point> at) {
    const auto current = lock_status(tx, id);
    if (current.status == "void")
        throw billing_error("invalid_status",
                            "invoice " + current.number + " is void and cannot be paid");
    if (current.status == "issued")
        tx.exec_params("UPDATE invoices SET status = 'paid', paid_at = COALESCE(" + from_micros(2) +
                           ", now()) WHERE id = $1",
                       id, to_micros(at));
    return load_by_id(tx, id);
}

invoice void_invoice(pqxx::work& tx, std::int64_t id) {
    const auto current = lock_status(tx, id);
    if (current.status == "paid")
        throw billing_error("invalid_status", "invoice " + current.number +
                                                  " is paid and cannot be voided; refund it");
    if (current.status == "issued")
        tx.exec_params("UPDATE invoices SET status = 'void', voided_at = now() WHERE id = $1", id);
    return load_by_id(tx, id);
}

}  // namespace vpsfleet::billing
