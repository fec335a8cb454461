#include "coordinator/config.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet;
using vpsfleet::testing::temp_file;

namespace {
std::string error_loading(const std::string& yaml) {
    temp_file file(yaml);
    try {
        coordinator::load_config(file.path());
    } catch (const config::config_error& e) {
        return e.what();
    }
    return "no error";
}
}  // namespace

TEST(coordinator_config, example_file_in_the_repository_loads) {
    const auto cfg = coordinator::load_config(std::string(VPSFLEET_SOURCE_DIR) +
                                              "/coordinator/coordinator.example.yaml");
    EXPECT_EQ(cfg.http.listen.port, 8080);
    EXPECT_EQ(cfg.database.pool_size, 8u);
    EXPECT_EQ(cfg.database.acquire_timeout, std::chrono::seconds(5));
}

TEST(coordinator_config, requires_a_database_url) {
    EXPECT_NE(error_loading("http:\n  listen: 127.0.0.1:8080\n").find("database.url: required"),
              std::string::npos);
}

TEST(coordinator_config, rejects_unknown_keys_in_each_section) {
    EXPECT_NE(error_loading("database:\n  url: x\n  pool: 3\n").find("database.pool: unknown key"),
              std::string::npos);
    EXPECT_NE(
        error_loading("database:\n  url: x\nlog:\n  lvl: info\n").find("log.lvl: unknown key"),
        std::string::npos);
}

TEST(coordinator_config, rejects_bad_values_with_the_key_named) {
    EXPECT_NE(error_loading("database:\n  url: x\n  pool_size: 0\n")
                  .find("database.pool_size: must be between 1 and 512"),
              std::string::npos);
    EXPECT_NE(error_loading("database:\n  url: x\nhttp:\n  listen: 8080\n")
                  .find("http.listen: expected HOST:PORT"),
              std::string::npos);
    EXPECT_NE(error_loading("database:\n  url: x\nlog:\n  level: chatty\n")
                  .find("log.level: expected one of"),
              std::string::npos);
}

TEST(coordinator_config, mail_is_off_without_a_mail_section) {
    temp_file file("database:\n  url: x\n");
    EXPECT_FALSE(coordinator::load_config(file.path()).mail);
}

TEST(coordinator_config, mail_section_is_read_key_by_key) {
    temp_file file(
        "database:\n  url: x\nmail:\n  smtp_url: smtp://127.0.0.1:2525\n"
        "  from: noreply@example.com\n  username: u\n  password: p\n  starttls: true\n"
        "  poll_interval: 2s\n  timeout: 5s\n  retry_backoff: 1m\n  max_attempts: 3\n");
    const auto cfg = coordinator::load_config(file.path());
    ASSERT_TRUE(cfg.mail);
    EXPECT_EQ(cfg.mail->smtp_url, "smtp://127.0.0.1:2525");
    EXPECT_EQ(cfg.mail->from, "noreply@example.com");
    EXPECT_EQ(cfg.mail->username, "u");
    EXPECT_EQ(cfg.mail->password, "p");
    EXPECT_TRUE(cfg.mail->starttls);
    EXPECT_EQ(cfg.mail->poll_interval, std::chrono::seconds(2));
    EXPECT_EQ(cfg.mail->timeout, std::chrono::seconds(5));
    EXPECT_EQ(cfg.mail->retry_backoff, std::chrono::minutes(1));
    EXPECT_EQ(cfg.mail->max_attempts, 3);
}

TEST(coordinator_config, rejects_incomplete_or_bad_mail_settings) {
    EXPECT_NE(error_loading("database:\n  url: x\nmail:\n  smtp_url: smtp://127.0.0.1:25\n")
                  .find("mail.from: required with smtp_url"),
              std::string::npos);
    EXPECT_NE(error_loading("database:\n  url: x\nmail:\n  from: a@example.com\n")
                  .find("mail.smtp_url: required when mail is configured"),
              std::string::npos);
    EXPECT_NE(error_loading("database:\n  url: x\nmail:\n  smtp_url: http://127.0.0.1:25\n"
                            "  from: a@example.com\n")
                  .find("mail.smtp_url: expected smtp://"),
              std::string::npos);
    EXPECT_NE(error_loading("database:\n  url: x\nmail:\n  smtp_url: smtp://h:25\n"
                            "  from: a@example.com\n  starttls: maybe\n")
                  .find("mail.starttls: expected true or false"),
              std::string::npos);
    EXPECT_NE(error_loading("database:\n  url: x\nmail:\n  smtp_url: smtp://h:25\n"
                            "  from: a@example.com\n  host: h\n")
                  .find("mail.host: unknown key"),
              std::string::npos);
}

TEST(coordinator_config, account_limits_default_and_are_read_key_by_key) {
    temp_file defaults("database:\n  url: x\n");
    const auto d = coordinator::load_config(defaults.path()).limits;
    EXPECT_EQ(d.instances, 10);
    EXPECT_EQ(d.memory_mb, 65536);
    EXPECT_EQ(d.template_storage_gb, 100);
    EXPECT_EQ(d.restores_per_month, 3);
    temp_file file(
        "database:\n  url: x\nlimits:\n  instances: 2\n  memory_mb: 4096\n"
        "  template_storage_gb: 0\n  restores_per_month: 7\n");
    const auto l = coordinator::load_config(file.path()).limits;
    EXPECT_EQ(l.instances, 2);
    EXPECT_EQ(l.memory_mb, 4096);
    EXPECT_EQ(l.template_storage_gb, 0);
    EXPECT_EQ(l.restores_per_month, 7);
}

TEST(coordinator_config, rejects_negative_or_unknown_account_limits) {
    EXPECT_NE(error_loading("database:\n  url: x\nlimits:\n  instances: -1\n")
                  .find("limits.instances: must be between 0 and"),
              std::string::npos);
    EXPECT_NE(
        error_loading("database:\n  url: x\nlimits:\n  cpus: 4\n").find("limits.cpus: unknown key"),
        std::string::npos);
}
