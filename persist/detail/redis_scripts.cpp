#include "persist/detail/redis_scripts.hpp"

namespace troupe::detail {

const std::string_view apply_script = R"lua(
local n = (#KEYS - 1) / 2
local all = ARGV[1] == 'all'
local cut = tonumber(ARGV[2]) + 1
local chunk = 1000  -- unpack() must stay within Lua's stack limit

local function each_chunk(items, fn)
  for first = 1, #items, chunk do
    fn(unpack(items, first, math.min(#items, first + chunk - 1)))
  end
end

local stored = {}
do
  local names = {}
  for i = 1, n do names[i] = KEYS[2 * i + 1] end
  local at = 0
  each_chunk(names, function(...)
    local got = redis.call('MGET', ...)
    for j = 1, #got do stored[at + j] = tonumber(got[j]) or 0 end
    at = at + #got
  end)
end

-- "each": distinct keys, conditional puts only. The hot path of fenced
-- snapshot writes, so it skips the bookkeeping an atomic batch needs.
if not all then
  local result, sets, adds = {1}, {}, {}
  for i = 1, n do
    local rev = stored[i]
    local want = tonumber(ARGV[3 * i + 2])
    if want == rev + 1 then
      local s = #sets
      sets[s + 1] = KEYS[2 * i]
      sets[s + 2] = ARGV[3 * i + 1]
      sets[s + 3] = KEYS[2 * i + 1]
      sets[s + 4] = want
      if rev == 0 then
        adds[#adds + 1] = 0
        adds[#adds + 1] = string.sub(KEYS[2 * i], cut)
      end
      result[2 * i] = 1
      result[2 * i + 1] = want
    else
      result[2 * i] = 0
      result[2 * i + 1] = rev
    end
  end
  each_chunk(sets, function(...) redis.call('MSET', ...) end)
  each_chunk(adds, function(...) redis.call('ZADD', KEYS[1], ...) end)
  return result
end

-- A fence key's token as decimal text without leading zeros ('0' when
-- absent), or nil when the value is not a u64. Compared as text: Lua's
-- numbers are doubles, exact only up to 2^53.
local function token_text(v)
  if not v then return '0' end
  if not string.find(v, '^%d+$') then return nil end
  v = string.gsub(v, '^0+', '')
  if v == '' then return '0' end
  if #v > 20 or (#v == 20 and v > '18446744073709551615') then return nil end
  return v
end
local function token_less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end

-- Decide every op against the revisions as they evolve through the call.
local result = {1}
local current, before, last_value, order = {}, {}, {}, {}
local failed = false
for i = 1, n do
  local vkey = KEYS[2 * i]
  if before[vkey] == nil then
    before[vkey] = stored[i]
    order[#order + 1] = i
  end
  local rev = current[vkey] or stored[i]
  local kind = ARGV[3 * i]
  if kind == 'd' then
    result[#result + 1] = 1
    result[#result + 1] = rev > 0 and 1 or 0
    current[vkey] = 0
  elseif kind == 'f' then
    -- A fence key is in no other op of the batch, so its stored value decides.
    local raw = redis.call('GET', vkey)
    local have, mine = token_text(raw), ARGV[3 * i + 1]
    if have == nil then
      failed = true
      result[#result + 1] = -1
      result[#result + 1] = string.sub(raw, 1, 64)
    elseif token_less(mine, have) then
      failed = true
      result[#result + 1] = 0
      result[#result + 1] = have
    else
      if token_less(have, mine) then
        current[vkey] = rev + 1
        last_value[vkey] = mine
      end
      result[#result + 1] = 1
      result[#result + 1] = have
    end
  elseif kind == 'c' and tonumber(ARGV[3 * i + 2]) ~= rev + 1 then
    failed = true
    result[#result + 1] = 0
    result[#result + 1] = rev
  else
    current[vkey] = rev + 1
    last_value[vkey] = ARGV[3 * i + 1]
    result[#result + 1] = 1
    result[#result + 1] = rev + 1
  end
end
if all and failed then
  result[1] = 0
  return result
end

-- Write each key's final state.
local sets, adds, dels, rems = {}, {}, {}, {}
for _, i in ipairs(order) do
  local vkey, rkey = KEYS[2 * i], KEYS[2 * i + 1]
  local rev = current[vkey]
  if rev == nil then
    -- only failed conditional puts touched this key
  elseif rev == 0 then
    if before[vkey] > 0 then
      dels[#dels + 1] = vkey
      dels[#dels + 1] = rkey
      rems[#rems + 1] = string.sub(vkey, cut)
    end
  else
    sets[#sets + 1] = vkey
    sets[#sets + 1] = last_value[vkey]
    sets[#sets + 1] = rkey
    sets[#sets + 1] = rev
    if before[vkey] == 0 then
      adds[#adds + 1] = 0
      adds[#adds + 1] = string.sub(vkey, cut)
    end
  end
end
each_chunk(sets, function(...) redis.call('MSET', ...) end)
each_chunk(dels, function(...) redis.call('DEL', ...) end)
each_chunk(adds, function(...) redis.call('ZADD', KEYS[1], ...) end)
each_chunk(rems, function(...) redis.call('ZREM', KEYS[1], ...) end)
return result
)lua";

const std::string_view list_script = R"lua(
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
if #members == 0 then return out end
local vk, rk = {}, {}
for i, m in ipairs(members) do
  vk[i] = ARGV[4] .. m
  rk[i] = ARGV[5] .. m
end
local values = redis.call('MGET', unpack(vk))
local revs = redis.call('MGET', unpack(rk))
for i, m in ipairs(members) do
  if values[i] then
    out[#out + 1] = m
    out[#out + 1] = values[i]
    out[#out + 1] = revs[i] or '0'
  end
end
return out
)lua";

}  // namespace troupe::detail
