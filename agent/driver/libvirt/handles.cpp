#include "agent/driver/libvirt/handles.hpp"

namespace vpsfleet::agent::libvirt {

namespace {

driver::errc classify(int code) {
    using driver::errc;
    switch (code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_DOMAIN_SNAPSHOT:
        case VIR_ERR_NO_STORAGE_POOL:
        case VIR_ERR_NO_STORAGE_VOL:
        case VIR_ERR_NO_NETWORK:
            return errc::not_found;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
        case VIR_ERR_ARGUMENT_UNSUPPORTED:
            return errc::unsupported;
        case VIR_ERR_AGENT_UNRESPONSIVE:
        case VIR_ERR_AGENT_UNSYNCED:
            return errc::no_guest_agent;
        case VIR_ERR_OPERATION_INVALID:
            return errc::invalid_state;
        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_XML_ERROR:
        case VIR_ERR_XML_DETAIL:
        case VIR_ERR_CONFIG_UNSUPPORTED:
            return errc::invalid_argument;
        case VIR_ERR_OPERATION_TIMEOUT:
            return errc::timeout;
        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_RPC:
        case VIR_ERR_AUTH_FAILED:
            return errc::unavailable;
        default:
            return errc::failed;
    }
}

}  // namespace

int last_error_code() {
    virErrorPtr e = virGetLastError();
    return e ? e->code : VIR_ERR_OK;
}

driver::error last_error(const std::string& what) {
    const char* message = virGetLastErrorMessage();
    return {classify(last_error_code()), what + ": " + (message ? message : "unknown error")};
}

std::string take(char* s) {
    c_string owned(s);
    return owned ? std::string(owned.get()) : std::string();
}

std::string uuid_of(virDomainPtr d) {
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    if (virDomainGetUUIDString(d, uuid) != 0) return {};
    return uuid;
}

std::string name_of(virDomainPtr d) {
    const char* name = virDomainGetName(d);
    return name ? name : "";
}

int state_of(virDomainPtr d) {
    int state = VIR_DOMAIN_NOSTATE;
    int reason = 0;
    if (virDomainGetState(d, &state, &reason, 0) != 0) return VIR_DOMAIN_NOSTATE;
    return state;
}

}  // namespace vpsfleet::agent::libvirt
