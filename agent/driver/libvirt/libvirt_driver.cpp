// Connection, events, define and the power actions of the libvirt driver. Storage, snapshots,
// guest access and statistics live in the neighbouring libvirt_*.cpp files.
#include "agent/driver/libvirt/libvirt_driver.hpp"

#include "agent/driver/libvirt/nwfilter_xml.hpp"
#include "agent/driver/libvirt/xml.hpp"
#include "agent/driver/validate.hpp"
#include "common/log.hpp"
#include "common/secrets.hpp"

#include <filesystem>
#include <thread>

namespace vpsfleet::agent::libvirt {

using driver::errc;
using driver::make_error;
using driver::result;

struct event_sink {
    std::mutex mutex;
    driver::event_handler handler;
};

namespace {

const char* event_name(int event) {
    switch (event) {
        case VIR_DOMAIN_EVENT_DEFINED:
            return "defined";
        case VIR_DOMAIN_EVENT_UNDEFINED:
            return "undefined";
        case VIR_DOMAIN_EVENT_STARTED:
            return "started";
        case VIR_DOMAIN_EVENT_SUSPENDED:
            return "suspended";
        case VIR_DOMAIN_EVENT_RESUMED:
            return "resumed";
        case VIR_DOMAIN_EVENT_STOPPED:
            return "stopped";
        case VIR_DOMAIN_EVENT_SHUTDOWN:
            return "shutdown";
        case VIR_DOMAIN_EVENT_PMSUSPENDED:
            return "pmsuspended";
        case VIR_DOMAIN_EVENT_CRASHED:
            return "crashed";
        default:
            return "unknown";
    }
}

std::string event_detail(int event, int detail) {
    switch (event) {
        case VIR_DOMAIN_EVENT_DEFINED: {
            constexpr const char* names[] = {"added", "updated", "renamed", "from_snapshot"};
            return detail >= 0 && detail < 4 ? names[detail] : "";
        }
        case VIR_DOMAIN_EVENT_STARTED: {
            constexpr const char* names[] = {"booted", "migrated", "restored", "from_snapshot",
                                             "wakeup"};
            return detail >= 0 && detail < 5 ? names[detail] : "";
        }
        case VIR_DOMAIN_EVENT_STOPPED: {
            constexpr const char* names[] = {"shutdown", "destroyed", "crashed",      "migrated",
                                             "saved",    "failed",    "from_snapshot"};
            return detail >= 0 && detail < 7 ? names[detail] : "";
        }
        case VIR_DOMAIN_EVENT_SHUTDOWN: {
            constexpr const char* names[] = {"finished", "guest", "host"};
            return detail >= 0 && detail < 3 ? names[detail] : "";
        }
        default:
            return "";
    }
}

// The state after an event when the domain can no longer be asked (it was undefined).
std::string state_after(int event) {
    switch (event) {
        case VIR_DOMAIN_EVENT_STARTED:
        case VIR_DOMAIN_EVENT_RESUMED:
            return "running";
        case VIR_DOMAIN_EVENT_SUSPENDED:
            return "paused";
        case VIR_DOMAIN_EVENT_STOPPED:
            return "shutoff";
        case VIR_DOMAIN_EVENT_CRASHED:
            return "crashed";
        case VIR_DOMAIN_EVENT_UNDEFINED:
            return "undefined";
        default:
            return "unknown";
    }
}

int on_lifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
    auto& sink = **static_cast<std::shared_ptr<event_sink>*>(opaque);
    driver::vm_event e;
    e.uuid = uuid_of(dom);
    e.name = name_of(dom);
    e.event = event_name(event);
    e.detail = event_detail(event, detail);
    const int state = event == VIR_DOMAIN_EVENT_UNDEFINED ? VIR_DOMAIN_NOSTATE : state_of(dom);
    e.state = state == VIR_DOMAIN_NOSTATE ? state_after(event) : domain_state_name(state);
    std::lock_guard lock(sink.mutex);
    if (sink.handler) sink.handler(e);
    return 0;
}

}  // namespace

libvirt_driver::libvirt_driver(libvirt_options options)
    : options_(std::move(options)),
      events_(event_loop::acquire()),
      sink_(std::make_shared<event_sink>()) {}

libvirt_driver::~libvirt_driver() {
    std::lock_guard lock(mutex_);
    session_.reset();
}

std::string libvirt_driver::seed_path(const std::string& uuid) const {
    return options_.seed_dir + "/" + uuid + "-seed.iso";
}

virConnectPtr libvirt_driver::native() {
    auto s = open();
    return s ? (*s)->conn->get() : nullptr;
}

void libvirt_driver::on_event(driver::event_handler handler) {
    std::lock_guard lock(sink_->mutex);
    sink_->handler = std::move(handler);
}

result<std::shared_ptr<libvirt_driver::session>> libvirt_driver::open() {
    std::lock_guard lock(mutex_);
    if (session_ && session_->conn->alive()) return session_;
    session_.reset();
    domain_type_.clear();
    auto s = std::make_shared<session>();
    try {
        s->conn = std::make_unique<connection>(options_.uri);
    } catch (const std::exception& e) {
        return make_error(errc::unavailable, e.what());
    }
    // libvirt frees its reference to the sink once no dispatch can still be using it.
    auto* opaque = new std::shared_ptr<event_sink>(sink_);
    s->callback_id = virConnectDomainEventRegisterAny(
        s->conn->get(), nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), opaque,
        [](void* p) { delete static_cast<std::shared_ptr<event_sink>*>(p); });
    if (s->callback_id < 0) {
        delete opaque;
        log::warn("libvirt lifecycle events unavailable",
                  {{"uri", options_.uri}, {"error", virGetLastErrorMessage()}});
    }
    session_ = s;
    return s;
}

result<domain_ptr> libvirt_driver::find(virConnectPtr conn, const std::string& vm) {
    domain_ptr d;
    if (driver::valid_uuid(vm)) d.reset(virDomainLookupByUUIDString(conn, vm.c_str()));
    if (!d) d.reset(virDomainLookupByName(conn, vm.c_str()));
    if (!d) return make_error(errc::not_found, "no VM '" + vm + "' on this host");
    return d;
}

result<driver::vm_status> libvirt_driver::status_of(virDomainPtr d) {
    driver::vm_status s;
    s.uuid = uuid_of(d);
    s.name = name_of(d);
    s.state = domain_state_name(state_of(d));
    char* xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
    if (!xml) return last_error("read the definition of " + s.name);
    s.config_hash = secrets::sha256_hex(take(xml));
    return s;
}

std::string libvirt_driver::domain_type(virConnectPtr conn) {
    {
        std::lock_guard lock(mutex_);
        if (!domain_type_.empty()) return domain_type_;
    }
    std::string type = "qemu";
    const char* hv = virConnectGetType(conn);
    if (hv && std::string(hv) == "Test") {
        type = "test";
    } else if (char* caps = virConnectGetCapabilities(conn)) {
        if (take(caps).find("<domain type='kvm'") != std::string::npos) type = "kvm";
    }
    std::lock_guard lock(mutex_);
    domain_type_ = type;
    return type;
}

result<void> libvirt_driver::redefine(virConnectPtr conn, const std::string& xml) {
    domain_ptr d(virDomainDefineXML(conn, xml.c_str()));
    if (!d) return last_error("define");
    return {};
}

result<driver::vm_status> libvirt_driver::define(const driver::vm_spec& input) {
    if (auto valid = driver::validate(input); !valid) return valid.error();
    auto s = open();
    if (!s) return s.error();
    virConnectPtr conn = (*s)->conn->get();
    driver::vm_spec spec = input;

    domain_ptr existing(virDomainLookupByUUIDString(conn, spec.uuid.c_str()));
    if (!existing) virResetLastError();
    domain_ptr same_name(virDomainLookupByName(conn, spec.name.c_str()));
    if (!same_name) virResetLastError();
    if (same_name && uuid_of(same_name.get()) != spec.uuid)
        return make_error(errc::name_clash, "another VM (" + uuid_of(same_name.get()) +
                                                ") is already named '" + spec.name + "'");
    std::optional<domain_layout> old_layout;
    if (existing) {
        if (name_of(existing.get()) != spec.name) {
            if (virDomainRename(existing.get(), spec.name.c_str(), 0) != 0)
                return last_error("rename " + name_of(existing.get()) + " to " + spec.name);
        }
        char* xml = virDomainGetXMLDesc(existing.get(), VIR_DOMAIN_XML_INACTIVE);
        if (!xml) return last_error("read the definition of " + spec.name);
        old_layout = parse_domain_xml(take(xml));
    }
    // An update keeps the MACs the VM had, so the guest's network keeps working.
    for (std::size_t i = 0; i < spec.nics.size(); ++i) {
        auto& nic = spec.nics[i];
        if (nic.mac.empty() && old_layout && i < old_layout->nics.size())
            nic.mac = old_layout->nics[i].mac;
        if (nic.mac.empty()) nic.mac = random_mac();
        if (!valid_mac(nic.mac))
            return make_error(errc::invalid_argument, "nics[" + std::to_string(i) + "].mac '" +
                                                          nic.mac +
                                                          "' is not a unicast MAC address");
    }

    domain_xml_input in;
    in.spec = &spec;
    in.domain_type = domain_type(conn);
    in.cpu_mode = options_.cpu_mode;
    in.cpu_disable = options_.cpu_disable;
    // A define that fails takes back the volumes it created, so a retry starts clean.
    std::vector<disk_volume> created;
    auto fail = [&](driver::error e) {
        for (const auto& v : created) (void)delete_volume(conn, v);
        return e;
    };
    for (std::size_t i = 0; i < spec.disks.size(); ++i) {
        bool is_new = false;
        auto v = ensure_volume(conn, spec.uuid, i, spec.disks[i], is_new);
        if (!v) return fail(v.error());
        if (is_new) created.push_back(*v);
        in.disks.push_back(std::move(v.value()));
    }
    if (spec.cloud_init) {
        auto seed = write_seed(spec.uuid, *spec.cloud_init, spec.nics);
        if (!seed) return fail(seed.error());
        in.seed_iso = std::move(seed.value());
    }
    in.vnc_password = secrets::random_token("", 6).substr(0, 8);
    const std::string xml = build_domain_xml(in);
    domain_ptr d(virDomainDefineXML(conn, xml.c_str()));
    if (!d) return fail(last_error("define " + spec.name));
    return status_of(d.get());
}

result<driver::vm_status> libvirt_driver::start(const std::string& vm) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    switch (state_of(dom)) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
            break;  // already up: nothing to do
        case VIR_DOMAIN_PAUSED:
            if (virDomainResume(dom) != 0) return last_error("resume " + vm);
            break;
        default:
            if (virDomainCreate(dom) != 0) return last_error("start " + vm);
    }
    return status_of(dom);
}

result<driver::vm_status> libvirt_driver::stop(const std::string& vm) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    if (virDomainIsActive(d->get()) == 1 && virDomainDestroy(d->get()) != 0)
        return last_error("stop " + vm);
    return status_of(d->get());
}

result<driver::shutdown_outcome> libvirt_driver::shutdown(const std::string& vm,
                                                          std::chrono::milliseconds timeout) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    driver::shutdown_outcome out;
    if (virDomainIsActive(dom) == 1) {
        if (virDomainShutdown(dom) != 0) return last_error("shut down " + vm);
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (virDomainIsActive(dom) == 1 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(options_.poll_interval);
        if (virDomainIsActive(dom) == 1) {
            log::info("guest ignored the ACPI shutdown; powering it off",
                      {{"vm", vm}, {"timeout_ms", timeout.count()}});
            if (virDomainDestroy(dom) != 0 && virDomainIsActive(dom) == 1)
                return last_error("power off " + vm + " after the shutdown timeout");
            out.forced = true;
        }
    }
    auto status = status_of(dom);
    if (!status) return status.error();
    out.vm = std::move(status.value());
    return out;
}

result<driver::vm_status> libvirt_driver::reboot(const std::string& vm) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    if (virDomainIsActive(d->get()) != 1)
        return make_error(errc::invalid_state, "reboot " + vm + ": it is not running");
    if (virDomainReboot(d->get(), 0) != 0) return last_error("reboot " + vm);
    return status_of(d->get());
}

result<driver::vm_status> libvirt_driver::reset(const std::string& vm) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    if (virDomainIsActive(d->get()) != 1)
        return make_error(errc::invalid_state, "reset " + vm + ": it is not running");
    if (virDomainReset(d->get(), 0) != 0) return last_error("reset " + vm);
    return status_of(d->get());
}

result<void> libvirt_driver::undefine(const std::string& vm, bool keep_volumes) {
    auto s = open();
    if (!s) return s.error();
    virConnectPtr conn = (*s)->conn->get();
    auto d = find(conn, vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    const std::string uuid = uuid_of(dom);
    char* xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    if (!xml) return last_error("read the definition of " + vm);
    const auto layout = parse_domain_xml(take(xml));
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) != 0) return last_error("stop " + vm);
    // Not every hypervisor knows every flag (test:/// has no NVRAM): fall back to fewer.
    const unsigned all = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
    if (virDomainUndefineFlags(dom, all) != 0 &&
        virDomainUndefineFlags(
            dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) != 0)
        return last_error("undefine " + vm);
    std::error_code ignored;
    std::filesystem::remove(seed_path(uuid), ignored);
    // The VM's firewall goes with it (libvirt_firewall.cpp); one left behind harms nothing.
    if (auto r = drop_filter(conn, firewall_filter_name(uuid)); !r)
        log::warn("the network filter of an undefined VM stays",
                  {{"vm", vm}, {"error", r.error().message}});
    if (keep_volumes) return {};
    for (const auto& disk : layout.disks) {
        if (disk.device != "disk" || !disk.volume) continue;
        if (auto r = delete_volume(conn, *disk.volume); !r) return r.error();
    }
    return {};
}

result<driver::host_facts> libvirt_driver::facts() {
    auto s = open();
    if (!s) return s.error();
    try {
        auto f = (*s)->conn->facts();
        return driver::host_facts{f.hostname, f.cpu_model,    f.cpus,
                                  f.cpu_mhz,  f.memory_bytes, f.domains_by_state};
    } catch (const std::exception& e) {
        return make_error(errc::failed, e.what());
    }
}

result<std::vector<driver::vm_status>> libvirt_driver::inventory() {
    auto s = open();
    if (!s) return s.error();
    try {
        std::vector<driver::vm_status> out;
        for (auto& d : (*s)->conn->domains())
            out.push_back({std::move(d.uuid), std::move(d.name), std::move(d.state),
                           std::move(d.config_hash)});
        return out;
    } catch (const std::exception& e) {
        return make_error(errc::failed, e.what());
    }
}

}  // namespace vpsfleet::agent::libvirt
