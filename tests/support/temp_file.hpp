#pragma once
// Temporary files and directories for tests, removed when the object dies.
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace vpsfleet::testing {

class temp_file {
  public:
    explicit temp_file(const std::string& content, const std::string& suffix = ".yaml") {
        std::string pattern =
            std::filesystem::temp_directory_path().string() + "/vpsfleet-XXXXXX" + suffix;
        const int fd = mkstemps(pattern.data(), static_cast<int>(suffix.size()));
        if (fd >= 0) close(fd);
        path_ = pattern;
        std::ofstream(path_) << content;
    }
    ~temp_file() {
        std::error_code ec;
        std::filesystem::remove(path_, ec);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

class temp_dir {
  public:
    temp_dir() {
        std::string pattern =
            std::filesystem::temp_directory_path().string() + "/vpsfleet-dir-XXXXXX";
        if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

}  // namespace vpsfleet::testing
