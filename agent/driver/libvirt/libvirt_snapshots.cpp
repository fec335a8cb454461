// Snapshots of the libvirt driver: internal qcow2 snapshots with the VM's memory when it runs.
#include "agent/driver/libvirt/libvirt_driver.hpp"
#include "agent/driver/libvirt/xml.hpp"

#include <algorithm>
#include <regex>

namespace vpsfleet::agent::libvirt {

using driver::errc;
using driver::make_error;
using driver::result;

namespace {

bool valid_snapshot_name(const std::string& name) {
    static const std::regex pattern("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
    return std::regex_match(name, pattern);
}

driver::snapshot_info describe(virDomainSnapshotPtr snap) {
    driver::snapshot_info info;
    info.name = virDomainSnapshotGetName(snap);
    info.current = virDomainSnapshotIsCurrent(snap, 0) == 1;
    if (char* text = virDomainSnapshotGetXMLDesc(snap, VIR_DOMAIN_SNAPSHOT_XML_SECURE)) {
        xml::document doc(take(text));
        info.description = doc.value("/domainsnapshot/description").value_or("");
        info.state = doc.value("/domainsnapshot/state").value_or("");
        info.created_at = std::stoll(doc.value("/domainsnapshot/creationTime").value_or("0"));
        info.parent = doc.value("/domainsnapshot/parent/name");
    }
    return info;
}

result<snapshot_ptr> find_snapshot(virDomainPtr dom, const std::string& vm,
                                   const std::string& name) {
    snapshot_ptr snap(virDomainSnapshotLookupByName(dom, name.c_str(), 0));
    if (!snap) {
        auto e = last_error("snapshot '" + name + "' of " + vm);
        if (e.code == errc::not_found) e.message = vm + " has no snapshot '" + name + "'";
        return e;
    }
    return snap;
}

}  // namespace

result<driver::snapshot_info> libvirt_driver::create_snapshot(const std::string& vm,
                                                              const std::string& name,
                                                              const std::string& description) {
    if (!valid_snapshot_name(name))
        return make_error(
            errc::invalid_argument,
            "snapshot name '" + name + "' must be 1-64 letters, digits, '.', '_' or '-'");
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    if (snapshot_ptr existing{virDomainSnapshotLookupByName(d->get(), name.c_str(), 0)})
        return make_error(errc::name_clash, vm + " already has a snapshot '" + name + "'");
    virResetLastError();
    const std::string xml = "<domainsnapshot><name>" + xml::escape(name) + "</name><description>" +
                            xml::escape(description) + "</description></domainsnapshot>";
    snapshot_ptr snap(virDomainSnapshotCreateXML(d->get(), xml.c_str(), 0));
    if (!snap) return last_error("snapshot " + vm);
    return describe(snap.get());
}

result<std::vector<driver::snapshot_info>> libvirt_driver::list_snapshots(const std::string& vm) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    virDomainSnapshotPtr* snaps = nullptr;
    // Parents before children, so snapshots taken in the same second keep their order.
    const int n = virDomainListAllSnapshots(d->get(), &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
    if (n < 0) return last_error("list the snapshots of " + vm);
    std::vector<driver::snapshot_info> out;
    for (int i = 0; i < n; ++i) {
        snapshot_ptr owned(snaps[i]);
        out.push_back(describe(owned.get()));
    }
    std::free(snaps);
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.created_at < b.created_at; });
    return out;
}

result<driver::vm_status> libvirt_driver::revert_snapshot(const std::string& vm,
                                                          const std::string& name) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    auto snap = find_snapshot(d->get(), vm, name);
    if (!snap) return snap.error();
    if (virDomainRevertToSnapshot(snap->get(), 0) != 0)
        return last_error("revert " + vm + " to snapshot " + name);
    return status_of(d->get());
}

result<void> libvirt_driver::delete_snapshot(const std::string& vm, const std::string& name) {
    auto s = open();
    if (!s) return s.error();
    auto d = find((*s)->conn->get(), vm);
    if (!d) return d.error();
    auto snap = find_snapshot(d->get(), vm, name);
    if (!snap) return snap.error();
    if (virDomainSnapshotDelete(snap->get(), 0) != 0)
        return last_error("delete snapshot " + name + " of " + vm);
    return {};
}

}  // namespace vpsfleet::agent::libvirt
