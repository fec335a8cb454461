// Invoices on real PostgreSQL: numbers stay gapless under concurrent issuers and rollbacks and
// restart each year, the database refuses to change or delete an issued invoice except for its
// status, an idempotency key returns the first invoice, the buyer's details are frozen at issue,
// and the PDF reads back through pdftotext with the number, buyer, lines and total.
#include "coordinator/billing/invoices.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/invoice_pdf.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_file.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <latch>
#include <mutex>
#include <sstream>
#include <thread>

using namespace vpsfleet;
using namespace vpsfleet::billing;
using namespace std::chrono_literals;

namespace {

// 2026-12-31T23:59:59Z and 2027-01-01T00:00:00Z.
const time_point k_last_second_2026 = time_point(std::chrono::seconds(1798761599));
const time_point k_new_year_2027 = time_point(std::chrono::seconds(1798761600));

struct world {
    std::string url = vpsfleet::testing::fresh_database();
    pqxx::connection conn{url};
    std::int64_t user = 0;

    world() {
        store::apply_migrations(conn, store::embedded_migrations());
        user = add_user("soren@example.com", "S\xC3\xB8ren \xC3\x86r\xC3\xB8");  // Søren Ærø
    }

    std::int64_t add_user(const std::string& email, const std::string& name) {
        pqxx::work tx(conn);
        const auto id = tx.exec_params1(
                              "INSERT INTO users (email, billing_name, billing_address_1, "
                              "billing_city, billing_postcode, billing_tax_id) VALUES ($1, $2, "
                              "'\xC3\x98stergade 1', 'K\xC3\xB8"
                              "benhavn', '1100', 'DK12345678') "
                              "RETURNING id",
                              email, name)[0]
                            .as<std::int64_t>();
        tx.commit();
        return id;
    }

    invoice_draft draft(std::int64_t for_user = 0) const {
        invoice_draft d;
        d.user_id = for_user ? for_user : user;
        d.currency = "DKK";
        d.tax_country = "DK";
        d.tax_rate_bp = 2500;
        draft_line server;
        server.description = "BXS 2-4 server, March 2026";
        server.unit_amount = 80000;
        draft_line ip;
        ip.description = "Extra IPv4 address";
        ip.quantity = 2;
        ip.unit_amount = 10000;
        d.lines = {server, ip};
        return d;
    }

    invoice issue(const invoice_draft& d) {
        pqxx::work tx(conn);
        auto inv = issue_invoice(tx, d);
        tx.commit();
        return inv;
    }

    // The SQL error the statement raises, or "" if it succeeds (and commits).
    std::string sql_refusal(const std::string& sql) {
        try {
            pqxx::work tx(conn);
            tx.exec(sql);
            tx.commit();
        } catch (const pqxx::sql_error& e) {
            return e.what();
        }
        return "";
    }

    std::string scalar(const std::string& sql) { return vpsfleet::testing::query_text(conn, sql); }
};

std::string billing_refusal(const std::function<void()>& f) {
    try {
        f();
    } catch (const billing_error& e) {
        return e.code;
    }
    return "";
}

seller_info seller() {
    seller_info s;
    s.name = "Nordisk VPS ApS";
    s.address_lines = {"Havnegade 12",
                       "1058 K\xC3\xB8"
                       "benhavn K",
                       "Denmark"};
    s.vat_id = "DK87654321";
    s.email = "billing@nordisk-vps.example";
    s.footer_lines = {"Bank: Danske Bank, IBAN DK50 0040 0440 1162 43",
                      "Payment within 14 days. CVR 87654321."};
    return s;
}

struct pdf_text {
    std::string text;
    int pages = 0;
};

// Writes the PDF to a temporary file and reads it back as pdftotext and pdfinfo see it.
pdf_text read_back(const std::string& pdf) {
    vpsfleet::testing::temp_dir dir;
    const std::string pdf_path = dir.path() + "/invoice.pdf";
    const std::string txt_path = dir.path() + "/invoice.txt";
    std::ofstream(pdf_path, std::ios::binary) << pdf;
    const auto converted =
        vpsfleet::testing::run_command({"pdftotext", "-enc", "UTF-8", pdf_path, txt_path});
    EXPECT_EQ(converted.status, 0) << converted.output;
    std::stringstream text;
    text << std::ifstream(txt_path).rdbuf();
    const auto info = vpsfleet::testing::run_command({"pdfinfo", pdf_path});
    EXPECT_EQ(info.status, 0) << info.output;
    pdf_text out{text.str(), 0};
    const auto at = info.output.find("Pages:");
    if (at != std::string::npos) out.pages = std::stoi(info.output.substr(at + 6));
    return out;
}

}  // namespace

TEST(invoices_db, numbers_stay_gapless_under_eight_concurrent_issuers_with_rollbacks) {
    world w;
    constexpr int k_threads = 8;
    constexpr int k_total = 200;
    std::mutex mutex;
    std::vector<int> committed;
    std::vector<std::string> errors;
    int rolled_back = 0;
    std::latch start(k_threads);
    std::vector<std::thread> threads;
    const auto began = std::chrono::steady_clock::now();
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            try {
                pqxx::connection conn(w.url);
                start.arrive_and_wait();
                int attempt = 0;
                for (int i = t; i < k_total; i += k_threads) {
                    // Every third attempt rolls back after taking a number, then tries again.
                    while (++attempt % 3 == 0) {
                        pqxx::work tx(conn);
                        issue_invoice(tx, w.draft());
                        tx.abort();
                        std::lock_guard lock(mutex);
                        ++rolled_back;
                    }
                    pqxx::work tx(conn);
                    const auto inv = issue_invoice(tx, w.draft());
                    tx.commit();
                    std::lock_guard lock(mutex);
                    committed.push_back(inv.seq);
                }
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                errors.push_back(e.what());
            }
        });
    }
    for (auto& th : threads) th.join();
    const auto took = std::chrono::steady_clock::now() - began;
    ASSERT_TRUE(errors.empty()) << errors.front();
    EXPECT_GT(rolled_back, 50);

    std::sort(committed.begin(), committed.end());
    ASSERT_EQ(committed.size(), static_cast<std::size_t>(k_total));
    for (int i = 0; i < k_total; ++i) ASSERT_EQ(committed[i], i + 1) << "gap or duplicate";
    // The database agrees: numbers 1..200, the counter at 200.
    EXPECT_EQ(w.scalar("SELECT count(DISTINCT number) || ' ' || min(seq) || ' ' || max(seq) "
                       "FROM invoices"),
              "200 1 200");
    EXPECT_EQ(w.scalar("SELECT string_agg(last_seq::text, ',') FROM invoice_counters"), "200");
    std::cout << "[ figures  ] " << k_total << " invoices + " << rolled_back
              << " rolled back by 8 issuers in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
}

TEST(invoices_db, a_rolled_back_or_refused_issue_leaves_no_gap) {
    world w;
    EXPECT_EQ(w.issue(w.draft()).number.substr(9), "000001");
    {
        pqxx::work tx(w.conn);
        EXPECT_EQ(issue_invoice(tx, w.draft()).seq, 2);
        tx.abort();
    }
    auto empty = w.draft();
    empty.lines.clear();
    EXPECT_EQ(billing_refusal([&] { w.issue(empty); }), "empty_invoice");
    EXPECT_EQ(billing_refusal([&] { w.issue(w.draft(999999)); }), "user_not_found");
    const auto second = w.issue(w.draft());
    EXPECT_EQ(second.seq, 2);
    EXPECT_EQ(second.number, invoice_number(second.year, 2));
}

TEST(invoices_db, a_new_year_restarts_at_one) {
    world w;
    auto d = w.draft();
    d.issued_at = k_last_second_2026;
    EXPECT_EQ(w.issue(d).number, "INV-2026-000001");
    EXPECT_EQ(w.issue(d).number, "INV-2026-000002");
    d.issued_at = k_new_year_2027;
    const auto first_2027 = w.issue(d);
    EXPECT_EQ(first_2027.number, "INV-2027-000001");
    EXPECT_EQ(first_2027.year, 2027);
    EXPECT_EQ(first_2027.issued_at, k_new_year_2027);
    EXPECT_EQ(w.issue(d).number, "INV-2027-000002");
    d.issued_at = k_last_second_2026;
    EXPECT_EQ(w.issue(d).number, "INV-2026-000003");
}

TEST(invoices_db, the_database_refuses_to_change_or_delete_an_issued_invoice) {
    world w;
    const auto inv = w.issue(w.draft());
    const auto id = std::to_string(inv.id);
    EXPECT_NE(w.sql_refusal("UPDATE invoices SET total = total + 1 WHERE id = " + id), "");
    EXPECT_NE(w.sql_refusal("UPDATE invoices SET subtotal = subtotal + 1, total = total + 1 "
                            "WHERE id = " +
                            id),
              "");
    EXPECT_NE(w.sql_refusal("UPDATE invoices SET billing_name = 'Someone else' WHERE id = " + id),
              "");
    EXPECT_NE(
        w.sql_refusal("UPDATE invoices SET number = 'INV-2026-000099', seq = 99 WHERE id = " + id),
        "");
    EXPECT_NE(w.sql_refusal("DELETE FROM invoices WHERE id = " + id), "");
    EXPECT_NE(w.sql_refusal("TRUNCATE invoices CASCADE"), "");
    EXPECT_NE(w.sql_refusal("UPDATE invoice_lines SET unit_amount = 1, amount = 1"), "");
    EXPECT_NE(w.sql_refusal("DELETE FROM invoice_lines"), "");
    // A line added later would change the sums: refused at commit.
    EXPECT_NE(w.sql_refusal("INSERT INTO invoice_lines (invoice_id, position, description, "
                            "quantity, unit_amount, amount, tax) VALUES (" +
                            id + ", 3, 'Sneaked in', 1, 100, 100, 25)"),
              "");
    // Numbers come from the counter only, and the counter never moves back or skips.
    EXPECT_NE(w.sql_refusal("UPDATE invoice_counters SET last_seq = last_seq + 5"), "");
    EXPECT_NE(w.sql_refusal("UPDATE invoice_counters SET last_seq = last_seq + 1"), "")
        << "a number taken without an invoice must not commit";
    EXPECT_NE(w.sql_refusal("DELETE FROM invoice_counters"), "");

    const auto after = get_invoice(w.conn, inv.uid);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->total, 125000);
    EXPECT_EQ(after->subtotal, 100000);
    EXPECT_EQ(after->tax, 25000);
    EXPECT_EQ(after->lines.size(), 2u);
    EXPECT_EQ(after->buyer.name, inv.buyer.name);
    EXPECT_EQ(w.issue(w.draft()).seq, 2);
}

TEST(invoices_db, status_moves_only_from_issued_to_paid_or_void) {
    world w;
    const auto inv = w.issue(w.draft());
    EXPECT_EQ(inv.status, "issued");
    EXPECT_FALSE(inv.paid_at);
    invoice paid;
    {
        pqxx::work tx(w.conn);
        paid = mark_paid(tx, inv.id);
        tx.commit();
    }
    EXPECT_EQ(paid.status, "paid");
    ASSERT_TRUE(paid.paid_at);
    {
        // A repeated payment notice changes nothing.
        pqxx::work tx(w.conn);
        EXPECT_EQ(mark_paid(tx, inv.id).paid_at, paid.paid_at);
        tx.commit();
    }
    const auto id = std::to_string(inv.id);
    EXPECT_NE(
        w.sql_refusal("UPDATE invoices SET status = 'issued', paid_at = NULL WHERE id = " + id),
        "");
    EXPECT_NE(
        w.sql_refusal("UPDATE invoices SET paid_at = paid_at - interval '1 day' WHERE id = " + id),
        "");
    EXPECT_NE(w.sql_refusal("UPDATE invoices SET status = 'void', paid_at = NULL, voided_at = "
                            "now() WHERE id = " +
                            id),
              "");
    EXPECT_EQ(billing_refusal([&] {
                  pqxx::work tx(w.conn);
                  void_invoice(tx, inv.id);
              }),
              "invalid_status");
    EXPECT_EQ(get_invoice(w.conn, inv.uid)->status, "paid");

    const auto other = w.issue(w.draft());
    {
        pqxx::work tx(w.conn);
        EXPECT_EQ(void_invoice(tx, other.id).status, "void");
        tx.commit();
    }
    EXPECT_EQ(billing_refusal([&] {
                  pqxx::work tx(w.conn);
                  mark_paid(tx, other.id);
              }),
              "invalid_status");
    EXPECT_NE(w.sql_refusal("UPDATE invoices SET status = 'issued', voided_at = NULL WHERE id = " +
                            std::to_string(other.id)),
              "");
    EXPECT_EQ(billing_refusal([&] {
                  pqxx::work tx(w.conn);
                  mark_paid(tx, 424242);
              }),
              "invoice_not_found");
}

TEST(invoices_db, an_idempotency_key_returns_the_invoice_issued_first) {
    world w;
    auto d = w.draft();
    d.idempotency_key = "renewal:ins_abc:2026-03";
    const auto first = w.issue(d);
    const auto again = w.issue(d);
    EXPECT_EQ(again.uid, first.uid);
    EXPECT_EQ(again.number, first.number);
    EXPECT_EQ(w.scalar("SELECT count(*) FROM invoices"), "1");
    EXPECT_EQ(w.issue(w.draft()).seq, 2) << "the repeat took no number";

    const auto stranger = w.add_user("other@example.com", "Other");
    auto theirs = w.draft(stranger);
    theirs.idempotency_key = d.idempotency_key;
    EXPECT_EQ(billing_refusal([&] { w.issue(theirs); }), "idempotency_key_reused");

    // Four issuers racing with one key get one invoice.
    auto raced = w.draft();
    raced.idempotency_key = "renewal:ins_abc:2026-04";
    std::mutex mutex;
    std::vector<std::string> uids;
    std::latch start(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            pqxx::connection conn(w.url);
            start.arrive_and_wait();
            pqxx::work tx(conn);
            const auto inv = issue_invoice(tx, raced);
            tx.commit();
            std::lock_guard lock(mutex);
            uids.push_back(inv.uid);
        });
    for (auto& th : threads) th.join();
    ASSERT_EQ(uids.size(), 4u);
    EXPECT_EQ(std::count(uids.begin(), uids.end(), uids[0]), 4);
    EXPECT_EQ(w.scalar("SELECT max(seq) FROM invoices"), "3");
}

TEST(invoices_db, the_buyer_snapshot_survives_a_later_address_change) {
    world w;
    const auto inv = w.issue(w.draft());
    vpsfleet::testing::exec_sql(
        w.url,
        "UPDATE users SET billing_name = 'New Owner', billing_address_1 = 'Elsewhere 9', "
        "billing_city = 'Aarhus', billing_tax_id = NULL, email = 'new@example.com' WHERE "
        "id = " +
            std::to_string(w.user));
    const auto kept = get_invoice(w.conn, inv.uid);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->buyer.name, "S\xC3\xB8ren \xC3\x86r\xC3\xB8");
    EXPECT_EQ(kept->buyer.address_1, "\xC3\x98stergade 1");
    EXPECT_EQ(kept->buyer.city,
              "K\xC3\xB8"
              "benhavn");
    EXPECT_EQ(kept->buyer.tax_id, "DK12345678");
    EXPECT_EQ(kept->buyer.email, "soren@example.com");
    EXPECT_EQ(read_back(render_invoice_pdf(*kept, seller())).text.find("New Owner"),
              std::string::npos);

    const auto next = w.issue(w.draft());
    EXPECT_EQ(next.buyer.name, "New Owner");
    EXPECT_FALSE(next.buyer.tax_id);
}

TEST(invoices_db, lists_a_users_invoices_newest_first_in_pages) {
    world w;
    const auto stranger = w.add_user("other@example.com", "Other");
    std::vector<std::string> mine;
    for (int i = 0; i < 5; ++i) {
        mine.push_back(w.issue(w.draft()).uid);
        w.issue(w.draft(stranger));
    }
    const auto page1 = list_invoices(w.conn, w.user, 2);
    ASSERT_EQ(page1.size(), 2u);
    EXPECT_EQ(page1[0].uid, mine[4]);
    EXPECT_EQ(page1[1].uid, mine[3]);
    EXPECT_EQ(page1[0].lines.size(), 2u);
    const auto page2 = list_invoices(w.conn, w.user, 2, page1.back().id);
    ASSERT_EQ(page2.size(), 2u);
    EXPECT_EQ(page2[0].uid, mine[2]);
    const auto page3 = list_invoices(w.conn, w.user, 2, page2.back().id);
    ASSERT_EQ(page3.size(), 1u);
    EXPECT_EQ(page3[0].uid, mine[0]);
    EXPECT_FALSE(get_invoice(w.conn, "inv_nosuch"));
}

TEST(invoice_pdf, reads_back_with_number_buyer_lines_and_total) {
    world w;
    auto d = w.draft();
    draft_line fee;
    fee.description = "Setup fee (\xE2\x82\xAC-priced) \xE6\x97\xA5";  // (€-priced) 日
    fee.unit_amount = 0;
    d.lines.push_back(fee);
    const auto inv = w.issue(d);
    EXPECT_EQ(inv.total, 125000);

    const std::string pdf = render_invoice_pdf(inv, seller());
    ASSERT_EQ(pdf.substr(0, 5), "%PDF-");
    EXPECT_EQ(render_invoice_pdf(inv, seller()), pdf) << "rendering is repeatable";
    const auto back = read_back(pdf);
    const auto& text = back.text;
    EXPECT_EQ(back.pages, 1);
    for (const std::string& expected : {
             inv.number,
             std::string("S\xC3\xB8ren \xC3\x86r\xC3\xB8"),  // Søren Ærø
             std::string("\xC3\x98stergade 1"),
             std::string("1100 K\xC3\xB8"
                         "benhavn"),
             std::string("DK12345678"),
             std::string("BXS 2-4 server, March 2026"),
             std::string("Extra IPv4 address"),
             std::string("Setup fee (\xE2\x82\xAC-priced) ?"),
             std::string("1,250.00 DKK"),  // total
             std::string("1,000.00 DKK"),  // subtotal
             std::string("250.00 DKK"),    // tax
             std::string("800.00"),        // a line's amount
             std::string("Tax 25% (DK)"),
             std::string("Nordisk VPS ApS"),
             std::string("VAT ID: DK87654321"),
             std::string("IBAN DK50 0040 0440 1162 43"),
         })
        EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\n"
                                                          << text;
}

TEST(invoice_pdf, a_long_invoice_continues_on_more_pages_with_every_line) {
    world w;
    auto d = w.draft();
    d.lines.clear();
    for (int i = 1; i <= 90; ++i) {
        draft_line l;
        l.description = "Line item " + std::to_string(i) +
                        " with a description long enough to "
                        "wrap onto a second row of the table";
        l.unit_amount = 1000;
        d.lines.push_back(l);
    }
    d.period_start = k_last_second_2026 - 24h * 30;
    d.period_end = k_last_second_2026;
    const auto inv = w.issue(d);
    {
        pqxx::work tx(w.conn);
        mark_paid(tx, inv.id);
        tx.commit();
    }
    const auto back = read_back(render_invoice_pdf(*get_invoice(w.conn, inv.uid), seller()));
    EXPECT_GE(back.pages, 3);
    for (int i = 1; i <= 90; ++i)
        EXPECT_NE(back.text.find("Line item " + std::to_string(i) + " with"), std::string::npos)
            << i;
    EXPECT_NE(back.text.find("1,125.00 DKK"), std::string::npos);  // 90 x 10.00 + 25 %
    EXPECT_NE(back.text.find("page 3 of"), std::string::npos);
    EXPECT_NE(back.text.find("Paid on"), std::string::npos);
    EXPECT_NE(back.text.find("2026-12-01 \xE2\x80\x93 2026-12-31"), std::string::npos);
}
