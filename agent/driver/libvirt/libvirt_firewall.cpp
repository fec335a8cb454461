// The per-VM firewall of the libvirt driver: the VM's network filter (nwfilter_xml.hpp) defined on
// the host, and the VM's interface pointed at it in its definition and, while it runs, live.
//
// Order matters on a real host: the filter is defined before any interface references it (a VM
// whose filterref names a missing filter does not start), and it is removed only after no
// interface references it. A connection without a network filter driver (test:///, a host
// without virtnwfilterd) cannot hold filters: asking it for rules is errc::unsupported and changes
// nothing; asking it for no rules removes any filterref from the definition and succeeds when
// that is all there is to do.
#include "agent/driver/libvirt/libvirt_driver.hpp"
#include "agent/driver/libvirt/nwfilter_xml.hpp"

namespace vpsfleet::agent::libvirt {

using driver::errc;
using driver::make_error;
using driver::result;

namespace {

struct nwfilter_free {
    void operator()(virNWFilterPtr p) const { virNWFilterFree(p); }
};
using nwfilter_ptr = std::unique_ptr<virNWFilter, nwfilter_free>;

driver::error filter_error(const std::string& what) {
    const bool no_driver = last_error_code() == VIR_ERR_NO_SUPPORT;
    auto e = last_error(what);
    if (no_driver)
        e.message +=
            " (this libvirt connection has no network filter driver, so it cannot "
            "enforce a firewall)";
    return e;
}

}  // namespace

result<void> libvirt_driver::drop_filter(virConnectPtr conn, const std::string& name) {
    nwfilter_ptr filter(virNWFilterLookupByName(conn, name.c_str()));
    if (!filter) {
        // No such filter, or a connection that cannot hold any: either way there is none.
        const int code = last_error_code();
        if (code == VIR_ERR_NO_NWFILTER || code == VIR_ERR_NO_SUPPORT) {
            virResetLastError();
            return {};
        }
        return last_error("look up the network filter " + name);
    }
    if (virNWFilterUndefine(filter.get()) != 0)
        return last_error("remove the network filter " + name);
    return {};
}

result<driver::firewall_outcome> libvirt_driver::firewall(const std::string& vm,
                                                          const driver::firewall_spec& spec) {
    auto s = open();
    if (!s) return s.error();
    virConnectPtr conn = (*s)->conn->get();
    auto d = find(conn, vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    const std::string name = firewall_filter_name(uuid_of(dom));
    const bool wanted = !spec.rules.empty();
    std::string filter_xml;
    if (wanted) {
        auto built = build_nwfilter_xml(uuid_of(dom), spec);
        if (!built) return built.error();
        filter_xml = std::move(built.value());
    }

    char* inactive = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (!inactive) return last_error("read the definition of " + vm);
    const auto persistent = set_filterref(take(inactive), spec.mac, wanted ? name : "");
    if (!persistent)
        return make_error(errc::not_found, vm + " has no network interface with MAC " + spec.mac);

    if (wanted) {
        nwfilter_ptr defined(virNWFilterDefineXML(conn, filter_xml.c_str()));
        if (!defined)
            return filter_error("define the firewall of " + vm + " (network filter " + name + ")");
    }
    if (persistent->changed) {
        if (auto r = redefine(conn, persistent->domain_xml); !r) return r.error();
    }

    driver::firewall_outcome out;
    if (virDomainIsActive(dom) == 1) {
        char* running = virDomainGetXMLDesc(dom, 0);
        if (!running) return last_error("read the running definition of " + vm);
        const auto live = set_filterref(take(running), spec.mac, wanted ? name : "");
        if (!live)
            return make_error(
                errc::not_found,
                "the running " + vm + " has no network interface with MAC " + spec.mac);
        if (live->changed && virDomainUpdateDeviceFlags(dom, live->interface_xml.c_str(),
                                                        VIR_DOMAIN_AFFECT_LIVE) != 0)
            return last_error("apply the firewall to the running " + vm +
                              " (its definition has it from its next start)");
        out.live = wanted;
    }
    if (!wanted) {
        if (auto r = drop_filter(conn, name); !r) return r.error();
    }
    auto status = status_of(dom);
    if (!status) return status.error();
    out.vm = std::move(status.value());
    out.filter = wanted ? name : "";
    out.rules = spec.rules.size();
    return out;
}

}  // namespace vpsfleet::agent::libvirt
