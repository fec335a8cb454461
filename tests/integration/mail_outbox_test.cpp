#include "coordinator/mail/mail_sender.hpp"
#include "coordinator/mail/outbox.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/support/smtp_sink.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <functional>
#include <set>
#include <thread>

using namespace vpsfleet;
using namespace std::chrono_literals;
using vpsfleet::testing::smtp_failure;
using vpsfleet::testing::smtp_sink;

namespace {

struct outbox_row {
    int attempts = 0;
    bool sent = false;
    bool scheduled = false;  // next_attempt_at is set
    std::string last_error;
};

class mail_outbox : public ::testing::Test {
  protected:
    void SetUp() override {
        url_ = vpsfleet::testing::fresh_database();
        pqxx::connection conn(url_);
        store::apply_migrations(conn, store::embedded_migrations());
    }

    coordinator::mail_config config() const {
        coordinator::mail_config cfg;
        cfg.smtp_url = sink_.url();
        cfg.from = "noreply@vpsfleet.test";
        cfg.poll_interval = 5s;  // new mail comes by NOTIFY; retries by their due time
        cfg.timeout = 5s;
        cfg.retry_backoff = 50ms;
        cfg.max_attempts = 5;
        return cfg;
    }

    std::int64_t enqueue(const std::string& to, const std::string& subject,
                         const std::string& body) {
        pqxx::connection conn(url_);
        pqxx::work tx(conn);
        const auto id = mail::enqueue(tx, to, subject, body);
        tx.commit();
        return id;
    }

    outbox_row row(std::int64_t id) {
        pqxx::connection conn(url_);
        pqxx::read_transaction tx(conn);
        const auto r = tx.exec_params1(
            "SELECT attempts, sent_at IS NOT NULL, next_attempt_at IS NOT NULL,"
            " coalesce(last_error, '') FROM mail_outbox WHERE id = $1",
            id);
        return {r[0].as<int>(), r[1].as<bool>(), r[2].as<bool>(), r[3].as<std::string>()};
    }

    // Polls the outbox until the row satisfies pred, for at most 10 s.
    bool wait_for_row(std::int64_t id, const std::function<bool(const outbox_row&)>& pred) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (pred(row(id))) return true;
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }

    std::string url_;
    smtp_sink sink_;
};

std::string base64_decode(std::string text) {
    std::erase(text, '\r');
    std::erase(text, '\n');
    std::string out(text.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    out.resize(static_cast<std::size_t>(std::max(n, 0)));
    while (text.ends_with('=')) {  // EVP_DecodeBlock counts padding as zero bytes
        text.pop_back();
        out.pop_back();
    }
    return out;
}

}  // namespace

TEST_F(mail_outbox, enqueued_mail_arrives_with_recipient_subject_and_body) {
    mail::mail_sender sender(url_, config());
    sender.start();
    // Lines that SMTP itself would read as the end of the message must survive the trip.
    const std::string body = "Hello,\n.\n..and a line starting with a dot\nBye";
    const auto id = enqueue("alice@example.com", "Reset your password", body);

    ASSERT_TRUE(sink_.wait_for_messages(1));
    const auto m = sink_.messages().at(0);
    EXPECT_EQ(m.from, "noreply@vpsfleet.test");
    EXPECT_EQ(m.to, std::vector<std::string>{"alice@example.com"});
    EXPECT_EQ(m.header("Subject"), "Reset your password");
    EXPECT_EQ(m.header("To"), "alice@example.com");
    EXPECT_EQ(m.header("From"), "noreply@vpsfleet.test");
    EXPECT_NE(m.header("Message-ID").find("@vpsfleet.test>"), std::string::npos);
    EXPECT_EQ(m.body(), "Hello,\r\n.\r\n..and a line starting with a dot\r\nBye\r\n");

    EXPECT_TRUE(wait_for_row(id, [](const outbox_row& r) { return r.sent; }));
    const auto r = row(id);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_FALSE(r.scheduled);
    EXPECT_EQ(r.last_error, "");
}

TEST_F(mail_outbox, non_ascii_subject_and_body_arrive_intact) {
    mail::mail_sender sender(url_, config());
    sender.start();
    const std::string subject = "Votre mot de passe — réinitialisation ✓";
    const std::string body = "Bonjour Zoë,\r\nvoici le lien : https://example.com/r?t=é\r\n";
    enqueue("zoe@example.com", subject, body);

    ASSERT_TRUE(sink_.wait_for_messages(1));
    const auto m = sink_.messages().at(0);
    std::string decoded_subject;
    std::string encoded = m.header("Subject");
    // Encoded words: =?UTF-8?B?...?= separated by folding whitespace.
    for (std::size_t pos = 0; (pos = encoded.find("=?UTF-8?B?", pos)) != std::string::npos;) {
        const auto end = encoded.find("?=", pos + 10);
        decoded_subject += base64_decode(encoded.substr(pos + 10, end - pos - 10));
        pos = end + 2;
    }
    EXPECT_EQ(decoded_subject, subject);
    EXPECT_EQ(m.header("Content-Transfer-Encoding"), "base64");
    EXPECT_EQ(base64_decode(m.body()), body);
}

TEST_F(mail_outbox, mail_from_a_rolled_back_transaction_is_never_sent) {
    mail::mail_sender sender(url_, config());
    sender.start();
    {
        pqxx::connection conn(url_);
        pqxx::work tx(conn);
        mail::enqueue(tx, "ghost@example.com", "never", "this change was rolled back");
        tx.abort();
    }
    enqueue("bob@example.com", "committed", "this one was committed");

    // The committed mail came later, so once it is in, the rolled-back one had its chance.
    ASSERT_TRUE(sink_.wait_for_messages(1));
    sender.stop();
    const auto all = sink_.messages();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].to, std::vector<std::string>{"bob@example.com"});
    pqxx::connection conn(url_);
    EXPECT_EQ(pqxx::read_transaction(conn).exec("SELECT count(*) FROM mail_outbox")[0][0].as<int>(),
              1);
}

TEST_F(mail_outbox, refuses_header_injection_at_enqueue) {
    pqxx::connection conn(url_);
    pqxx::work tx(conn);
    EXPECT_THROW(mail::enqueue(tx, "a@example.com\r\nBcc: x@evil.test", "s", "b"),
                 std::invalid_argument);
    EXPECT_THROW(mail::enqueue(tx, "a@example.com", "s\r\nBcc: x@evil.test", "b"),
                 std::invalid_argument);
    EXPECT_THROW(mail::enqueue(tx, "<a@example.com>", "s", "b"), std::invalid_argument);
    EXPECT_THROW(mail::enqueue(tx, "nobody", "s", "b"), std::invalid_argument);
}

TEST_F(mail_outbox, failing_server_keeps_mail_queued_then_delivers_when_it_accepts_again) {
    sink_.set_failure(smtp_failure::reject_recipient);
    mail::mail_sender sender(url_, config());
    sender.start();
    const auto id = enqueue("carol@example.com", "Welcome", "Hi Carol");

    ASSERT_TRUE(wait_for_row(id, [](const outbox_row& r) { return r.attempts >= 2; }));
    auto r = row(id);
    EXPECT_FALSE(r.sent);
    EXPECT_NE(r.last_error.find("550"), std::string::npos) << r.last_error;
    EXPECT_TRUE(sink_.messages().empty());

    sink_.set_failure(smtp_failure::none);
    ASSERT_TRUE(sink_.wait_for_messages(1));
    EXPECT_EQ(sink_.messages().at(0).header("Subject"), "Welcome");
    ASSERT_TRUE(wait_for_row(id, [](const outbox_row& r) { return r.sent; }));
    r = row(id);
    EXPECT_GE(r.attempts, 3);
    EXPECT_EQ(r.last_error, "");
}

TEST_F(mail_outbox, server_that_hangs_up_or_rejects_the_message_is_retried) {
    for (auto failure : {smtp_failure::close_at_once, smtp_failure::reject_data}) {
        sink_.set_failure(failure);
        mail::mail_sender sender(url_, config());
        sender.start();
        const auto id = enqueue("dave@example.com", "Invoice", "Your invoice");
        ASSERT_TRUE(wait_for_row(id, [](const outbox_row& r) { return r.attempts >= 2; }));
        const auto r = row(id);
        EXPECT_FALSE(r.sent);
        EXPECT_FALSE(r.last_error.empty());
        EXPECT_TRUE(r.scheduled);
        sink_.set_failure(smtp_failure::none);
        ASSERT_TRUE(wait_for_row(id, [](const outbox_row& r) { return r.sent; }));
    }
    EXPECT_EQ(sink_.messages().size(), 2u);
}

TEST_F(mail_outbox, gives_up_after_max_attempts_and_keeps_the_last_error) {
    sink_.set_failure(smtp_failure::reject_recipient);
    auto cfg = config();
    cfg.max_attempts = 3;
    mail::mail_sender sender(url_, cfg);
    sender.start();
    const auto doomed = enqueue("erin@example.com", "doomed", "never delivered");
    ASSERT_TRUE(wait_for_row(doomed, [](const outbox_row& r) { return !r.scheduled; }));
    auto r = row(doomed);
    EXPECT_EQ(r.attempts, 3);
    EXPECT_FALSE(r.sent);
    EXPECT_NE(r.last_error.find("550"), std::string::npos) << r.last_error;

    // The server recovers: new mail flows, the given-up mail stays given up.
    sink_.set_failure(smtp_failure::none);
    enqueue("frank@example.com", "later", "delivered");
    ASSERT_TRUE(sink_.wait_for_messages(1));
    sender.stop();
    ASSERT_EQ(sink_.messages().size(), 1u);
    EXPECT_EQ(sink_.messages()[0].header("Subject"), "later");
    EXPECT_EQ(row(doomed).attempts, 3);
}

TEST_F(mail_outbox, starttls_required_refuses_a_server_without_it) {
    auto cfg = config();
    cfg.starttls = true;
    mail::mail_sender sender(url_, cfg);
    sender.start();
    const auto id = enqueue("gina@example.com", "secret", "not over plain text");
    ASSERT_TRUE(wait_for_row(
        id, [](const outbox_row& r) { return r.attempts >= 1 && !r.last_error.empty(); }));
    sender.stop();
    EXPECT_TRUE(sink_.messages().empty());
    EXPECT_FALSE(row(id).sent);
}

TEST_F(mail_outbox, two_senders_deliver_each_mail_exactly_once) {
    constexpr int k_mails = 40;
    {
        pqxx::connection conn(url_);
        pqxx::work tx(conn);
        for (int i = 0; i < k_mails; ++i) {
            mail::enqueue(tx, "user" + std::to_string(i) + "@example.com",
                          "mail " + std::to_string(i), "body " + std::to_string(i));
        }
        tx.commit();
    }
    mail::mail_sender first(url_, config());
    mail::mail_sender second(url_, config());
    first.start();
    second.start();
    ASSERT_TRUE(sink_.wait_for_messages(k_mails));
    pqxx::connection conn(url_);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (pqxx::read_transaction(conn)
                   .exec("SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL")[0][0]
                   .as<int>() > 0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    first.stop();
    second.stop();

    const auto all = sink_.messages();
    EXPECT_EQ(all.size(), static_cast<std::size_t>(k_mails));
    std::set<std::string> subjects;
    for (const auto& m : all) subjects.insert(m.header("Subject"));
    EXPECT_EQ(subjects.size(), static_cast<std::size_t>(k_mails));
    EXPECT_EQ(pqxx::read_transaction(conn)
                  .exec("SELECT count(*) FROM mail_outbox WHERE attempts = 1 AND sent_at IS NOT "
                        "NULL")[0][0]
                  .as<int>(),
              k_mails);
}

TEST_F(mail_outbox, stop_interrupts_a_stalled_conversation_without_counting_it_as_an_attempt) {
    sink_.set_failure(smtp_failure::stall);
    auto cfg = config();
    cfg.timeout = 60s;
    mail::mail_sender sender(url_, cfg);
    sender.start();
    const auto id = enqueue("hank@example.com", "stuck", "the server never answers");
    ASSERT_TRUE(wait_for_row(id, [](const outbox_row& r) { return r.attempts == 1; }));

    const auto before = std::chrono::steady_clock::now();
    sender.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
    const auto r = row(id);
    EXPECT_FALSE(r.sent);
    EXPECT_EQ(r.attempts, 0);
    EXPECT_TRUE(r.scheduled);
    EXPECT_EQ(r.last_error, "interrupted by shutdown");
}
