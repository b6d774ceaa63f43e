#include "cluster/detail/directory_script.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace troupe::cluster::detail {

const std::string_view directory_script = R"lua(
local op = ARGV[1]

-- The incarnation at the head of a lease record, or nil if it does not parse.
local function lease_incarnation(record)
  return string.match(record, '^(%d+)\31')
end

-- node, incarnation, fence of an owner record, or nil if it does not parse.
local function parse_owner(record)
  return string.match(record, '^([%w_%.%-]+)\31(%d+)\31(%d+)$')
end

-- The live owner named by an owner record: {"owned", ...}, nil, or an error.
local function live_owner(record, lease_prefix, except_node, except_incarnation)
  local node, incarnation, fence = parse_owner(record)
  if not node then return {'corrupt', 'owner record', record} end
  if node == except_node and incarnation == except_incarnation then return nil end
  local lease = redis.call('GET', lease_prefix .. node)
  if not lease then return nil end
  local held = lease_incarnation(lease)
  if not held then return {'corrupt', 'lease of node ' .. node, lease} end
  if held ~= incarnation then return nil end
  return {'owned', node, incarnation, fence}
end

if op == 'join' then
  redis.call('INCR', KEYS[1])
  local incarnation = redis.call('GET', KEYS[1])
  redis.call('SET', KEYS[2], incarnation .. ARGV[4], 'PX', ARGV[3])
  redis.call('SADD', KEYS[3], ARGV[2])
  return incarnation
end

if op == 'renew' then
  local lease = redis.call('GET', KEYS[1])
  if not lease then return {'lost', ''} end
  local held = lease_incarnation(lease)
  if not held then return {'corrupt', lease} end
  if held ~= ARGV[3] then return {'lost', held} end
  redis.call('SET', KEYS[1], ARGV[3] .. ARGV[5], 'PX', ARGV[4])
  redis.call('SADD', KEYS[2], ARGV[2])
  return {'ok'}
end

if op == 'leave' then
  local lease = redis.call('GET', KEYS[1])
  if lease and lease_incarnation(lease) == ARGV[3] then
    redis.call('DEL', KEYS[1])
    redis.call('SREM', KEYS[2], ARGV[2])
  end
  return 1
end

if op == 'nodes' then
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local lease = redis.call('GET', ARGV[2] .. id)
    if lease then
      out[#out + 1] = id
      out[#out + 1] = lease
    else
      redis.call('SREM', KEYS[1], id)
    end
  end
  return out
end

if op == 'claim' then
  local mine = redis.call('GET', KEYS[1])
  if not mine then return {'lost', ''} end
  local held = lease_incarnation(mine)
  if not held then return {'corrupt', 'lease of node ' .. ARGV[2], mine} end
  if held ~= ARGV[3] then return {'lost', held} end
  local record = redis.call('GET', KEYS[2])
  if record then
    local owner = live_owner(record, ARGV[4], ARGV[2], ARGV[3])
    if owner then return owner end
  end
  local counter = redis.call('GET', KEYS[3])
  if counter and not string.match(counter, '^%d+$') then
    return {'corrupt', 'fence counter', counter}
  end
  redis.call('INCR', KEYS[3])
  local fence = redis.call('GET', KEYS[3])
  redis.call('SET', KEYS[2], ARGV[2] .. '\31' .. ARGV[3] .. '\31' .. fence)
  return {'mine', ARGV[2], ARGV[3], fence}
end

if op == 'lookup' then
  local record = redis.call('GET', KEYS[1])
  if not record then return {'none'} end
  return live_owner(record, ARGV[2], nil, nil) or {'none'}
end

if op == 'release' then
  if redis.call('GET', KEYS[1]) == ARGV[2] then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end

return redis.error_reply('troupe directory script: unknown operation ' .. tostring(op))
)lua";

const std::string& directory_script_sha() {
  static const std::string sha = [] {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(directory_script.data(), directory_script.size(), digest, &size, EVP_sha1(),
                   nullptr) != 1) {
      throw std::runtime_error("cannot compute the SHA-1 of the directory script");
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out += hex[digest[i] >> 4];
      out += hex[digest[i] & 15];
    }
    return out;
  }();
  return sha;
}

}  // namespace troupe::cluster::detail
