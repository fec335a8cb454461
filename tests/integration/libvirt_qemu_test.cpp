// The libvirt driver on a real hypervisor: libvirtd with QEMU/KVM (qemu:///system), in a
// throwaway storage pool and an isolated network of the test's own. Most guests have a blank
// disk and no operating system, which is enough for what the host side does: the VM runs under
// KVM with its cloud-init seed attached, its VNC console answers, its disk grows and its vCPUs
// are added live, CPU and disk limits reach QEMU, bulk statistics count its CPU time,
// a guest without qemu-guest-agent is said to have none, an ACPI shutdown it ignores ends in a
// forced power-off, lifecycle events arrive, and its firewall is bound to its running interface
// as an nwfilter binding. One guest boots a small Linux (scripts/guest-image) whose
// qemu-guest-agent takes passwords, SSH keys and a shutdown. Skipped when qemu:///system cannot
// be reached, unless VPSFLEET_REQUIRE_QEMU is set (scripts/test sets it once it has started
// libvirtd).
#include "agent/driver/libvirt/libvirt_driver.hpp"
#include "agent/driver/libvirt/nwfilter_xml.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/guest_agent.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <openssl/evp.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>

using namespace std::chrono_literals;
namespace driver = vpsfleet::agent::driver;
using vpsfleet::agent::libvirt::libvirt_driver;
using vpsfleet::testing::guest_file;
using vpsfleet::testing::temp_dir;

namespace {

constexpr const char* k_uuid = "5a1d0c4e-8f7b-4d2a-9c3e-1b2a3c4d5e6f";
constexpr const char* k_mac = "52:54:00:7e:51:01";

std::string tag() { return std::to_string(getpid()); }

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string take(char* text) {
    std::string out = text ? text : "";
    std::free(text);
    return out;
}

// A private corner of the real host: two directory pools (an "image" with a blank 64 MiB qcow2
// in one, VM disks in the other) and an isolated bridge, all transient and removed at the end.
class qemu_host : public ::testing::Test {
  protected:
    void SetUp() override {
        conn_ = virConnectOpen("qemu:///system");
        if (!conn_) {
            if (std::getenv("VPSFLEET_REQUIRE_QEMU")) FAIL() << "qemu:///system is unreachable";
            GTEST_SKIP() << "qemu:///system is unreachable (libvirtd not running?)";
        }
        remove_leftovers();
        std::filesystem::permissions(dir_.path(), std::filesystem::perms(0755));
        for (const char* sub : {"images", "vms", "seeds"}) {
            std::filesystem::create_directories(dir_.path() + "/" + sub);
        }
        const auto made =
            vpsfleet::testing::run_command({"qemu-img", "create", "-q", "-f", "qcow2",
                                            dir_.path() + "/images/blank.qcow2", "64M"});
        ASSERT_EQ(made.status, 0) << made.output;
        for (const std::string kind : {"images", "vms"}) {
            const std::string xml = "<pool type='dir'><name>" + pool(kind) +
                                    "</name><target><path>" + dir_.path() + "/" + kind +
                                    "</path></target></pool>";
            virStoragePoolPtr p = virStoragePoolCreateXML(conn_, xml.c_str(), 0);
            ASSERT_NE(p, nullptr) << virGetLastErrorMessage();
            virStoragePoolFree(p);
        }
        const std::string net = "<network><name>" + network() + "</name><bridge name='vqt" +
                                tag().substr(0, 10) +
                                "'/><ip address='198.51.100.1' prefix='24'/></network>";
        virNetworkPtr n = virNetworkCreateXML(conn_, net.c_str());
        ASSERT_NE(n, nullptr) << virGetLastErrorMessage();
        virNetworkFree(n);

        vpsfleet::agent::libvirt::libvirt_options options;
        options.uri = "qemu:///system";
        options.seed_dir = dir_.path() + "/seeds";
        options.poll_interval = 50ms;
        // This machine is itself a VM: its KVM refuses the IA32_ARCH_CAPABILITIES MSR that a
        // host-model CPU carries, as some nested hosts do (agent: hypervisor.cpu_disable).
        options.cpu_disable = {"arch-capabilities"};
        driver_ = std::make_unique<libvirt_driver>(options);
    }

    void TearDown() override {
        if (!conn_) return;
        if (driver_) (void)driver_->undefine(k_uuid, false);
        driver_.reset();
        if (virNetworkPtr n = virNetworkLookupByName(conn_, network().c_str())) {
            virNetworkDestroy(n);
            virNetworkFree(n);
        }
        for (const std::string kind : {"images", "vms"}) {
            if (virStoragePoolPtr p = virStoragePoolLookupByName(conn_, pool(kind).c_str())) {
                virStoragePoolDestroy(p);
                virStoragePoolFree(p);
            }
        }
        virConnectClose(conn_);
    }

    // What an earlier run that crashed left behind (its network would clash with ours).
    void remove_leftovers() {
        const auto ours = [](const char* name) {
            return std::string_view(name).starts_with("vpsfleet-qt-");
        };
        virDomainPtr* domains = nullptr;
        const int nd = virConnectListAllDomains(conn_, &domains, 0);
        for (int i = 0; i < nd; ++i) {
            if (ours(virDomainGetName(domains[i]))) {
                virDomainDestroy(domains[i]);
                virDomainUndefine(domains[i]);
            }
            virDomainFree(domains[i]);
        }
        std::free(domains);
        virNetworkPtr* networks = nullptr;
        const int nn = virConnectListAllNetworks(conn_, &networks, 0);
        for (int i = 0; i < nn; ++i) {
            if (ours(virNetworkGetName(networks[i]))) virNetworkDestroy(networks[i]);
            virNetworkFree(networks[i]);
        }
        std::free(networks);
        virStoragePoolPtr* pools = nullptr;
        const int np = virConnectListAllStoragePools(conn_, &pools, 0);
        for (int i = 0; i < np; ++i) {
            if (ours(virStoragePoolGetName(pools[i]))) virStoragePoolDestroy(pools[i]);
            virStoragePoolFree(pools[i]);
        }
        std::free(pools);
    }

    std::string pool(const std::string& kind) const { return "vpsfleet-qt-" + kind + "-" + tag(); }
    std::string network() const { return "vpsfleet-qt-" + tag(); }

    driver::vm_spec spec() const {
        driver::vm_spec s;
        s.name = "vpsfleet-qt-" + tag();
        s.uuid = k_uuid;
        s.vcpus = 1;
        s.max_vcpus = 2;
        s.memory_mib = 128;
        s.max_memory_mib = 256;
        driver::disk_spec root;
        root.pool = pool("vms");
        root.size_bytes = 128ull << 20;
        root.image = driver::image_ref{pool("images"), "blank.qcow2"};
        s.disks.push_back(root);
        driver::nic_spec nic;
        nic.network = network();
        nic.mac = k_mac;
        nic.ipv4 = {{"198.51.100.10/24", "198.51.100.1"}};
        s.nics.push_back(nic);
        driver::cloud_init_spec ci;
        ci.hostname = "qt.example.net";
        ci.users.push_back({"alice",
                            {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld alice@laptop"},
                            std::nullopt,
                            true});
        s.cloud_init = ci;
        return s;
    }

    // Defines and starts the VM; true when it runs.
    bool boot() {
        const auto defined = driver_->define(spec());
        EXPECT_TRUE(defined) << defined.error().message;
        if (!defined) return false;
        const auto started = driver_->start(k_uuid);
        EXPECT_TRUE(started) << started.error().message;
        return started && started->state == "running";
    }

    std::string live_xml(unsigned flags = 0) {
        virDomainPtr d = virDomainLookupByUUIDString(conn_, k_uuid);
        if (!d) return {};
        auto out = take(virDomainGetXMLDesc(d, flags));
        virDomainFree(d);
        return out;
    }

    template <class F>
    auto with_domain(F f) {
        virDomainPtr d = virDomainLookupByUUIDString(conn_, k_uuid);
        auto out = f(d);
        virDomainFree(d);
        return out;
    }

    // Whether the driver reported `event` for the VM within 10 s.
    bool saw_event(const std::string& event) {
        std::unique_lock lock(m_);
        return cv_.wait_for(lock, 10s, [&] {
            return std::find(events_.begin(), events_.end(), event) != events_.end();
        });
    }

    virConnectPtr conn_ = nullptr;
    temp_dir dir_;
    // Events arrive on the driver's thread: they outlive a test body that stops early.
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<std::string> events_;
    std::unique_ptr<libvirt_driver> driver_;
};

// Whether this kernel has the traffic-control parts libvirt's bandwidth limits need (sch_sfq;
// act_police comes with it on a full kernel). Nested and minimal kernels may lack them.
bool kernel_shapes_traffic() {
    const std::string dev = "vqprobe" + tag().substr(0, 6);
    if (vpsfleet::testing::run_command({"ip", "tuntap", "add", "dev", dev, "mode", "tap"}).status !=
        0)
        return false;
    const bool sfq =
        vpsfleet::testing::run_command({"tc", "qdisc", "add", "dev", dev, "root", "sfq"}).status ==
        0;
    vpsfleet::testing::run_command({"ip", "tuntap", "del", "dev", dev, "mode", "tap"});
    return sfq;
}

// What a VNC server sends first: "RFB 003.008\n".
std::string vnc_greeting(const std::string& host, int port) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    socket.connect({boost::asio::ip::make_address(host), static_cast<unsigned short>(port)}, ec);
    if (ec) return "connect: " + ec.message();
    std::string greeting(12, '\0');
    boost::asio::read(socket, boost::asio::buffer(greeting), ec);
    return ec ? "read: " + ec.message() : greeting;
}

}  // namespace

TEST_F(qemu_host, a_blank_vm_runs_under_kvm_with_its_seed_console_live_resize_and_limits) {
    driver_->on_event([this](const driver::vm_event& e) {
        if (e.uuid != k_uuid) return;
        std::lock_guard lock(m_);
        events_.push_back(e.event);
        cv_.notify_all();
    });
    ASSERT_TRUE(boot());

    std::string xml = live_xml();
    const bool kvm = std::filesystem::exists("/dev/kvm");
    EXPECT_TRUE(contains(xml, kvm ? "type='kvm'" : "type='qemu'")) << xml;
    // The seed ISO, written by the driver, is the guest's CD-ROM.
    std::smatch seed;
    ASSERT_TRUE(std::regex_search(xml, seed, std::regex("<source file='([^']*seeds[^']*)'")))
        << xml;
    EXPECT_TRUE(std::filesystem::exists(seed[1].str())) << seed[1];
    EXPECT_TRUE(saw_event("started"));

    // The console: a one-time VNC password on the running guest, and its server answering.
    const auto ticket = driver_->console(k_uuid, 60s);
    ASSERT_TRUE(ticket) << ticket.error().message;
    EXPECT_EQ(ticket->host, "127.0.0.1");
    EXPECT_EQ(vnc_greeting(ticket->host, ticket->port), "RFB 003.008\n");
    EXPECT_TRUE(contains(live_xml(VIR_DOMAIN_XML_SECURE), "passwd='" + ticket->password + "'"));

    // Live resize: the disk grows under the running guest, a vCPU is plugged in.
    driver::resize_spec grow;
    grow.disk_bytes[0] = 256ull << 20;
    grow.vcpus = 2;
    const auto resized = driver_->resize(k_uuid, grow);
    ASSERT_TRUE(resized) << resized.error().message;
    for (const auto& why : resized->pending_restart) ADD_FAILURE() << "not live: " << why;
    const auto capacity = with_domain([](virDomainPtr d) {
        virDomainBlockInfo info{};
        return virDomainGetBlockInfo(d, "vda", &info, 0) == 0 ? info.capacity : 0ull;
    });
    EXPECT_EQ(capacity, 256ull << 20);
    EXPECT_EQ(with_domain(
                  [](virDomainPtr d) { return virDomainGetVcpusFlags(d, VIR_DOMAIN_AFFECT_LIVE); }),
              2);

    // Limits reach QEMU on the running guest.
    driver::vm_limits limits;
    limits.cpu_percent = 50;
    limits.disk_iops = 500;
    const auto limited = driver_->set_limits(k_uuid, limits);
    ASSERT_TRUE(limited) << limited.error().message;
    for (const auto& why : limited->pending_restart) ADD_FAILURE() << "not live: " << why;
    const auto quota = with_domain([](virDomainPtr d) {
        virTypedParameterPtr params = nullptr;
        int n = 0;
        long long value = 0;
        if (char* type = virDomainGetSchedulerType(d, &n)) {
            std::free(type);
            params = static_cast<virTypedParameterPtr>(calloc(n, sizeof(virTypedParameter)));
            if (virDomainGetSchedulerParametersFlags(d, params, &n, VIR_DOMAIN_AFFECT_LIVE) == 0)
                virTypedParamsGetLLong(params, n, VIR_DOMAIN_SCHEDULER_VCPU_QUOTA, &value);
            virTypedParamsFree(params, n);
        }
        return value;
    });
    EXPECT_EQ(quota, 50'000);
    xml = live_xml();
    EXPECT_TRUE(contains(xml, "<total_iops_sec>500</total_iops_sec>")) << xml;
    // Bandwidth: libvirt shapes the host side of the guest's interface with tc (an htb class
    // with an sfq queue inbound, a policer outbound). Where the kernel has no such modules, as in
    // this nested machine, the limit is kept in the definition and reported per interface in tc's
    // own words.
    driver::vm_limits shaped;
    shaped.net_in_kib_per_sec = 2000;
    shaped.net_out_kib_per_sec = 1000;
    const auto bandwidth = driver_->set_limits(k_uuid, shaped);
    ASSERT_TRUE(bandwidth) << bandwidth.error().message;
    std::smatch vnet;
    ASSERT_TRUE(std::regex_search(xml, vnet, std::regex("<target dev='(vnet[0-9]+)'"))) << xml;
    if (kernel_shapes_traffic()) {
        for (const auto& why : bandwidth->pending_restart) ADD_FAILURE() << "not live: " << why;
        const auto police = vpsfleet::testing::run_command(
            {"tc", "filter", "show", "dev", vnet[1].str(), "ingress"});
        EXPECT_TRUE(contains(police.output, "police")) << police.output;
        const auto classes =
            vpsfleet::testing::run_command({"tc", "class", "show", "dev", vnet[1].str()});
        EXPECT_TRUE(contains(classes.output, "htb")) << classes.output;
    } else {
        ASSERT_EQ(bandwidth->pending_restart.size(), 1u);
        EXPECT_TRUE(contains(bandwidth->pending_restart[0], std::string("nic ") + k_mac))
            << bandwidth->pending_restart[0];
        EXPECT_TRUE(contains(bandwidth->pending_restart[0], "tc "))
            << bandwidth->pending_restart[0];
    }
    const std::string defined = live_xml(VIR_DOMAIN_XML_INACTIVE);
    EXPECT_TRUE(contains(defined, "<inbound average='2000'/>")) << defined;
    EXPECT_TRUE(contains(defined, "<outbound average='1000'/>")) << defined;

    // Bulk statistics count the guest's CPU time.
    const auto stats = driver_->stats();
    ASSERT_TRUE(stats) << stats.error().message;
    const auto vm = std::find_if(stats->vms.begin(), stats->vms.end(),
                                 [](const auto& v) { return v.uuid == k_uuid; });
    ASSERT_NE(vm, stats->vms.end());
    EXPECT_GT(vm->cpu_time_ns, 0u);
    EXPECT_EQ(vm->vcpus, 2u);
    EXPECT_GT(vm->memory_bytes, 0u);
    EXPECT_TRUE(stats->host.cpu_busy_ns.has_value());

    // No operating system, so no qemu-guest-agent: said so, not hung on.
    const auto password = driver_->set_password(k_uuid, "root", "Secret-123", false);
    ASSERT_FALSE(password);
    EXPECT_EQ(password.error().code, driver::errc::no_guest_agent) << password.error().message;

    // Nothing in the guest answers ACPI: after the timeout it is powered off.
    const auto t0 = std::chrono::steady_clock::now();
    const auto off = driver_->shutdown(k_uuid, 1500ms);
    ASSERT_TRUE(off) << off.error().message;
    EXPECT_TRUE(off->forced);
    EXPECT_EQ(off->vm.state, "shutoff");
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 1500ms);
    EXPECT_TRUE(saw_event("stopped"));

    // Undefined with its volumes: the pool holds nothing of it.
    ASSERT_TRUE(driver_->undefine(k_uuid, false));
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/vms"));
}

TEST_F(qemu_host, the_firewall_is_bound_to_the_running_vms_interface_and_removed_with_no_rules) {
    ASSERT_TRUE(boot());
    std::smatch dev;
    const std::string xml = live_xml();
    ASSERT_TRUE(std::regex_search(xml, dev, std::regex("<target dev='(vnet[0-9]+)'"))) << xml;
    const std::string port = dev[1];

    driver::firewall_spec fw;
    fw.mac = k_mac;
    fw.ipv4 = {"198.51.100.10"};
    driver::firewall_rule ssh;
    ssh.protocol = "tcp";
    ssh.destination_ports = {{22, 22}};
    ssh.comment = "fwr_ssh";
    fw.rules = {ssh};
    const auto applied = driver_->firewall(k_uuid, fw);
    ASSERT_TRUE(applied) << applied.error().message;
    EXPECT_TRUE(applied->live);
    EXPECT_EQ(applied->filter, vpsfleet::agent::libvirt::firewall_filter_name(k_uuid));

    // libvirt's own record that the filter is in force on the guest's port.
    virNWFilterBindingPtr binding = virNWFilterBindingLookupByPortDev(conn_, port.c_str());
    ASSERT_NE(binding, nullptr) << virGetLastErrorMessage();
    EXPECT_EQ(std::string(virNWFilterBindingGetFilterName(binding)), applied->filter);
    virNWFilterBindingFree(binding);
    virNWFilterPtr filter = virNWFilterLookupByName(conn_, applied->filter.c_str());
    ASSERT_NE(filter, nullptr);
    const auto filter_xml = take(virNWFilterGetXMLDesc(filter, 0));
    virNWFilterFree(filter);
    EXPECT_TRUE(contains(filter_xml, "dstportstart='22'")) << filter_xml;
    EXPECT_TRUE(contains(filter_xml, "198.51.100.10")) << filter_xml;

    // No rules: the guest's port carries no filter any more, and the VM kept running.
    fw.rules.clear();
    const auto cleared = driver_->firewall(k_uuid, fw);
    ASSERT_TRUE(cleared) << cleared.error().message;
    EXPECT_EQ(cleared->filter, "");
    EXPECT_EQ(virNWFilterBindingLookupByPortDev(conn_, port.c_str()), nullptr);
    EXPECT_EQ(cleared->vm.state, "running");
}

// A guest with an operating system and qemu-guest-agent (scripts/guest-image: Debian's kernel,
// busybox, qemu-ga and chpasswd): what the coordinator sends for a password reset (a crypt(3)
// hash) and for SSH keys lands in the guest's own /etc/shadow and ~/.ssh/authorized_keys, and a
// shutdown goes through the agent without being forced.
TEST_F(qemu_host, a_guest_with_qemu_guest_agent_takes_a_password_hash_and_ssh_keys) {
    const char* image = std::getenv("VPSFLEET_GUEST_IMAGE");
    if (!image) {
        if (std::getenv("VPSFLEET_REQUIRE_QEMU")) FAIL() << "VPSFLEET_GUEST_IMAGE is not set";
        GTEST_SKIP() << "no guest image (scripts/guest-image builds one)";
    }
    std::filesystem::copy_file(image, dir_.path() + "/images/guest.qcow2");
    virStoragePoolPtr images = virStoragePoolLookupByName(conn_, pool("images").c_str());
    ASSERT_EQ(virStoragePoolRefresh(images, 0), 0) << virGetLastErrorMessage();
    virStoragePoolFree(images);
    auto s = spec();
    s.memory_mib = 256;
    s.disks[0].image = driver::image_ref{pool("images"), "guest.qcow2"};
    const auto defined = driver_->define(s);
    ASSERT_TRUE(defined) << defined.error().message;
    const auto started = driver_->start(k_uuid);
    ASSERT_TRUE(started) << started.error().message;

    // The first answer comes once the guest has booted and started its agent.
    const std::vector<std::string> keys = {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld alice@laptop",
                                           "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBck alice@phone"};
    auto set_keys = driver_->set_ssh_keys(k_uuid, "alice", keys);
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (!set_keys && set_keys.error().code == driver::errc::no_guest_agent &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(500ms);
        set_keys = driver_->set_ssh_keys(k_uuid, "alice", keys);
    }
    ASSERT_TRUE(set_keys) << set_keys.error().message;
    const std::string domain = s.name;
    // qemu-ga writes the keys one a line, with no newline after the last.
    EXPECT_EQ(guest_file(domain, "/home/alice/.ssh/authorized_keys"), keys[0] + "\n" + keys[1]);

    // A second set replaces the list: the lost phone's key is gone.
    const auto replaced = driver_->set_ssh_keys(k_uuid, "alice", {keys[0]});
    ASSERT_TRUE(replaced) << replaced.error().message;
    EXPECT_EQ(guest_file(domain, "/home/alice/.ssh/authorized_keys"), keys[0]);

    const std::string hash =
        "$6$Xq3kL9vP$"
        "Bq1Vd0o8Jm2sYc5rT7uWz4xA6nE3hG9iK1lM0pR2tS5vU8wY7zB4cD6fH9jL2nQ5rT8vX1yZ3aC5eG7"
        "iK9mO1p";
    const auto password = driver_->set_password(k_uuid, "alice", hash, true);
    ASSERT_TRUE(password) << password.error().message;
    const std::string shadow = guest_file(domain, "/etc/shadow");
    EXPECT_TRUE(contains(shadow, "\nalice:" + hash + ":")) << shadow;
    EXPECT_TRUE(contains(shadow, "root:*:")) << shadow;

    // A user the guest does not have: refused with the guest's own words, nothing else touched.
    const auto nobody = driver_->set_password(k_uuid, "mallory", hash, true);
    ASSERT_FALSE(nobody);
    EXPECT_NE(nobody.error().code, driver::errc::no_guest_agent) << nobody.error().message;
    EXPECT_TRUE(contains(nobody.error().message, "failed to set user password"))
        << nobody.error().message;
    EXPECT_EQ(guest_file(domain, "/etc/shadow"), shadow);

    // The guest powers itself off when asked: no forced power-off.
    const auto off = driver_->shutdown(k_uuid, 60s);
    ASSERT_TRUE(off) << off.error().message;
    EXPECT_FALSE(off->forced);
    EXPECT_EQ(off->vm.state, "shutoff");
}
