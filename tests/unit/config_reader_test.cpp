#include "common/config_reader.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::config;
using vpsfleet::testing::temp_file;
using namespace std::chrono_literals;

namespace {

// Returns the message of the config_error that reading `yaml` with `read` throws.
template <class Read>
std::string error_of(const std::string& yaml, Read read, std::string* path = nullptr) {
    temp_file file(yaml);
    if (path) *path = file.path();
    try {
        section root = load_file(file.path());
        read(root);
    } catch (const config_error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST(config_reader, names_file_and_full_path_of_an_unknown_nested_key) {
    std::string path;
    const auto msg = error_of(
        "http:\n  listen: 127.0.0.1:80\n  lisen: x\n",
        [](section& root) {
            auto http = root.child("http");
            http.get_endpoint("listen", {});
            http.finish();
            root.finish();
        },
        &path);
    EXPECT_EQ(msg, path + ": http.lisen: unknown key");
}

TEST(config_reader, rejects_unknown_top_level_key) {
    const auto msg = error_of("colour: blue\n", [](section& root) { root.finish(); });
    EXPECT_NE(msg.find("colour: unknown key"), std::string::npos) << msg;
}

TEST(config_reader, rejects_text_where_an_integer_is_expected) {
    const auto msg =
        error_of("pool: lots\n", [](section& root) { root.get_int("pool", 1, 1, 10); });
    EXPECT_NE(msg.find("pool: expected an integer, got 'lots'"), std::string::npos) << msg;
}

TEST(config_reader, rejects_integer_out_of_range) {
    const auto msg = error_of("pool: 0\n", [](section& root) { root.get_int("pool", 1, 1, 10); });
    EXPECT_NE(msg.find("pool: must be between 1 and 10, got 0"), std::string::npos) << msg;
}

TEST(config_reader, rejects_a_mapping_where_a_value_is_expected) {
    const auto msg =
        error_of("name:\n  a: b\n", [](section& root) { root.get_string("name", ""); });
    EXPECT_NE(msg.find("name: expected a single value"), std::string::npos) << msg;
}

TEST(config_reader, rejects_a_value_outside_its_choices) {
    const auto msg = error_of("level: loud\n", [](section& root) {
        root.get_choice("level", "info", {"debug", "info"});
    });
    EXPECT_NE(msg.find("level: expected one of debug, info, got 'loud'"), std::string::npos) << msg;
}

TEST(config_reader, reports_missing_file) {
    try {
        load_file("/nonexistent/vpsfleet.yaml");
        FAIL() << "no error";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(),
                     "/nonexistent/vpsfleet.yaml: cannot read configuration file: no such file");
    }
}

TEST(config_reader, reports_yaml_syntax_errors_with_line) {
    const auto msg = error_of("a: b\nc: [unclosed\n", [](section&) {});
    EXPECT_NE(msg.find("invalid YAML at line"), std::string::npos) << msg;
}

TEST(config_reader, uses_fallbacks_for_absent_keys_and_empty_file) {
    temp_file file("");
    section root = load_file(file.path());
    EXPECT_EQ(root.get_int("n", 7, 0, 10), 7);
    EXPECT_EQ(root.get_duration("t", 5s, 1s, 1h), 5s);
    EXPECT_TRUE(root.get_bool("b", true));
    root.finish();
}

TEST(config_reader, parses_durations) {
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("10s"), 10s);
    EXPECT_EQ(parse_duration("5m"), 5min);
    EXPECT_EQ(parse_duration("1h"), 1h);
    EXPECT_EQ(parse_duration("7d"), std::chrono::hours(24 * 7));
    EXPECT_FALSE(parse_duration("10"));
    EXPECT_FALSE(parse_duration("s"));
    EXPECT_FALSE(parse_duration("-1s"));
    EXPECT_FALSE(parse_duration("1.5s"));
}

TEST(config_reader, parses_endpoints_including_ipv6) {
    auto v4 = parse_endpoint("127.0.0.1:8080");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->host, "127.0.0.1");
    EXPECT_EQ(v4->port, 8080);
    auto v6 = parse_endpoint("[::1]:9101");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->to_string(), "[::1]:9101");
    EXPECT_FALSE(parse_endpoint("localhost"));
    EXPECT_FALSE(parse_endpoint("host:99999"));
    EXPECT_FALSE(parse_endpoint(":80"));
}
