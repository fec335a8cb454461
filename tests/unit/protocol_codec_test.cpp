#include "protocol/codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <regex>
#include <set>

using namespace vpsfleet::protocol;
using nlohmann::json;

namespace {

// One filled-in example of every message type, in variant order.
std::vector<message> samples() {
    return {
        hello{"0.1.0",
              "libvirt",
              "hv-01",
              host_facts{16,
                         2400,
                         "AMD EPYC 7302",
                         std::numeric_limits<std::uint64_t>::max(),
                         {{"vda", 500'000'000'000, 120'000'000'000}, {"vdb", 1, 0}},
                         {"kvm", "snapshots"}},
              {"cmd-1", "cmd-2"},
              "[::1]:9101"},
        inventory{{{"6f1c7a1e-0000-4000-8000-000000000001", "vm-1", "running", "sha256:ab"},
                   {"6f1c7a1e-0000-4000-8000-000000000002", "vm-2", "shutoff", ""}}},
        metrics_batch{1'700'000'000'123,
                      host_sample{12.5, 8'000'000'000, 64'000'000'000},
                      {{"6f1c7a1e-0000-4000-8000-000000000001", 0.25, 1, 2, 3, 4, 5}}},
        event{"6f1c7a1e-0000-4000-8000-000000000001", "stopped", "shutoff", "destroyed by admin"},
        heartbeat{std::numeric_limits<std::uint64_t>::max()},
        command_ack{"cmd-1"},
        command_progress{"cmd-1", 2, 5, "writing cloud-init seed"},
        command_result{"cmd-1", true, json{{"uuid", "u-1"}, {"disks", {1, 2.5, "x"}}},
                       std::nullopt},
        cert_renew{
            "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"},
        welcome{"host-7", 5000, 30000, "0.1.0"},
        command{"cmd-9", "vm.create",
                json{{"memory_mb", 2048}, {"nested", {{"a", {{"b", nullptr}}}}}}, -1},
        command_cancel{"cmd-9"},
        cert_issued{"-----BEGIN CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\n",
                    std::numeric_limits<std::int64_t>::min()},
        error{"unknown_type", "type: unknown message type 'x'"},
    };
}

envelope decoded(std::string_view text) {
    auto result = decode(text);
    if (auto* f = std::get_if<decode_failure>(&result)) {
        ADD_FAILURE() << "decode failed: " << to_string(f->code) << ": " << f->message;
        return {};
    }
    return std::get<envelope>(std::move(result));
}

decode_failure failed(std::string_view text) {
    auto result = decode(text);
    if (auto* f = std::get_if<decode_failure>(&result)) return *f;
    ADD_FAILURE() << "decoded without error: " << text;
    return {};
}

// A valid envelope of `type` around `body`, with extra envelope fields merged in.
std::string wire(std::string_view type, json body, json extra = json::object()) {
    json e = {{"v", 1}, {"type", type}, {"id", "m-1"}, {"ts", 1}, {"body", std::move(body)}};
    e.update(extra);
    return e.dump();
}

json valid_hello_body() {
    return json::parse(R"({
        "agent_version": "0.1.0", "driver": "libvirt", "host_name": "hv-01",
        "facts": {"cpus": 4, "cpu_mhz": 2400, "cpu_model": "x", "memory_bytes": 8589934592,
                  "disks": [{"name": "vda", "size_bytes": 10, "free_bytes": 5}],
                  "capabilities": ["kvm"]}})");
}

json valid_progress_body() {
    return {{"command_id", "c"}, {"step", 1}, {"total", 2}, {"message", "m"}};
}

}  // namespace

TEST(protocol_codec, round_trips_every_message_type) {
    const auto all = samples();
    std::set<std::size_t> covered;
    for (const auto& body : all) covered.insert(body.index());
    ASSERT_EQ(covered.size(), std::variant_size_v<message>);

    for (const auto& body : all) {
        SCOPED_TRACE(std::string(type_of(body)));
        const envelope sent = make(body, "ref-1");
        const envelope got = decoded(encode(sent));
        EXPECT_EQ(got, sent);
        EXPECT_EQ(got.type, type_of(body));
    }
}

TEST(protocol_codec, names_every_type_as_on_the_wire) {
    const std::vector<std::string_view> expected = {
        "hello",       "inventory",        "metrics",        "event",      "heartbeat",
        "command.ack", "command.progress", "command.result", "cert.renew", "welcome",
        "command",     "command.cancel",   "cert.issued",    "error"};
    const auto all = samples();
    ASSERT_EQ(all.size(), expected.size());
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(type_of(all[i]), expected[i]);
}

TEST(protocol_codec, encodes_the_envelope_in_documented_order) {
    envelope e;
    e.id = "m-1";
    e.ts = 1700000000000;
    e.body = heartbeat{7};
    EXPECT_EQ(encode(e),
              R"({"v":1,"type":"heartbeat","id":"m-1","ts":1700000000000,"body":{"seq":7}})");
    e.ref = "m-0";
    EXPECT_EQ(
        encode(e),
        R"({"v":1,"type":"heartbeat","id":"m-1","ref":"m-0","ts":1700000000000,"body":{"seq":7}})");
}

TEST(protocol_codec, decodes_a_hand_written_command_result_error) {
    const auto e = decoded(
        R"({"v":1,"type":"command.result","id":"a","ref":"b","ts":5,
            "body":{"command_id":"c","ok":false,"error":{"code":"no_space","message":"disk full"}}})");
    EXPECT_EQ(e.id, "a");
    EXPECT_EQ(e.ref, "b");
    EXPECT_EQ(e.ts, 5);
    EXPECT_EQ(e.body, message(command_result{"c", false, std::nullopt,
                                             command_error{"no_space", "disk full"}}));
}

TEST(protocol_codec, omits_an_empty_journal_and_absent_optionals) {
    hello h = std::get<hello>(samples()[0]);
    h.journal.clear();
    h.metrics_listen.reset();
    const std::string text = encode(make(h));
    EXPECT_EQ(text.find("journal"), std::string::npos) << text;
    EXPECT_EQ(text.find("metrics_listen"), std::string::npos) << text;
    EXPECT_EQ(encode(make(event{"u", "started", "running", std::nullopt})).find("detail"),
              std::string::npos);
}

TEST(protocol_codec, maps_each_error_code_to_its_name) {
    EXPECT_EQ(to_string(error_code::malformed_json), "malformed_json");
    EXPECT_EQ(to_string(error_code::invalid_envelope), "invalid_envelope");
    EXPECT_EQ(to_string(error_code::unsupported_version), "unsupported_version");
    EXPECT_EQ(to_string(error_code::unknown_type), "unknown_type");
    EXPECT_EQ(to_string(error_code::invalid_body), "invalid_body");
    EXPECT_EQ(to_string(error_code::frame_too_large), "frame_too_large");
}

TEST(protocol_codec, rejects_text_that_is_not_json) {
    for (std::string_view text : {"", "{", "hello", R"({"v":1,})", "{\"v\":1}x"}) {
        SCOPED_TRACE(text);
        const auto f = failed(text);
        EXPECT_EQ(f.code, error_code::malformed_json);
        EXPECT_EQ(f.message, "not valid JSON");
        EXPECT_FALSE(f.id);
    }
}

TEST(protocol_codec, rejects_json_that_is_not_an_object) {
    for (std::string_view text : {"[]", "1", "\"x\"", "null"}) {
        const auto f = failed(text);
        EXPECT_EQ(f.code, error_code::malformed_json);
        EXPECT_EQ(f.message, "not a JSON object");
    }
}

TEST(protocol_codec, rejects_invalid_utf8_as_malformed) {
    const auto f = failed("{\"v\":1,\"type\":\"event\",\"id\":\"\xff\"}");
    EXPECT_EQ(f.code, error_code::malformed_json);
}

TEST(protocol_codec, rejects_missing_or_non_integer_version) {
    auto f = failed(R"({"type":"heartbeat","id":"m-1","ts":1,"body":{"seq":1}})");
    EXPECT_EQ(f.code, error_code::invalid_envelope);
    EXPECT_EQ(f.message, "v: required");
    EXPECT_EQ(f.id, "m-1");
    for (std::string_view v : {"1.0", "\"1\"", "true", "null"}) {
        SCOPED_TRACE(v);
        f = failed(R"({"v":)" + std::string(v) +
                   R"(,"type":"heartbeat","id":"m","ts":1,"body":{}})");
        EXPECT_EQ(f.code, error_code::invalid_envelope);
        EXPECT_EQ(f.message, "v: expected integer");
    }
}

TEST(protocol_codec, rejects_another_version_before_looking_at_the_rest) {
    for (std::string_view v : {"2", "0", "-1", "18446744073709551615"}) {
        SCOPED_TRACE(v);
        const auto f =
            failed(R"({"v":)" + std::string(v) + R"(,"id":"m-9","type":"from-the-future"})");
        EXPECT_EQ(f.code, error_code::unsupported_version);
        EXPECT_EQ(f.message, "v: unsupported version " + std::string(v) + ", this build speaks 1");
        EXPECT_EQ(f.id, "m-9");
    }
}

TEST(protocol_codec, names_the_envelope_field_that_is_missing_or_mistyped) {
    struct example {
        json patch;
        std::string message;
    };
    const std::vector<example> examples = {
        {{{"type", nullptr}}, "type: required"},
        {{{"type", 3}}, "type: expected string"},
        {{{"id", nullptr}}, "id: required"},
        {{{"id", 17}}, "id: expected string"},
        {{{"ref", 17}}, "ref: expected string"},
        {{{"ts", nullptr}}, "ts: required"},
        {{{"ts", 1.5}}, "ts: expected integer"},
        {{{"ts", "1"}}, "ts: expected integer"},
        {{{"ts", std::numeric_limits<std::uint64_t>::max()}},
         "ts: out of range for a 64-bit integer"},
        {{{"body", nullptr}}, "body: required"},
        {{{"body", json::array()}}, "body: expected object"},
    };
    for (const auto& ex : examples) {
        SCOPED_TRACE(ex.message);
        // merge_patch deletes a key given null, which is how "missing" is written here.
        json e = json::parse(wire("heartbeat", {{"seq", 1}}));
        e.merge_patch(ex.patch);
        const auto f = failed(e.dump());
        EXPECT_EQ(f.code, error_code::invalid_envelope);
        EXPECT_EQ(f.message, ex.message);
    }
}

TEST(protocol_codec, accepts_a_missing_ref_but_not_a_null_one) {
    EXPECT_FALSE(decoded(wire("heartbeat", {{"seq", 1}})).ref);
    EXPECT_EQ(decoded(wire("heartbeat", {{"seq", 1}}, {{"ref", ""}})).ref, "");
    const auto f = failed(wire("heartbeat", {{"seq", 1}}, {{"ref", nullptr}}));
    EXPECT_EQ(f.code, error_code::invalid_envelope);
    EXPECT_EQ(f.message, "ref: expected string");
    EXPECT_EQ(f.id, "m-1");
}

TEST(protocol_codec, rejects_an_unknown_type_with_the_id_to_answer) {
    const auto f = failed(wire("host.explode", json::object()));
    EXPECT_EQ(f.code, error_code::unknown_type);
    EXPECT_EQ(f.message, "type: unknown message type 'host.explode'");
    EXPECT_EQ(f.id, "m-1");
}

TEST(protocol_codec, shortens_a_long_unknown_type_in_the_message) {
    const auto f = failed(wire(std::string(10'000, 'x'), json::object()));
    EXPECT_EQ(f.code, error_code::unknown_type);
    EXPECT_EQ(f.message, "type: unknown message type '" + std::string(64, 'x') + "...'");
}

TEST(protocol_codec, does_not_report_an_id_that_is_not_a_string) {
    const auto f = failed(R"({"v":1,"type":"heartbeat","id":5,"ts":1,"body":{"seq":1}})");
    EXPECT_EQ(f.message, "id: expected string");
    EXPECT_FALSE(f.id);
}

TEST(protocol_codec, names_the_nested_path_of_a_missing_body_field) {
    json body = valid_hello_body();
    body["facts"].erase("memory_bytes");
    const auto f = failed(wire("hello", body));
    EXPECT_EQ(f.code, error_code::invalid_body);
    EXPECT_EQ(f.message, "body.facts.memory_bytes: required");
    EXPECT_EQ(f.id, "m-1");
}

TEST(protocol_codec, names_the_array_index_of_a_bad_element) {
    json body = valid_hello_body();
    body["facts"]["disks"].push_back({{"name", "vdb"}, {"size_bytes", 1}});
    EXPECT_EQ(failed(wire("hello", body)).message, "body.facts.disks[1].free_bytes: required");

    body = valid_hello_body();
    body["facts"]["capabilities"].push_back(7);
    EXPECT_EQ(failed(wire("hello", body)).message, "body.facts.capabilities[1]: expected string");

    body = valid_hello_body();
    body["facts"]["disks"] = {{{"name", "vda"}, {"size_bytes", 1}, {"free_bytes", 1}}, "vdb"};
    EXPECT_EQ(failed(wire("hello", body)).message, "body.facts.disks[1]: expected object");
}

TEST(protocol_codec, reports_the_first_bad_field_in_schema_order) {
    json body = valid_hello_body();
    body.erase("host_name");
    body["facts"]["cpus"] = "many";
    EXPECT_EQ(failed(wire("hello", body)).message, "body.host_name: required");
}

TEST(protocol_codec, rejects_float_where_unsigned_expected) {
    json body = valid_hello_body();
    body["facts"]["cpus"] = 4.0;
    const auto f = failed(wire("hello", body));
    EXPECT_EQ(f.code, error_code::invalid_body);
    EXPECT_EQ(f.message, "body.facts.cpus: expected unsigned integer");
    EXPECT_EQ(failed(wire("heartbeat", json::parse(R"({"seq": 1e3})"))).message,
              "body.seq: expected unsigned integer");
}

TEST(protocol_codec, rejects_float_where_signed_integer_expected) {
    const json body = {
        {"command_id", "c"}, {"kind", "k"}, {"args", json::object()}, {"deadline", 1.5}};
    EXPECT_EQ(failed(wire("command", body)).message, "body.deadline: expected integer");
}

TEST(protocol_codec, rejects_negative_where_unsigned_expected) {
    json body = valid_hello_body();
    body["facts"]["disks"][0]["free_bytes"] = -1;
    EXPECT_EQ(failed(wire("hello", body)).message,
              "body.facts.disks[0].free_bytes: expected unsigned integer");
    EXPECT_EQ(failed(wire("heartbeat", {{"seq", -5}})).message,
              "body.seq: expected unsigned integer");
}

TEST(protocol_codec, rejects_integers_beyond_their_range) {
    json body = valid_progress_body();
    body["step"] = 4294967296ull;
    EXPECT_EQ(failed(wire("command.progress", body)).message,
              "body.step: out of range for a 32-bit unsigned integer");
    body = valid_progress_body();
    body["total"] = 4294967295ull;
    EXPECT_EQ(std::get<command_progress>(decoded(wire("command.progress", body)).body).total,
              4294967295u);

    const std::string too_big =
        R"({"certificate_pem":"c","ca_pem":"a","not_after":9223372036854775808})";
    EXPECT_EQ(failed(wire("cert.issued", json::parse(too_big))).message,
              "body.not_after: out of range for a 64-bit integer");
    // Past uint64, JSON numbers arrive as floats.
    EXPECT_EQ(failed(wire("heartbeat", json::parse(R"({"seq":18446744073709551616})"))).message,
              "body.seq: expected unsigned integer");
}

TEST(protocol_codec, accepts_integers_and_floats_where_a_number_is_expected) {
    const json host = {{"cpu_percent", 50}, {"memory_used_bytes", 1}, {"memory_total_bytes", 2}};
    auto m = std::get<metrics_batch>(
        decoded(wire("metrics", {{"at", -3}, {"host", host}, {"vms", json::array()}})).body);
    EXPECT_EQ(m.host.cpu_percent, 50.0);
    EXPECT_EQ(m.at, -3);
    json vm = {{"uuid", "u"},          {"cpu_percent", 0.5},    {"memory_used_bytes", 1},
               {"disk_read_bytes", 2}, {"disk_write_bytes", 3}, {"net_rx_bytes", 4},
               {"net_tx_bytes", 5}};
    m = std::get<metrics_batch>(
        decoded(wire("metrics", {{"at", 1}, {"host", host}, {"vms", {vm}}})).body);
    EXPECT_EQ(m.vms.at(0).cpu_percent, 0.5);
    vm["cpu_percent"] = "0.5";
    EXPECT_EQ(failed(wire("metrics", {{"at", 1}, {"host", host}, {"vms", {vm}}})).message,
              "body.vms[0].cpu_percent: expected number");
}

TEST(protocol_codec, never_converts_between_json_types) {
    json body = valid_hello_body();
    body["facts"]["cpus"] = "4";
    EXPECT_EQ(failed(wire("hello", body)).message, "body.facts.cpus: expected unsigned integer");
    body = valid_hello_body();
    body["host_name"] = 12;
    EXPECT_EQ(failed(wire("hello", body)).message, "body.host_name: expected string");
    EXPECT_EQ(failed(wire("command.result", {{"command_id", "c"}, {"ok", 1}})).message,
              "body.ok: expected boolean");
    EXPECT_EQ(
        failed(wire("event", {{"uuid", "u"}, {"event", "e"}, {"state", "s"}, {"detail", nullptr}}))
            .message,
        "body.detail: expected string");
    EXPECT_EQ(failed(wire("command",
                          {{"command_id", "c"}, {"kind", "k"}, {"args", "{}"}, {"deadline", 1}}))
                  .message,
              "body.args: expected object");
}

TEST(protocol_codec, rejects_a_driver_outside_the_known_kinds) {
    json body = valid_hello_body();
    body["driver"] = "xen";
    EXPECT_EQ(failed(wire("hello", body)).message,
              "body.driver: expected one of libvirt, proxmox, memory");
}

TEST(protocol_codec, requires_result_when_ok_and_error_when_not) {
    EXPECT_EQ(failed(wire("command.result", {{"command_id", "c"}, {"ok", true}})).message,
              "body.result: required");
    EXPECT_EQ(failed(wire("command.result", {{"command_id", "c"}, {"ok", false}})).message,
              "body.error: required");
    EXPECT_EQ(failed(wire("command.result",
                          {{"command_id", "c"}, {"ok", false}, {"error", {{"message", "m"}}}}))
                  .message,
              "body.error.code: required");
    // The other side is optional, and kept when sent.
    const auto r = std::get<command_result>(
        decoded(wire("command.result", {{"command_id", "c"},
                                        {"ok", false},
                                        {"result", {{"partial", true}}},
                                        {"error", {{"code", "x"}, {"message", "y"}}}}))
            .body);
    EXPECT_EQ(r.result, json({{"partial", true}}));
    EXPECT_EQ(r.error, (command_error{"x", "y"}));
}

TEST(protocol_codec, ignores_unknown_fields_in_body_and_envelope) {
    json body = valid_hello_body();
    body["future_field"] = {{"anything", json::array({1, 2})}};
    body["facts"]["numa_nodes"] = 2;
    body["facts"]["disks"][0]["rotational"] = false;
    const auto e = decoded(wire("hello", body, {{"trace", "t-1"}}));
    const auto& h = std::get<hello>(e.body);
    EXPECT_EQ(h.host_name, "hv-01");
    EXPECT_EQ(h.facts.memory_bytes, 8589934592u);
    EXPECT_EQ(h.facts.disks.at(0), (disk_fact{"vda", 10, 5}));
    EXPECT_TRUE(h.journal.empty());
    EXPECT_FALSE(h.metrics_listen);
}

TEST(protocol_codec, makes_unique_uuid_v4_ids) {
    const std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    std::set<std::string> seen;
    for (int i = 0; i < 10'000; ++i) {
        const std::string id = new_id();
        ASSERT_TRUE(std::regex_match(id, v4)) << id;
        ASSERT_TRUE(seen.insert(id).second) << "duplicate " << id;
    }
}

TEST(protocol_codec, make_stamps_id_time_type_and_ref) {
    using namespace std::chrono;
    const auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    const envelope e = make(command_ack{"c"}, "m-0");
    const auto after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    EXPECT_EQ(e.v, k_version);
    EXPECT_EQ(e.type, "command.ack");
    EXPECT_EQ(e.id.size(), 36u);
    EXPECT_EQ(e.ref, "m-0");
    EXPECT_GE(e.ts, before);
    EXPECT_LE(e.ts, after);
    EXPECT_NE(make(command_ack{"c"}).id, e.id);
}

TEST(protocol_codec, refuses_deep_nesting_without_overflowing_the_stack) {
    const std::size_t depth = 100'000;
    const std::string text = R"({"v":1,"type":"command","id":"m","ts":1,"body":)" +
                             std::string(depth, '[') + std::string(depth, ']') + "}";
    const auto f = failed(text);
    EXPECT_EQ(f.code, error_code::malformed_json);
    EXPECT_EQ(f.message, "nested deeper than 64 levels");
    EXPECT_EQ(failed(std::string(depth, '{')).code, error_code::malformed_json);
}

TEST(protocol_codec, accepts_nesting_up_to_the_limit_and_ignores_brackets_in_strings) {
    // envelope, body and args take three levels.
    const int inner = k_max_nesting_depth - 3;
    const std::string args = std::string(inner, '[') + std::string(inner, ']');
    const std::string tricky = R"("[[[{{{\"[[[")";
    const std::string text = R"({"v":1,"type":"command","id":"m","ts":1,"body":{"command_id":)" +
                             tricky + R"(,"kind":"k","deadline":1,"args":{"a":)" + args + "}}}";
    EXPECT_EQ(std::get<command>(decoded(text).body).command_id, "[[[{{{\"[[[");
    const std::string deeper =
        R"({"v":1,"type":"command","id":"m","ts":1,"body":{"args":{"a":[)" + args + "]}}}";
    EXPECT_EQ(failed(deeper).code, error_code::malformed_json);
}

TEST(protocol_codec, rejects_numbers_no_double_can_hold) {
    EXPECT_EQ(failed(wire("heartbeat", json::object()).replace(0, 1, R"({"x":1e400,)")).code,
              error_code::malformed_json);
}

TEST(protocol_codec, fails_cleanly_on_every_prefix_of_a_valid_message) {
    const std::string text = encode(make(samples()[0]));
    for (std::size_t n = 0; n < text.size(); ++n) {
        const auto result = decode(std::string_view(text).substr(0, n));
        ASSERT_TRUE(std::holds_alternative<decode_failure>(result)) << n;
    }
    EXPECT_TRUE(std::holds_alternative<envelope>(decode(text)));
}
