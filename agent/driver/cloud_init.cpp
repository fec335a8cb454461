#include "agent/driver/cloud_init.hpp"

#include "agent/driver/process.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

namespace vpsfleet::agent::driver {

namespace fs = std::filesystem;

namespace {

std::string cloud_config(const cloud_init_spec& spec) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    if (!spec.hostname.empty()) {
        out << YAML::Key << "hostname" << YAML::Value << spec.hostname;
        out << YAML::Key << "preserve_hostname" << YAML::Value << false;
    }
    bool any_password = false;
    if (!spec.users.empty()) {
        out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
        for (const auto& u : spec.users) {
            out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << u.name;
            out << YAML::Key << "shell" << YAML::Value << "/bin/bash";
            if (u.sudo) out << YAML::Key << "sudo" << YAML::Value << "ALL=(ALL) NOPASSWD:ALL";
            if (!u.ssh_keys.empty()) {
                out << YAML::Key << "ssh_authorized_keys" << YAML::Value << YAML::BeginSeq;
                for (const auto& k : u.ssh_keys) out << k;
                out << YAML::EndSeq;
            }
            if (u.password_hash) {
                any_password = true;
                out << YAML::Key << "passwd" << YAML::Value << *u.password_hash;
                out << YAML::Key << "lock_passwd" << YAML::Value << false;
            }
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    }
    out << YAML::Key << "ssh_pwauth" << YAML::Value << any_password;
    out << YAML::EndMap;
    return std::string("#cloud-config\n") + out.c_str() + "\n";
}

// Extra user-data goes in a second MIME part, so it can be a script or a cloud-config of its own.
std::string user_data(const cloud_init_spec& spec) {
    const std::string config = cloud_config(spec);
    if (!spec.user_data || spec.user_data->empty()) return config;
    const std::string& extra = *spec.user_data;
    const char* type = extra.starts_with("#!")              ? "text/x-shellscript"
                       : extra.starts_with("#cloud-config") ? "text/cloud-config"
                       : extra.starts_with("#include")      ? "text/x-include-url"
                                                            : "text/plain";
    const std::string boundary = "==vpsfleet-seed-boundary==";
    std::string out =
        "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\nMIME-Version: 1.0\n\n";
    out += "--" + boundary + "\nContent-Type: text/cloud-config; charset=\"utf-8\"\n\n" + config;
    out += "\n--" + boundary + "\nContent-Type: " + type + "; charset=\"utf-8\"\n\n" + extra;
    if (!extra.ends_with('\n')) out += '\n';
    out += "--" + boundary + "--\n";
    return out;
}

void emit_routes(YAML::Emitter& out, const std::vector<ip_address>& v4,
                 const std::vector<ip_address>& v6) {
    std::vector<std::pair<std::string, std::string>> routes;
    for (const auto& a : v4)
        if (a.gateway) routes.emplace_back("0.0.0.0/0", *a.gateway);
    for (const auto& a : v6)
        if (a.gateway) routes.emplace_back("::/0", *a.gateway);
    if (routes.empty()) return;
    out << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
    for (const auto& [to, via] : routes) {
        out << YAML::BeginMap << YAML::Key << "to" << YAML::Value << to << YAML::Key << "via"
            << YAML::Value << via << YAML::EndMap;
    }
    out << YAML::EndSeq;
}

std::string network_config(const std::vector<nic_spec>& nics) {
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "version" << YAML::Value << 2;
    out << YAML::Key << "ethernets" << YAML::Value << YAML::BeginMap;
    for (std::size_t i = 0; i < nics.size(); ++i) {
        const auto& nic = nics[i];
        const std::string name = "eth" + std::to_string(i);
        out << YAML::Key << name << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "match" << YAML::Value << YAML::BeginMap << YAML::Key << "macaddress"
            << YAML::Value << nic.mac << YAML::EndMap;
        out << YAML::Key << "set-name" << YAML::Value << name;
        const bool is_static = !nic.ipv4.empty() || !nic.ipv6.empty();
        out << YAML::Key << "dhcp4" << YAML::Value << (!is_static);
        if (is_static) {
            out << YAML::Key << "addresses" << YAML::Value << YAML::BeginSeq;
            for (const auto& a : nic.ipv4) out << a.cidr;
            for (const auto& a : nic.ipv6) out << a.cidr;
            out << YAML::EndSeq;
            emit_routes(out, nic.ipv4, nic.ipv6);
        }
        if (!nic.nameservers.empty()) {
            out << YAML::Key << "nameservers" << YAML::Value << YAML::BeginMap << YAML::Key
                << "addresses" << YAML::Value << YAML::BeginSeq;
            for (const auto& ns : nic.nameservers) out << ns;
            out << YAML::EndSeq << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndMap << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace

seed_files render_seed(const std::string& instance_id, const cloud_init_spec& spec,
                       const std::vector<nic_spec>& nics) {
    YAML::Emitter meta;
    meta << YAML::BeginMap << YAML::Key << "instance-id" << YAML::Value << instance_id;
    if (!spec.hostname.empty())
        meta << YAML::Key << "local-hostname" << YAML::Value << spec.hostname;
    meta << YAML::EndMap;
    return {std::string(meta.c_str()) + "\n", user_data(spec), network_config(nics)};
}

result<void> write_seed_iso(const seed_files& files, const std::string& path) {
    const fs::path target(path);
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec)
        return make_error(errc::failed,
                          "cannot create " + target.parent_path().string() + ": " + ec.message());
    const fs::path staging = target.parent_path() / ("." + target.filename().string() + ".d");
    const fs::path partial = target.parent_path() / ("." + target.filename().string() + ".part");
    fs::remove_all(staging, ec);
    fs::create_directories(staging, ec);
    if (ec)
        return make_error(errc::failed, "cannot create " + staging.string() + ": " + ec.message());
    struct cleanup {
        fs::path dir, file;
        ~cleanup() {
            std::error_code ignored;
            fs::remove_all(dir, ignored);
            fs::remove(file, ignored);
        }
    } on_exit{staging, partial};

    const std::pair<const char*, const std::string*> entries[] = {
        {"meta-data", &files.meta_data},
        {"user-data", &files.user_data},
        {"network-config", &files.network_config}};
    for (const auto& [name, content] : entries) {
        std::ofstream f(staging / name, std::ios::binary);
        f << *content;
        if (!f.flush())
            return make_error(errc::failed, "cannot write " + (staging / name).string());
    }
    const auto r =
        run_process({"genisoimage", "-quiet", "-output", partial.string(), "-volid", "cidata",
                     "-joliet", "-rock", (staging / "meta-data").string(),
                     (staging / "user-data").string(), (staging / "network-config").string()});
    if (r.exit_code != 0) {
        if (r.exit_code == -1 && r.output.find("No such file") != std::string::npos)
            return make_error(errc::unsupported,
                              "genisoimage is not installed; it writes the cloud-init seed");
        return make_error(errc::failed, "genisoimage failed: " + r.output);
    }
    fs::permissions(partial,
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                        fs::perms::others_read,
                    ec);
    fs::rename(partial, target, ec);
    if (ec) return make_error(errc::failed, "cannot write " + path + ": " + ec.message());
    return {};
}

}  // namespace vpsfleet::agent::driver
