// ansible/site.yml run for real (`ansible-playbook -c local`, Debian's ansible-core) into a
// throwaway root against a running coordinator: users, binaries, units and configurations land
// below the root only, the rendered configurations pass the binaries' own check-config, the agent
// enrolls with a join token the playbook fetched from the admin API and then comes online with
// the rendered configuration, service starts are skipped saying why, and a second run changes
// nothing.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

using namespace vpsfleet::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_ansible = "/usr/bin/ansible-playbook";

std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Each host's changed= count from the PLAY RECAP.
std::map<std::string, int> changed_counts(const std::string& output) {
    std::map<std::string, int> out;
    const std::regex line(R"((\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0)");
    for (std::sregex_iterator it(output.begin(), output.end(), line), end; it != end; ++it) {
        out[(*it)[1]] = std::stoi((*it)[2]);
    }
    return out;
}

}  // namespace

TEST(ansible_playbook, deploys_a_fleet_into_a_throwaway_root_and_a_second_run_changes_nothing) {
    if (!fs::exists(k_ansible)) {
        GTEST_SKIP() << "ansible-playbook is not installed (Debian package ansible-core)";
    }
    fleet_fixture fleet;
    const api_client api(fleet.coordinator().port);
    const auto ops = sign_up(api, "ops@example.com");
    grant_role(fleet.database_url(), ops.email, "super_admin");

    // The throwaway root starts with the /etc files useradd --prefix edits, and a libvirt group.
    temp_dir root_dir;
    const fs::path root = root_dir.path();
    const fs::path staged = root / "staged";
    fs::create_directories(staged / "etc");
    std::ofstream(staged / "etc/passwd") << "root:x:0:0:root:/root:/bin/bash\n";
    std::ofstream(staged / "etc/group") << "root:x:0:\nlibvirt:x:990:\n";
    std::ofstream(staged / "etc/shadow") << "";
    std::ofstream(staged / "etc/gshadow") << "";
    const auto system_passwd = read("/etc/passwd");
    // Binaries without debug information: a tenth of the size to copy and checksum.
    for (const auto& [from, to] : {std::pair{coordinator_bin(), "vpsfleet-coordinator"},
                                   std::pair{agent_bin(), "vpsfleet-agent"}}) {
        ASSERT_EQ(
            run_command({"strip", "--strip-debug", "-o", root_dir.path() + "/" + to, from}).status,
            0);
    }

    const temp_file inventory(
        "[coordinators]\ncoord ansible_connection=local\n"
        "[agents]\nhv-ansible ansible_connection=local\n"
        "[prometheus]\nprom ansible_connection=local\n"
        "[postgresql]\npg ansible_connection=local\n"
        "[all:vars]\nansible_python_interpreter=/usr/bin/python3\nansible_become=false\n",
        ".ini");
    const json vars{{"vpsfleet_root", (root / "staged").string()},
                    {"vpsfleet_coordinator_binary", root_dir.path() + "/vpsfleet-coordinator"},
                    {"vpsfleet_agent_binary", root_dir.path() + "/vpsfleet-agent"},
                    {"vpsfleet_db_host", "db.example.net"},
                    {"vpsfleet_db_password", "pa ss:word"},
                    {"vpsfleet_coordinator_api_url",
                     "http://127.0.0.1:" + std::to_string(fleet.coordinator().port)},
                    {"vpsfleet_coordinator_fleet_url",
                     "https://127.0.0.1:" + std::to_string(fleet.fleet_port())},
                    {"vpsfleet_ca_fingerprint", fleet.fleet_ca_fingerprint()},
                    {"vpsfleet_admin_email", ops.email},
                    {"vpsfleet_admin_password", ops.password},
                    {"vpsfleet_agent_libvirt_uri", "test:///default"},
                    {"vpsfleet_agent_metrics_listen", "127.0.0.1:0"},
                    {"vpsfleet_agent_collect_interval", "200ms"},
                    {"vpsfleet_prometheus_email", "prometheus@example.com"},
                    {"vpsfleet_prometheus_password", "scrape-secret"}};
    const temp_file vars_file(vars.dump(), ".json");
    const std::vector<std::string> playbook{"env",
                                            "ANSIBLE_NOCOLOR=1",
                                            "ANSIBLE_LOCAL_TEMP=" + root_dir.path() + "/tmp",
                                            "ANSIBLE_REMOTE_TEMP=" + root_dir.path() + "/tmp",
                                            k_ansible,
                                            "-i",
                                            inventory.path(),
                                            std::string(VPSFLEET_SOURCE_DIR) + "/ansible/site.yml",
                                            "-e",
                                            "@" + vars_file.path()};

    const auto first = run_command(playbook);
    ASSERT_EQ(first.status, 0) << first.output;
    const std::string why = fs::exists("/run/systemd/system")
                                ? "vpsfleet_root is " + staged.string()
                                : std::string("PID 1 is not systemd");
    for (const std::string& skipped :
         {"skipped starting vpsfleet-coordinator: " + why,
          "skipped starting vpsfleet-agent: " + why,
          "skipped starting vpsfleet-prometheus-targets.timer and prometheus: " + why,
          "skipped PostgreSQL: vpsfleet_root is " + staged.string()}) {
        EXPECT_NE(first.output.find(skipped), std::string::npos) << skipped << "\n" << first.output;
    }

    // Files, users and configurations, all below the root.
    for (const char* file :
         {"usr/bin/vpsfleet-coordinator", "usr/bin/vpsfleet-agent",
          "lib/systemd/system/vpsfleet-coordinator.service",
          "lib/systemd/system/vpsfleet-agent.service", "etc/prometheus/vpsfleet.rules.yml",
          "usr/local/bin/vpsfleet-prometheus-targets",
          "etc/systemd/system/vpsfleet-prometheus-targets.timer"}) {
        EXPECT_TRUE(fs::exists(staged / file)) << file;
    }
    EXPECT_EQ(read(staged / "lib/systemd/system/vpsfleet-agent.service"),
              read(std::string(VPSFLEET_SOURCE_DIR) + "/systemd/vpsfleet-agent.service"));
    const auto passwd = read(staged / "etc/passwd");
    EXPECT_NE(passwd.find("\nvpsfleet:x:"), std::string::npos) << passwd;
    EXPECT_NE(passwd.find("\nvpsfleet-agent:x:"), std::string::npos) << passwd;
    EXPECT_NE(read(staged / "etc/group").find("libvirt:x:990:vpsfleet-agent"), std::string::npos);
    EXPECT_EQ(read("/etc/passwd"), system_passwd) << "users only below vpsfleet_root";

    const auto coordinator_yaml = read(staged / "etc/vpsfleet/coordinator.yaml");
    EXPECT_NE(coordinator_yaml.find("url: \"postgresql://vpsfleet:pa%20ss%3Aword@db.example.net:"
                                    "5432/vpsfleet\""),
              std::string::npos)
        << coordinator_yaml;
    EXPECT_EQ(fs::status(staged / "etc/vpsfleet/coordinator.yaml").permissions(),
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read)
        << "the database password is for the service's group only";
    const auto agent_yaml = read(staged / "etc/vpsfleet/agent.yaml");
    EXPECT_NE(agent_yaml.find("name: hv-ansible"), std::string::npos) << agent_yaml;
    const auto prometheus_yml = read(staged / "etc/prometheus/prometheus.yml");
    EXPECT_NE(prometheus_yml.find(staged.string() + "/var/lib/prometheus/vpsfleet/targets.json"),
              std::string::npos)
        << prometheus_yml;

    // Enrolled through the admin API with a single-use token, and the agent comes online with
    // exactly what the playbook rendered.
    EXPECT_TRUE(fs::exists(staged / "var/lib/vpsfleet-agent/enrollment.json"));
    EXPECT_EQ(query_text(fleet.database_url(),
                         "SELECT count(*) FROM join_tokens WHERE used_at "
                         "IS NOT NULL"),
              "1");
    {
        auto agent = launch_daemon(agent_bin(), (staged / "etc/vpsfleet/agent.yaml").string());
        EXPECT_TRUE(fleet.wait_for_state("hv-ansible", "online"))
            << agent.process->collected_stderr();
    }

    const auto second = run_command(playbook);
    ASSERT_EQ(second.status, 0) << second.output;
    const auto changed = changed_counts(second.output);
    EXPECT_EQ(changed.size(), 4u) << second.output;
    for (const auto& [host, count] : changed) {
        EXPECT_EQ(count, 0) << host << " changed on the second run:\n" << second.output;
    }
    EXPECT_EQ(query_text(fleet.database_url(), "SELECT count(*) FROM join_tokens"), "1")
        << "an enrolled host asks for no new token";
}
