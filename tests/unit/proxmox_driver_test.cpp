// What only the Proxmox VE driver does, against the fake PVE node: the wire it writes (clones,
// cloud-init settings, UUID in smbios1), task failures, credentials, a node that goes away.
#include "agent/driver/proxmox/proxmox_driver.hpp"
#include "agent/driver/validate.hpp"
#include "tests/fakes/fake_proxmox.hpp"
#include "tests/support/http_client.hpp"
#include "tests/unit/libvirt_test_host.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <future>
#include <thread>

namespace vpsfleet::testing {
namespace {

using namespace agent;
using driver::errc;
using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

fake_proxmox_options quick() {
    fake_proxmox_options o;
    o.task_duration = 20ms;
    return o;
}

proxmox::proxmox_options options_for(const fake_proxmox& pve) {
    proxmox::proxmox_options o;
    o.url = pve.url();
    o.node = pve.node();
    o.token_id = pve.token_id();
    o.token_secret = pve.token_secret();
    o.ca_pem = pve.ca_pem();
    o.task_poll = 10ms;
    o.request_timeout = 3s;
    o.task_timeout = 5s;
    return o;
}

driver::vm_spec pve_spec(const std::string& name = "vm1", const std::string& uuid = k_vm_uuid) {
    auto s = libvirt_test_host::spec(name, uuid);
    s.disks[0].image = driver::image_ref{"local-lvm", "debian-12"};
    s.nics[0].network.reset();
    s.nics[0].bridge = "vmbr0";
    return s;
}

int vmid_of(const fake_proxmox& pve, int from = 100) {
    for (int id = from; id < from + 50; ++id) {
        if (auto c = pve.config(id);
            c && c->count("smbios1") && contains(c->at("smbios1"), k_vm_uuid))
            return id;
    }
    return 0;
}

TEST(proxmox_driver, define_links_a_clone_and_writes_cloud_init_as_proxmox_wants_it) {
    fake_proxmox pve(quick());
    pve.add_template(9000, "debian-12", 2);
    proxmox::proxmox_driver d(options_for(pve));
    auto vm = d.define(pve_spec());
    ASSERT_TRUE(vm) << vm.error().message;
    const int vmid = vmid_of(pve);
    ASSERT_NE(vmid, 0) << "no guest carries the VM's UUID in smbios1";
    const auto conf = *pve.config(vmid);
    EXPECT_EQ(conf.at("name"), "vm1");
    EXPECT_EQ(conf.at("cores"), "2");
    EXPECT_EQ(conf.at("memory"), "2048");
    EXPECT_TRUE(contains(conf.at("scsi0"), "base-9000-disk-0/vm-" + std::to_string(vmid)))
        << "not a linked clone: " << conf.at("scsi0");
    EXPECT_TRUE(contains(conf.at("scsi0"), "size=10G")) << conf.at("scsi0");
    EXPECT_EQ(conf.at("net0"), "virtio=52:54:00:12:34:56,bridge=vmbr0");
    EXPECT_EQ(conf.at("ipconfig0"),
              "ip=203.0.113.10/24,gw=203.0.113.1,ip6=2001:db8::10/64,"
              "gw6=2001:db8::1");
    EXPECT_EQ(conf.at("ciuser"), "alice");
    EXPECT_EQ(conf.at("cipassword"), "$6$salt$hash");
    // Stored as PVE stores it: URL-encoded, one key a line.
    EXPECT_EQ(conf.at("sshkeys"), "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIOld%20alice%40laptop%0A");
    EXPECT_EQ(conf.at("nameserver"), "9.9.9.9");
    EXPECT_FALSE(conf.contains("lock"));
    EXPECT_EQ(pve.calls().clones, 1u);
    EXPECT_EQ(pve.calls().unauthorized, 0u);
    for (const auto& upid : pve.upids()) {
        EXPECT_TRUE(upid.starts_with("UPID:" + pve.node() + ":")) << upid;
        EXPECT_TRUE(upid.ends_with(":vpsfleet@pve!agent:")) << upid;
    }

    auto copy = pve_spec("vm2", "5c3e8f1a-9b2d-4c6e-8a7f-1d2e3f4a5b6c");
    copy.disks[0].clone = driver::clone_mode::copy;
    copy.nics[0].mac.clear();
    ASSERT_TRUE(d.define(copy));
    bool full = false;
    for (int id = 100; id < 110; ++id) {
        auto c = pve.config(id);
        if (c && c->at("name") == "vm2") {
            full = c->at("scsi0").starts_with("local-lvm:vm-" + std::to_string(id) + "-disk-0");
            EXPECT_TRUE(contains(c->at("net0"), "virtio=BC:24:11:")) << c->at("net0");
        }
    }
    EXPECT_TRUE(full) << "clone_mode copy did not make a full clone";
}

TEST(proxmox_driver, a_missing_template_is_not_found_and_leaves_nothing) {
    fake_proxmox pve(quick());
    proxmox::proxmox_driver d(options_for(pve));
    auto r = d.define(pve_spec());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::not_found);
    EXPECT_TRUE(contains(r.error().message, "debian-12")) << r.error().message;
    EXPECT_EQ(pve.calls().clones, 0u);
}

TEST(proxmox_driver, a_failed_task_surfaces_proxmox_exitstatus) {
    fake_proxmox pve(quick());
    pve.add_template(9000, "debian-12");
    proxmox::proxmox_driver d(options_for(pve));
    ASSERT_TRUE(d.define(pve_spec()));
    pve.fail_next_task("qmstart", "start failed: QEMU exited with code 1");
    auto r = d.start(k_vm_uuid);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::failed);
    EXPECT_TRUE(contains(r.error().message, "start failed: QEMU exited with code 1"))
        << r.error().message;
    EXPECT_TRUE(contains(r.error().message, ":qmstart:")) << "the UPID is not named";
    EXPECT_EQ(*pve.status(vmid_of(pve)), "stopped");

    // A failed clone: define fails with PVE's words.
    pve.fail_next_task("qmclone", "clone failed: storage 'local-lvm' is full");
    auto clone = d.define(pve_spec("vm2", "5c3e8f1a-9b2d-4c6e-8a7f-1d2e3f4a5b6c"));
    ASSERT_FALSE(clone);
    EXPECT_TRUE(contains(clone.error().message, "storage 'local-lvm' is full"))
        << clone.error().message;
    for (int id = 100; id < 110; ++id) {
        auto c = pve.config(id);
        EXPECT_FALSE(c && c->at("name") == "vm2") << "the failed clone left VM " << id;
    }
}

TEST(proxmox_driver, a_guest_that_ignores_acpi_is_powered_off_after_the_timeout) {
    fake_proxmox pve(quick());
    pve.add_template(9000, "debian-12");
    proxmox::proxmox_driver d(options_for(pve));
    ASSERT_TRUE(d.define(pve_spec()));
    ASSERT_TRUE(d.start(k_vm_uuid));
    pve.ignore_acpi(vmid_of(pve));
    const auto began = std::chrono::steady_clock::now();
    auto r = d.shutdown(k_vm_uuid, 1s);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->forced);
    EXPECT_EQ(r->vm.state, "shutoff");
    EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
}

TEST(proxmox_driver, a_wrong_token_is_refused_with_proxmox_reason) {
    fake_proxmox pve(quick());
    auto o = options_for(pve);
    o.token_secret = "not-the-secret";
    proxmox::proxmox_driver d(o);
    auto r = d.inventory();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::unavailable);
    EXPECT_TRUE(contains(r.error().message, "401 invalid token value!")) << r.error().message;

    o.token_id = "vpsfleet@pve!other";
    proxmox::proxmox_driver other(o);
    auto unknown = other.facts();
    ASSERT_FALSE(unknown);
    EXPECT_TRUE(contains(unknown.error().message, "no such token 'other' for user 'vpsfleet@pve'"))
        << unknown.error().message;
    EXPECT_EQ(pve.calls().unauthorized, 2u);
}

TEST(proxmox_driver, an_untrusted_certificate_is_refused) {
    fake_proxmox pve(quick());
    auto o = options_for(pve);
    o.ca_pem.clear();  // the system store does not know the node's CA
    proxmox::proxmox_driver d(o);
    auto r = d.inventory();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::unavailable);
    EXPECT_TRUE(contains(r.error().message, "certificate")) << r.error().message;
    EXPECT_EQ(pve.calls().requests, 0u);
}

TEST(proxmox_driver, ticket_login_works_and_sends_the_csrf_token_on_writes) {
    fake_proxmox pve(quick());
    pve.add_template(9000, "debian-12");
    auto o = options_for(pve);
    o.token_id.clear();
    o.token_secret.clear();
    o.user = "root@pam";
    o.password = "pve-root-password";
    proxmox::proxmox_driver d(o);
    auto vm = d.define(pve_spec());
    ASSERT_TRUE(vm) << vm.error().message;
    ASSERT_TRUE(d.start(k_vm_uuid));
    EXPECT_EQ(pve.calls().logins, 1u);
    EXPECT_EQ(pve.calls().csrf_refused, 0u);

    o.password = "wrong";
    proxmox::proxmox_driver wrong(o);
    auto refused = wrong.inventory();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, errc::unavailable);
    EXPECT_TRUE(contains(refused.error().message, "authentication failure"))
        << refused.error().message;
}

TEST(proxmox_fake, refuses_a_write_with_a_ticket_but_no_csrf_token) {
    fake_proxmox_options options = quick();
    options.tls = false;
    fake_proxmox pve(options);
    pve.add_template(9000, "debian-12");
    auto login = http_request("127.0.0.1", pve.port(), "POST", "/api2/json/access/ticket",
                              "username=root%40pam&password=pve-root-password", 5s,
                              {{"Content-Type", "application/x-www-form-urlencoded"}});
    ASSERT_EQ(login.status, 200) << login.body;
    const auto data = nlohmann::json::parse(login.body)["data"];
    const std::string cookie = "PVEAuthCookie=" + data["ticket"].get<std::string>();
    const std::string target = "/api2/json/nodes/pve1/qemu/9000/clone";
    const http_headers form = {{"Content-Type", "application/x-www-form-urlencoded"},
                               {"Cookie", cookie}};
    auto no_csrf = http_request("127.0.0.1", pve.port(), "POST", target, "newid=120", 5s, form);
    EXPECT_EQ(no_csrf.status, 401);
    EXPECT_EQ(pve.calls().csrf_refused, 1u);
    auto reads = http_request("127.0.0.1", pve.port(), "GET", "/api2/json/nodes/pve1/qemu", "", 5s,
                              {{"Cookie", cookie}});
    EXPECT_EQ(reads.status, 200) << "reads need no CSRF token";
    auto with_csrf = form;
    with_csrf["CSRFPreventionToken"] = data["CSRFPreventionToken"].get<std::string>();
    auto cloned = http_request("127.0.0.1", pve.port(), "POST", target, "newid=120", 5s, with_csrf);
    ASSERT_EQ(cloned.status, 200) << cloned.body;
    EXPECT_TRUE(
        nlohmann::json::parse(cloned.body)["data"].get<std::string>().starts_with("UPID:pve1:"));
    auto nothing = http_request("127.0.0.1", pve.port(), "GET", "/api2/json/nodes/pve1/status");
    EXPECT_EQ(nothing.status, 401);
    // Bad parameters come back the way PVE words them.
    auto bad = http_request("127.0.0.1", pve.port(), "PUT", "/api2/json/nodes/pve1/qemu/120/config",
                            "cores=0&sshkeys=ssh-ed25519 AAAA&bogus=1", 5s, with_csrf);
    ASSERT_EQ(bad.status, 400) << bad.body;
    const auto errors = nlohmann::json::parse(bad.body)["errors"];
    EXPECT_TRUE(errors.contains("bogus")) << bad.body;
    // sshkeys must be URL-encoded inside the form, as PVE insists.
    auto raw_keys =
        http_request("127.0.0.1", pve.port(), "PUT", "/api2/json/nodes/pve1/qemu/120/config",
                     "sshkeys=ssh-ed25519%20AAAA", 5s, with_csrf);
    ASSERT_EQ(raw_keys.status, 400) << raw_keys.body;
    EXPECT_TRUE(
        contains(nlohmann::json::parse(raw_keys.body)["errors"]["sshkeys"].get<std::string>(),
                 "invalid format - invalid urlencoded string"))
        << raw_keys.body;
}

TEST(proxmox_driver, a_node_that_vanishes_mid_task_is_an_error_not_a_hang) {
    fake_proxmox pve(quick());
    pve.add_template(9000, "debian-12");
    proxmox::proxmox_driver d(options_for(pve));
    ASSERT_TRUE(d.define(pve_spec()));
    pve.set_task_duration(10s);
    auto pending = std::async(std::launch::async, [&] { return d.start(k_vm_uuid); });
    std::this_thread::sleep_for(200ms);
    const auto began = std::chrono::steady_clock::now();
    pve.vanish();
    ASSERT_EQ(pending.wait_for(5s), std::future_status::ready) << "the driver hangs";
    auto r = pending.get();
    EXPECT_LT(std::chrono::steady_clock::now() - began, 3s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::unavailable);
    EXPECT_TRUE(contains(r.error().message, "lost track of task UPID:pve1:")) << r.error().message;
}

TEST(proxmox_driver, a_node_the_cluster_cannot_reach_answers_595) {
    fake_proxmox pve(quick());
    pve.add_template(9000, "debian-12");
    proxmox::proxmox_driver d(options_for(pve));
    ASSERT_TRUE(d.define(pve_spec()));
    pve.set_task_duration(10s);
    auto pending = std::async(std::launch::async, [&] { return d.start(k_vm_uuid); });
    std::this_thread::sleep_for(200ms);
    pve.take_node_offline();
    ASSERT_EQ(pending.wait_for(5s), std::future_status::ready) << "the driver hangs";
    auto r = pending.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::unavailable);
    EXPECT_TRUE(contains(r.error().message, "595 No route to host")) << r.error().message;
}

TEST(proxmox_driver, reinstall_clones_again_under_the_same_vmid_mac_and_uuid) {
    fake_proxmox pve(quick());
    pve.add_template(9000, "debian-12");
    pve.add_template(9001, "ubuntu-24", 4);
    proxmox::proxmox_driver d(options_for(pve));
    ASSERT_TRUE(d.define(pve_spec()));
    ASSERT_TRUE(d.start(k_vm_uuid));
    const int vmid = vmid_of(pve);
    driver::reinstall_spec spec;
    spec.image = {"local-lvm", "ubuntu-24"};
    auto r = d.reinstall(k_vm_uuid, spec);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->uuid, k_vm_uuid);
    EXPECT_EQ(r->state, "running");
    const auto conf = *pve.config(vmid);
    EXPECT_TRUE(contains(conf.at("scsi0"), "base-9001-disk-0")) << conf.at("scsi0");
    EXPECT_TRUE(contains(conf.at("scsi0"), "size=10G")) << "the root size was not kept";
    EXPECT_TRUE(contains(conf.at("net0"), "52:54:00:12:34:56")) << conf.at("net0");
    EXPECT_TRUE(contains(conf.at("ipconfig0"), "ip=203.0.113.10/24")) << conf.at("ipconfig0");
}

TEST(proxmox_driver, containers_show_in_inventory_and_stats_and_take_power_actions) {
    fake_proxmox pve(quick());
    pve.add_container(200, "ct-web", true);
    proxmox::proxmox_driver d(options_for(pve));
    auto inv = d.inventory();
    ASSERT_TRUE(inv) << inv.error().message;
    ASSERT_EQ(inv->size(), 1u);
    EXPECT_EQ((*inv)[0].name, "ct-web");
    EXPECT_EQ((*inv)[0].state, "running");
    EXPECT_TRUE(driver::valid_uuid((*inv)[0].uuid)) << (*inv)[0].uuid;
    auto again = d.inventory();
    ASSERT_TRUE(again);
    EXPECT_EQ((*again)[0].uuid, (*inv)[0].uuid) << "a container's UUID must be stable";
    auto stopped = d.stop("ct-web");
    ASSERT_TRUE(stopped) << stopped.error().message;
    EXPECT_EQ(stopped->state, "shutoff");
    auto s = d.stats();
    ASSERT_TRUE(s);
    ASSERT_EQ(s->vms.size(), 1u);
    EXPECT_EQ(s->vms[0].uuid, (*inv)[0].uuid);
    EXPECT_EQ(s->vms[0].state, "shutoff");
}

TEST(proxmox_driver, console_is_a_vnc_ticket_from_vncproxy) {
    fake_proxmox pve(quick());
    pve.add_template(9000, "debian-12");
    proxmox::proxmox_driver d(options_for(pve));
    ASSERT_TRUE(d.define(pve_spec()));
    ASSERT_TRUE(d.start(k_vm_uuid));
    auto t = d.console(k_vm_uuid, 30s);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->protocol, "vnc");
    EXPECT_EQ(t->host, "127.0.0.1");
    EXPECT_GE(t->port, 5900);
    EXPECT_TRUE(t->password.starts_with("PVEVNC:")) << t->password;
    EXPECT_EQ(pve.calls().vncproxy, 1u);
}

}  // namespace
}  // namespace vpsfleet::testing
