#pragma once
// A fresh directory per test (mkdtemp under $TMPDIR or /tmp), removed with
// everything in it when the test ends.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

namespace ht::test {

/// Removes a directory tree (like rm -rf); ignores a missing path.
inline void remove_tree(const std::string& path) {
  ::nftw(path.c_str(),
         [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); },
         16, FTW_DEPTH | FTW_PHYS);
}

class temp_dir {
public:
  explicit temp_dir(const std::string& prefix = "ht-test") {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~temp_dir() { remove_tree(path_); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

} // namespace ht::test
