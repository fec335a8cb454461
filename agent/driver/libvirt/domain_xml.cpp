#include "agent/driver/libvirt/domain_xml.hpp"

#include "agent/driver/libvirt/xml.hpp"

#include <cstdio>
#include <random>
#include <regex>

namespace vpsfleet::agent::libvirt {

using xml::escape;

namespace {

constexpr std::uint64_t k_cpu_period_us = 100'000;

std::string attr(const char* name, const std::string& value) {
    return std::string(" ") + name + "='" + escape(value) + "'";
}

void metadata(std::string& out, const driver::vm_spec& spec) {
    out += "  <metadata>\n    <vpsfleet:vm xmlns:vpsfleet='";
    out += xml::k_metadata_ns;
    out += "'>\n";
    if (spec.cloud_init && !spec.cloud_init->hostname.empty())
        out += "      <vpsfleet:hostname>" + escape(spec.cloud_init->hostname) +
               "</vpsfleet:hostname>\n";
    for (const auto& nic : spec.nics) {
        out += "      <vpsfleet:nic" + attr("mac", nic.mac) + ">\n";
        auto ip = [&](const char* family, const driver::ip_address& a) {
            out += std::string("        <vpsfleet:ip") + attr("family", family) +
                   attr("cidr", a.cidr) + (a.gateway ? attr("gateway", *a.gateway) : "") + "/>\n";
        };
        for (const auto& a : nic.ipv4) ip("ipv4", a);
        for (const auto& a : nic.ipv6) ip("ipv6", a);
        for (const auto& ns : nic.nameservers)
            out += "        <vpsfleet:nameserver>" + escape(ns) + "</vpsfleet:nameserver>\n";
        out += "      </vpsfleet:nic>\n";
    }
    out += "    </vpsfleet:vm>\n  </metadata>\n";
}

void iotune(std::string& out, const driver::vm_limits& limits) {
    const std::uint64_t iops = limits.disk_iops.value_or(0);
    const std::uint64_t bytes = limits.disk_bytes_per_sec.value_or(0);
    if (iops == 0 && bytes == 0) return;
    out += "      <iotune>\n";
    if (bytes) out += "        <total_bytes_sec>" + std::to_string(bytes) + "</total_bytes_sec>\n";
    if (iops) out += "        <total_iops_sec>" + std::to_string(iops) + "</total_iops_sec>\n";
    out += "      </iotune>\n";
}

void bandwidth(std::string& out, const driver::vm_limits& limits) {
    const std::uint64_t in = limits.net_in_kib_per_sec.value_or(0);
    const std::uint64_t outb = limits.net_out_kib_per_sec.value_or(0);
    if (in == 0 && outb == 0) return;
    out += "      <bandwidth>\n";
    if (in) out += "        <inbound" + attr("average", std::to_string(in)) + "/>\n";
    if (outb) out += "        <outbound" + attr("average", std::to_string(outb)) + "/>\n";
    out += "      </bandwidth>\n";
}

}  // namespace

std::string disk_target(std::size_t index) {
    std::string name = "vd";
    // vda..vdz, then vdaa..: the kernel's own naming.
    std::string suffix;
    std::size_t i = index;
    do {
        suffix.insert(suffix.begin(), static_cast<char>('a' + i % 26));
        i = i / 26;
    } while (i-- > 0);
    return name + suffix;
}

std::string random_mac() {
    std::random_device rd;
    char buf[18];
    std::snprintf(buf, sizeof buf, "52:54:00:%02x:%02x:%02x", rd() & 0xff, rd() & 0xff,
                  rd() & 0xff);
    return buf;
}

bool valid_mac(const std::string& mac) {
    static const std::regex pattern("^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$");
    if (!std::regex_match(mac, pattern)) return false;
    // The first octet must be unicast.
    return (std::stoi(mac.substr(0, 2), nullptr, 16) & 1) == 0;
}

std::string build_domain_xml(const domain_xml_input& in) {
    const auto& spec = *in.spec;
    const std::uint32_t max_vcpus = std::max(spec.max_vcpus, spec.vcpus);
    const std::uint64_t max_memory = std::max(spec.max_memory_mib, spec.memory_mib);
    std::string out = "<domain" + attr("type", in.domain_type) + ">\n";
    out += "  <name>" + escape(spec.name) + "</name>\n";
    out += "  <uuid>" + escape(spec.uuid) + "</uuid>\n";
    metadata(out, spec);
    out += "  <memory unit='MiB'>" + std::to_string(max_memory) + "</memory>\n";
    out += "  <currentMemory unit='MiB'>" + std::to_string(spec.memory_mib) + "</currentMemory>\n";
    out += "  <vcpu placement='static'" + attr("current", std::to_string(spec.vcpus)) + ">" +
           std::to_string(max_vcpus) + "</vcpu>\n";
    if (spec.limits.cpu_percent.value_or(0) > 0) {
        out += "  <cputune>\n    <period>" + std::to_string(k_cpu_period_us) +
               "</period>\n    <quota>" +
               std::to_string(k_cpu_period_us * *spec.limits.cpu_percent / 100) +
               "</quota>\n  </cputune>\n";
    }
    out += "  <os>\n    <type>hvm</type>\n    <boot dev='hd'/>\n  </os>\n";
    out += "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n";
    if (in.domain_type == "kvm" && in.cpu_mode != "default") {
        out += "  <cpu" + attr("mode", in.cpu_mode) + ">\n";
        for (const auto& feature : in.cpu_disable)
            out += "    <feature policy='disable'" + attr("name", feature) + "/>\n";
        out += "  </cpu>\n";
    }
    out += "  <clock offset='utc'/>\n";
    out += "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n";
    out += "  <on_crash>destroy</on_crash>\n";
    out += "  <devices>\n";
    for (std::size_t i = 0; i < in.disks.size(); ++i) {
        const auto& d = in.disks[i];
        out += "    <disk type='volume' device='disk'>\n";
        out += "      <driver name='qemu'" + attr("type", d.format) + " discard='unmap'/>\n";
        out += "      <source" + attr("pool", d.pool) + attr("volume", d.volume) + "/>\n";
        out += "      <target" + attr("dev", disk_target(i)) + " bus='virtio'/>\n";
        iotune(out, spec.limits);
        out += "    </disk>\n";
    }
    if (in.seed_iso) {
        out += "    <disk type='file' device='cdrom'>\n";
        out += "      <driver name='qemu' type='raw'/>\n";
        out += "      <source" + attr("file", *in.seed_iso) + "/>\n";
        out += "      <target dev='sda' bus='sata'/>\n      <readonly/>\n    </disk>\n";
    }
    for (const auto& nic : spec.nics) {
        const bool bridge = nic.bridge.has_value();
        out += "    <interface" + attr("type", bridge ? "bridge" : "network") + ">\n";
        out += "      <mac" + attr("address", nic.mac) + "/>\n";
        out += "      <source" +
               (bridge ? attr("bridge", *nic.bridge) : attr("network", nic.network.value_or(""))) +
               "/>\n";
        out += "      <model type='virtio'/>\n";
        bandwidth(out, spec.limits);
        out += "    </interface>\n";
    }
    out += "    <serial type='pty'/>\n    <console type='pty'/>\n";
    out += "    <channel type='unix'>\n";
    out += "      <target type='virtio' name='org.qemu.guest_agent.0'/>\n    </channel>\n";
    out += "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'" +
           attr("passwd", in.vnc_password) + ">\n";
    out += "      <listen type='address' address='127.0.0.1'/>\n    </graphics>\n";
    out += "    <memballoon model='virtio'/>\n";
    out += "    <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n";
    out += "    </rng>\n";
    out += "  </devices>\n</domain>\n";
    return out;
}

domain_layout parse_domain_xml(const std::string& text) {
    xml::document doc(text);
    domain_layout out;
    for (xmlNodePtr disk : doc.select("/domain/devices/disk")) {
        disk_layout d;
        d.device = xml::document::attribute(disk, "device").value_or("disk");
        d.target = doc.value("target/@dev", disk).value_or("");
        const auto type = xml::document::attribute(disk, "type").value_or("file");
        if (type == "volume") {
            disk_volume v;
            v.pool = doc.value("source/@pool", disk).value_or("");
            v.volume = doc.value("source/@volume", disk).value_or("");
            v.format = doc.value("driver/@type", disk).value_or("raw");
            d.volume = v;
        } else if (auto file = doc.value("source/@file", disk)) {
            d.file = file;
        }
        out.disks.push_back(std::move(d));
    }
    for (xmlNodePtr nic : doc.select("/domain/devices/interface")) {
        out.nics.push_back({doc.value("mac/@address", nic).value_or(""),
                            doc.value("target/@dev", nic).value_or("")});
    }
    out.guest_agent_channel =
        doc.first("/domain/devices/channel/target[@name='org.qemu.guest_agent.0']") != nullptr;
    if (xmlNodePtr g = doc.first("/domain/devices/graphics[@type='vnc']")) {
        out.vnc = true;
        out.vnc_port = std::stoi(xml::document::attribute(g, "port").value_or("-1"));
        out.vnc_listen = xml::document::attribute(g, "listen").value_or("127.0.0.1");
    }
    out.recorded_hostname =
        doc.value("/domain/metadata/vpsfleet:vm/vpsfleet:hostname").value_or("");
    for (xmlNodePtr nic : doc.select("/domain/metadata/vpsfleet:vm/vpsfleet:nic")) {
        driver::nic_spec n;
        n.mac = xml::document::attribute(nic, "mac").value_or("");
        for (xmlNodePtr ip : doc.select("vpsfleet:ip", nic)) {
            driver::ip_address a{xml::document::attribute(ip, "cidr").value_or(""),
                                 xml::document::attribute(ip, "gateway")};
            (xml::document::attribute(ip, "family") == "ipv6" ? n.ipv6 : n.ipv4).push_back(a);
        }
        for (xmlNodePtr ns : doc.select("vpsfleet:nameserver", nic))
            n.nameservers.push_back(xml::document::text(ns));
        out.recorded_nics.push_back(std::move(n));
    }
    return out;
}

}  // namespace vpsfleet::agent::libvirt
