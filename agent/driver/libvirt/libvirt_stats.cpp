// Statistics of the libvirt driver: the host (CPU time, memory, storage pools, physical NICs) and
// every VM, read with one bulk virConnectGetAllDomainStats call. Where the connection leaves a
// group out (test:/// only reports state), the per-domain calls fill it in.
#include "agent/driver/libvirt/libvirt_driver.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace vpsfleet::agent::libvirt {

using driver::errc;
using driver::make_error;
using driver::result;

namespace {

std::optional<std::uint64_t> number(const virTypedParameterPtr params, int n, const char* name) {
    unsigned long long ull = 0;
    if (virTypedParamsGetULLong(params, n, name, &ull) == 1) return ull;
    unsigned int ui = 0;
    if (virTypedParamsGetUInt(params, n, name, &ui) == 1) return ui;
    int i = 0;
    if (virTypedParamsGetInt(params, n, name, &i) == 1 && i >= 0) return static_cast<unsigned>(i);
    virResetLastError();
    return std::nullopt;
}

void host_cpu(virConnectPtr conn, driver::host_stats& out) {
    int n = 0;
    if (virNodeGetCPUStats(conn, VIR_NODE_CPU_STATS_ALL_CPUS, nullptr, &n, 0) != 0 || n <= 0) {
        virResetLastError();
        return;
    }
    std::vector<virNodeCPUStats> stats(static_cast<std::size_t>(n));
    if (virNodeGetCPUStats(conn, VIR_NODE_CPU_STATS_ALL_CPUS, stats.data(), &n, 0) != 0) {
        virResetLastError();
        return;
    }
    std::uint64_t busy = 0, idle = 0;
    for (int i = 0; i < n; ++i) {
        const std::string field = stats[i].field;
        if (field == VIR_NODE_CPU_STATS_KERNEL || field == VIR_NODE_CPU_STATS_USER) {
            busy += stats[i].value;
        } else if (field == VIR_NODE_CPU_STATS_IDLE || field == VIR_NODE_CPU_STATS_IOWAIT) {
            idle += stats[i].value;
        }
    }
    out.cpu_busy_ns = busy;
    out.cpu_idle_ns = idle;
}

void host_memory(virConnectPtr conn, driver::host_stats& out) {
    int n = 0;
    if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, nullptr, &n, 0) == 0 &&
        n > 0) {
        std::vector<virNodeMemoryStats> stats(static_cast<std::size_t>(n));
        if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, stats.data(), &n, 0) ==
            0) {
            for (int i = 0; i < n; ++i) {
                const std::string field = stats[i].field;
                const std::uint64_t bytes = stats[i].value * 1024;
                if (field == VIR_NODE_MEMORY_STATS_TOTAL) {
                    out.memory_total_bytes = bytes;
                } else if (field == VIR_NODE_MEMORY_STATS_FREE ||
                           field == VIR_NODE_MEMORY_STATS_BUFFERS ||
                           field == VIR_NODE_MEMORY_STATS_CACHED) {
                    out.memory_free_bytes += bytes;
                }
            }
            if (out.memory_total_bytes) return;
        }
    }
    virResetLastError();
    virNodeInfo info{};
    if (virNodeGetInfo(conn, &info) == 0) out.memory_total_bytes = info.memory * 1024ull;
    const unsigned long long free = virNodeGetFreeMemory(conn);
    out.memory_free_bytes = free;
    virResetLastError();
}

void host_pools(virConnectPtr conn, driver::host_stats& out) {
    virStoragePoolPtr* pools = nullptr;
    const int n =
        virConnectListAllStoragePools(conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
    for (int i = 0; i < n; ++i) {
        pool_ptr p(pools[i]);
        virStoragePoolInfo info{};
        if (virStoragePoolGetInfo(p.get(), &info) != 0) continue;
        out.pools.push_back(
            {virStoragePoolGetName(p.get()), info.capacity, info.allocation, info.available});
    }
    std::free(pools);
    virResetLastError();
}

// Physical interfaces only (those backed by a device): guest taps and bridges would count the
// same bytes twice.
void host_network(driver::host_stats& out) {
    std::ifstream dev("/proc/net/dev");
    std::string line;
    while (std::getline(dev, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        name.erase(0, name.find_first_not_of(' '));
        if (!std::filesystem::exists("/sys/class/net/" + name + "/device")) continue;
        std::istringstream fields(line.substr(colon + 1));
        std::uint64_t v[9] = {};
        for (auto& x : v) fields >> x;
        out.net_rx_bytes += v[0];
        out.net_tx_bytes += v[8];
    }
}

bool is_local(const std::string& uri) {
    const auto scheme_end = uri.find("://");
    return scheme_end != std::string::npos && uri.compare(scheme_end, 4, ":///") == 0;
}

void fill_from_calls(virDomainPtr dom, driver::vm_stats& vm, bool need_info, bool need_block,
                     bool need_net) {
    if (need_info) {
        virDomainInfo info{};
        if (virDomainGetInfo(dom, &info) == 0) {
            vm.cpu_time_ns = info.cpuTime;
            vm.memory_bytes = info.memory * 1024ull;
            vm.max_memory_bytes = info.maxMem * 1024ull;
            vm.vcpus = info.nrVirtCpu;
        }
    }
    if ((!need_block && !need_net) || virDomainIsActive(dom) != 1) {
        virResetLastError();
        return;
    }
    char* xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        virResetLastError();
        return;
    }
    const auto layout = parse_domain_xml(take(xml));
    if (need_block) {
        for (const auto& disk : layout.disks) {
            virDomainBlockStatsStruct b{};
            if (virDomainBlockStats(dom, disk.target.c_str(), &b, sizeof b) != 0) continue;
            vm.disk_read_bytes += b.rd_bytes > 0 ? b.rd_bytes : 0;
            vm.disk_write_bytes += b.wr_bytes > 0 ? b.wr_bytes : 0;
            vm.disk_read_ops += b.rd_req > 0 ? b.rd_req : 0;
            vm.disk_write_ops += b.wr_req > 0 ? b.wr_req : 0;
        }
    }
    if (need_net) {
        for (const auto& nic : layout.nics) {
            virDomainInterfaceStatsStruct s{};
            const std::string& dev = nic.target.empty() ? nic.mac : nic.target;
            if (virDomainInterfaceStats(dom, dev.c_str(), &s, sizeof s) != 0) continue;
            vm.net_rx_bytes += s.rx_bytes > 0 ? s.rx_bytes : 0;
            vm.net_tx_bytes += s.tx_bytes > 0 ? s.tx_bytes : 0;
            vm.net_rx_packets += s.rx_packets > 0 ? s.rx_packets : 0;
            vm.net_tx_packets += s.tx_packets > 0 ? s.tx_packets : 0;
        }
    }
    virResetLastError();
}

driver::vm_stats from_record(virDomainStatsRecordPtr r) {
    driver::vm_stats vm;
    vm.uuid = uuid_of(r->dom);
    vm.name = name_of(r->dom);
    virTypedParameterPtr p = r->params;
    const int n = r->nparams;
    vm.state = domain_state_name(static_cast<int>(number(p, n, "state.state").value_or(0)));
    const auto cpu = number(p, n, "cpu.time");
    const auto balloon = number(p, n, "balloon.current");
    const auto blocks = number(p, n, "block.count");
    const auto nets = number(p, n, "net.count");
    vm.cpu_time_ns = cpu.value_or(0);
    vm.memory_bytes = balloon.value_or(0) * 1024;
    vm.max_memory_bytes = number(p, n, "balloon.maximum").value_or(0) * 1024;
    vm.vcpus = static_cast<std::uint32_t>(number(p, n, "vcpu.current").value_or(0));
    auto sum = [&](const char* group, std::uint64_t count, const char* field) {
        std::uint64_t total = 0;
        for (std::uint64_t i = 0; i < count; ++i) {
            const std::string key = std::string(group) + "." + std::to_string(i) + "." + field;
            total += number(p, n, key.c_str()).value_or(0);
        }
        return total;
    };
    if (blocks) {
        vm.disk_read_bytes = sum("block", *blocks, "rd.bytes");
        vm.disk_write_bytes = sum("block", *blocks, "wr.bytes");
        vm.disk_read_ops = sum("block", *blocks, "rd.reqs");
        vm.disk_write_ops = sum("block", *blocks, "wr.reqs");
    }
    if (nets) {
        vm.net_rx_bytes = sum("net", *nets, "rx.bytes");
        vm.net_tx_bytes = sum("net", *nets, "tx.bytes");
        vm.net_rx_packets = sum("net", *nets, "rx.pkts");
        vm.net_tx_packets = sum("net", *nets, "tx.pkts");
    }
    fill_from_calls(r->dom, vm, !cpu || !balloon, !blocks, !nets);
    return vm;
}

}  // namespace

result<driver::stats_sample> libvirt_driver::stats() {
    auto s = open();
    if (!s) return s.error();
    virConnectPtr conn = (*s)->conn->get();
    driver::stats_sample out;
    out.at = std::chrono::system_clock::now();
    host_cpu(conn, out.host);
    host_memory(conn, out.host);
    host_pools(conn, out.host);
    if (is_local(options_.uri)) host_network(out.host);

    virDomainStatsRecordPtr* records = nullptr;
    const unsigned groups = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                            VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |
                            VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
    const int n = virConnectGetAllDomainStats(conn, groups, &records, 0);
    if (n >= 0) {
        for (int i = 0; i < n; ++i) out.vms.push_back(from_record(records[i]));
        virDomainStatsRecordListFree(records);
        return out;
    }
    if (last_error_code() != VIR_ERR_NO_SUPPORT) return last_error("read VM statistics");
    virResetLastError();
    // No bulk call at all on this connection: one domain at a time.
    virDomainPtr* domains = nullptr;
    const int count = virConnectListAllDomains(conn, &domains, 0);
    if (count < 0) return last_error("list VMs");
    for (int i = 0; i < count; ++i) {
        domain_ptr d(domains[i]);
        driver::vm_stats vm;
        vm.uuid = uuid_of(d.get());
        vm.name = name_of(d.get());
        vm.state = domain_state_name(state_of(d.get()));
        fill_from_calls(d.get(), vm, true, true, true);
        out.vms.push_back(std::move(vm));
    }
    std::free(domains);
    return out;
}

}  // namespace vpsfleet::agent::libvirt
