// Bodies the coordinator sends (welcome, command, command.cancel, cert.issued) and error.
#include "protocol/bodies.hpp"

namespace vpsfleet::protocol::detail {

using nlohmann::json;

void read(field_reader& r, welcome& m) {
    m.host_id = r.string("host_id");
    m.heartbeat_ms = r.uint32("heartbeat_ms");
    m.lease_ms = r.uint32("lease_ms");
    m.coordinator_version = r.string("coordinator_version");
}

json write(const welcome& m) {
    return {{"host_id", m.host_id},
            {"heartbeat_ms", m.heartbeat_ms},
            {"lease_ms", m.lease_ms},
            {"coordinator_version", m.coordinator_version}};
}

void read(field_reader& r, command& m) {
    m.command_id = r.string("command_id");
    m.kind = r.string("kind");
    m.args = r.object("args");
    m.deadline = r.int64("deadline");
}

json write(const command& m) {
    // A default-constructed json is null; the wire promises an object.
    return {{"command_id", m.command_id},
            {"kind", m.kind},
            {"args", m.args.is_null() ? json::object() : m.args},
            {"deadline", m.deadline}};
}

void read(field_reader& r, command_cancel& m) { m.command_id = r.string("command_id"); }

json write(const command_cancel& m) { return {{"command_id", m.command_id}}; }

void read(field_reader& r, cert_issued& m) {
    m.certificate_pem = r.string("certificate_pem");
    m.ca_pem = r.string("ca_pem");
    m.not_after = r.int64("not_after");
}

json write(const cert_issued& m) {
    return {
        {"certificate_pem", m.certificate_pem}, {"ca_pem", m.ca_pem}, {"not_after", m.not_after}};
}

void read(field_reader& r, error& m) {
    m.code = r.string("code");
    m.message = r.string("message");
}

json write(const error& m) { return {{"code", m.code}, {"message", m.message}}; }

}  // namespace vpsfleet::protocol::detail
