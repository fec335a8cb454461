#pragma once
// Internal to protocol/: the schema of each message body, as a read from a JSON object (failures
// go to the field_reader) and a write back to one. The codec picks the pair by type.
#include "protocol/field_reader.hpp"
#include "protocol/messages.hpp"

#include <nlohmann/json.hpp>

namespace vpsfleet::protocol::detail {

// agent -> coordinator (agent_bodies.cpp)
void read(field_reader& r, hello& m);
void read(field_reader& r, inventory& m);
void read(field_reader& r, metrics_batch& m);
void read(field_reader& r, event& m);
void read(field_reader& r, heartbeat& m);
void read(field_reader& r, command_ack& m);
void read(field_reader& r, command_progress& m);
void read(field_reader& r, command_result& m);
void read(field_reader& r, cert_renew& m);
nlohmann::json write(const hello& m);
nlohmann::json write(const inventory& m);
nlohmann::json write(const metrics_batch& m);
nlohmann::json write(const event& m);
nlohmann::json write(const heartbeat& m);
nlohmann::json write(const command_ack& m);
nlohmann::json write(const command_progress& m);
nlohmann::json write(const command_result& m);
nlohmann::json write(const cert_renew& m);

// coordinator -> agent, and both ways (coordinator_bodies.cpp)
void read(field_reader& r, welcome& m);
void read(field_reader& r, command& m);
void read(field_reader& r, command_cancel& m);
void read(field_reader& r, cert_issued& m);
void read(field_reader& r, error& m);
nlohmann::json write(const welcome& m);
nlohmann::json write(const command& m);
nlohmann::json write(const command_cancel& m);
nlohmann::json write(const cert_issued& m);
nlohmann::json write(const error& m);

}  // namespace vpsfleet::protocol::detail
