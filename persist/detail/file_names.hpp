#pragma once
// How FileStore turns keys into file names and back. Letters, digits and
// "-_=@,+:~" stand for themselves; every other byte, '.' and '/' included,
// becomes %XX (upper-case hex). So an encoded name never starts with '.'
// (FileStore keeps its temporary files and journals under such names), never
// contains '/', and decodes to exactly the key it came from.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace troupe::detail {

// Linux's NAME_MAX: the longest encoded name a directory entry can hold.
inline constexpr std::size_t max_file_name = 255;

std::string key_to_file_name(std::string_view key);

// nullopt for names this encoding never produces (foreign files).
std::optional<std::string> file_name_to_key(std::string_view name);

}  // namespace troupe::detail
