// Reaching into a running guest with the libvirt driver: the VNC console ticket, passwords and SSH
// keys through qemu-guest-agent, and resource limits (CPU quota, disk I/O, network bandwidth).
#include "agent/driver/libvirt/libvirt_driver.hpp"
#include "agent/driver/libvirt/xml.hpp"
#include "common/secrets.hpp"
#include "common/utc_time.hpp"

#include <ctime>

namespace vpsfleet::agent::libvirt {

using driver::errc;
using driver::make_error;
using driver::result;

namespace {

constexpr std::uint64_t k_cpu_period_us = 100'000;

class typed_params {
  public:
    ~typed_params() { virTypedParamsFree(params_, count_); }
    void add(const char* name, unsigned long long value) {
        virTypedParamsAddULLong(&params_, &count_, &max_, name, value);
    }
    void add_int64(const char* name, long long value) {
        virTypedParamsAddLLong(&params_, &count_, &max_, name, value);
    }
    void add_uint(const char* name, unsigned value) {
        virTypedParamsAddUInt(&params_, &count_, &max_, name, value);
    }
    virTypedParameterPtr get() { return params_; }
    int size() const { return count_; }

  private:
    virTypedParameterPtr params_ = nullptr;
    int count_ = 0;
    int max_ = 0;
};

// A guest-agent failure in words a person can act on.
driver::error agent_error(const std::string& what, const std::string& vm) {
    auto e = last_error(what);
    if (e.code == errc::no_guest_agent ||
        (e.code == errc::unsupported && e.message.find("agent") != std::string::npos)) {
        e.code = errc::no_guest_agent;
        e.message =
            vm +
            " has no qemu-guest-agent answering (install and start it in the guest): " + e.message;
    }
    return e;
}

void set_or_remove(xmlNodePtr parent, const char* name, std::uint64_t value) {
    xmlNodePtr node = xml::document::child(parent, name);
    if (value == 0) {
        xml::document::remove(node);
    } else {
        xml::document::set_text(node, std::to_string(value));
    }
}

void remove_if_empty(xmlNodePtr node) {
    if (xmlFirstElementChild(node) == nullptr && node->properties == nullptr)
        xml::document::remove(node);
}

std::string iso_utc(std::time_t t) {
    return utc_format(std::chrono::system_clock::from_time_t(t), "%Y-%m-%dT%H:%M:%S");
}

}  // namespace

result<driver::console_ticket> libvirt_driver::console(const std::string& vm,
                                                       std::chrono::seconds valid_for) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    if (virDomainIsActive(dom) != 1)
        return make_error(errc::invalid_state, "console of " + vm + ": it is not running");
    char* live = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE);
    if (!live) return last_error("read the definition of " + vm);
    xml::document doc(take(live));
    xmlNodePtr graphics = doc.first("/domain/devices/graphics[@type='vnc']");
    if (!graphics) return make_error(errc::unsupported, vm + " has no VNC console");

    driver::console_ticket ticket;
    ticket.password = secrets::random_token("", 6).substr(0, 8);  // VNC uses at most 8
    ticket.expires_at = std::time(nullptr) + valid_for.count();
    ticket.host = xml::document::attribute(graphics, "listen").value_or("127.0.0.1");
    ticket.port = std::stoi(xml::document::attribute(graphics, "port").value_or("-1"));
    xml::document::set_attribute(graphics, "passwd", ticket.password);
    xml::document::set_attribute(graphics, "passwdValidTo", iso_utc(ticket.expires_at));
    // Clients already watching keep their session; only new ones need the new password.
    xml::document::set_attribute(graphics, "connected", "keep");
    const std::string device = doc.str(graphics);
    if (virDomainUpdateDeviceFlags(dom, device.c_str(), VIR_DOMAIN_AFFECT_LIVE) != 0)
        return last_error("set the console password of " + vm);
    if (ticket.port <= 0)
        return make_error(errc::unavailable, vm + "'s VNC server has no port yet");
    return ticket;
}

namespace {

// Setting anything through qemu-guest-agent needs a running guest with the agent's channel.
result<void> guest_agent_ready(virDomainPtr dom, const std::string& vm, const std::string& what,
                               const std::string& things) {
    if (virDomainIsActive(dom) != 1)
        return make_error(errc::invalid_state, "set " + what + " in " + vm + ": it is not running");
    char* xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) return last_error("read the definition of " + vm);
    if (!parse_domain_xml(take(xml)).guest_agent_channel)
        return make_error(errc::no_guest_agent, vm + " has no qemu-guest-agent channel; " + things +
                                                    " can only be set through cloud-init at "
                                                    "reinstall");
    return {};
}

}  // namespace

result<void> libvirt_driver::set_password(const std::string& vm, const std::string& user,
                                          const std::string& password, bool is_hash) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    if (auto ready = guest_agent_ready(dom, vm, "a password", "passwords"); !ready) return ready;
    if (virDomainSetUserPassword(dom, user.c_str(), password.c_str(),
                                 is_hash ? VIR_DOMAIN_PASSWORD_ENCRYPTED : 0) != 0)
        return agent_error("set the password of " + user + " in " + vm, vm);
    return {};
}

result<void> libvirt_driver::set_ssh_keys(const std::string& vm, const std::string& user,
                                          const std::vector<std::string>& keys) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    if (auto ready = guest_agent_ready(dom, vm, "SSH keys", "SSH keys"); !ready) return ready;
    std::vector<const char*> list;
    for (const auto& k : keys) list.push_back(k.c_str());
    // Flags 0: the list replaces the user's authorized keys.
    if (virDomainAuthorizedSSHKeysSet(dom, user.c_str(), list.data(),
                                      static_cast<unsigned>(list.size()), 0) != 0)
        return agent_error("set the SSH keys of " + user + " in " + vm, vm);
    return {};
}

result<void> libvirt_driver::apply_limits_live(virDomainPtr dom, const driver::vm_limits& limits,
                                               std::vector<std::string>& pending) {
    char* xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) return last_error("read the definition of " + name_of(dom));
    const auto layout = parse_domain_xml(take(xml));
    if (limits.cpu_percent) {
        typed_params p;
        p.add(VIR_DOMAIN_SCHEDULER_VCPU_PERIOD, k_cpu_period_us);
        p.add_int64(VIR_DOMAIN_SCHEDULER_VCPU_QUOTA,
                    *limits.cpu_percent == 0
                        ? -1
                        : static_cast<long long>(k_cpu_period_us * *limits.cpu_percent / 100));
        if (virDomainSetSchedulerParametersFlags(dom, p.get(), p.size(), VIR_DOMAIN_AFFECT_LIVE) !=
            0)
            pending.push_back("cpu_percent: " + last_error("set the CPU quota").message);
    }
    if (limits.disk_iops || limits.disk_bytes_per_sec) {
        for (const auto& disk : layout.disks) {
            if (disk.device != "disk") continue;
            typed_params p;
            // Burst (max) equal to the average: the limit holds, with no bursting above it.
            if (limits.disk_iops) {
                p.add(VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_IOPS_SEC, *limits.disk_iops);
                p.add(VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_IOPS_SEC_MAX, *limits.disk_iops);
            }
            if (limits.disk_bytes_per_sec) {
                p.add(VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC, *limits.disk_bytes_per_sec);
                p.add(VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX, *limits.disk_bytes_per_sec);
            }
            if (virDomainSetBlockIoTune(dom, disk.target.c_str(), p.get(), p.size(),
                                        VIR_DOMAIN_AFFECT_LIVE) != 0)
                pending.push_back("disk " + disk.target + ": " +
                                  last_error("set the I/O limits").message);
        }
    }
    if (limits.net_in_kib_per_sec || limits.net_out_kib_per_sec) {
        for (const auto& nic : layout.nics) {
            typed_params p;
            if (limits.net_in_kib_per_sec)
                p.add_uint(VIR_DOMAIN_BANDWIDTH_IN_AVERAGE,
                           static_cast<unsigned>(*limits.net_in_kib_per_sec));
            if (limits.net_out_kib_per_sec)
                p.add_uint(VIR_DOMAIN_BANDWIDTH_OUT_AVERAGE,
                           static_cast<unsigned>(*limits.net_out_kib_per_sec));
            if (virDomainSetInterfaceParameters(dom, nic.mac.c_str(), p.get(), p.size(),
                                                VIR_DOMAIN_AFFECT_LIVE) != 0)
                pending.push_back("nic " + nic.mac + ": " +
                                  last_error("set the bandwidth").message);
        }
    }
    return {};
}

result<driver::change_outcome> libvirt_driver::set_limits(const std::string& vm,
                                                          const driver::vm_limits& limits) {
    if (limits.cpu_percent && *limits.cpu_percent > 100)
        return make_error(errc::invalid_argument, "cpu_percent is per vCPU and at most 100");
    auto s = open();
    if (!s) return s.error();
    virConnectPtr conn = (*s)->conn->get();
    auto d = find(conn, vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    char* xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (!xml) return last_error("read the definition of " + vm);
    // The definition first, so the limits hold from the next start whatever happens live.
    xml::document doc(take(xml));
    if (limits.cpu_percent) {
        xmlNodePtr cputune = doc.first("/domain/cputune");
        if (!cputune) {
            cputune = xmlNewNode(nullptr, BAD_CAST "cputune");
            xmlNodePtr vcpu = doc.first("/domain/vcpu");
            vcpu ? xmlAddNextSibling(vcpu, cputune) : xmlAddChild(doc.root(), cputune);
        }
        const std::uint64_t pct = *limits.cpu_percent;
        set_or_remove(cputune, "period", pct ? k_cpu_period_us : 0);
        set_or_remove(cputune, "quota", k_cpu_period_us * pct / 100);
        remove_if_empty(cputune);
    }
    if (limits.disk_iops || limits.disk_bytes_per_sec) {
        for (xmlNodePtr disk : doc.select("/domain/devices/disk[@device='disk']")) {
            xmlNodePtr iotune = xml::document::child(disk, "iotune");
            if (limits.disk_iops) set_or_remove(iotune, "total_iops_sec", *limits.disk_iops);
            if (limits.disk_bytes_per_sec)
                set_or_remove(iotune, "total_bytes_sec", *limits.disk_bytes_per_sec);
            remove_if_empty(iotune);
        }
    }
    if (limits.net_in_kib_per_sec || limits.net_out_kib_per_sec) {
        for (xmlNodePtr nic : doc.select("/domain/devices/interface")) {
            xmlNodePtr bandwidth = xml::document::child(nic, "bandwidth");
            auto direction = [&](const char* name, std::uint64_t kib) {
                xmlNodePtr node = xml::document::child(bandwidth, name);
                if (kib == 0) {
                    xml::document::remove(node);
                } else {
                    xml::document::set_attribute(node, "average", std::to_string(kib));
                }
            };
            if (limits.net_in_kib_per_sec) direction("inbound", *limits.net_in_kib_per_sec);
            if (limits.net_out_kib_per_sec) direction("outbound", *limits.net_out_kib_per_sec);
            remove_if_empty(bandwidth);
        }
    }
    if (auto r = redefine(conn, doc.str()); !r) return r.error();
    driver::change_outcome out;
    if (virDomainIsActive(dom) == 1) {
        if (auto r = apply_limits_live(dom, limits, out.pending_restart); !r) return r.error();
    }
    auto status = status_of(dom);
    if (!status) return status.error();
    out.vm = std::move(status.value());
    return out;
}

}  // namespace vpsfleet::agent::libvirt
