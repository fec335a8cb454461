#include "agent/driver/libvirt/connection.hpp"

#include "common/secrets.hpp"

#include <libvirt/virterror.h>

#include <cstdlib>
#include <mutex>

namespace vpsfleet::agent::libvirt {
namespace {

// libvirt prints every error to stderr by default; we report them in our own log lines instead.
void silence_default_error_printer() {
    static std::once_flag once;
    std::call_once(once, [] { virSetErrorFunc(nullptr, [](void*, virErrorPtr) {}); });
}

[[noreturn]] void throw_last_error(const std::string& what) {
    throw libvirt_error(what + ": " + virGetLastErrorMessage());
}

}  // namespace

std::string domain_state_name(int state) {
    switch (state) {
        case VIR_DOMAIN_RUNNING:
            return "running";
        case VIR_DOMAIN_BLOCKED:
            return "blocked";
        case VIR_DOMAIN_PAUSED:
            return "paused";
        case VIR_DOMAIN_SHUTDOWN:
            return "shutting_down";
        case VIR_DOMAIN_SHUTOFF:
            return "shutoff";
        case VIR_DOMAIN_CRASHED:
            return "crashed";
        case VIR_DOMAIN_PMSUSPENDED:
            return "suspended";
        default:
            return "unknown";
    }
}

connection::connection(const std::string& uri) {
    silence_default_error_printer();
    conn_.reset(virConnectOpen(uri.c_str()));
    if (!conn_) throw_last_error("cannot connect to " + uri);
}

bool connection::alive() const { return virConnectIsAlive(conn_.get()) == 1; }

host_facts connection::facts() const {
    host_facts f;
    virNodeInfo info{};
    if (virNodeGetInfo(conn_.get(), &info) != 0) throw_last_error("virNodeGetInfo");
    f.cpus = info.cpus;
    f.cpu_mhz = info.mhz;
    f.cpu_model = info.model;
    f.memory_bytes = static_cast<std::uint64_t>(info.memory) * 1024;

    char* hostname = virConnectGetHostname(conn_.get());
    if (hostname == nullptr) throw_last_error("virConnectGetHostname");
    f.hostname = hostname;
    std::free(hostname);

    virDomainPtr* domains = nullptr;
    const int n = virConnectListAllDomains(conn_.get(), &domains, 0);
    if (n < 0) throw_last_error("virConnectListAllDomains");
    for (int i = 0; i < n; ++i) {
        int state = 0;
        int reason = 0;
        if (virDomainGetState(domains[i], &state, &reason, 0) != 0) state = VIR_DOMAIN_NOSTATE;
        ++f.domains_by_state[domain_state_name(state)];
        virDomainFree(domains[i]);
    }
    std::free(domains);
    return f;
}

namespace {

struct domain_ref {
    virDomainPtr ptr = nullptr;
    ~domain_ref() {
        if (ptr) virDomainFree(ptr);
    }
};

void lookup(virConnectPtr conn, const std::string& domain, domain_ref& out) {
    out.ptr = virDomainLookupByUUIDString(conn, domain.c_str());
    if (!out.ptr) out.ptr = virDomainLookupByName(conn, domain.c_str());
    if (!out.ptr) throw_last_error("no domain '" + domain + "'");
}

}  // namespace

void connection::start(const std::string& domain) {
    domain_ref d;
    lookup(conn_.get(), domain, d);
    if (virDomainCreate(d.ptr) != 0) throw_last_error("start " + domain);
}

void connection::destroy(const std::string& domain) {
    domain_ref d;
    lookup(conn_.get(), domain, d);
    if (virDomainDestroy(d.ptr) != 0) throw_last_error("stop " + domain);
}

std::vector<domain_info> connection::domains() const {
    virDomainPtr* list = nullptr;
    const int n = virConnectListAllDomains(conn_.get(), &list, 0);
    if (n < 0) throw_last_error("virConnectListAllDomains");
    std::vector<domain_info> out;
    for (int i = 0; i < n; ++i) {
        domain_info d;
        char uuid[VIR_UUID_STRING_BUFLEN] = {};
        if (virDomainGetUUIDString(list[i], uuid) == 0) d.uuid = uuid;
        if (const char* name = virDomainGetName(list[i])) d.name = name;
        int state = 0;
        int reason = 0;
        if (virDomainGetState(list[i], &state, &reason, 0) != 0) state = VIR_DOMAIN_NOSTATE;
        d.state = domain_state_name(state);
        if (char* xml = virDomainGetXMLDesc(list[i], VIR_DOMAIN_XML_INACTIVE)) {
            d.config_hash = secrets::sha256_hex(xml);
            std::free(xml);
        }
        virDomainFree(list[i]);
        out.push_back(std::move(d));
    }
    std::free(list);
    return out;
}

}  // namespace vpsfleet::agent::libvirt
