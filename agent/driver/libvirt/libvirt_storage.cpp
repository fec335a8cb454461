// Disks and seeds of the libvirt driver: volumes built from images, their removal, disk growth,
// vCPU and memory changes, and reinstalling a VM onto a fresh root disk.
#include "agent/driver/cloud_init.hpp"
#include "agent/driver/libvirt/libvirt_driver.hpp"
#include "agent/driver/libvirt/xml.hpp"

namespace vpsfleet::agent::libvirt {

using driver::errc;
using driver::make_error;
using driver::result;

namespace {

constexpr double k_gib = 1024.0 * 1024 * 1024;
// As plain flags, so they combine with libvirt's other flag enums.
constexpr unsigned k_config = VIR_DOMAIN_AFFECT_CONFIG;
constexpr unsigned k_live = VIR_DOMAIN_AFFECT_LIVE;

std::string gib(std::uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / k_gib);
    return buf;
}

result<pool_ptr> find_pool(virConnectPtr conn, const std::string& name) {
    pool_ptr p(virStoragePoolLookupByName(conn, name.c_str()));
    if (!p) return make_error(errc::not_found, "no storage pool '" + name + "' on this host");
    return p;
}

result<volume_ptr> find_volume(virStoragePoolPtr pool, const std::string& pool_name,
                               const std::string& name) {
    volume_ptr v(virStorageVolLookupByName(pool, name.c_str()));
    if (!v)
        return make_error(errc::not_found, "no volume '" + name + "' in pool '" + pool_name + "'");
    return v;
}

std::uint64_t capacity_of(virStorageVolPtr v) {
    virStorageVolInfo info{};
    return virStorageVolGetInfo(v, &info) == 0 ? info.capacity : 0;
}

// Refuses a volume the pool has no room for: disks are not overcommitted behind the
// scheduler's back.
result<void> check_room(virStoragePoolPtr pool, const std::string& pool_name, std::uint64_t bytes) {
    virStoragePoolRefresh(pool, 0);
    virResetLastError();
    virStoragePoolInfo info{};
    if (virStoragePoolGetInfo(pool, &info) != 0) return last_error("read pool " + pool_name);
    if (info.available < bytes)
        return make_error(errc::pool_full, "storage pool '" + pool_name + "' has " +
                                               gib(info.available) + " free; the disk needs " +
                                               gib(bytes));
    return {};
}

}  // namespace

result<disk_volume> libvirt_driver::ensure_volume(virConnectPtr conn, const std::string& uuid,
                                                  std::size_t index, const driver::disk_spec& disk,
                                                  bool& created) {
    const std::string name = uuid + "-disk" + std::to_string(index) + ".qcow2";
    created = false;
    auto pool = find_pool(conn, disk.pool);
    if (!pool) return pool.error();
    if (volume_ptr existing{virStorageVolLookupByName(pool->get(), name.c_str())})
        return disk_volume{disk.pool, name, "qcow2"};
    virResetLastError();
    auto v = create_volume(conn, name, disk);
    created = v.ok();
    return v;
}

result<disk_volume> libvirt_driver::create_volume(virConnectPtr conn, const std::string& name,
                                                  const driver::disk_spec& disk) {
    auto pool = find_pool(conn, disk.pool);
    if (!pool) return pool.error();
    std::uint64_t size = disk.size_bytes;
    volume_ptr image;
    std::string image_path, image_format = "raw";
    if (disk.image) {
        auto ipool = find_pool(conn, disk.image->pool);
        if (!ipool) return ipool.error();
        auto ivol = find_volume(ipool->get(), disk.image->pool, disk.image->volume);
        if (!ivol)
            return make_error(errc::not_found, "no image '" + disk.image->volume + "' in pool '" +
                                                   disk.image->pool + "'");
        image = std::move(ivol.value());
        size = std::max(size, capacity_of(image.get()));
        image_path = take(virStorageVolGetPath(image.get()));
        if (char* ixml = virStorageVolGetXMLDesc(image.get(), 0)) {
            xml::document doc(take(ixml));
            image_format = doc.value("/volume/target/format/@type").value_or("raw");
        }
    }
    if (auto room = check_room(pool->get(), disk.pool, size); !room) return room.error();

    std::string vol_xml = "<volume>\n  <name>" + xml::escape(name) + "</name>\n";
    vol_xml += "  <capacity unit='bytes'>" + std::to_string(size) + "</capacity>\n";
    vol_xml += "  <allocation unit='bytes'>0</allocation>\n";
    vol_xml += "  <target><format type='qcow2'/></target>\n";
    const bool overlay = image && disk.clone == driver::clone_mode::overlay;
    if (overlay) {
        vol_xml += "  <backingStore><path>" + xml::escape(image_path) + "</path><format type='" +
                   xml::escape(image_format) + "'/></backingStore>\n";
    }
    vol_xml += "</volume>\n";
    volume_ptr created;
    if (image && !overlay) {
        created.reset(virStorageVolCreateXMLFrom(pool->get(), vol_xml.c_str(), image.get(), 0));
    } else {
        created.reset(virStorageVolCreateXML(pool->get(), vol_xml.c_str(), 0));
    }
    if (!created) {
        auto e = last_error("create volume " + name + " in pool " + disk.pool);
        if (e.message.find("Not enough free space") != std::string::npos) e.code = errc::pool_full;
        return e;
    }
    // A copy comes out at the image's size on some backends; grow it to what was asked.
    if (capacity_of(created.get()) < size && virStorageVolResize(created.get(), size, 0) != 0) {
        auto e = last_error("grow volume " + name + " to " + gib(size));
        virStorageVolDelete(created.get(), 0);
        return e;
    }
    return disk_volume{disk.pool, name, "qcow2"};
}

result<void> libvirt_driver::delete_volume(virConnectPtr conn, const disk_volume& v) {
    pool_ptr pool(virStoragePoolLookupByName(conn, v.pool.c_str()));
    if (!pool) return {};  // the pool went away with its volumes
    volume_ptr vol(virStorageVolLookupByName(pool.get(), v.volume.c_str()));
    if (!vol) return {};  // already gone
    if (virStorageVolDelete(vol.get(), 0) != 0)
        return last_error("delete volume " + v.volume + " from pool " + v.pool);
    return {};
}

result<std::string> libvirt_driver::write_seed(const std::string& uuid,
                                               const driver::cloud_init_spec& spec,
                                               const std::vector<driver::nic_spec>& nics) {
    const std::string path = seed_path(uuid);
    auto written = driver::write_seed_iso(driver::render_seed(uuid, spec, nics), path);
    if (!written) return written.error();
    return path;
}

result<driver::change_outcome> libvirt_driver::resize(const std::string& vm,
                                                      const driver::resize_spec& spec) {
    auto s = open();
    if (!s) return s.error();
    virConnectPtr conn = (*s)->conn->get();
    auto d = find(conn, vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    const bool running = virDomainIsActive(dom) == 1;
    char* xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    if (!xml) return last_error("read the definition of " + vm);
    const std::string inactive = take(xml);
    const auto layout = parse_domain_xml(inactive);
    driver::change_outcome out;

    // Check every disk before changing anything, so a refused grow leaves the VM as it was.
    struct grow {
        std::string target;
        volume_ptr vol;
        std::uint64_t bytes;
    };
    std::vector<grow> grows;
    std::vector<const disk_layout*> disks;
    for (const auto& disk : layout.disks)
        if (disk.device == "disk") disks.push_back(&disk);
    for (const auto& [index, bytes] : spec.disk_bytes) {
        if (index >= disks.size() || !disks[index]->volume)
            return make_error(errc::not_found, vm + " has no disk " + std::to_string(index));
        const auto& v = *disks[index]->volume;
        auto pool = find_pool(conn, v.pool);
        if (!pool) return pool.error();
        auto vol = find_volume(pool->get(), v.pool, v.volume);
        if (!vol) return vol.error();
        const std::uint64_t now = capacity_of(vol->get());
        if (bytes < now)
            return make_error(errc::invalid_argument, "disk " + std::to_string(index) + " is " +
                                                          gib(now) + "; disks only grow, so " +
                                                          gib(bytes) + " is refused");
        if (bytes == now) continue;
        if (auto room = check_room(pool->get(), v.pool, bytes - now); !room) return room.error();
        grows.push_back({disks[index]->target, std::move(vol.value()), bytes});
    }

    if (spec.vcpus) {
        const unsigned n = *spec.vcpus;
        if (n == 0) return make_error(errc::invalid_argument, "vcpus must be at least 1");
        const int config_max = virDomainGetVcpusFlags(dom, k_config | VIR_DOMAIN_VCPU_MAXIMUM);
        if (config_max < 0) return last_error("read the vCPUs of " + vm);
        if (n > static_cast<unsigned>(config_max) &&
            virDomainSetVcpusFlags(dom, n, k_config | VIR_DOMAIN_VCPU_MAXIMUM) != 0)
            return last_error("raise the vCPU ceiling of " + vm);
        if (virDomainSetVcpusFlags(dom, n, VIR_DOMAIN_AFFECT_CONFIG) != 0)
            return last_error("set the vCPUs of " + vm);
        if (running) {
            const int live_max = virDomainGetVcpusFlags(dom, k_live | VIR_DOMAIN_VCPU_MAXIMUM);
            if (live_max >= 0 && n <= static_cast<unsigned>(live_max)) {
                if (virDomainSetVcpusFlags(dom, n, VIR_DOMAIN_AFFECT_LIVE) != 0)
                    out.pending_restart.push_back("vcpus: " + last_error("hot-plug").message);
            } else {
                out.pending_restart.push_back("vcpus: above the running VM's ceiling of " +
                                              std::to_string(live_max));
            }
        }
    }
    if (spec.memory_mib) {
        const unsigned long kib = static_cast<unsigned long>(*spec.memory_mib) * 1024;
        if (*spec.memory_mib < 64)
            return make_error(errc::invalid_argument, "memory_mib must be at least 64");
        xml::document doc(inactive);
        const unsigned long config_max = std::stoul(doc.value("/domain/memory").value_or("0"));
        if (kib > config_max &&
            virDomainSetMemoryFlags(dom, kib, k_config | VIR_DOMAIN_MEM_MAXIMUM) != 0)
            return last_error("raise the memory ceiling of " + vm);
        if (virDomainSetMemoryFlags(dom, kib, VIR_DOMAIN_AFFECT_CONFIG) != 0)
            return last_error("set the memory of " + vm);
        if (running) {
            const unsigned long live_max = virDomainGetMaxMemory(dom);
            if (live_max != 0 && kib <= live_max) {
                if (virDomainSetMemoryFlags(dom, kib, VIR_DOMAIN_AFFECT_LIVE) != 0)
                    out.pending_restart.push_back("memory: " + last_error("balloon").message);
            } else {
                out.pending_restart.push_back("memory: above the running VM's ceiling of " +
                                              std::to_string(live_max / 1024) + " MiB");
            }
        }
    }
    for (auto& g : grows) {
        const int rc = running ? virDomainBlockResize(dom, g.target.c_str(), g.bytes,
                                                      VIR_DOMAIN_BLOCK_RESIZE_BYTES)
                               : virStorageVolResize(g.vol.get(), g.bytes, 0);
        if (rc != 0)
            return last_error("grow disk " + g.target + " of " + vm + " to " + gib(g.bytes));
    }
    auto status = status_of(dom);
    if (!status) return status.error();
    out.vm = std::move(status.value());
    return out;
}

result<driver::vm_status> libvirt_driver::reinstall(const std::string& vm,
                                                    const driver::reinstall_spec& spec) {
    auto s = open();
    if (!s) return s.error();
    virConnectPtr conn = (*s)->conn->get();
    auto d = find(conn, vm);
    if (!d) return d.error();
    virDomainPtr dom = d->get();
    const std::string uuid = uuid_of(dom);
    char* xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (!xml) return last_error("read the definition of " + vm);
    const std::string inactive = take(xml);
    const auto layout = parse_domain_xml(inactive);
    const disk_layout* root = nullptr;
    for (const auto& disk : layout.disks)
        if (disk.device == "disk" && disk.volume) {
            root = &disk;
            break;
        }
    if (!root)
        return make_error(errc::invalid_state,
                          vm + " has no root disk in a storage pool to replace");
    // Check the image exists before anything is destroyed.
    auto ipool = find_pool(conn, spec.image.pool);
    if (!ipool) return ipool.error();
    if (auto ivol = find_volume(ipool->get(), spec.image.pool, spec.image.volume); !ivol)
        return make_error(errc::not_found,
                          "no image '" + spec.image.volume + "' in pool '" + spec.image.pool + "'");
    auto pool = find_pool(conn, root->volume->pool);
    if (!pool) return pool.error();
    std::uint64_t old_size = 0;
    if (volume_ptr old{virStorageVolLookupByName(pool->get(), root->volume->volume.c_str())})
        old_size = capacity_of(old.get());
    virResetLastError();

    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) != 0)
        return last_error("stop " + vm + " for its reinstall");
    // Snapshots of the old disk cannot be reverted to once it is gone. Roots go with their
    // children.
    virDomainSnapshotPtr* snaps = nullptr;
    const int n = virDomainListAllSnapshots(dom, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_ROOTS);
    if (n < 0) return last_error("list the snapshots of " + vm);
    std::vector<snapshot_ptr> roots;
    for (int i = 0; i < n; ++i) roots.emplace_back(snaps[i]);
    std::free(snaps);
    for (auto& snap : roots) {
        if (virDomainSnapshotDelete(snap.get(), VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN) != 0 &&
            virDomainSnapshotDelete(snap.get(), VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN |
                                                    VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY) != 0)
            return last_error("delete the snapshots of " + vm + " before its reinstall");
    }

    if (auto r = delete_volume(conn, *root->volume); !r) return r.error();
    driver::disk_spec disk;
    disk.pool = root->volume->pool;
    disk.size_bytes = spec.size_bytes.value_or(old_size);
    disk.image = spec.image;
    disk.clone = spec.clone;
    if (auto created = create_volume(conn, root->volume->volume, disk); !created)
        return created.error();

    // The seed keeps the MACs and addresses given at define (recorded in the domain's metadata).
    std::vector<driver::nic_spec> nics = layout.recorded_nics;
    if (nics.empty())
        for (const auto& nic : layout.nics) {
            driver::nic_spec dhcp;
            dhcp.mac = nic.mac;
            nics.push_back(std::move(dhcp));
        }
    driver::cloud_init_spec ci = spec.cloud_init.value_or(driver::cloud_init_spec{});
    if (ci.hostname.empty()) ci.hostname = layout.recorded_hostname;
    auto seed = write_seed(uuid, ci, nics);
    if (!seed) return seed.error();
    bool attached = false;
    for (const auto& disk_entry : layout.disks)
        if (disk_entry.file == *seed) attached = true;
    if (!attached) {
        xml::document doc(inactive);
        xmlNodePtr devices = doc.first("/domain/devices");
        xmlNodePtr cdrom = xmlNewChild(devices, nullptr, BAD_CAST "disk", nullptr);
        xml::document::set_attribute(cdrom, "type", "file");
        xml::document::set_attribute(cdrom, "device", "cdrom");
        xmlNodePtr drv = xml::document::child(cdrom, "driver");
        xml::document::set_attribute(drv, "name", "qemu");
        xml::document::set_attribute(drv, "type", "raw");
        xml::document::set_attribute(xml::document::child(cdrom, "source"), "file", *seed);
        xmlNodePtr target = xml::document::child(cdrom, "target");
        xml::document::set_attribute(target, "dev", "sda");
        xml::document::set_attribute(target, "bus", "sata");
        xml::document::child(cdrom, "readonly");
        if (auto r = redefine(conn, doc.str()); !r) return r.error();
    }
    if (spec.start && virDomainCreate(dom) != 0) return last_error("start " + vm);
    return status_of(dom);
}

}  // namespace vpsfleet::agent::libvirt
