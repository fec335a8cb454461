// Snapshots, resize, limits, the console ticket, guest-agent access, reinstall and the cloud-init
// seed of the libvirt driver, on test:/// with the host in tests/data/libvirt/host.xml.
#include "agent/driver/process.hpp"
#include "tests/unit/libvirt_test_host.hpp"

#include <filesystem>

using namespace vpsfleet::agent;
using namespace vpsfleet::testing;
using driver::errc;

namespace {

// One file of an ISO 9660 image, read back with isoinfo (Rock Ridge names).
std::string iso_file(const std::string& iso, const std::string& name) {
    return driver::run_process({"isoinfo", "-R", "-i", iso, "-x", "/" + name}).output;
}

struct defined_host : libvirt_test_host {
    defined_host() {
        auto r = driver->define(spec());
        if (!r) throw std::runtime_error(r.error().message);
    }
};

}  // namespace

TEST(libvirt_snapshots, create_list_revert_and_delete) {
    defined_host host;
    auto& d = *host.driver;
    ASSERT_TRUE(d.start("vm1"));
    auto s1 = d.create_snapshot("vm1", "before-upgrade", "kernel 6.1");
    ASSERT_TRUE(s1) << s1.error().message;
    EXPECT_EQ(s1->name, "before-upgrade");
    EXPECT_EQ(s1->description, "kernel 6.1");
    EXPECT_EQ(s1->state, "running");
    EXPECT_GT(s1->created_at, 0);
    ASSERT_TRUE(d.stop("vm1"));
    ASSERT_TRUE(d.create_snapshot("vm1", "after-upgrade", ""));

    auto list = d.list_snapshots("vm1");
    ASSERT_TRUE(list) << list.error().message;
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].name, "before-upgrade");
    EXPECT_EQ((*list)[1].name, "after-upgrade");
    EXPECT_EQ((*list)[1].parent, "before-upgrade");
    EXPECT_TRUE((*list)[1].current);
    EXPECT_EQ((*list)[1].state, "shutoff");

    auto clash = d.create_snapshot("vm1", "before-upgrade", "");
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().code, errc::name_clash);
    auto bad_name = d.create_snapshot("vm1", "../etc", "");
    ASSERT_FALSE(bad_name);
    EXPECT_EQ(bad_name.error().code, errc::invalid_argument);

    // Reverting to a snapshot of the running VM brings it back running.
    auto reverted = d.revert_snapshot("vm1", "before-upgrade");
    ASSERT_TRUE(reverted) << reverted.error().message;
    EXPECT_EQ(reverted->state, "running");

    ASSERT_TRUE(d.delete_snapshot("vm1", "before-upgrade"));
    list = d.list_snapshots("vm1");
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].name, "after-upgrade");

    auto missing = d.revert_snapshot("vm1", "before-upgrade");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, errc::not_found);
    EXPECT_TRUE(contains(missing.error().message, "before-upgrade"));
    EXPECT_EQ(d.delete_snapshot("vm1", "nope").error().code, errc::not_found);
}

TEST(libvirt_resize, a_stopped_vm_takes_new_vcpus_and_memory_beyond_its_ceilings) {
    defined_host host;
    driver::resize_spec spec;
    spec.vcpus = 6;          // above max_vcpus 4
    spec.memory_mib = 8192;  // above max_memory_mib 4096
    auto r = host.driver->resize("vm1", spec);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->pending_restart.empty());
    const auto xml = host.xml("vm1");
    EXPECT_TRUE(contains(xml, "<vcpu placement='static'>6</vcpu>") ||
                contains(xml, "<vcpu placement='static' current='6'>6</vcpu>"))
        << xml;
    EXPECT_TRUE(contains(xml, "<memory unit='KiB'>8388608</memory>")) << xml;
    EXPECT_TRUE(contains(xml, "<currentMemory unit='KiB'>8388608</currentMemory>")) << xml;
}

TEST(libvirt_resize, a_running_vm_changes_live_within_its_ceilings_and_says_what_waits) {
    defined_host host;
    ASSERT_TRUE(host.driver->start("vm1"));
    auto within = host.driver->resize("vm1", {.vcpus = 3, .memory_mib = 1024, .disk_bytes = {}});
    ASSERT_TRUE(within) << within.error().message;
    EXPECT_TRUE(within->pending_restart.empty());
    auto s = host.driver->stats();
    ASSERT_TRUE(s);
    for (const auto& vm : s->vms) {
        if (vm.name == "vm1") {
            EXPECT_EQ(vm.memory_bytes, 1024ull << 20);
        }
    }

    auto beyond = host.driver->resize("vm1", {.vcpus = 8, .memory_mib = {}, .disk_bytes = {}});
    ASSERT_TRUE(beyond) << beyond.error().message;
    ASSERT_EQ(beyond->pending_restart.size(), 1u);
    EXPECT_TRUE(contains(beyond->pending_restart[0], "vcpus")) << beyond->pending_restart[0];
}

TEST(libvirt_resize, disks_only_grow_and_need_room) {
    defined_host host;
    auto shrink = host.driver->resize(
        "vm1", {.vcpus = {}, .memory_mib = {}, .disk_bytes = {{0, 5ull << 30}}});
    ASSERT_FALSE(shrink);
    EXPECT_EQ(shrink.error().code, errc::invalid_argument);
    EXPECT_TRUE(contains(shrink.error().message, "only grow")) << shrink.error().message;

    auto too_big = host.driver->resize(
        "vm1", {.vcpus = {}, .memory_mib = {}, .disk_bytes = {{0, 500ull << 30}}});
    ASSERT_FALSE(too_big);
    EXPECT_EQ(too_big.error().code, errc::pool_full);

    auto no_disk = host.driver->resize(
        "vm1", {.vcpus = {}, .memory_mib = {}, .disk_bytes = {{3, 20ull << 30}}});
    ASSERT_FALSE(no_disk);
    EXPECT_EQ(no_disk.error().code, errc::not_found);

    // test:/// cannot resize volumes; the driver says so in libvirt's words.
    auto grow = host.driver->resize(
        "vm1", {.vcpus = {}, .memory_mib = {}, .disk_bytes = {{0, 20ull << 30}}});
    ASSERT_FALSE(grow);
    EXPECT_EQ(grow.error().code, errc::unsupported);
    EXPECT_TRUE(contains(grow.error().message, "virStorageVolResize")) << grow.error().message;
}

TEST(libvirt_limits, land_in_the_definition_and_live_where_the_hypervisor_can) {
    defined_host host;
    driver::vm_limits limits;
    limits.cpu_percent = 50;
    limits.disk_iops = 500;
    limits.disk_bytes_per_sec = 50'000'000;
    limits.net_in_kib_per_sec = 12'500;
    limits.net_out_kib_per_sec = 6'250;
    auto r = host.driver->set_limits("vm1", limits);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->pending_restart.empty());
    auto xml = host.xml("vm1");
    EXPECT_TRUE(contains(xml, "<quota>50000</quota>")) << xml;
    EXPECT_TRUE(contains(xml, "<period>100000</period>")) << xml;
    EXPECT_TRUE(contains(xml, "<total_iops_sec>500</total_iops_sec>")) << xml;
    EXPECT_TRUE(contains(xml, "<total_bytes_sec>50000000</total_bytes_sec>")) << xml;
    EXPECT_TRUE(contains(xml, "<inbound average='12500'/>")) << xml;
    EXPECT_TRUE(contains(xml, "<outbound average='6250'/>")) << xml;

    // Zero lifts a limit.
    ASSERT_TRUE(host.driver->set_limits("vm1", {.cpu_percent = 0,
                                                .disk_iops = {},
                                                .disk_bytes_per_sec = {},
                                                .net_in_kib_per_sec = 0,
                                                .net_out_kib_per_sec = {}}));
    xml = host.xml("vm1");
    EXPECT_FALSE(contains(xml, "<quota>")) << xml;
    EXPECT_FALSE(contains(xml, "<inbound")) << xml;
    EXPECT_TRUE(contains(xml, "<outbound average='6250'/>")) << xml;
    EXPECT_TRUE(contains(xml, "<total_iops_sec>500</total_iops_sec>")) << xml;

    // Running: disk and network limits apply live; test:/// has no CPU quota, which waits.
    ASSERT_TRUE(host.driver->start("vm1"));
    auto live = host.driver->set_limits("vm1", limits);
    ASSERT_TRUE(live) << live.error().message;
    ASSERT_EQ(live->pending_restart.size(), 1u);
    EXPECT_TRUE(contains(live->pending_restart[0], "cpu_percent")) << live->pending_restart[0];
    EXPECT_TRUE(contains(host.xml("vm1", false), "<inbound average='12500'/>"));

    auto bad = host.driver->set_limits("vm1", {.cpu_percent = 150,
                                               .disk_iops = {},
                                               .disk_bytes_per_sec = {},
                                               .net_in_kib_per_sec = {},
                                               .net_out_kib_per_sec = {}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, errc::invalid_argument);
}

TEST(libvirt_console, needs_a_running_vm_and_says_when_the_hypervisor_cannot_set_a_password) {
    defined_host host;
    auto off = host.driver->console("vm1", std::chrono::seconds(30));
    ASSERT_FALSE(off);
    EXPECT_EQ(off.error().code, errc::invalid_state);
    ASSERT_TRUE(host.driver->start("vm1"));
    // test:/// cannot update a device of a running guest, so no ticket can be issued there; the
    // real-QEMU test covers the ticket itself.
    auto on = host.driver->console("vm1", std::chrono::seconds(30));
    ASSERT_FALSE(on);
    EXPECT_EQ(on.error().code, errc::unsupported);
    EXPECT_TRUE(contains(on.error().message, "virDomainUpdateDeviceFlags")) << on.error().message;
    // A guest defined without VNC has no console at all.
    auto web1 = host.driver->console("web1", std::chrono::seconds(30));
    ASSERT_FALSE(web1);
    EXPECT_EQ(web1.error().code, errc::unsupported);
    EXPECT_TRUE(contains(web1.error().message, "no VNC")) << web1.error().message;
}

TEST(libvirt_guest_agent, sets_passwords_and_refuses_guests_without_an_agent) {
    defined_host host;
    auto off = host.driver->set_password("vm1", "root", "s3cret", false);
    ASSERT_FALSE(off);
    EXPECT_EQ(off.error().code, errc::invalid_state);

    ASSERT_TRUE(host.driver->start("vm1"));
    auto ok = host.driver->set_password("vm1", "root", "$6$salt$hash", true);
    EXPECT_TRUE(ok) << ok.error().message;

    // web1 was defined without a qemu-guest-agent channel.
    auto none = host.driver->set_password("web1", "root", "s3cret", false);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, errc::no_guest_agent);
    EXPECT_TRUE(contains(none.error().message, "qemu-guest-agent")) << none.error().message;
    auto none_keys = host.driver->set_ssh_keys("web1", "root", {"ssh-ed25519 AAAA x"});
    ASSERT_FALSE(none_keys);
    EXPECT_EQ(none_keys.error().code, errc::no_guest_agent);

    // test:/// has no SSH key support at all.
    auto keys = host.driver->set_ssh_keys("vm1", "root", {"ssh-ed25519 AAAA x"});
    ASSERT_FALSE(keys);
    EXPECT_EQ(keys.error().code, errc::unsupported);
}

TEST(libvirt_cloud_init, the_seed_is_an_iso_cloud_init_reads) {
    defined_host host;
    const auto iso = host.driver->seed_path(k_vm_uuid);
    ASSERT_TRUE(std::filesystem::exists(iso));
    const auto info = driver::run_process({"isoinfo", "-d", "-i", iso});
    ASSERT_EQ(info.exit_code, 0) << info.output;
    EXPECT_TRUE(contains(info.output, "Volume id: cidata")) << info.output;

    const auto meta = iso_file(iso, "meta-data");
    EXPECT_TRUE(contains(meta, std::string("instance-id: ") + k_vm_uuid)) << meta;
    EXPECT_TRUE(contains(meta, "local-hostname: vm1.example.net")) << meta;

    const auto user = iso_file(iso, "user-data");
    EXPECT_TRUE(user.starts_with("#cloud-config\n")) << user;
    EXPECT_TRUE(contains(user, "hostname: vm1.example.net")) << user;
    EXPECT_TRUE(contains(user, "name: alice")) << user;
    EXPECT_TRUE(contains(user, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld alice@laptop")) << user;
    EXPECT_TRUE(contains(user, "passwd: $6$salt$hash")) << user;
    EXPECT_TRUE(contains(user, "ssh_pwauth: true")) << user;

    const auto net = iso_file(iso, "network-config");
    EXPECT_TRUE(contains(net, "version: 2")) << net;
    EXPECT_TRUE(contains(net, "macaddress: 52:54:00:12:34:56")) << net;
    EXPECT_TRUE(contains(net, "203.0.113.10/24")) << net;
    EXPECT_TRUE(contains(net, "via: 203.0.113.1")) << net;
    EXPECT_TRUE(contains(net, "2001:db8::10/64")) << net;
    EXPECT_TRUE(contains(net, "dhcp4: false")) << net;
    EXPECT_TRUE(contains(net, "9.9.9.9")) << net;
}

TEST(libvirt_cloud_init, extra_user_data_travels_as_a_second_mime_part) {
    libvirt_test_host host;
    auto spec = libvirt_test_host::spec();
    spec.cloud_init->user_data = "#!/bin/sh\necho hello > /root/hello\n";
    ASSERT_TRUE(host.driver->define(spec));
    const auto user = iso_file(host.driver->seed_path(k_vm_uuid), "user-data");
    EXPECT_TRUE(contains(user, "Content-Type: multipart/mixed")) << user;
    EXPECT_TRUE(contains(user, "Content-Type: text/cloud-config")) << user;
    EXPECT_TRUE(contains(user, "Content-Type: text/x-shellscript")) << user;
    EXPECT_TRUE(contains(user, "echo hello > /root/hello")) << user;
}

TEST(libvirt_reinstall, builds_a_new_root_disk_and_keeps_mac_and_addresses) {
    defined_host host;
    auto& d = *host.driver;
    ASSERT_TRUE(d.start("vm1"));
    ASSERT_TRUE(d.create_snapshot("vm1", "old", ""));
    const std::string root = std::string(k_vm_uuid) + "-disk0.qcow2";

    driver::reinstall_spec spec;
    spec.image = {"images", "ubuntu-24.04.qcow2"};
    driver::cloud_init_spec ci;
    driver::user_spec bob;
    bob.name = "bob";
    bob.ssh_keys = {"ssh-ed25519 AAAAnew bob@desk"};
    ci.users.push_back(bob);
    spec.cloud_init = ci;
    auto r = d.reinstall("vm1", spec);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->state, "running");

    const auto vol = host.volume_xml("vms", root);
    EXPECT_TRUE(contains(vol, "ubuntu-24.04.qcow2")) << vol;
    EXPECT_TRUE(contains(vol, "<capacity unit='bytes'>10737418240</capacity>")) << vol;
    EXPECT_TRUE(contains(host.xml("vm1"), "<mac address='52:54:00:12:34:56'/>"));
    auto snaps = d.list_snapshots("vm1");
    ASSERT_TRUE(snaps);
    EXPECT_TRUE(snaps->empty()) << "snapshots of the old disk survived";

    const auto iso = d.seed_path(k_vm_uuid);
    const auto net = iso_file(iso, "network-config");
    EXPECT_TRUE(contains(net, "macaddress: 52:54:00:12:34:56")) << net;
    EXPECT_TRUE(contains(net, "203.0.113.10/24")) << net;
    EXPECT_TRUE(contains(net, "2001:db8::10/64")) << net;
    const auto user = iso_file(iso, "user-data");
    EXPECT_TRUE(contains(user, "ssh-ed25519 AAAAnew bob@desk")) << user;
    EXPECT_FALSE(contains(user, "alice")) << user;
    EXPECT_TRUE(contains(iso_file(iso, "meta-data"), "local-hostname: vm1.example.net"));

    auto missing = d.reinstall("vm1", {.image = {"images", "nope.qcow2"},
                                       .clone = driver::clone_mode::overlay,
                                       .size_bytes = {},
                                       .cloud_init = {},
                                       .start = true});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, errc::not_found);
    EXPECT_TRUE(host.volume_exists("vms", root)) << "a refused reinstall destroyed the disk";
}
