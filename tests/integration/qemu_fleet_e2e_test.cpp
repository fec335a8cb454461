// The whole chain on a real hypervisor: a coordinator and PostgreSQL, an agent enrolled on
// libvirtd's qemu:///system, and a customer who orders an instance through /api/v1. The
// instance gets an address from the region's range, runs as a KVM guest, has its firewall rules
// bound to its running interface as an nwfilter binding once the firewall.sync job is done, and
// is gone from the host (guest, binding and disk) after its delete job. The guest first has a
// blank disk (no operating system); it is then rebuilt from a small Linux with qemu-guest-agent
// (scripts/guest-image), where the customer's new password and SSH key land in the guest's own
// files. Both images sit in a throwaway pool. Skipped when qemu:///system cannot be reached,
// unless VPSFLEET_REQUIRE_QEMU is set.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/guest_agent.hpp"
#include "tests/support/temp_file.hpp"

#include <crypt.h>

#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string take(char* text) {
    std::string out = text ? text : "";
    std::free(text);
    return out;
}

// Pools of the test's own on the host's libvirtd, and libvirt's "default" network running (the
// network instances are attached to); what it started, it stops.
class qemu_fleet : public ::testing::Test {
  protected:
    void SetUp() override {
        conn_ = virConnectOpen("qemu:///system");
        if (!conn_) {
            if (std::getenv("VPSFLEET_REQUIRE_QEMU")) FAIL() << "qemu:///system is unreachable";
            GTEST_SKIP() << "qemu:///system is unreachable (libvirtd not running?)";
        }
        const char* guest = std::getenv("VPSFLEET_GUEST_IMAGE");
        if (!guest) {
            if (std::getenv("VPSFLEET_REQUIRE_QEMU")) FAIL() << "VPSFLEET_GUEST_IMAGE is not set";
            GTEST_SKIP() << "no guest image (scripts/guest-image builds one)";
        }
        std::filesystem::permissions(dir_.path(), std::filesystem::perms(0755));
        for (const std::string kind : {"images", "vms"}) {
            std::filesystem::create_directories(dir_.path() + "/" + kind);
            if (virStoragePoolPtr old = virStoragePoolLookupByName(conn_, pool(kind).c_str())) {
                virStoragePoolDestroy(old);
                virStoragePoolFree(old);
            }
        }
        const auto made = run_command({"qemu-img", "create", "-q", "-f", "qcow2",
                                       dir_.path() + "/images/blank.qcow2", "64M"});
        ASSERT_EQ(made.status, 0) << made.output;
        std::filesystem::copy_file(guest, dir_.path() + "/images/guest.qcow2");
        for (const std::string kind : {"images", "vms"}) {
            const std::string xml = "<pool type='dir'><name>" + pool(kind) +
                                    "</name><target><path>" + dir_.path() + "/" + kind +
                                    "</path></target></pool>";
            virStoragePoolPtr p = virStoragePoolCreateXML(conn_, xml.c_str(), 0);
            ASSERT_NE(p, nullptr) << virGetLastErrorMessage();
            virStoragePoolFree(p);
        }
        virNetworkPtr net = virNetworkLookupByName(conn_, "default");
        ASSERT_NE(net, nullptr) << "libvirt's default network is not defined";
        if (virNetworkIsActive(net) == 0) {
            ASSERT_EQ(virNetworkCreate(net), 0) << virGetLastErrorMessage();
            started_network_ = true;
        }
        virNetworkFree(net);
    }

    void TearDown() override {
        if (!conn_) return;
        if (!domain_uuid_.empty()) {
            if (virDomainPtr d = virDomainLookupByUUIDString(conn_, domain_uuid_.c_str())) {
                virDomainDestroy(d);
                virDomainUndefine(d);
                virDomainFree(d);
            }
        }
        for (const std::string kind : {"images", "vms"}) {
            if (virStoragePoolPtr p = virStoragePoolLookupByName(conn_, pool(kind).c_str())) {
                virStoragePoolDestroy(p);
                virStoragePoolFree(p);
            }
        }
        if (started_network_) {
            if (virNetworkPtr net = virNetworkLookupByName(conn_, "default")) {
                virNetworkDestroy(net);
                virNetworkFree(net);
            }
        }
        virConnectClose(conn_);
    }

    std::string pool(const std::string& kind) const {
        return "vpsfleet-qe-" + kind + "-" + std::to_string(getpid());
    }

    // The running guest's state ("running", ...), or "" when the host has no such guest.
    std::string domain_state() {
        virDomainPtr d = virDomainLookupByUUIDString(conn_, domain_uuid_.c_str());
        if (!d) return "";
        int state = 0;
        int reason = 0;
        virDomainGetState(d, &state, &reason, 0);
        virDomainFree(d);
        return state == VIR_DOMAIN_RUNNING ? "running" : "not running";
    }

    std::string domain_xml() {
        virDomainPtr d = virDomainLookupByUUIDString(conn_, domain_uuid_.c_str());
        if (!d) return "";
        auto out = take(virDomainGetXMLDesc(d, 0));
        virDomainFree(d);
        return out;
    }

    virConnectPtr conn_ = nullptr;
    temp_dir dir_;
    bool started_network_ = false;
    std::string domain_uuid_;
};

}  // namespace

TEST_F(qemu_fleet, a_customers_instance_runs_on_kvm_with_its_address_and_firewall_then_goes) {
    fleet_fixture fleet;
    auto agent = fleet.start_qemu_agent("hv-kvm");
    ASSERT_TRUE(fleet.wait_for_state("hv-kvm", "online"));
    const auto& url = fleet.database_url();
    // The host's VM disk pool, a small plan and a blank image from the test's pools, and an
    // address range on the default network's subnet.
    const std::string host = query_text(url, "SELECT id FROM hosts WHERE name = 'hv-kvm'");
    exec_sql(url, "UPDATE hosts SET cpu = 2, memory = 4294967296 WHERE id = " + host);
    exec_sql(url, "INSERT INTO host_disks (host_id, name, size, kind, interface) VALUES (" + host +
                      ", '" + pool("vms") + "', 10737418240, 'ssd', 'pcie')");
    exec_sql(url,
             "INSERT INTO plans (uid, code, name, family, vcpu, memory_mb, disk_gb, network_mbps, "
             "price_monthly_ore, price_hourly_ore, sort, cost_plan_id) SELECT 'pln_qt', 'qt-1', "
             "'QT 1', 'qt', 1, 256, 1, 100, 100, 1, 99, cost_plan_id FROM plans "
             "WHERE code = 'bxs-1' UNION ALL SELECT 'pln_qt2', 'qt-2', 'QT 2', 'qt', 2, 512, 2, "
             "100, 200, 1, 98, cost_plan_id FROM plans WHERE code = 'bxs-1'");
    exec_sql(url,
             "INSERT INTO os_images (uid, family, version, display_name, default_user, "
             "min_disk_gb, has_guest_agent, source_pool, source_volume) VALUES ('img_qtblank', "
             "'blank', '1', 'Blank disk', 'root', 1, false, '" +
                 pool("images") +
                 "', 'blank.qcow2'), ('img_qtguest', 'guest', '1', 'Guest with agent', 'alice', "
                 "1, true, '" +
                 pool("images") + "', 'guest.qcow2')");
    const std::string region = query_text(url, "SELECT region_id FROM hosts WHERE id = " + host);
    exec_sql(url,
             "INSERT INTO ip_ranges (cidr, gateway, region_id) VALUES ('192.168.122.0/24', "
             "'192.168.122.1', " +
                 region + ")");

    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "kvm@example.com");
    const std::string project = first_project(api, user.access_token);
    const std::string base = "/api/v1/projects/" + project;
    const auto created = api.post(
        base + "/instances", instance_order("kvm-01", "qt-1", "img_qtblank"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];
    domain_uuid_ =
        query_text(url, "SELECT libvirt_uuid FROM instances WHERE uid = '" + instance + "'");
    auto job = finished_job(api, project, created.body["job"]["uid"], user.access_token);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();

    // A KVM guest on the host, with the instance's MAC on the default network.
    EXPECT_EQ(domain_state(), "running");
    const std::string mac =
        query_text(url, "SELECT mac FROM instances WHERE uid = '" + instance + "'");
    std::string xml = domain_xml();
    EXPECT_NE(xml.find("<mac address='" + mac + "'/>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<source network='default'"), std::string::npos) << xml;
    const auto shown = api.get(base + "/instances/" + instance, user.access_token);
    EXPECT_EQ(shown.body["instance"]["status"], "running") << shown.raw;
    EXPECT_EQ(shown.body["instance"]["primary_ip"], "192.168.122.2") << shown.raw;

    // A firewall rule: the sync job binds the VM's filter to its running interface.
    const auto rule =
        api.post(base + "/instances/" + instance + "/firewall",
                 {{"direction", "in"}, {"action", "ACCEPT"}, {"proto", "tcp"}, {"dport", "22"}},
                 user.access_token);
    ASSERT_EQ(rule.status, 201) << rule.raw;
    const std::string filter = "vpsfleet-fw-" + domain_uuid_;
    std::smatch port;
    ASSERT_TRUE(std::regex_search(xml, port, std::regex("<target dev='(vnet[0-9]+)'"))) << xml;
    const std::string dev = port[1];
    const auto bound_to = [&](const std::string& device) {
        virNWFilterBindingPtr b = virNWFilterBindingLookupByPortDev(conn_, device.c_str());
        if (!b) return std::string();
        std::string name = virNWFilterBindingGetFilterName(b);
        virNWFilterBindingFree(b);
        return name;
    };
    const auto bound = [&] { return bound_to(dev); };
    EXPECT_TRUE(eventually([&] { return bound() == filter; }, 30s))
        << "binding on " << dev << ": '" << bound() << "'; sync jobs: "
        << query_text(url,
                      "SELECT string_agg(state || ' ' || coalesce(error::text, ''), '; ') "
                      "FROM jobs WHERE kind = 'firewall.sync'");
    virNWFilterPtr nwfilter = virNWFilterLookupByName(conn_, filter.c_str());
    ASSERT_NE(nwfilter, nullptr);
    const auto filter_xml = take(virNWFilterGetXMLDesc(nwfilter, 0));
    virNWFilterFree(nwfilter);
    EXPECT_NE(filter_xml.find("dstportstart='22'"), std::string::npos) << filter_xml;
    EXPECT_NE(filter_xml.find("192.168.122.2"), std::string::npos) << filter_xml;

    // Stopped, resized to 2 vCPUs, 512 MiB and a 2 GiB disk, started again; then rebuilt from
    // the image with qemu-guest-agent, with the same MAC and address.
    const std::string path = base + "/instances/" + instance;
    const auto stop = api.post(path + "/actions", {{"type", "stop"}}, user.access_token);
    ASSERT_EQ(stop.status, 202) << stop.raw;
    ASSERT_EQ(finished_job(api, project, stop.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    const auto resized = api.post(path + "/resize", {{"plan", "qt-2"}}, user.access_token);
    ASSERT_EQ(resized.status, 202) << resized.raw;
    job = finished_job(api, project, resized.body["uid"], user.access_token);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();
    xml = domain_xml();
    EXPECT_TRUE(std::regex_search(xml, std::regex("<vcpu[^>]*>2</vcpu>"))) << xml;
    EXPECT_NE(xml.find("<memory unit='KiB'>524288</memory>"), std::string::npos) << xml;
    const auto disk_bytes = [&] {
        std::smatch volume;
        const std::regex root("<source pool='" + pool("vms") + "' volume='([^']+)'");
        if (!std::regex_search(xml, volume, root)) return 0LL;
        const auto info = run_command(
            {"qemu-img", "info", "--output=json", "-U", dir_.path() + "/vms/" + volume[1].str()});
        const auto parsed = json::parse(info.output, nullptr, false);
        return parsed.is_object() ? parsed.value("virtual-size", 0LL) : 0LL;
    };
    EXPECT_EQ(disk_bytes(), 2LL * 1024 * 1024 * 1024) << xml;
    const auto start = api.post(path + "/actions", {{"type", "start"}}, user.access_token);
    ASSERT_EQ(start.status, 202) << start.raw;
    ASSERT_EQ(finished_job(api, project, start.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    EXPECT_EQ(domain_state(), "running");

    const auto rebuilt =
        api.post(path + "/rebuild", {{"source", {{"image", "img_qtguest"}}}}, user.access_token);
    ASSERT_EQ(rebuilt.status, 202) << rebuilt.raw;
    job = finished_job(api, project, rebuilt.body["uid"], user.access_token);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();
    EXPECT_EQ(domain_state(), "running");
    xml = domain_xml();
    EXPECT_NE(xml.find("<mac address='" + mac + "'/>"), std::string::npos) << xml;
    EXPECT_EQ(disk_bytes(), 2LL * 1024 * 1024 * 1024) << xml;
    EXPECT_EQ(api.get(path, user.access_token).body["instance"]["primary_ip"], "192.168.122.2");
    ASSERT_TRUE(std::regex_search(xml, port, std::regex("<target dev='(vnet[0-9]+)'"))) << xml;
    const std::string rebuilt_dev = port[1];
    // The firewall stays with the rebuilt guest.
    EXPECT_EQ(bound_to(rebuilt_dev), filter);

    // The rebuilt guest boots Linux. A password reset through the API reaches its /etc/shadow as
    // a SHA-512 crypt hash of the password the customer chose, for the image's default user.
    const std::string& domain = domain_uuid_;  // virsh takes a domain's uuid for its name
    ASSERT_TRUE(guest_agent_answers(domain, 120s)) << "the rebuilt guest's agent never answered";
    const std::string password = "Correct-Horse-9";
    const auto reset = api.post(path + "/password", {{"password", password}}, user.access_token);
    ASSERT_EQ(reset.status, 202) << reset.raw;
    job = finished_job(api, project, reset.body["uid"], user.access_token);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();
    std::smatch entry;
    const std::string shadow = guest_file(domain, "/etc/shadow");
    ASSERT_TRUE(std::regex_search(shadow, entry, std::regex("\nalice:(\\$6\\$[^:]+):"))) << shadow;
    crypt_data scratch{};
    const std::string hash = entry[1];
    EXPECT_STREQ(crypt_r(password.c_str(), hash.c_str(), &scratch), hash.c_str());

    // An SSH key added through the API joins the guest's authorized keys.
    const std::string key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDw4aKQBT7gNLKjHljVcrqkA3eAk03Y7zBz+pOjRHOxP "
        "kvm@laptop";
    const auto keyed = api.post(path + "/ssh-key", {{"publicKey", key}}, user.access_token);
    ASSERT_EQ(keyed.status, 200) << keyed.raw;
    EXPECT_NE(guest_file(domain, "/home/alice/.ssh/authorized_keys").find(key), std::string::npos)
        << guest_file(domain, "/home/alice/.ssh/authorized_keys");

    // Deleted: the guest, its binding and its disk leave the host.
    const auto removed = api.call("DELETE", base + "/instances/" + instance, nullptr,
                                  api_client::bearer(user.access_token));
    ASSERT_EQ(removed.status, 202) << removed.raw;
    job = finished_job(api, project, removed.body["job"]["uid"], user.access_token);
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
    EXPECT_EQ(domain_state(), "");
    EXPECT_EQ(bound(), "");
    EXPECT_EQ(bound_to(rebuilt_dev), "");
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/vms"));
}
