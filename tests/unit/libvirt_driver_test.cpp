// The libvirt driver's define, power actions, undefine, inventory, stats and events, and each of
// their error paths, on test:/// with the host in tests/data/libvirt/host.xml.
#include "tests/unit/libvirt_test_host.hpp"

#include <condition_variable>
#include <filesystem>
#include <mutex>

using namespace vpsfleet::agent;
using namespace vpsfleet::testing;
using driver::errc;

namespace {

std::optional<driver::vm_status> find_vm(driver::hypervisor& h, const std::string& name) {
    auto inv = h.inventory();
    if (!inv) return std::nullopt;
    for (const auto& vm : *inv)
        if (vm.name == name) return vm;
    return std::nullopt;
}

const std::string k_root = std::string(k_vm_uuid) + "-disk0.qcow2";

}  // namespace

TEST(libvirt_driver, define_builds_the_domain_its_root_overlay_and_its_seed) {
    libvirt_test_host host;
    auto defined = host.driver->define(libvirt_test_host::spec());
    ASSERT_TRUE(defined) << defined.error().message;
    EXPECT_EQ(defined->uuid, k_vm_uuid);
    EXPECT_EQ(defined->name, "vm1");
    EXPECT_EQ(defined->state, "shutoff");
    EXPECT_EQ(defined->config_hash.size(), 64u);

    // The root disk is a 10 GiB qcow2 overlay backed by the image.
    const auto vol = host.volume_xml("vms", k_root);
    ASSERT_FALSE(vol.empty()) << "root volume missing";
    EXPECT_TRUE(contains(vol, "<capacity unit='bytes'>10737418240</capacity>")) << vol;
    EXPECT_TRUE(contains(vol, "/var/lib/vpsfleet/images/debian-12.qcow2")) << vol;

    const auto xml = host.xml("vm1");
    EXPECT_TRUE(contains(xml, "<source pool='vms' volume='" + k_root + "'/>")) << xml;
    EXPECT_TRUE(contains(xml, "<mac address='52:54:00:12:34:56'/>")) << xml;
    EXPECT_TRUE(contains(xml, "<vcpu placement='static' current='2'>4</vcpu>")) << xml;
    EXPECT_TRUE(contains(xml, "<memory unit='KiB'>4194304</memory>")) << xml;
    EXPECT_TRUE(contains(xml, "<currentMemory unit='KiB'>2097152</currentMemory>")) << xml;
    EXPECT_TRUE(contains(xml, "org.qemu.guest_agent.0")) << xml;
    EXPECT_TRUE(contains(xml, "<graphics type='vnc'")) << xml;
    EXPECT_TRUE(contains(xml, host.driver->seed_path(k_vm_uuid))) << xml;
    EXPECT_TRUE(std::filesystem::exists(host.driver->seed_path(k_vm_uuid)));

    auto listed = find_vm(*host.driver, "vm1");
    ASSERT_TRUE(listed);
    EXPECT_EQ(*listed, *defined);
}

TEST(libvirt_driver, define_of_a_known_uuid_updates_it_and_keeps_its_disk_and_mac) {
    libvirt_test_host host;
    auto spec = libvirt_test_host::spec();
    spec.nics[0].mac.clear();  // generated
    auto first = host.driver->define(spec);
    ASSERT_TRUE(first) << first.error().message;
    const auto mac_line = [&] {
        const auto xml = host.xml("vm1");
        const auto at = xml.find("<mac address='");
        return xml.substr(at, 33);
    }();
    EXPECT_TRUE(contains(mac_line, "52:54:00:")) << mac_line;

    spec.memory_mib = 3072;
    auto second = host.driver->define(spec);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(second->uuid, first->uuid);
    EXPECT_NE(second->config_hash, first->config_hash);
    EXPECT_TRUE(contains(host.xml("vm1"), "<currentMemory unit='KiB'>3145728</currentMemory>"));
    EXPECT_TRUE(contains(host.xml("vm1"), mac_line)) << "the MAC changed on update";
    EXPECT_TRUE(host.volume_exists("vms", k_root));
    auto inv = host.driver->inventory();
    ASSERT_TRUE(inv);
    EXPECT_EQ(std::count_if(inv->begin(), inv->end(),
                            [](const auto& vm) { return vm.uuid == k_vm_uuid; }),
              1);
}

TEST(libvirt_driver, define_refuses_a_name_another_vm_has) {
    libvirt_test_host host;
    auto r = host.driver->define(libvirt_test_host::spec("web1"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::name_clash);
    EXPECT_TRUE(contains(r.error().message, "web1")) << r.error().message;
    EXPECT_FALSE(host.volume_exists("vms", k_root)) << "a refused define left a disk behind";
}

TEST(libvirt_driver, define_refuses_a_disk_the_pool_has_no_room_for) {
    libvirt_test_host host;
    auto spec = libvirt_test_host::spec();
    spec.disks[0].pool = "small";  // 5 GiB free
    spec.disks[0].size_bytes = 20ull << 30;
    auto r = host.driver->define(spec);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::pool_full);
    EXPECT_TRUE(contains(r.error().message, "small")) << r.error().message;
    EXPECT_FALSE(find_vm(*host.driver, "vm1"));

    // A second disk that does not fit takes back the first, already created.
    auto two = libvirt_test_host::spec();
    two.disks.push_back(spec.disks[0]);
    auto refused = host.driver->define(two);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, errc::pool_full);
    EXPECT_FALSE(host.volume_exists("vms", k_root)) << "the refused define left its root disk";

    spec.disks[0].size_bytes = 4ull << 30;
    auto fits = host.driver->define(spec);
    EXPECT_TRUE(fits) << fits.error().message;
}

TEST(libvirt_driver, define_reports_missing_images_pools_and_bad_specs) {
    libvirt_test_host host;
    auto spec = libvirt_test_host::spec();
    spec.disks[0].image->volume = "windows-95.qcow2";
    auto no_image = host.driver->define(spec);
    ASSERT_FALSE(no_image);
    EXPECT_EQ(no_image.error().code, errc::not_found);
    EXPECT_TRUE(contains(no_image.error().message, "windows-95.qcow2"));

    spec = libvirt_test_host::spec();
    spec.disks[0].pool = "nowhere";
    auto no_pool = host.driver->define(spec);
    ASSERT_FALSE(no_pool);
    EXPECT_EQ(no_pool.error().code, errc::not_found);

    spec = libvirt_test_host::spec();
    spec.uuid = "not-a-uuid";
    auto bad = host.driver->define(spec);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, errc::invalid_argument);
    EXPECT_TRUE(contains(bad.error().message, "uuid"));

    spec = libvirt_test_host::spec();
    spec.nics[0].mac = "01:00:5e:00:00:01";  // multicast
    auto bad_mac = host.driver->define(spec);
    ASSERT_FALSE(bad_mac);
    EXPECT_EQ(bad_mac.error().code, errc::invalid_argument);
}

TEST(libvirt_driver, full_copy_of_an_image_makes_an_independent_volume) {
    libvirt_test_host host;
    auto spec = libvirt_test_host::spec();
    spec.disks[0].image = driver::image_ref{"vms", "alpine-3.19.qcow2"};
    spec.disks[0].clone = driver::clone_mode::copy;
    auto r = host.driver->define(spec);
    ASSERT_TRUE(r) << r.error().message;
    const auto vol = host.volume_xml("vms", k_root);
    EXPECT_FALSE(contains(vol, "<backingStore>")) << vol;
    EXPECT_TRUE(contains(vol, "<capacity unit='bytes'>10737418240</capacity>")) << vol;
}

TEST(libvirt_driver, power_actions_follow_the_lifecycle_and_are_idempotent) {
    libvirt_test_host host;
    auto& d = *host.driver;
    ASSERT_TRUE(d.define(libvirt_test_host::spec()));

    auto reboot_off = d.reboot("vm1");
    ASSERT_FALSE(reboot_off);
    EXPECT_EQ(reboot_off.error().code, errc::invalid_state);
    EXPECT_EQ(d.reset("vm1").error().code, errc::invalid_state);

    auto started = d.start("vm1");
    ASSERT_TRUE(started) << started.error().message;
    EXPECT_EQ(started->state, "running");
    auto again = d.start(k_vm_uuid);  // by UUID, and already running
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->state, "running");

    auto rebooted = d.reboot("vm1");
    ASSERT_TRUE(rebooted) << rebooted.error().message;
    EXPECT_EQ(rebooted->state, "running");
    auto reset = d.reset("vm1");
    ASSERT_TRUE(reset) << reset.error().message;
    EXPECT_EQ(reset->state, "running");

    auto down = d.shutdown("vm1", std::chrono::seconds(5));
    ASSERT_TRUE(down) << down.error().message;
    EXPECT_EQ(down->vm.state, "shutoff");
    EXPECT_FALSE(down->forced) << "test:/// guests obey ACPI at once";
    auto down_again = d.shutdown("vm1", std::chrono::seconds(5));
    ASSERT_TRUE(down_again);
    EXPECT_EQ(down_again->vm.state, "shutoff");

    ASSERT_TRUE(d.start("vm1"));
    auto stopped = d.stop("vm1");
    ASSERT_TRUE(stopped) << stopped.error().message;
    EXPECT_EQ(stopped->state, "shutoff");
    auto stopped_again = d.stop("vm1");
    ASSERT_TRUE(stopped_again);
    EXPECT_EQ(stopped_again->state, "shutoff");
}

TEST(libvirt_driver, undefine_removes_the_vm_its_volumes_and_its_seed) {
    libvirt_test_host host;
    auto& d = *host.driver;
    ASSERT_TRUE(d.define(libvirt_test_host::spec()));
    ASSERT_TRUE(d.start("vm1"));
    ASSERT_TRUE(d.create_snapshot("vm1", "before", ""));
    auto gone = d.undefine("vm1", false);
    ASSERT_TRUE(gone) << gone.error().message;
    EXPECT_FALSE(find_vm(d, "vm1"));
    EXPECT_FALSE(host.volume_exists("vms", k_root));
    EXPECT_FALSE(std::filesystem::exists(d.seed_path(k_vm_uuid)));
    // The image it was built from stays.
    EXPECT_TRUE(host.volume_exists("images", "debian-12.qcow2"));

    auto again = d.undefine("vm1", false);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, errc::not_found);
}

TEST(libvirt_driver, undefine_can_keep_the_volumes) {
    libvirt_test_host host;
    ASSERT_TRUE(host.driver->define(libvirt_test_host::spec()));
    ASSERT_TRUE(host.driver->undefine(k_vm_uuid, true));
    EXPECT_FALSE(find_vm(*host.driver, "vm1"));
    EXPECT_TRUE(host.volume_exists("vms", k_root));
}

TEST(libvirt_driver, every_operation_on_an_unknown_vm_says_not_found) {
    libvirt_test_host host;
    auto& d = *host.driver;
    const std::string vm = "ghost";
    auto check = [&](const char* what, const auto& r) {
        ASSERT_FALSE(r) << what << " succeeded on an unknown VM";
        EXPECT_EQ(r.error().code, errc::not_found) << what << ": " << r.error().message;
        EXPECT_TRUE(contains(r.error().message, vm)) << what << ": " << r.error().message;
    };
    check("start", d.start(vm));
    check("stop", d.stop(vm));
    check("shutdown", d.shutdown(vm, std::chrono::seconds(1)));
    check("reboot", d.reboot(vm));
    check("reset", d.reset(vm));
    check("undefine", d.undefine(vm, false));
    check("resize", d.resize(vm, {}));
    check("reinstall", d.reinstall(vm, {}));
    check("limits", d.set_limits(vm, {}));
    check("snapshot", d.create_snapshot(vm, "s", ""));
    check("snapshots", d.list_snapshots(vm));
    check("revert", d.revert_snapshot(vm, "s"));
    check("delete snapshot", d.delete_snapshot(vm, "s"));
    check("console", d.console(vm, std::chrono::seconds(30)));
    check("password", d.set_password(vm, "root", "pw", false));
    check("ssh keys", d.set_ssh_keys(vm, "root", {}));
}

TEST(libvirt_driver, an_unreachable_hypervisor_is_unavailable_not_a_crash) {
    libvirt::libvirt_options options;
    options.uri = "test:///nonexistent/host.xml";
    libvirt::libvirt_driver d(options);
    auto r = d.inventory();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::unavailable);
    EXPECT_TRUE(contains(r.error().message, "nonexistent")) << r.error().message;
    EXPECT_EQ(d.start("vm1").error().code, errc::unavailable);
}

TEST(libvirt_driver, inventory_lists_every_domain_with_state_and_config_hash) {
    libvirt_test_host host;
    ASSERT_TRUE(host.driver->define(libvirt_test_host::spec()));
    auto inv = host.driver->inventory();
    ASSERT_TRUE(inv) << inv.error().message;
    std::map<std::string, driver::vm_status> by_name;
    for (const auto& vm : *inv) by_name[vm.name] = vm;
    ASSERT_EQ(by_name.size(), 3u);
    EXPECT_EQ(by_name["web1"].state, "running");
    EXPECT_EQ(by_name["web1"].uuid, k_web1_uuid);
    EXPECT_EQ(by_name["db1"].state, "shutoff");
    EXPECT_EQ(by_name["vm1"].state, "shutoff");
    EXPECT_NE(by_name["web1"].config_hash, by_name["db1"].config_hash);

    // The hash follows the definition, not the power state.
    const auto before = by_name["vm1"].config_hash;
    ASSERT_TRUE(host.driver->start("vm1"));
    EXPECT_EQ(find_vm(*host.driver, "vm1")->config_hash, before);
    ASSERT_TRUE(host.driver->resize("vm1", {.vcpus = 3, .memory_mib = {}, .disk_bytes = {}}));
    EXPECT_NE(find_vm(*host.driver, "vm1")->config_hash, before);
}

TEST(libvirt_driver, stats_cover_the_host_and_every_vm) {
    libvirt_test_host host;
    ASSERT_TRUE(host.driver->define(libvirt_test_host::spec()));
    ASSERT_TRUE(host.driver->start("vm1"));
    auto s = host.driver->stats();
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->host.memory_total_bytes, 16ull << 30);
    EXPECT_LE(s->host.memory_free_bytes, s->host.memory_total_bytes);
    std::map<std::string, driver::pool_stats> pools;
    for (const auto& p : s->host.pools) pools[p.name] = p;
    ASSERT_EQ(pools.size(), 3u);
    EXPECT_EQ(pools["small"].capacity_bytes, 100ull << 30);  // test:/// sizes every pool so
    EXPECT_EQ(pools["small"].available_bytes, 5ull << 30);
    EXPECT_EQ(pools["vms"].allocation_bytes, 200ull << 20);  // the image it holds

    std::map<std::string, driver::vm_stats> vms;
    for (const auto& vm : s->vms) vms[vm.name] = vm;
    ASSERT_EQ(vms.size(), 3u);
    const auto& vm1 = vms["vm1"];
    EXPECT_EQ(vm1.uuid, k_vm_uuid);
    EXPECT_EQ(vm1.state, "running");
    EXPECT_EQ(vm1.vcpus, 2u);
    EXPECT_EQ(vm1.memory_bytes, 2048ull << 20);
    EXPECT_EQ(vm1.max_memory_bytes, 4096ull << 20);
    EXPECT_GT(vm1.cpu_time_ns, 0u);
    // test:/// makes up I/O counters for running guests; what matters is that they arrive.
    EXPECT_GT(vm1.disk_read_bytes, 0u);
    EXPECT_GT(vm1.disk_write_ops, 0u);
    EXPECT_GT(vm1.net_rx_bytes, 0u);
    EXPECT_GT(vm1.net_tx_packets, 0u);
    EXPECT_EQ(vms["db1"].state, "shutoff");
    EXPECT_EQ(vms["db1"].disk_read_bytes, 0u);
}

TEST(libvirt_driver, lifecycle_events_arrive_from_the_event_loop) {
    libvirt_test_host host;
    std::mutex m;
    std::condition_variable cv;
    std::vector<driver::vm_event> seen;
    host.driver->on_event([&](const driver::vm_event& e) {
        std::lock_guard lock(m);
        seen.push_back(e);
        cv.notify_all();
    });
    auto wait_for = [&](const std::string& event) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, std::chrono::seconds(5), [&] {
            return std::any_of(seen.begin(), seen.end(), [&](const auto& e) {
                return e.event == event && e.uuid == k_vm_uuid;
            });
        });
    };
    ASSERT_TRUE(host.driver->define(libvirt_test_host::spec()));
    EXPECT_TRUE(wait_for("defined"));
    ASSERT_TRUE(host.driver->start("vm1"));
    ASSERT_TRUE(wait_for("started"));
    ASSERT_TRUE(host.driver->stop("vm1"));
    ASSERT_TRUE(wait_for("stopped"));
    ASSERT_TRUE(host.driver->undefine("vm1", false));
    ASSERT_TRUE(wait_for("undefined"));
    std::lock_guard lock(m);
    for (const auto& e : seen) {
        if (e.uuid != k_vm_uuid) continue;
        EXPECT_EQ(e.name, "vm1");
        if (e.event == "started") {
            EXPECT_EQ(e.state, "running");
            EXPECT_EQ(e.detail, "booted");
        }
        if (e.event == "stopped") {
            EXPECT_EQ(e.state, "shutoff");
            EXPECT_EQ(e.detail, "destroyed");
        }
    }
}
