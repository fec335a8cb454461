#include "coordinator/scheduler/placement.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace vpsfleet::scheduler;

namespace {

constexpr std::int64_t k_gib = 1024LL * 1024 * 1024;

// An empty, enabled, online host in region 1 with 16 cores, 64 GiB and one 1000 GiB pcie SSD.
candidate_host host(std::int64_t id, std::int64_t region = 1) {
    candidate_host h;
    h.id = id;
    h.region_id = region;
    h.cpu = 16;
    h.memory = 64 * k_gib;
    h.disks.push_back({id * 10, disk_kind::ssd, disk_interface::pcie, true, 1000 * k_gib, 0});
    return h;
}

placement_request small(std::optional<std::int64_t> region = std::nullopt) {
    placement_request r;
    r.region_id = region;
    r.vcpus = 2;
    r.memory = 4 * k_gib;
    r.disk = 40 * k_gib;
    return r;
}

std::int64_t chosen_host(const std::vector<candidate_host>& hosts, const placement_request& r) {
    const auto result = choose_placement(hosts, r);
    const auto* p = std::get_if<placement>(&result);
    return p ? p->host_id : -1;
}

no_fit refusal(const std::vector<candidate_host>& hosts, const placement_request& r) {
    const auto result = choose_placement(hosts, r);
    EXPECT_TRUE(std::holds_alternative<no_fit>(result));
    return std::holds_alternative<no_fit>(result) ? std::get<no_fit>(result) : no_fit{};
}

}  // namespace

TEST(scheduler, takes_only_enabled_online_hosts_in_enabled_regions) {
    std::vector<candidate_host> hosts;
    for (std::int64_t id = 1; id <= 5; ++id) hosts.push_back(host(id));
    hosts[0].enabled = false;
    hosts[1].state = link_state::unreachable;
    hosts[2].state = link_state::pending;
    hosts[3].region_enabled = false;
    // The one host left is the busiest, and still the only choice.
    hosts[4].used_cpu = 12;
    EXPECT_EQ(chosen_host(hosts, small()), 5);

    hosts[4].state = link_state::down;
    const auto why = refusal(hosts, small());
    EXPECT_EQ(why.reason, no_fit_reason::no_available_host);
    EXPECT_EQ(describe(why, small()), "no enabled, online host in the fleet");
}

TEST(scheduler, keeps_to_the_requested_region) {
    std::vector<candidate_host> hosts{host(1, 1), host(2, 2), host(3, 2)};
    hosts[1].used_memory = 32 * k_gib;  // host 2 is busier than host 3
    hosts[0].used_cpu = 0;
    EXPECT_EQ(chosen_host(hosts, small(2)), 3);
    EXPECT_EQ(chosen_host(hosts, small(1)), 1);
    EXPECT_EQ(refusal(hosts, small(7)).reason, no_fit_reason::no_host_in_region);
    EXPECT_EQ(refusal({}, small()).reason, no_fit_reason::no_host_in_region);
}

TEST(scheduler, picks_the_least_loaded_host_that_fits) {
    std::vector<candidate_host> hosts{host(1), host(2), host(3)};
    hosts[0].used_cpu = 8;  // 50 % cpu
    hosts[1].used_cpu = 4;  // 25 % cpu
    hosts[2].cpu = 1;       // empty, so the least loaded, but too small for 2 vCPUs
    EXPECT_EQ(chosen_host(hosts, small()), 2);
}

TEST(scheduler, counts_disk_load_in_the_host_load) {
    std::vector<candidate_host> hosts{host(1), host(2)};
    hosts[0].disks[0].used = 500 * k_gib;
    EXPECT_EQ(chosen_host(hosts, small()), 2);
}

TEST(scheduler, breaks_ties_by_lowest_host_id_whatever_the_input_order) {
    std::vector<candidate_host> hosts{host(7), host(3), host(5)};
    EXPECT_EQ(chosen_host(hosts, small()), 3);
    std::vector<candidate_host> reversed{host(5), host(3), host(7)};
    EXPECT_EQ(chosen_host(reversed, small()), 3);
}

TEST(scheduler, applies_load_factors_as_overcommit_ratios) {
    std::vector<candidate_host> hosts{host(1)};
    auto& h = hosts[0];
    h.cpu = 4;
    h.load.cpu_milli = 2000;  // 4 cores sell as 8 vCPUs
    h.used_cpu = 6;
    EXPECT_EQ(chosen_host(hosts, small()), 1);
    h.used_cpu = 7;
    EXPECT_EQ(refusal(hosts, small()).reason, no_fit_reason::insufficient_cpu);

    h.used_cpu = 0;
    h.memory = 8 * k_gib;
    h.load.memory_milli = 1500;  // 12 GiB to sell
    h.used_memory = 8 * k_gib;
    EXPECT_EQ(chosen_host(hosts, small()), 1);
    h.used_memory = 9 * k_gib;
    EXPECT_EQ(refusal(hosts, small()).reason, no_fit_reason::insufficient_memory);

    h.used_memory = 0;
    h.disks[0].size = 100 * k_gib;
    h.disks[0].used = 60 * k_gib;
    h.load.disk_milli = 500;  // thin-provisioning the other way: only half the disk is sold
    EXPECT_EQ(refusal(hosts, small()).reason, no_fit_reason::insufficient_disk);
    h.load.disk_milli = 1000;
    EXPECT_EQ(chosen_host(hosts, small()), 1);
}

TEST(scheduler, rounds_fractional_capacity_down_exactly) {
    // 100 cores at 0.29 are 29 vCPUs; a double product would give 28.999... and sell only 28.
    EXPECT_EQ(overcommitted(100, 290), 29);
    EXPECT_EQ(overcommitted(3, 1100), 3);
    EXPECT_EQ(overcommitted(10, 1100), 11);
    // 16 TiB of memory at the largest numeric(6,3) ratio does not overflow.
    const std::int64_t tib16 = 16LL << 40;
    EXPECT_EQ(overcommitted(tib16, 999'999),
              (tib16 / 1000) * 999'999 + (tib16 % 1000) * 999'999 / 1000);
    EXPECT_GT(overcommitted(tib16, 999'999), tib16 * 999);

    std::vector<candidate_host> hosts{host(1)};
    hosts[0].cpu = 100;
    hosts[0].load.cpu_milli = 290;
    hosts[0].used_cpu = 27;
    EXPECT_EQ(chosen_host(hosts, small()), 1);  // 27 + 2 = 29
    hosts[0].used_cpu = 28;
    EXPECT_EQ(refusal(hosts, small()).reason, no_fit_reason::insufficient_cpu);
}

TEST(scheduler, calculated_load_is_the_lnvps_one) {
    auto h = host(1);
    h.cpu = 8;
    h.load.cpu_milli = 2000;
    h.used_cpu = 4;  // 4 of 16
    h.memory = 16 * k_gib;
    h.used_memory = 8 * k_gib;  // 8 of 16
    h.disks[0].size = 100 * k_gib;
    h.disks[0].used = 100 * k_gib;
    h.disks.push_back({2, disk_kind::hdd, disk_interface::sata, true, 100 * k_gib, 0});
    h.disks.push_back({3, disk_kind::hdd, disk_interface::sata, false, 100 * k_gib, 0});
    h.allocations = 3;
    const auto load = calculate_load(h);
    EXPECT_DOUBLE_EQ(load.cpu_load, 0.25);
    EXPECT_DOUBLE_EQ(load.memory_load, 0.5);
    EXPECT_DOUBLE_EQ(load.disk_load, 0.5);  // (1 + 0) / 2: the disabled disk does not count
    EXPECT_DOUBLE_EQ(load.overall_load, (0.25 + 0.5 + 0.5) / 3);
    EXPECT_EQ(load.available_cpu, 12);
    EXPECT_EQ(load.available_memory, 8 * k_gib);
    EXPECT_EQ(load.active_vms, 3);

    h.used_cpu = 20;  // load factor lowered below what is already placed
    EXPECT_EQ(calculate_load(h).available_cpu, 0);
}

TEST(scheduler, requires_the_requested_disk_kind_and_interface) {
    std::vector<candidate_host> hosts{host(1), host(2)};
    hosts[0].disks[0].kind = disk_kind::hdd;
    hosts[0].disks[0].interface = disk_interface::sata;
    hosts[1].used_cpu = 8;  // busier, but the only one with an SSD

    auto r = small();
    r.kind = disk_kind::ssd;
    EXPECT_EQ(chosen_host(hosts, r), 2);
    r.kind = disk_kind::hdd;
    EXPECT_EQ(chosen_host(hosts, r), 1);
    r.kind.reset();
    EXPECT_EQ(chosen_host(hosts, r), 1);

    r.kind = disk_kind::ssd;
    r.interface = disk_interface::scsi;
    const auto why = refusal(hosts, r);
    EXPECT_EQ(why.reason, no_fit_reason::no_matching_disk);
    EXPECT_EQ(describe(why, r), "no available host in the fleet has an enabled ssd/scsi disk");

    hosts[1].disks[0].enabled = false;
    r.interface.reset();
    EXPECT_EQ(refusal(hosts, r).reason, no_fit_reason::no_matching_disk);
}

TEST(scheduler, chooses_the_least_loaded_disk_with_room) {
    std::vector<candidate_host> hosts{host(1)};
    auto& disks = hosts[0].disks;
    disks.clear();
    disks.push_back({11, disk_kind::ssd, disk_interface::pcie, true, 100 * k_gib, 30 * k_gib});
    disks.push_back({12, disk_kind::ssd, disk_interface::pcie, true, 100 * k_gib, 10 * k_gib});
    disks.push_back({13, disk_kind::ssd, disk_interface::pcie, false, 100 * k_gib, 0});
    disks.push_back({14, disk_kind::hdd, disk_interface::pcie, true, 100 * k_gib, 0});
    auto r = small();
    r.kind = disk_kind::ssd;
    auto result = choose_placement(hosts, r);
    ASSERT_TRUE(std::holds_alternative<placement>(result));
    EXPECT_EQ(std::get<placement>(result).disk_id, 12);

    // The emptier disk has less room than asked for in absolute terms: the other one is used.
    disks[1].size = 20 * k_gib;
    disks[1].used = 0;
    result = choose_placement(hosts, r);
    ASSERT_TRUE(std::holds_alternative<placement>(result));
    EXPECT_EQ(std::get<placement>(result).disk_id, 11);

    // Equal load: lowest disk id.
    disks[1] = {10, disk_kind::ssd, disk_interface::pcie, true, 100 * k_gib, 30 * k_gib};
    result = choose_placement(hosts, r);
    ASSERT_TRUE(std::holds_alternative<placement>(result));
    EXPECT_EQ(std::get<placement>(result).disk_id, 10);
}

TEST(scheduler, names_the_resource_most_full_hosts_lack) {
    std::vector<candidate_host> hosts{host(1), host(2), host(3)};
    hosts[0].used_cpu = 16;
    hosts[1].used_cpu = 15;
    hosts[2].used_memory = 63 * k_gib;
    auto why = refusal(hosts, small());
    EXPECT_EQ(why.reason, no_fit_reason::insufficient_cpu);
    EXPECT_EQ(why.hosts_checked, 3);
    EXPECT_EQ(why.short_of_cpu, 2);
    EXPECT_EQ(why.short_of_memory, 1);
    EXPECT_EQ(why.short_of_disk, 0);
    EXPECT_EQ(describe(why, small()),
              "no host in the fleet has 2 free vCPUs (2 of 3 hosts are short)");

    for (auto& h : hosts) h.used_cpu = 0, h.used_memory = 61 * k_gib;
    EXPECT_EQ(refusal(hosts, small()).reason, no_fit_reason::insufficient_memory);

    for (auto& h : hosts) h.used_memory = 0, h.disks[0].used = 990 * k_gib;
    why = refusal(hosts, small());
    EXPECT_EQ(why.reason, no_fit_reason::insufficient_disk);
    EXPECT_EQ(why.short_of_disk, 3);
}

TEST(scheduler, refuses_requests_without_resources) {
    std::vector<candidate_host> hosts{host(1)};
    for (auto field :
         {&placement_request::vcpus, &placement_request::memory, &placement_request::disk}) {
        auto r = small();
        r.*field = 0;
        EXPECT_EQ(refusal(hosts, r).reason, no_fit_reason::invalid_request);
    }
}

TEST(scheduler, parses_the_database_words) {
    EXPECT_EQ(parse_link_state("online"), link_state::online);
    EXPECT_EQ(parse_link_state("gone"), std::nullopt);
    EXPECT_EQ(parse_disk_kind("hdd"), disk_kind::hdd);
    EXPECT_EQ(parse_disk_kind("nvme"), std::nullopt);
    EXPECT_EQ(parse_disk_interface("scsi"), disk_interface::scsi);
    EXPECT_EQ(to_string(no_fit_reason::insufficient_disk), std::string("insufficient_disk"));
}

TEST(scheduler, ranks_the_hosts_that_fit_as_the_choice_does) {
    std::vector<candidate_host> hosts{host(6), host(2), host(4), host(3), host(5), host(1)};
    hosts[0].used_cpu = 8;             // 6: half its cpu
    hosts[1].used_memory = 8 * k_gib;  // 2: an eighth of its memory
    hosts[2].used_cpu = 15;            // 4: one vCPU left, too few
    hosts[3].enabled = false;          // 3
    // 5 and 1 are empty: equally loaded, so 1 comes first.
    const auto ranked = rank_placements(hosts, small());
    std::vector<std::int64_t> order;
    for (const auto& p : ranked) order.push_back(p.host_id);
    EXPECT_EQ(order, (std::vector<std::int64_t>{1, 5, 2, 6}));
    EXPECT_EQ(ranked[0].disk_id, 10);
    EXPECT_EQ(chosen_host(hosts, small()), order.front());

    // Without its best host, the choice is the next one ranked.
    hosts.pop_back();
    EXPECT_EQ(chosen_host(hosts, small()), 5);

    EXPECT_TRUE(rank_placements(hosts, small(9)).empty());
    auto none = small();
    none.vcpus = 0;
    EXPECT_TRUE(rank_placements(hosts, none).empty());
}
